// The app that switches by one line: examples/consumer.mts, written against genai-electron's
// documented API and importing 'genai-electron', compiled by tsc and run by plain Node in a scratch
// project where 'genai-electron' is this package, installed from its packed tarballs under the
// alias ("genai-electron": "npm:genai-electron-rs@…") with no Rust toolchain on PATH. Real
// processes throughout: llama-server with SmolLM2 and sd-server with the random-weight SDXS model,
// both downloaded by the example from a loopback file server, under a memory budget that cannot
// hold both (so the orchestrator offloads the LLM for the image and reloads it). Each step's JSON
// line is asserted.
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { ROOT, runNodeAsync, tempDir } from './helpers.mjs';
import { startFileServer } from './support/file-server.mjs';
import { SD_MODEL, SD_SERVER } from './support/diffusion.mjs';
import { installPacked } from './support/packed.mjs';

const asset = (variable, name) =>
  process.env[variable] || execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('GENAI_TEST_MODEL', 'model');
const LLAMA = asset('GENAI_TEST_LLAMA_SERVER', 'llama-server');

/** The packed tarballs installed under genai-electron's name (the one-line switch); a folder of
 * this test's inside it holds the app, so that 'genai-electron' resolves to the installed package. */
async function scratchProject() {
  const { dir, env, name } = await installPacked({ alias: true });
  expect(name).toBe('genai-electron');
  const appDir = mkdtempSync(path.join(dir, 'example-app-'));
  return { dir: appDir, env };
}

/** examples/consumer.mts compiled by tsc (strict, against our typings) into `outDir`. */
function compileExample(outDir) {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'examples/tsconfig.json'), '--noEmit', 'false', '--outDir', outDir], { stdio: 'pipe' });
  return path.join(outDir, 'consumer.mjs');
}

let files;
let appDir;
beforeAll(async () => {
  files = await startFileServer();
  files.put('/SmolLM2-135M-Instruct-Q4_K_M.gguf', readFileSync(MODEL));
  files.put('/sdxs-test.gguf', readFileSync(SD_MODEL));
});
afterAll(async () => {
  if (appDir) rmSync(appDir, { recursive: true, force: true }); // the shared install stays cached
  await files?.close();
});

test('the example app runs unchanged on genai-electron-rs, every step as upstream documents it', async () => {
  const app = await scratchProject();
  appDir = app.dir;
  const script = compileExample(app.dir);
  // 'genai-electron' from the app's folder is the installed genai-electron-rs, not this repository.
  const resolved = execFileSync(process.execPath, ['-p', "require.resolve('genai-electron/package.json')"], { cwd: app.dir, env: app.env, encoding: 'utf8' }).trim();
  expect(realpathSync(resolved).startsWith(ROOT + path.sep)).toBe(false);
  expect(JSON.parse(readFileSync(resolved, 'utf8')).name).toBe('genai-electron-rs');
  const userData = tempDir('genai-example-data-');
  const run = await runNodeAsync([script, files.url('/SmolLM2-135M-Instruct-Q4_K_M.gguf'), files.url('/sdxs-test.gguf')], {
    cwd: app.dir,
    env: {
      ...app.env,
      GENAI_ELECTRON_USER_DATA: userData,
      GENAI_LLAMA_SERVER_PATH: LLAMA,
      GENAI_SD_SERVER_PATH: SD_SERVER,
      // 75 % of both files cannot hold both models: the orchestrator must offload the LLM.
      GENAI_MEMORY_BUDGET_BYTES: String(statSync(MODEL).size + statSync(SD_MODEL).size),
    },
  });
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const steps = Object.fromEntries(lines.map((l) => [l.step === 'download' ? `download-${l.type}` : l.step, l]));
  if (run.status !== 0) throw new Error(`example exited ${run.status}\n${run.stdout}\n${run.stderr}`);
  expect(lines.map((l) => l.step)).toEqual([
    'detect', 'download', 'download', 'models', 'error', 'llm-start', 'chat', 'diffusion-start', 'image', 'reload', 'logs', 'stop',
  ]);
  expect(steps.detect).toEqual(expect.objectContaining({ cores: expect.any(Number), totalRAM: expect.any(Number), gpu: expect.any(Boolean) }));
  expect(steps.detect.cores).toBeGreaterThan(0);
  expect(steps['download-llm']).toEqual(expect.objectContaining({ id: 'smollm2-135m', size: statSync(MODEL).size, lastPercentage: 100 }));
  expect(steps['download-llm'].progressCalls).toBeGreaterThan(0);
  expect(steps['download-diffusion']).toEqual(expect.objectContaining({ id: 'sdxs-test', size: statSync(SD_MODEL).size, lastPercentage: 100 }));
  expect(steps.models).toEqual({ step: 'models', llm: 'smollm2-135m', image: 'sdxs-test', canRun: true, all: 2 });
  expect(steps.error).toEqual({ step: 'error', thrown: true, name: 'ModelNotFoundError', code: 'MODEL_NOT_FOUND', isGenaiError: true });
  expect(steps['llm-start']).toEqual(expect.objectContaining({ status: 'running', port: expect.any(Number), pid: expect.any(Number), healthy: true }));
  expect(steps.chat.replied).toBe(true);
  expect(steps['diffusion-start']).toEqual(expect.objectContaining({ status: 'running', needsOffload: true }));
  expect(steps.image).toEqual(expect.objectContaining({
    width: 64, height: 64, seed: 42, png: true, stages: ['loading', 'diffusion', 'decoding'], lastPercentage: 100,
    llmRunningDuringDiffusion: false, // offloaded for the image
  }));
  expect(steps.reload).toEqual({ step: 'reload', running: true, samePort: true, newPid: true, replied: true });
  expect(steps.logs.llama).toBeGreaterThan(0);
  expect(steps.logs.diffusion).toBeGreaterThan(0);
  expect(steps.stop).toEqual({ step: 'stop', llama: 'stopped', diffusion: 'stopped' });
  // The files the example downloaded are where genai-electron keeps them.
  expect(statSync(path.join(userData, 'models', 'llm', 'SmolLM2-135M-Instruct-Q4_K_M.gguf')).size).toBe(statSync(MODEL).size);
}, 300000);
