#!/usr/bin/env bash
# Compiles crates/core for Windows (x86_64-pc-windows-gnu) so that the Windows-only code (the
# kill-on-close job object, DXGI GPU detection) is type-checked on this Linux machine. Needs the
# rustup target and MinGW's gcc (for ring's C code); when they cannot be installed here it says
# so and exits 0. A compile error fails.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-pc-windows-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  rustup target add "$TARGET" >/dev/null 2>&1 || { echo "windows check: skipped (rustup cannot fetch $TARGET here)"; exit 0; }
fi
if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get install -y -q gcc-mingw-w64-x86-64 >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q gcc-mingw-w64-x86-64 >/dev/null 2>&1; }) || true
  fi
  command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "windows check: skipped (no x86_64-w64-mingw32-gcc)"; exit 0; }
fi
cargo check -q -p genai-core --lib --target "$TARGET"
echo "windows check: crates/core compiles for $TARGET"
