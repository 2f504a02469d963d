// The resource orchestrator on real processes: the real llama-server with SmolLM2 and the real
// sd-server with the random-weight test model. The built-in orchestrator (diffusionServer's) runs
// under a forced budget that cannot hold both (GENAI_MEMORY_BUDGET_BYTES, read at import); an
// orchestrator made with an ample budget (the constructor's option) shows the other decision.
// Heavy: small images, 2 threads, one test at a time; no assertion on time.
import net from 'node:net';
import path from 'node:path';
import { copyFileSync, renameSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ROOT, tempDir, until } from './helpers.mjs';
import { SD_MODEL, SD_SERVER, SMALL, registerModels } from './support/diffusion.mjs';

const asset = (variable, name) =>
  process.env[variable] || execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('GENAI_TEST_MODEL', 'model');
const LLAMA = asset('GENAI_TEST_LLAMA_SERVER', 'llama-server');

const userData = tempDir('genai-orchestrator-jest-');
// The LLM from a copy of its own, so that a test can move it away.
const LLM_FILE = path.join(userData, 'smollm2.gguf');
copyFileSync(MODEL, LLM_FILE);
// Both models' files (the LLM's estimate is at least 1.2 × its size, the image model's 1.2 × its
// size): 75 % of this cannot hold both.
const TIGHT = statSync(MODEL).size + statSync(SD_MODEL).size;
const AMPLE = 1e15;

process.env.GENAI_ELECTRON_USER_DATA = userData;
process.env.GENAI_LLAMA_SERVER_PATH = LLAMA;
process.env.GENAI_SD_SERVER_PATH = SD_SERVER;
process.env.GENAI_MEMORY_BUDGET_BYTES = String(TIGHT);
const api = await import('../index.js');
const { llamaServer, diffusionServer, orchestrator, systemInfo, modelManager, ResourceOrchestrator, StorageManager, GenaiElectronError, ServerError } = api;
delete process.env.GENAI_MEMORY_BUDGET_BYTES;

const LLM_CONFIG = { modelId: 'smollm2', port: 'auto', threads: 2, contextSize: 2048 };

beforeAll(async () => {
  await registerModels(api);
  await StorageManager.getInstance().saveModelMetadata({
    id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(LLM_FILE).size, path: LLM_FILE,
    downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
    ggufMetadata: { architecture: 'llama', block_count: 30, context_length: 8192, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576 },
  });
  await diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 2 });
}, 120000);

afterAll(async () => {
  await orchestrator.waitForReload().catch(() => undefined);
  await Promise.allSettled([llamaServer.stop(), diffusionServer.stop()]);
});

/** Whether something accepts connections on the port (127.0.0.1). */
const accepts = (port) =>
  new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => (sock.destroy(), resolve(true)));
    sock.once('error', () => resolve(false));
  });

async function chat(port) {
  const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 }),
  });
  expect(r.status).toBe(200);
  expect((await r.json()).choices[0].message.content).toEqual(expect.any(String));
}

/** The LLM running as configured; its resolved config. */
async function llmUp() {
  if (!llamaServer.isRunning()) await llamaServer.start(LLM_CONFIG);
  return llamaServer.getConfig();
}

/** `backend-status` events from now on, as `previous->state:reason`; `off()` detaches. */
function backendMoves() {
  const moves = [];
  const fn = (e) => moves.push(`${e.previous}->${e.state}:${e.reason}`);
  diffusionServer.on('backend-status', fn);
  moves.off = () => diffusionServer.off('backend-status', fn);
  return moves;
}

test('the built-in orchestrator and its typings are wired', () => {
  expect(orchestrator).toBeInstanceOf(ResourceOrchestrator);
  expect(diffusionServer.getOrchestrator()).toBe(orchestrator);
  expect(orchestrator.getSavedState()).toBeUndefined();
  expect(() => new ResourceOrchestrator(systemInfo, {}, diffusionServer)).toThrow(TypeError);
});

