#!/usr/bin/env bash
# The test command (`npm test`): the gates first (formatting, clippy: quick to fail), then builds
# the addon and runs the Rust tests, the generated-file and type checks, and the Jest tests on
# real processes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== test assets (cached outside the repository)"
GENAI_TEST_MODEL="$(bash scripts/assets.sh path model)"
GENAI_TEST_LLAMA_SERVER="$(bash scripts/assets.sh path llama-server)"
export GENAI_TEST_MODEL GENAI_TEST_LLAMA_SERVER
python3 -c "import gguf" 2>/dev/null || python3 -m pip install --quiet "gguf==0.19.0"
# stable-diffusion.cpp (built once, cached) and a random-weight SDXS model (needs gguf, above).
GENAI_TEST_SD_SERVER="$(bash scripts/assets.sh path sd-server)"
GENAI_TEST_SD_CLI="$(bash scripts/assets.sh path sd-cli)"
GENAI_TEST_SD_MODEL="$(bash scripts/assets.sh path sd-model)"
export GENAI_TEST_SD_SERVER GENAI_TEST_SD_CLI GENAI_TEST_SD_MODEL

echo "== build the addon (debug)"
npx napi build --platform --js binding.cjs --dts binding.d.cts --no-const-enum

echo "== generated files are current"
node scripts/gen-esm-entry.cjs --check

echo "== cargo test"
cargo test --workspace --quiet

echo "== type checks: equivalence with genai-electron@0.26.0, the facade against binding.d.cts"
npx tsc -p __test__/types/tsconfig.json
npx tsc -p __test__/types/tsconfig.facade.json
npx tsc -p examples/tsconfig.json           # the example app against our typings
npx tsc -p examples/tsconfig.upstream.json  # ... and against genai-electron 0.26.0's
echo "types: ok"

echo "== jest"
report="$(mktemp)"
status=0
# --forceExit: a failing test that leaves a server running must not hang CI (the facade's exit
# hook then kills our children).
node --experimental-vm-modules node_modules/jest/bin/jest.js --ci --forceExit --json --outputFile="$report" || status=$?
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$report"
exit "$status"
