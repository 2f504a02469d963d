// diffusionServer through the public API, on the real sd-server and a real SDXS model (random
// weights, written by scripts/make-sd-model.py): real PNGs, progress, burst and single residency,
// releaseBackend, typed start errors, and the sd-server dies with its Node process.
// sd-server is heavy: few backend starts, small images, no assertion on time.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { readdirSync, writeFileSync } from 'node:fs';
import { ROOT, alive, runNodeAsync, tempDir, until } from './helpers.mjs';
import * as upDefaults from '../node_modules/genai-electron/dist/config/defaults.js';
import { SD_MODEL, SD_SERVER, SMALL, registerModels, pngSize, progressRecorder, expectProgressRules } from './support/diffusion.mjs';

process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-diffusion-jest-');
process.env.GENAI_SD_SERVER_PATH = SD_SERVER;
const api = await import('../index.js');
const { diffusionServer, ServerError, ModelNotFoundError, PortInUseError, BinaryError } = api;

/** Every file and folder below userData, relative. */
const tree = (dir = process.env.GENAI_ELECTRON_USER_DATA, rel = '') =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? [`${p}/`, ...tree(path.join(dir, e.name), p)] : [p];
  });
let before;

beforeAll(async () => {
  await registerModels(api);
  before = new Set(tree());
});
afterAll(() => diffusionServer.stop());

/** Every event from now on, as `[name, ...args]`; `off()` detaches. */
function record(server = diffusionServer) {
  const events = [];
  const names = ['status', 'started', 'stopped', 'backend-status', 'binary-log'];
  const listeners = names.map((name) => [name, (...args) => events.push([name, ...args])]);
  for (const [name, fn] of listeners) server.on(name, fn);
  events.off = () => listeners.forEach(([name, fn]) => server.off(name, fn));
  return events;
}

/** `backend-status` events as `previous->state:reason`. */
const backendMoves = (events) =>
  events.filter(([n]) => n === 'backend-status').map(([, e]) => `${e.previous}->${e.state}:${e.reason}`);

/** Nothing runs and nothing is held: the state of a server that never started. */
async function expectIdle() {
  expect(diffusionServer.getStatus()).toBe('stopped');
  expect(await diffusionServer.isHealthy()).toBe(false);
  expect(diffusionServer.getPid()).toBeUndefined();
  expect(diffusionServer.getActiveGenerationId()).toBeUndefined();
  expect(diffusionServer.getInfo()).toEqual(expect.objectContaining({ status: 'stopped', port: 0, busy: false, backend: { state: 'absent' } }));
}

test('start errors are typed and change nothing; no image without a running server', async () => {
  await expectIdle();
  const unknown = await diffusionServer.start({ modelId: 'nope' }).catch((e) => e);
  expect(unknown).toBeInstanceOf(ModelNotFoundError);
  expect(unknown.message).toBe('Model not found: nope');
  await expectIdle();
  const llm = await diffusionServer.start({ modelId: 'smol' }).catch((e) => e);
  expect(llm).toBeInstanceOf(ModelNotFoundError);
  expect(llm.message).toBe('Model not found: Model smol is not a diffusion model (type: llm)');
  await expectIdle();
  const missing = path.join(tempDir('genai-nobin-'), 'sd-server');
  const noBinary = await diffusionServer.start({ modelId: 'sdxs', binaryPath: missing }).catch((e) => e);
  expect(noBinary).toBeInstanceOf(BinaryError);
  expect(noBinary.message).toContain(missing);
  await expectIdle();
  const sockets = [];
  const holder = net.createServer((sock) => sockets.push(sock)); // accepts, never answers
  await new Promise((r) => holder.listen(0, '127.0.0.1', r));
  const taken = holder.address().port;
  const busy = await diffusionServer.start({ modelId: 'sdxs', port: taken }).catch((e) => e);
  sockets.forEach((sock) => sock.destroy());
  await new Promise((r) => holder.close(r));
  expect(busy).toBeInstanceOf(PortInUseError);
  expect(busy.message).toBe(`Port ${taken} is already in use`);
  expect(diffusionServer.getStatus()).toBe('stopped');
  expect(diffusionServer.getPid()).toBeUndefined();

  const notRunning = await diffusionServer.generateImage({ prompt: 'x', ...SMALL }).catch((e) => e);
  expect(notRunning).toBeInstanceOf(ServerError);
  expect(notRunning.message).toBe('Server error: Server is not running');
  const notFound = await diffusionServer.cancelImageGeneration('gen_0_nothing').catch((e) => e);
  expect(notFound).toBeInstanceOf(ServerError);
  expect(notFound.details).toEqual(expect.objectContaining({ code: 'GENERATION_NOT_FOUND' }));
});