test('tight budget: generateImage stops the LLM before the image and reloads it after with the same resolved config', async () => {
  const before = await llmUp();
  const pidBefore = llamaServer.getPid();
  expect(await orchestrator.wouldNeedOffload()).toBe(true);
  const during = [];
  const result = await diffusionServer.generateImage({
    prompt: 'a cat', ...SMALL,
    onProgress: (_step, _steps, stage) => {
      if (during.length === 0 && stage === 'diffusion') {
        during.push({ running: llamaServer.isRunning(), saved: orchestrator.getSavedState(), port: accepts(before.port) });
      }
    },
  });
  expect(result.width).toBe(64);
  expect(during).toHaveLength(1);
  expect(during[0].running).toBe(false);
  expect(await during[0].port).toBe(false); // the LLM's port is closed while the image is made
  expect(during[0].saved).toEqual({ config: before, wasRunning: true, savedAt: expect.any(Date) });
  await orchestrator.waitForReload();
  expect(llamaServer.isRunning()).toBe(true);
  expect(llamaServer.getPid()).not.toBe(pidBefore);
  const after = llamaServer.getConfig();
  expect(after).toEqual(before); // same port, context, threads, flags
  expect(after).toEqual(expect.objectContaining({ port: before.port, contextSize: 2048, threads: 2 }));
  await chat(after.port);
  expect(orchestrator.getSavedState()).toBeUndefined();
  expect(diffusionServer.getBackendInfo().state).toBe('absent'); // single: released after the image
}, 180000);

test('ample budget: the LLM is never stopped (same pid), batches included', async () => {
  await llmUp();
  const pid = llamaServer.getPid();
  const ample = new ResourceOrchestrator(systemInfo, llamaServer, diffusionServer, modelManager, { memoryBudgetBytes: AMPLE });
  expect(await ample.wouldNeedOffload()).toBe(false);
  let stops = 0;
  const stopped = () => (stops += 1);
  llamaServer.on('stopped', stopped);
  try {
    const one = await ample.orchestrateImageGeneration({ prompt: 'a dog', ...SMALL, usageMode: 'single' });
    expect(one.width).toBe(64);
    const two = await ample.orchestrateBatchGeneration({ prompt: 'a dog', ...SMALL, count: 2, usageMode: 'single' });
    expect(two).toHaveLength(2);
  } finally {
    llamaServer.off('stopped', stopped);
  }
  expect(stops).toBe(0);
  expect(llamaServer.getPid()).toBe(pid);
  expect(ample.getSavedState()).toBeUndefined();
}, 180000);

test('a batch through the built-in orchestrator offloads and restores the LLM too', async () => {
  const before = await llmUp();
  const images = await diffusionServer.getOrchestrator().orchestrateBatchGeneration({ prompt: 'a cat', ...SMALL, count: 2 });
  expect(images).toHaveLength(2);
  await orchestrator.waitForReload();
  expect(llamaServer.getConfig()).toEqual(before);
}, 180000);

test('offloadLLM() then a backend release (explicit) reloads the LLM in the background; "single" does not', async () => {
  const before = await llmUp();
  await orchestrator.offloadLLM();
  expect(llamaServer.isRunning()).toBe(false);
  expect(orchestrator.getSavedState()).toEqual({ config: before, wasRunning: true, savedAt: expect.any(Date) });
  orchestrator.onDiffusionBackendReleased('single'); // not a reason that restores the LLM
  await orchestrator.waitForReload();
  expect(llamaServer.isRunning()).toBe(false);
  orchestrator.onDiffusionBackendReleased('explicit');
  await orchestrator.waitForReload();
  expect(llamaServer.isRunning()).toBe(true);
  expect(llamaServer.getConfig()).toEqual(before);
  expect(orchestrator.getSavedState()).toBeUndefined();
}, 120000);

test('cancel mid-image (HTTP API) still restores the LLM', async () => {
  const before = await llmUp();
  const base = `http://127.0.0.1:${diffusionServer.getPort()}`;
  const r = await fetch(`${base}/v1/images/generations`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'a cat', ...SMALL }),
  });
  expect(r.status).toBe(201);
  const { id } = await r.json();
  await until(() => !llamaServer.isRunning(), 30000); // offloaded for this image
  await diffusionServer.cancelImageGeneration(id);
  await until(() => llamaServer.isRunning(), 60000);
  await orchestrator.waitForReload();
  expect(llamaServer.getConfig()).toEqual(before);
  await chat(before.port);
  const g = await (await fetch(`${base}/v1/images/generations/${id}`)).json();
  expect(g.status).toBe('cancelled');
}, 180000);

