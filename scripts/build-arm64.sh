#!/usr/bin/env bash
# Cross-build the linux-arm64 (glibc) addon on a linux-x64 host with napi-rs's prebuilt gcc
# toolchain (`napi build --use-napi-cross`), then check that the result is an AArch64 ELF file.
#   bash scripts/build-arm64.sh [--release]
# Output: genai-electron-rs.linux-arm64-gnu.node in the repository root. Not part of `npm test`
# (a cold build takes minutes); CI builds this target in .github/workflows/ci.yml.
#
# Two workarounds, both needed with @napi-rs/cross-toolchain 1.0.5 (pinned by @napi-rs/cli 3.10.12):
#  - it asks npm for @napi-rs/cross-toolchain-x64-target-aarch64@1.0.5, which was never published
#    (the newest is 1.0.3): we unpack the newest toolchain into the folder napi looks in first
#    (~/.napi-rs/cross-toolchain/<version>/<triple>, skipped when it holds a package.json);
#  - its unpacker needs @napi-rs/lzma's native package, which npm may leave out
#    (npm/cli#4828); we unpack with tar and xz instead, so it is not loaded at all.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIPLE=aarch64-unknown-linux-gnu
PROFILE=()
[[ "${1:-}" == "--release" ]] && PROFILE=(--release)

command -v rustup >/dev/null && rustup target add "$TRIPLE" >/dev/null

version="$(node -p "require('@napi-rs/cross-toolchain/package.json').version")"
toolchain="$HOME/.napi-rs/cross-toolchain/$version/$TRIPLE"
if [[ ! -f "$toolchain/package.json" ]]; then
  pkg="@napi-rs/cross-toolchain-x64-target-aarch64"
  have="$(npm view "$pkg@$version" version 2>/dev/null || true)"
  [[ -n "$have" ]] || have="$(npm view "$pkg" dist-tags.latest)"
  echo "== unpacking $pkg@$have into $toolchain"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$have" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$toolchain" && mkdir -p "$toolchain"
  tar xJf "$tmp/package/$TRIPLE.tar.xz" -C "$toolchain"
  cp "$tmp/package/package.json" "$toolchain/package.json"
fi

echo "== napi build --target $TRIPLE --use-napi-cross ${PROFILE[*]}"
# --no-js: the generated loader is the same for every target (the host build writes it); the typings
# are generated whatever the flags, so they go where the host build puts the same text.
npx napi build --platform --target "$TRIPLE" --use-napi-cross --no-js --dts binding.d.cts --no-const-enum "${PROFILE[@]}"

out=genai-electron-rs.linux-arm64-gnu.node
# ELF header: class 2 (64-bit) at byte 4, e_machine 183 (EM_AARCH64) at bytes 18-19, little endian.
node -e '
  const b = require("fs").readFileSync(process.argv[1]);
  const ok = b.readUInt32BE(0) === 0x7f454c46 && b[4] === 2 && b.readUInt16LE(18) === 183;
  console.log(`${process.argv[1]}: ELF64, e_machine ${b.readUInt16LE(18)}${ok ? " (AArch64)" : ""}`);
  process.exit(ok ? 0 : 1);
' "$out"
command -v file >/dev/null && file "$out"
