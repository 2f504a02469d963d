#!/usr/bin/env bash
# Cross-build the linux-arm64 (glibc) addon on this Linux machine and check that the result is an
# AArch64 ELF file.
#   bash scripts/build-arm64.sh [--release]
# Output: genai-electron-rs.linux-arm64-gnu.node in the repository root. Not part of `npm test`
# (a cold debug build takes minutes); CI builds this target the same way (.github/workflows/ci.yml).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/pack-cross.sh aarch64-unknown-linux-gnu "$@"

out=genai-electron-rs.linux-arm64-gnu.node
# ELF header: magic, class 2 (64-bit) at byte 4, data 1 (little endian) at byte 5, e_machine at
# bytes 18-19: 183 is EM_AARCH64.
node -e '
  const b = require("fs").readFileSync(process.argv[1]);
  const ok = b.readUInt32BE(0) === 0x7f454c46 && b[4] === 2 && b[5] === 1 && b.readUInt16LE(18) === 183;
  console.log(`${process.argv[1]}: ELF${b[4] === 2 ? 64 : 32}, e_machine ${b.readUInt16LE(18)}${ok ? " (AArch64)" : " (not AArch64)"}`);
  process.exit(ok ? 0 : 1);
' "$out"
if command -v file >/dev/null; then file "$out"; fi