test('a backend that cannot start: the image fails with a ServerError carrying sd.cpp\'s own error lines', async () => {
  const file = path.join(api.PATHS.models.diffusion, 'broken.gguf');
  writeFileSync(file, Buffer.alloc(4096, 7)); // not a model sd.cpp knows
  const storage = api.StorageManager.getInstance();
  await storage.saveModelMetadata({ id: 'broken', name: 'broken', type: 'diffusion', size: 4096, path: file, downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/broken.gguf' } });
  await diffusionServer.start({ modelId: 'broken', port: 'auto', threads: 1 });
  const err = await diffusionServer.generateImage({ prompt: 'x', ...SMALL }).catch((e) => e);
  expect(err).toBeInstanceOf(ServerError);
  expect(err.details).toEqual(expect.objectContaining({ code: 'SD_SERVER_EXITED', exitCode: 1 }));
  expect(err.details.stderr).toMatch(/new_sd_ctx_t failed/); // sd.cpp's own line
  expect(diffusionServer.getBackendInfo()).toEqual({ state: 'absent' });
  expect(diffusionServer.getInfo().busy).toBe(false);
  expect(await diffusionServer.isHealthy()).toBe(true); // the front is fine
  await diffusionServer.stop();
  await api.modelManager.deleteModel('broken');
});

test('start → a real 64×64 PNG with progress in stage order; burst keeps the model loaded; a batch', async () => {
  const events = record();
  const info = await diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 2, usageMode: 'burst' });
  expect(info).toEqual(expect.objectContaining({ status: 'running', modelId: 'sdxs', port: expect.any(Number), busy: false }));
  expect(info.backend).toEqual({ state: 'absent' }); // the backend starts with the first image
  expect(await diffusionServer.isHealthy()).toBe(true);
  expect(diffusionServer.getConfig()).toEqual(expect.objectContaining({ modelId: 'sdxs', port: 'auto', threads: 2, usageMode: 'burst' }));
  await until(() => events.some(([n]) => n === 'started'));
  expect(events.filter(([n]) => n !== 'binary-log').map(([n, a]) => (n === 'status' ? `status:${a}` : n))).toEqual(['status:starting', 'status:running', 'started']);
  expect(events.find(([n]) => n === 'binary-log')[1]).toEqual({ message: expect.stringContaining(SD_SERVER), level: 'info' });

  const first = progressRecorder();
  const image = await diffusionServer.generateImage({ prompt: 'a red fox', ...SMALL, seed: 42, onProgress: first.onProgress });
  expect(Buffer.isBuffer(image.image)).toBe(true);
  expect(pngSize(image.image)).toEqual({ width: 64, height: 64 });
  expect(image).toEqual(expect.objectContaining({ format: 'png', seed: 42, width: 64, height: 64, timeTaken: expect.any(Number) }));
  expectProgressRules(first.calls);
  const pid = diffusionServer.getPid();
  expect(alive(pid)).toBe(true);
  expect(diffusionServer.getBackendInfo()).toEqual(expect.objectContaining({ state: 'ready', pid, loadTimeMs: expect.any(Number), startedAt: expect.any(String), lastUsedAt: expect.any(String) }));
  expect(diffusionServer.getInfo()).toEqual(expect.objectContaining({ pid, busy: false }));
  await until(() => backendMoves(events).length >= 4);
  expect(backendMoves(events)).toEqual(['absent->starting:spawned', 'starting->ready:ready', 'ready->busy:job', 'busy->ready:job']);

  // The second image: the same process, the model is not loaded again.
  const loads = async () => (await diffusionServer.getLogs(100000)).filter((l) => l.includes('loading model from') && l.includes(path.basename(SD_MODEL))).length;
  expect(await loads()).toBe(1);
  const second = progressRecorder();
  const again = await diffusionServer.generateImage({ prompt: 'a blue fox', ...SMALL, onProgress: second.onProgress });
  expect(pngSize(again.image)).toEqual({ width: 64, height: 64 });
  expect(again.seed).toEqual(expect.any(Number));
  expectProgressRules(second.calls, { loading: false });
  expect(diffusionServer.getPid()).toBe(pid);
  expect(await loads()).toBe(1);

  // A batch on the same backend: upstream's seed rule (seed + i) and one overall percentage.
  const batch = progressRecorder();
  const images = await diffusionServer.executeBatchGeneration({ prompt: 'foxes', ...SMALL, seed: 7, count: 2, onProgress: batch.onProgress });
  expect(images).toBeInstanceOf(Array);
  expect(images.map((r) => r.seed)).toEqual([7, 8]);
  for (const r of images) expect(pngSize(r.image)).toEqual({ width: 64, height: 64 });
  const pcts = batch.calls.map((c) => c.pct);
  expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
  expect(pcts.filter((p) => p === 100)).toHaveLength(1);
  expect(pcts.at(-1)).toBe(100);
  expect(diffusionServer.getPid()).toBe(pid);
  events.off();
});

