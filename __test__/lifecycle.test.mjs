// attachAppLifecycle as genai-electron 0.26.0: on Electron's `before-quit`, prevent the quit,
// stop the LLM, release the diffusion backend ('shutdown'), stop the diffusion server, then
// app.exit(0). A stand-in `app` (an EventEmitter that records preventDefault/exit) with stub
// managers for the order and the failure paths, then the real servers on real processes.
import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, alive, tempDir, until } from './helpers.mjs';
import { SD_SERVER, SD_MODEL, SMALL, registerModels } from './support/diffusion.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model');
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-lifecycle-jest-');
process.env.GENAI_LLAMA_SERVER_PATH = asset('llama-server');
process.env.GENAI_SD_SERVER_PATH = SD_SERVER;
const api = await import('../index.js');
const cjs = (await import('node:module')).createRequire(import.meta.url)('../index.cjs');
const { attachAppLifecycle, llamaServer, diffusionServer } = api;
afterAll(() => Promise.all([llamaServer.stop(), diffusionServer.stop()]));

/** Electron's `app` as far as attachAppLifecycle uses it; `quit()` emits `before-quit` as Electron does. */
class StandInApp extends EventEmitter {
  calls = [];
  exited = new Promise((resolve) => (this.onExit = resolve));
  quit() {
    const event = { preventDefault: () => this.calls.push('preventDefault') };
    this.emit('before-quit', event);
  }
  exit(code) {
    this.calls.push(`exit(${code})`);
    this.onExit(code);
  }
}

/** A manager stub: records its calls in `log`; `fail` names the calls that reject. */
function stub(name, log, { status = 'running', fail = [] } = {}) {
  const call = (what, result) => async (...args) => {
    log.push(`${name}.${what}${args.length ? `(${JSON.stringify(args[0])})` : ''}`);
    if (fail.includes(what)) throw new Error(`${name}.${what} failed`);
    return result;
  };
  return { getStatus: () => status, stop: call('stop'), releaseBackend: call('releaseBackend') };
}

/** Quits `app` and waits for its exit; the console is silenced and returned. */
async function quit(app) {
  const logs = [];
  const spies = ['log', 'error'].map((m) => jest.spyOn(console, m).mockImplementation((...a) => logs.push([m, ...a])));
  app.quit();
  await app.exited;
  spies.forEach((s) => s.mockRestore());
  return logs;
}

test('the same function in ESM and CJS; one listener on before-quit, nothing before it fires', () => {
  expect(cjs.attachAppLifecycle).toBe(attachAppLifecycle);
  const app = new StandInApp();
  const log = [];
  expect(attachAppLifecycle(app, { llamaServer: stub('llama', log) })).toBeUndefined();
  expect(app.listenerCount('before-quit')).toBe(1);
  expect(app.eventNames()).toEqual(['before-quit']);
  expect([log, app.calls]).toEqual([[], []]);
});

test('order: prevent, stop the LLM, release the backend for shutdown, stop diffusion, exit(0)', async () => {
  const app = new StandInApp();
  const log = [];
  app.calls = log;
  attachAppLifecycle(app, { llamaServer: stub('llama', log), diffusionServer: stub('diffusion', log) });
  const logs = await quit(app);
  expect(log).toEqual(['preventDefault', 'llama.stop', 'diffusion.releaseBackend({"reason":"shutdown"})', 'diffusion.stop', 'exit(0)']);
  expect(logs.map(([, m]) => m)).toEqual([
    '[genai-electron] Stopping LLM server...',
    '[genai-electron] LLM server stopped',
    '[genai-electron] Stopping diffusion server...',
    '[genai-electron] Diffusion server stopped',
  ]);
});

test('servers that are not running are not stopped; the backend is still released; no managers: exit(0)', async () => {
  const log = [];
  const app = new StandInApp();
  app.calls = log;
  attachAppLifecycle(app, { llamaServer: stub('llama', log, { status: 'stopped' }), diffusionServer: stub('diffusion', log, { status: 'crashed' }) });
  await quit(app);
  expect(log).toEqual(['preventDefault', 'diffusion.releaseBackend({"reason":"shutdown"})', 'exit(0)']);

  const bare = new StandInApp();
  attachAppLifecycle(bare, {});
  await quit(bare);
  expect(bare.calls).toEqual(['preventDefault', 'exit(0)']);
});

test('as upstream on errors: a failed release is logged and the server still stops; a failed LLM stop skips the rest; exit(0) always', async () => {
  const log = [];
  const app = new StandInApp();
  app.calls = log;
  attachAppLifecycle(app, { llamaServer: stub('llama', log), diffusionServer: stub('diffusion', log, { fail: ['releaseBackend'] }) });
  const logs = await quit(app);
  expect(log).toEqual(['preventDefault', 'llama.stop', 'diffusion.releaseBackend({"reason":"shutdown"})', 'diffusion.stop', 'exit(0)']);
  expect(logs).toContainEqual(['error', '[genai-electron] Error releasing diffusion backend:', expect.objectContaining({ message: 'diffusion.releaseBackend failed' })]);

  const log2 = [];
  const app2 = new StandInApp();
  app2.calls = log2;
  attachAppLifecycle(app2, { llamaServer: stub('llama', log2, { fail: ['stop'] }), diffusionServer: stub('diffusion', log2) });
  const logs2 = await quit(app2);
  expect(log2).toEqual(['preventDefault', 'llama.stop', 'exit(0)']);
  expect(logs2).toContainEqual(['error', '[genai-electron] Error during server cleanup:', expect.objectContaining({ message: 'llama.stop failed' })]);
});

test('a second before-quit runs the handler again (upstream keeps no state): exit(0) each time', async () => {
  const log = [];
  const app = new StandInApp();
  app.calls = log;
  attachAppLifecycle(app, { llamaServer: stub('llama', log) });
  await quit(app);
  app.exited = new Promise((resolve) => (app.onExit = resolve));
  await quit(app);
  expect(log).toEqual(['preventDefault', 'llama.stop', 'exit(0)', 'preventDefault', 'llama.stop', 'exit(0)']);
});

test('real servers: after before-quit llama-server and sd-server are gone, the backend went down for shutdown, exit(0) once', async () => {
  await registerModels(api);
  await api.StorageManager.getInstance().saveModelMetadata({
    id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(MODEL).size, path: MODEL,
    downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
  });
  expect(SD_MODEL).toBeTruthy();
  await llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2, contextSize: 512 });
  await diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 2, usageMode: 'burst' });
  await diffusionServer.generateImage({ prompt: 'a cat', ...SMALL });
  const llamaPid = llamaServer.getPid();
  const sdPid = diffusionServer.getPid();
  expect([llamaServer.getStatus(), diffusionServer.getStatus()]).toEqual(['running', 'running']);
  expect([alive(llamaPid), alive(sdPid)]).toEqual([true, true]);

  const backend = [];
  diffusionServer.on('backend-status', (e) => backend.push(e));
  const app = new StandInApp();
  attachAppLifecycle(app, { llamaServer, diffusionServer });
  await quit(app);
  expect(app.calls).toEqual(['preventDefault', 'exit(0)']);
  expect([llamaServer.getStatus(), diffusionServer.getStatus()]).toEqual(['stopped', 'stopped']);
  await until(() => !alive(llamaPid) && !alive(sdPid), 10000);
  expect(backend.map((e) => `${e.state}:${e.reason}`)).toContain('absent:shutdown');
  expect(backend.at(-1)).toEqual(expect.objectContaining({ state: 'absent', reason: 'shutdown' }));
}, 120000);
