// Hostile input and faults (issue 9) through the public API: user callbacks that throw (each in a
// fresh Node process, so that a crash is an exit code here), LogManager's odd arguments and huge
// rotation settings, and start()/system arguments JSON cannot hold or that point at the wrong thing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runNodeAsync, tempDir } from './helpers.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model');
const LLAMA = asset('llama-server');
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-hostile-misc-');
const api = await import('../index.js');
const { llamaServer, modelManager, systemInfo, LogManager, StorageManager } = api;

const INDEX = pathToFileURL(path.join(ROOT, 'index.js')).href;
const FILE_SERVER = pathToFileURL(path.join(ROOT, '__test__/support/file-server.mjs')).href;

/**
 * Runs `body` (an ES module body) in a fresh Node process with its own userData; `result(x)`
 * there reports x. Resolves to the exit status, stderr and the reported result.
 */
async function inChild(body) {
  const script = `
import { startFileServer } from ${JSON.stringify(FILE_SERVER)};
import { readdirSync, statSync } from 'node:fs';
const api = await import(${JSON.stringify(INDEX)});
const result = (x) => console.log('RESULT ' + JSON.stringify(x));
const described = (e) => ({ name: e?.constructor?.name, message: e?.message, details: e?.details });
const registerModel = () => api.StorageManager.getInstance().saveModelMetadata({
  id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(${JSON.stringify(MODEL)}).size, path: ${JSON.stringify(MODEL)},
  downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
});
${body}`;
  const r = await runNodeAsync(['--input-type=module', '-e', script], {
    env: { GENAI_ELECTRON_USER_DATA: tempDir('genai-hostile-child-'), GENAI_LLAMA_SERVER_PATH: LLAMA },
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  return { status: r.status, stderr: r.stderr, result: line ? JSON.parse(line.slice('RESULT '.length)) : undefined };
}

// A diffusion model with one component, served by the real test file server.
const COMPONENT_DOWNLOAD = `
const server = await startFileServer();
server.put('/flux.safetensors', Buffer.alloc(300_000, 1));
server.put('/vae.safetensors', Buffer.alloc(3_000, 2));
const config = (extra) => ({
  source: 'url', url: server.url('/flux.safetensors'), name: 'Flux', type: 'diffusion',
  components: [{ role: 'vae', source: 'url', url: server.url('/vae.safetensors') }], ...extra,
});
const diffusionFiles = () => readdirSync(api.PATHS.models.diffusion, { recursive: true });
`;

describe('a user callback that throws never crashes Node', () => {
  test('onComponentStart: the download rejects as upstream (DownloadError), its files are removed', async () => {
    const { status, stderr, result } = await inChild(`${COMPONENT_DOWNLOAD}
const calls = [];
try {
  await api.modelManager.downloadModel(config({
    onComponentStart: (c) => { calls.push(c); if (c.index === 2) throw new Error('boom'); },
  }));
  result({ resolved: true });
} catch (e) {
  result({ ...described(e), calls, files: diffusionFiles(), downloading: api.modelManager.isDownloading() });
}
await server.close();`);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(result).toEqual({
      name: 'DownloadError', message: 'Download failed: Multi-component download failed', details: { error: 'boom' },
      calls: [{ role: 'diffusion_model', filename: 'flux.safetensors', index: 1, total: 2 }, { role: 'vae', filename: 'vae.safetensors', index: 2, total: 2 }],
      files: [], downloading: false,
    });
  });

  test('onComponentStart throwing a DownloadError: the download rejects with that very error', async () => {
    const { status, result } = await inChild(`${COMPONENT_DOWNLOAD}
const mine = new api.DownloadError('stop here', { mine: true });
try {
  await api.modelManager.downloadModel(config({ onComponentStart: () => { throw mine; } }));
  result({ resolved: true });
} catch (e) {
  result({ same: e === mine, files: diffusionFiles(), gets: server.requests.filter((r) => r.method !== 'HEAD').length });
}
await server.close();`);
    expect(status).toBe(0);
    expect(result).toEqual({ same: true, files: [], gets: 0 }); // thrown before any file was fetched (sizes are probed first, as upstream)
  });

  test('onProgress: a throw is ignored, as upstream ignores it (downloadModel, Downloader, the binding itself)', async () => {
    const { status, stderr, result } = await inChild(`
const server = await startFileServer();
server.put('/a.safetensors', Buffer.alloc(2_000_000, 1));
server.put('/b.bin', Buffer.alloc(2_000_000, 2));
const out = {};
const info = await api.modelManager.downloadModel({
  source: 'url', url: server.url('/a.safetensors'), name: 'A', type: 'diffusion',
  components: [{ role: 'vae', source: 'url', url: server.url('/b.bin') }],
  onProgress: () => { throw new Error('progress boom'); },
});
out.model = info.size;
const dest = api.PATHS.temp + '/b.bin';
await new api.Downloader().download({ url: server.url('/b.bin'), destination: dest, onProgress: () => { throw new Error('x'); } });
out.downloader = statSync(dest).size;
// The binding is called with the throwing function itself (no facade relay in between).
const { createRequire } = await import('node:module');
const binding = createRequire(${JSON.stringify(path.join(ROOT, 'index.cjs'))})('./binding.cjs');
const raw = new binding.NativeDownloader();
await raw.download(server.url('/b.bin'), dest + '.raw', {}, () => { throw new Error('raw boom'); });
out.raw = statSync(dest + '.raw').size;
result(out);
await server.close();`);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(result).toEqual({ model: 4_000_000, downloader: 2_000_000, raw: 2_000_000 });
  });

  test('a llamaServer listener: start() and stop() reject as upstream, nothing is left running', async () => {
    const { status, stderr, result } = await inChild(`
await registerModel();
const out = {};
const onStarted = () => { throw new Error('started boom'); };
api.llamaServer.on('started', onStarted);
try {
  await api.llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
} catch (e) {
  out.start = described(e);
}
out.afterStart = api.llamaServer.getStatus();
api.llamaServer.off('started', onStarted);
// A GenaiElectronError from a listener is start()'s rejection as it is (upstream's handleStartupError).
const mine = new api.ServerError('mine');
const onReady = () => { throw mine; };
api.llamaServer.on('ready', onReady);
out.same = await api.llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 }).catch((e) => e === mine);
api.llamaServer.off('ready', onReady);
const info = await api.llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
api.llamaServer.on('status', (s) => { if (s === 'stopping') throw new Error('stopping boom'); });
try {
  await api.llamaServer.stop();
} catch (e) {
  out.stop = described(e);
}
out.afterStop = api.llamaServer.getStatus();
out.pidGone = (() => { try { process.kill(info.pid, 0); return false; } catch { return true; } })();
result(out);`);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(result).toEqual({
      start: { name: 'ServerError', message: 'Server error: Failed to start llama-server: started boom', details: { error: 'started boom' } },
      afterStart: 'stopped',
      same: true,
      stop: { name: 'ServerError', message: 'Server error: Failed to stop server: stopping boom', details: { error: 'stopping boom', pid: expect.any(Number) } },
      afterStop: 'stopped',
      pidGone: true,
    });
  });

  test("a listener of an event outside start()/stop() ('crashed') throws as an uncaught exception, the thrown value itself (as upstream)", async () => {
    const { status, result } = await inChild(`
await registerModel();
const mine = new Error('crashed boom');
process.on('uncaughtException', (e) => { result({ same: e === mine }); process.exit(0); });
api.llamaServer.on('crashed', () => { throw mine; });
const info = await api.llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
process.kill(info.pid, 'SIGKILL');`);
    expect(status).toBe(0);
    expect(result).toEqual({ same: true });
  });
});

describe('LogManager', () => {
  const dir = tempDir('genai-hostile-logs-');

  test('a huge maxArchives costs a rotation what the archives that exist cost, and keeps at most 100', async () => {
    const file = path.join(dir, 'huge.log');
    const log = new LogManager(file, { maxFileSize: 10, maxArchives: 1e9 });
    await log.initialize();
    for (let i = 0; i < 130; i++) await log.write(`line ${i}`); // each write rotates
    expect(existsSync(`${file}.100`)).toBe(true);
    expect(existsSync(`${file}.101`)).toBe(false);
    expect(await new LogManager(`${file}.1`).getRecent(1)).toEqual([expect.stringContaining('line 128')]);
    const endless = new LogManager(path.join(dir, 'endless.log'), { maxFileSize: 10, maxArchives: Infinity });
    await endless.write('a');
    await endless.write('b');
    expect(existsSync(path.join(dir, 'endless.log.1'))).toBe(true);
  }, 30000);

  test("getRecent(lines) is upstream's lines.slice(-lines)", async () => {
    const file = path.join(dir, 'slice.log');
    writeFileSync(file, 'a\nb\n\n  \nc\nd\n');
    const log = new LogManager(file);
    const cases = [
      [undefined, ['a', 'b', 'c', 'd']], ['3', ['b', 'c', 'd']], [3, ['b', 'c', 'd']], [-1, ['b', 'c', 'd']],
      [0, ['a', 'b', 'c', 'd']], [NaN, ['a', 'b', 'c', 'd']], [Infinity, ['a', 'b', 'c', 'd']], [-Infinity, []],
      [2.5, ['c', 'd']], [-2.5, ['c', 'd']], [null, ['a', 'b', 'c', 'd']], ['abc', ['a', 'b', 'c', 'd']], [true, ['d']], [[2], ['c', 'd']],
    ];
    for (const [lines, want] of cases) expect([lines, await log.getRecent(lines)]).toEqual([lines, want]);
    for (const [lines, want] of cases.slice(1)) {
      const upstream = ['a', 'b', 'c', 'd'].slice(-lines);
      expect([lines, upstream]).toEqual([lines, want]); // the table is JavaScript's own answer
    }
    await expect(log.getRecent(Symbol('n'))).rejects.toMatchObject({
      name: 'FileSystemError', message: 'File system error: Failed to read log file: Cannot convert a Symbol value to a number',
    });
    expect(await new LogManager(path.join(dir, 'none.log')).getRecent(Symbol('n'))).toEqual([]);
  });
});

describe('arguments JSON cannot hold, or of the wrong kind', () => {
  beforeAll(async () => {
    const storage = StorageManager.getInstance();
    await storage.initialize();
    const entry = (id, file) => ({
      id, name: id, type: 'llm', size: statSync(MODEL).size, path: file,
      downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
    });
    await storage.saveModelMetadata(entry('smollm2', MODEL));
    await storage.saveModelMetadata(entry('gone', path.join(tempDir(), 'deleted.gguf')));
  });

  test('NaN, Infinity or a function in start()\'s config is a ServerError naming the field', async () => {
    const cases = [
      [{ port: NaN }, 'Server error: Invalid port: NaN'],
      [{ gpuLayers: NaN }, 'Server error: Invalid gpuLayers: NaN'],
      [{ threads: Infinity }, 'Server error: Invalid threads: Infinity'],
      [{ contextSize: -Infinity }, 'Server error: Invalid contextSize: -Infinity'],
      [{ batchSize: () => 1 }, 'Server error: Invalid batchSize: function'],
      [{ startupTimeout: -1 }, 'Server error: Invalid startupTimeout: -1'],
      [{ startupTimeout: 0 }, 'Server error: Invalid startupTimeout: 0'],
    ];
    for (const [extra, message] of cases) {
      const err = await llamaServer.start({ modelId: 'smollm2', ...extra }).catch((e) => e);
      expect([extra, err]).toEqual([extra, expect.any(api.ServerError)]);
      expect(err.message).toBe(message);
    }
    expect(llamaServer.getStatus()).toBe('stopped');
  });

  test('binaryPath: 42 is a ServerError naming binaryPath; a directory is a BinaryError saying so', async () => {
    const err = await llamaServer.start({ modelId: 'smollm2', binaryPath: 42 }).catch((e) => e);
    expect(err).toBeInstanceOf(api.ServerError);
    expect(err.details).toMatchObject({ field: 'binaryPath', value: 42 });
    const dir = tempDir('genai-binary-dir-');
    const err2 = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binaryPath: dir }).catch((e) => e);
    expect(err2).toBeInstanceOf(api.BinaryError);
    expect(err2.message).toBe(`Binary error: Binary path is a directory, not a file: ${dir}`);
  });

  test('a model whose file was deleted: a ServerError before llama-server is spawned', async () => {
    const logPath = llamaServer.getLogPath();
    mkdirSync(path.dirname(logPath), { recursive: true });
    writeFileSync(logPath, '');
    const err = await llamaServer.start({ modelId: 'gone', port: 'auto', binaryPath: LLAMA }).catch((e) => e);
    expect(err).toBeInstanceOf(api.ServerError);
    expect(err.message).toMatch(/^Server error: Model file not found: .*deleted\.gguf$/);
    expect(err.details).toMatchObject({ modelId: 'gone' });
    expect((await llamaServer.getLogs(1000)).some((l) => l.includes('Process spawned'))).toBe(false);
  });

  test('canRunModel/getOptimalConfig(null) throw the TypeError upstream throws, not "requires NaNGB"', async () => {
    for (const run of [() => systemInfo.canRunModel(null), () => systemInfo.getOptimalConfig(null), () => systemInfo.canRunModel()]) {
      const err = await run().catch((e) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err.message).toMatch(/^Cannot read properties of (null|undefined) \(reading 'ggufMetadata'\)$/);
    }
    // NaN inside the object is read as upstream reads it (NaN arithmetic), not a conversion Error.
    const nan = await systemInfo.canRunModel({ size: NaN, type: 'llm' });
    expect(nan).toEqual(expect.objectContaining({ possible: false, reason: expect.stringContaining('requires NaNGB') }));
    expect(await api.estimateVRAM({ available: true, vram: NaN })).toBeNull();
  });

  test('an id that is not a string is read as String(id): ModelNotFoundError, as upstream', async () => {
    for (const id of [42, null, undefined, { id: 'x' }]) {
      const err = await modelManager.getModelInfo(id).catch((e) => e);
      expect(err).toBeInstanceOf(api.ModelNotFoundError);
      expect(err.message).toBe(`Model not found: ${String(id)}`);
      await expect(modelManager.deleteModel(id)).rejects.toBeInstanceOf(api.ModelNotFoundError);
      await expect(modelManager.verifyModel(id)).rejects.toBeInstanceOf(api.ModelNotFoundError);
    }
    await expect(StorageManager.getInstance().loadModelMetadata('llm', 42)).rejects.toMatchObject({
      name: 'FileSystemError', message: 'File system error: Model metadata not found: 42',
    });
  });
});