test('single releases the backend after its image; releaseBackend() ends a warm one', async () => {
  const pid = diffusionServer.getPid();
  expect(alive(pid)).toBe(true); // left warm by the test above
  const events = record();
  const single = await diffusionServer.generateImage({ prompt: 'one', ...SMALL, usageMode: 'single' });
  expect(pngSize(single.image)).toEqual({ width: 64, height: 64 });
  expect(diffusionServer.getBackendInfo().state).toBe('absent'); // released before the call returned
  await until(() => !alive(pid));
  await until(() => backendMoves(events).length >= 4);
  expect(backendMoves(events)).toEqual(['ready->busy:job', 'busy->ready:job', 'ready->stopping:single', 'stopping->absent:single']);

  expect(diffusionServer.resolveUsageMode(undefined, false)).toBe('burst'); // the server's usageMode
  expect(diffusionServer.resolveUsageMode('single', false)).toBe('single');
  await diffusionServer.generateImage({ prompt: 'warm', ...SMALL });
  const warm = diffusionServer.getPid();
  expect(warm).not.toBe(pid);
  await diffusionServer.releaseBackend();
  expect(diffusionServer.getBackendInfo()).toEqual(expect.objectContaining({ state: 'absent' }));
  expect(diffusionServer.getPid()).toBeUndefined();
  await until(() => !alive(warm));
  await until(() => backendMoves(events).at(-1) === 'stopping->absent:explicit');
  const count = backendMoves(events).length;
  await diffusionServer.releaseBackend(); // nothing to release
  expect(backendMoves(events)).toHaveLength(count);
  expect(await diffusionServer.isHealthy()).toBe(true); // the front stays up
  events.off();
});

test('of two calls made one after the other the first wins; bad input rejects, never throws', async () => {
  const first = diffusionServer.generateImage({ prompt: 'first', ...SMALL });
  const second = diffusionServer.generateImage({ prompt: 'second', ...SMALL });
  const busy = await second.catch((e) => e);
  expect(busy).toBeInstanceOf(ServerError);
  expect(busy.message).toBe('Server error: Server is busy generating another image');
  // waitForInFlight: resolves once the image under way is done (the image itself succeeds).
  const released = diffusionServer.releaseBackend({ waitForInFlight: true });
  expect(pngSize((await first).image)).toEqual({ width: 64, height: 64 });
  await released;
  expect(diffusionServer.getBackendInfo().state).toBe('absent');

  let thrown;
  let pending;
  try {
    pending = diffusionServer.start({ modelId: 'sdxs', bogus: 1 }); // already running, and a bad field
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeUndefined();
  expect(await pending.catch((e) => e)).toBeInstanceOf(ServerError);
  const bad = diffusionServer.generateImage({ prompt: 'x', width: 5000 });
  expect(await bad.catch((e) => e.details)).toEqual(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'width' }));
  const reason = await diffusionServer.releaseBackend({ reason: 'whenever' }).catch((e) => e);
  expect(reason).toBeInstanceOf(ServerError);
  expect(diffusionServer.getStatus()).toBe('running');
});

test('stop() ends the backend and the front; idempotent', async () => {
  await diffusionServer.generateImage({ prompt: 'last', ...SMALL });
  const pid = diffusionServer.getPid();
  const port = diffusionServer.getPort();
  const events = record();
  await diffusionServer.stop();
  expect(alive(pid)).toBe(false);
  expect(await api.isPortBindable(port)).toBe(true);
  await expectIdle();
  await until(() => events.some(([n]) => n === 'stopped'));
  const names = events.map(([n, a, b]) => (n === 'status' ? `status:${b}->${a}` : n === 'backend-status' ? `backend:${a.state}:${a.reason}` : n));
  expect(names).toEqual(['status:running->stopping', 'backend:stopping:stop', 'backend:absent:stop', 'status:stopping->stopped', 'stopped']);
  await diffusionServer.stop();
  events.off();
  // Everything this file's servers wrote is in logs/ and temp/ (the pid record).
  const written = tree().filter((p) => !before.has(p));
  expect(written.filter((p) => !p.startsWith('logs/') && !p.startsWith('temp/'))).toEqual([]);
  expect(written).toEqual(expect.arrayContaining(['logs/diffusion-server.log']));
});