test('an sd-server killed mid-image still restores the LLM', async () => {
  const before = await llmUp();
  let killed = false;
  const failure = await diffusionServer
    .generateImage({
      prompt: 'a cat', ...SMALL,
      onProgress: () => {
        const pid = diffusionServer.getPid();
        if (!killed && pid) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      },
    })
    .catch((e) => e);
  expect(killed).toBe(true);
  expect(failure).toBeInstanceOf(GenaiElectronError);
  await until(() => llamaServer.isRunning(), 60000);
  await orchestrator.waitForReload();
  expect(llamaServer.getConfig()).toEqual(before);
  await chat(before.port);
}, 180000);

/** Starts the LLM; the moves of the backend during the start, and its state when the LLM began. */
async function startLlmWatchingBackend() {
  const moves = backendMoves();
  let backendAtStart;
  const seeStart = (status) => {
    if (status === 'starting') backendAtStart = diffusionServer.getBackendInfo().state;
  };
  llamaServer.on('status', seeStart);
  try {
    await llamaServer.start(LLM_CONFIG);
  } finally {
    llamaServer.off('status', seeStart);
    moves.off();
  }
  return { moves: [...moves], backendAtStart };
}

/** The LLM stopped, and a burst image made directly: the backend stays resident. */
async function residentBackend() {
  await orchestrator.waitForReload();
  await llamaServer.stop();
  await diffusionServer.generateImage({ prompt: 'a cat', ...SMALL, usageMode: 'burst' });
  expect(diffusionServer.getBackendInfo().state).toBe('ready');
}

test('burst with a resident backend: starting the LLM releases it when both do not fit, not when they do', async () => {
  // Tight (the built-in orchestrator's hook): the backend is released before the LLM starts.
  await residentBackend();
  const tight = await startLlmWatchingBackend();
  expect(tight.moves).toEqual(['ready->stopping:llm-start', 'stopping->absent:llm-start']);
  expect(tight.backendAtStart).toBe('absent');
  expect(llamaServer.isRunning()).toBe(true);

  // Ample: the built-in hook is swapped for an ample orchestrator's; the backend stays.
  await residentBackend();
  const ample = new ResourceOrchestrator(systemInfo, llamaServer, diffusionServer, modelManager, { memoryBudgetBytes: AMPLE });
  diffusionServer.unregisterPreStartHook();
  const unregister = llamaServer.registerPreStartHook((ctx) => ample.prepareForLLMStart(ctx));
  try {
    const roomy = await startLlmWatchingBackend();
    expect(roomy.moves).toEqual([]);
    expect(roomy.backendAtStart).toBe('ready');
  } finally {
    unregister();
  }
  expect(diffusionServer.getBackendInfo().state).toBe('ready');
  expect(llamaServer.isRunning()).toBe(true);
  await diffusionServer.releaseBackend();
}, 180000);

test('a pre-start hook that throws fails the start with its error', async () => {
  await llamaServer.stop();
  const boom = new Error('not now');
  const unregister = llamaServer.registerPreStartHook(() => {
    throw boom;
  });
  try {
    await expect(llamaServer.start(LLM_CONFIG)).rejects.toBe(boom);
  } finally {
    unregister();
  }
  expect(llamaServer.isRunning()).toBe(false);
});

test('a reload that fails (model file moved away) rejects waitForReload with a typed error and emits reload-failed; the LLM can start again', async () => {
  const before = await llmUp();
  const failed = [];
  const onFailed = (err) => failed.push(err);
  llamaServer.on('reload-failed', onFailed);
  const away = `${LLM_FILE}.away`;
  try {
    await diffusionServer.generateImage({
      prompt: 'a cat', ...SMALL,
      onProgress: () => {
        if (!llamaServer.isRunning() && statSync(LLM_FILE, { throwIfNoEntry: false })) renameSync(LLM_FILE, away);
      },
    });
    const err = await orchestrator.waitForReload().then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect(err.message).toBe(`Server error: Model file not found: ${LLM_FILE}`);
    expect(failed).toEqual([err]);
    expect(failed[0]).toBeInstanceOf(ServerError);
    expect(llamaServer.isRunning()).toBe(false);
    expect(orchestrator.getSavedState()).toEqual(expect.objectContaining({ config: before, wasRunning: true }));
  } finally {
    llamaServer.off('reload-failed', onFailed);
    if (statSync(away, { throwIfNoEntry: false })) renameSync(away, LLM_FILE);
  }
  orchestrator.clearSavedState();
  await expect(orchestrator.waitForReload()).resolves.toBeUndefined();
  await llamaServer.start(before);
  await chat(before.port);
}, 180000);
