// llamaServer through the public API, on the real llama-server (built from the llama.cpp source
// on PyPI) and the real SmolLM2 model; and the llama-server dies with its Node process however
// that process ends.
import { execFileSync, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './helpers.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model');
const LLAMA = asset('llama-server');
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-llama-jest-');
process.env.GENAI_LLAMA_SERVER_PATH = LLAMA;
const api = await import('../index.js');
const { llamaServer, StorageManager, ServerError, PortInUseError, ModelNotFoundError } = api;

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
};
const until = async (cond, ms = 5000) => {
  const t = Date.now();
  while (!(await cond())) {
    if (Date.now() - t > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

beforeAll(async () => {
  await StorageManager.getInstance().initialize();
  await StorageManager.getInstance().saveModelMetadata({
    id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(MODEL).size, path: MODEL,
    downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
    ggufMetadata: { architecture: 'llama', block_count: 30, context_length: 8192, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576 },
  });
});
afterAll(() => llamaServer.stop());

test('start → events in order, healthy, a real answer, logs, crash, restart, stop', async () => {
  const seen = [];
  for (const name of ['status', 'ready', 'started', 'stopped', 'crashed']) llamaServer.on(name, (...args) => seen.push([name, ...args]));
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  await until(() => seen.some(([n]) => n === 'started'));
  expect(seen.map(([n, a]) => (n === 'status' ? `status:${a}` : n))).toEqual(['status:starting', 'status:running', 'ready', 'started']);
  expect(seen[1]).toEqual(['status', 'running', 'starting']);
  expect(info).toEqual(expect.objectContaining({ status: 'running', modelId: 'smollm2', pid: expect.any(Number), port: expect.any(Number) }));
  expect(await llamaServer.isHealthy()).toBe(true);
  expect(llamaServer.getConfig()).toEqual(expect.objectContaining({ contextSize: 8192, gpuLayers: 0, threads: 2 }));
  const r = await fetch(`http://127.0.0.1:${info.port}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 }),
  });
  expect(r.status).toBe(200);
  expect((await r.json()).choices[0].message.content).toEqual(expect.any(String));
  const logs = await llamaServer.getStructuredLogs(500);
  expect(logs.some((e) => e.level === 'info' && e.message.includes('load_model: loading model'))).toBe(true);

  const t = Date.now();
  process.kill(info.pid, 'SIGKILL');
  await until(() => seen.some(([n]) => n === 'crashed'));
  expect(Date.now() - t).toBeLessThan(500);
  expect(seen.find(([n]) => n === 'crashed')[1]).toEqual({ code: null, signal: 'SIGKILL' });
  expect(llamaServer.hasCrashed()).toBe(true);

  const again = await llamaServer.start({ modelId: 'smollm2', port: info.port });
  expect(again.status).toBe('running');
  await llamaServer.stop();
  expect(llamaServer.getStatus()).toBe('stopped');
  expect(seen.at(-1)).toEqual(['stopped']);
  expect(await api.isPortBindable(info.port)).toBe(true);
  await llamaServer.stop(); // idempotent
});

test('autoRestart brings a crashed server back and emits restarted', async () => {
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto', autoRestart: true, maxRestarts: 1 });
  const restarted = new Promise((resolve) => llamaServer.once('restarted', resolve));
  process.kill(info.pid, 'SIGKILL');
  const again = await restarted;
  expect(again).toEqual(expect.objectContaining({ status: 'running', port: info.port }));
  expect(again.pid).not.toBe(info.pid);
  expect(await llamaServer.isHealthy()).toBe(true);
  await llamaServer.stop();
});

test('bad starts: typed errors, nothing changes', async () => {
  await expect(llamaServer.start({ modelId: 'missing' })).rejects.toBeInstanceOf(ModelNotFoundError);
  await expect(llamaServer.start({ modelId: 'smollm2', port: 70000 })).rejects.toThrow('Server error: Invalid port: 70000');
  await expect(llamaServer.start({ modelId: 'smollm2', threads: -1 })).rejects.toBeInstanceOf(ServerError);
  const sockets = [];
  const holder = (await import('node:net')).createServer((sock) => sockets.push(sock)); // accepts, never answers
  await new Promise((res) => holder.listen(0, '127.0.0.1', res));
  const busy = holder.address().port;
  const err = await llamaServer.start({ modelId: 'smollm2', port: busy }).catch((e) => e);
  expect(err).toBeInstanceOf(PortInUseError);
  expect(err.message).toBe(`Port ${busy} is already in use`);
  sockets.forEach((sock) => sock.destroy());
  await new Promise((res) => holder.close(res));
  expect(llamaServer.getStatus()).toBe('stopped');
});

describe('the llama-server dies with its Node process', () => {
  const script = (ending) => `
    const { llamaServer } = require('genai-electron-rs');
    llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 1 }).then((info) => {
      console.log('PID ' + info.pid);
      ${ending}
    });`;
  const run = async (ending, signal) => {
    const child = spawn(process.execPath, ['-e', script(ending)], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    await until(() => /PID (\d+)/.test(out), 30000).catch(() => {
      throw new Error(`the child did not start a server: ${err}`);
    });
    const pid = Number(/PID (\d+)/.exec(out)[1]);
    if (signal) child.kill(signal);
    await new Promise((r) => child.once('exit', r));
    const t = Date.now();
    await until(() => !alive(pid), 1000);
    return Date.now() - t;
  };

  test('process.exit()', async () => expect(await run('process.exit(0)')).toBeLessThan(1000));
  test('an uncaught exception', async () => expect(await run('setTimeout(() => { throw new Error("boom") }, 10)')).toBeLessThan(1000));
  test('SIGTERM', async () => expect(await run('', 'SIGTERM')).toBeLessThan(1000));
  test('SIGKILL, 20 times', async () => {
    for (let i = 0; i < 20; i++) expect(await run('', 'SIGKILL')).toBeLessThan(1000);
  }, 120000);
});


test('genai-electron-rs serve <file.gguf> runs the server until Ctrl-C', async () => {
  const dir = tempDir('genai-serve-');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'genai-electron-rs.js'), 'serve', MODEL, '--threads', '1'], {
    cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', GENAI_ELECTRON_USER_DATA: dir, GENAI_LLAMA_SERVER_PATH: LLAMA },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const cleanup = setTimeout(() => child.kill('SIGKILL'), 50000); // never leave it running
  await until(() => /ready: http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)/.test(out), 30000);
  const [, port, pid] = /ready: http:\/\/127\.0\.0\.1:(\d+) \(pid (\d+)/.exec(out);
  expect(out).toMatch(/^Registered .+SmolLM2-135M-Instruct\.Q4_1\.gguf as smollm2-135m-instructq41$/m);
  expect(out).toMatch(/status starting -> running/);
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  expect(code).toBe(0);
  clearTimeout(cleanup);
  expect(out).toMatch(/status stopping -> stopped/);
  expect(alive(Number(pid))).toBe(false);
});