test('the diffusion constants equal upstream\'s, frozen, in its key order', () => {
  for (const name of ['DIFFUSION_COMPONENT_FLAGS', 'DIFFUSION_COMPONENT_ORDER', 'DIFFUSION_VRAM_THRESHOLDS', 'DIFFUSION_BACKEND_DEFAULTS']) {
    expect([name, api[name]]).toEqual([name, upDefaults[name]]);
    expect([name, Object.keys(api[name])]).toEqual([name, Object.keys(upDefaults[name])]);
    expect([name, Object.isFrozen(api[name])]).toEqual([name, true]);
  }
  expect(api.DIFFUSION_COMPONENT_ORDER).toBeInstanceOf(Array);
});

test('GenerationRegistry: upstream\'s methods; a finished generation expires after maxResultAgeMs', async () => {
  const registry = new api.GenerationRegistry({ maxResultAgeMs: 50, cleanupIntervalMs: 1000 });
  const id = registry.create({ prompt: 'kept', width: 64, onProgress: () => {} });
  expect(id).toMatch(/^gen_/);
  const state = registry.get(id);
  expect(state).toEqual({ id, status: 'pending', createdAt: expect.any(Number), updatedAt: state.createdAt, config: { prompt: 'kept', width: 64 } });
  registry.update(id, { status: 'in_progress', progress: { currentStep: 1, totalSteps: 2, stage: 'diffusion', percentage: 40 } });
  expect(registry.get(id)).toEqual(expect.objectContaining({ status: 'in_progress', progress: expect.objectContaining({ percentage: 40 }) }));
  registry.update('gen_0_unknown', { status: 'error' }); // nothing
  const other = registry.create({ prompt: 'other' });
  expect(registry.getAllIds()).toEqual([id, other]);
  expect(registry.size()).toBe(2);
  registry.update(id, { status: 'complete' });
  expect(registry.cleanup(60000)).toBe(0);
  await new Promise((r) => setTimeout(r, 120));
  expect(registry.get(id)).toBeNull(); // expired on read, before any cleanup
  expect(registry.size()).toBe(1); // the pending one stays
  registry.delete(other);
  expect(registry.getAllIds()).toEqual([]);
  registry.create({ prompt: 'x' });
  registry.clear();
  expect(registry.size()).toBe(0);
  registry.destroy();
});

describe('the sd-server dies with its Node process', () => {
  // The parent's server is stopped here: one backend per userData at a time.
  const script = (ending) => `
    const { diffusionServer } = require('genai-electron-rs');
    diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 1 })
      .then(() => diffusionServer.generateImage({ prompt: 'x', width: 64, height: 64, steps: 1 }))
      .then(() => {
        console.log('PID ' + diffusionServer.getPid());
        process.stdin.once('data', () => { ${ending} }); // once the parent has seen it alive
      });`;
  const run = async (ending, signal) => {
    const child = spawn(process.execPath, ['-e', script(ending)], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    await until(() => /PID (\d+)/.test(out) || child.exitCode !== null, 60000);
    const pid = Number(/PID (\d+)/.exec(out)?.[1]);
    if (!pid) throw new Error(`the child made no image: ${err}`);
    expect(alive(pid)).toBe(true);
    expect(child.exitCode).toBe(null); // a running server keeps Node alive
    const exited = new Promise((r) => child.once('exit', r));
    if (signal) child.kill(signal);
    else child.stdin.write('go\n');
    await exited;
    await until(() => !alive(pid), 5000);
  };

  test('SIGKILL', () => run('', 'SIGKILL'), 90000);
  // In a process of its own: Jest would only log an uncaught exception, a plain Node dies of it.
  test('a backend-status listener that throws is ignored, as upstream\'s try/catch does', async () => {
    const code = `
      const { diffusionServer } = require('genai-electron-rs');
      diffusionServer.on('backend-status', () => { throw new Error('a listener bug'); });
      diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 1 })
        .then(() => diffusionServer.generateImage({ prompt: 'x', width: 64, height: 64, steps: 1 }))
        .then((img) => diffusionServer.stop().then(() => console.log('IMAGE ' + img.width)));`;
    const r = await runNodeAsync(['-e', code]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('IMAGE 64');
    expect(r.status).toBe(0);
  }, 90000);
  test('an uncaught exception', () => run('throw new Error("boom")'), 90000);
  test('process.exit()', () => run('process.exit(0)'), 90000);
});
