// llamaServer through the public API, on the real llama-server (built from the llama.cpp source
// on PyPI) and the real SmolLM2 model; and the llama-server dies with its Node process however
// that process ends.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, alive, tempDir, until } from './helpers.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model');
// A copy of its own: the binary's validation is cached per process (path, size, mtime), and Jest
// runs other test files that start llama-server in this worker before this one.
const LLAMA = path.join(tempDir('genai-llama-bin-'), 'llama-server');
copyFileSync(asset('llama-server'), LLAMA);
chmodSync(LLAMA, 0o755);
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-llama-jest-');
process.env.GENAI_LLAMA_SERVER_PATH = LLAMA;
const api = await import('../index.js');
const { llamaServer, systemInfo, StorageManager, ServerError, PortInUseError, ModelNotFoundError, BinaryError, ContextConstraintError } = api;

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
  for (const name of ['status', 'ready', 'started', 'stopped', 'crashed', 'binary-log']) llamaServer.on(name, (...args) => seen.push([name, ...args]));
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  await until(() => seen.some(([n]) => n === 'started'));
  const binaryLog = seen.filter(([n]) => n === 'binary-log').map(([, e]) => e);
  expect(seen.map(([n, a]) => (n === 'status' ? `status:${a}` : n))).toEqual([
    'status:starting', ...binaryLog.map(() => 'binary-log'), 'status:running', 'ready', 'started',
  ]);
  expect(binaryLog).toEqual([
    { message: `Using llama-server binary: ${LLAMA}`, level: 'info' },
    { message: 'Phase 1: Testing binary basic validation...', level: 'info' },
    { message: expect.stringMatching(/^version: /), level: 'info' },
    { message: 'Phase 1: ✓ Binary validation passed (--version)', level: 'info' },
  ]);
  expect(seen.find(([n, a]) => n === 'status' && a === 'running')).toEqual(['status', 'running', 'starting']);
  seen.splice(0, seen.length, ...seen.filter(([n]) => n !== 'binary-log'));
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
  expect(logs.some((e) => e.level === 'info' && e.message === 'Phase 1: ✓ Binary validation passed (--version)')).toBe(true);

  // Noticed from the process's exit, not by polling (a generous bound: this machine may be busy;
  // the bench measures the speed).
  process.kill(info.pid, 'SIGKILL');
  await until(() => seen.some(([n]) => n === 'crashed'), 1000);
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

test('the binary is validated once per process unless forceValidation; capacity from /props', async () => {
  const log = [];
  const onLog = (e) => log.push(e.message);
  await llamaServer.start({ modelId: 'smollm2', port: 'auto' }); // validated here or earlier
  await llamaServer.stop();
  llamaServer.on('binary-log', onLog);
  const ready = new Promise((r) => llamaServer.once('ready', r));
  // What the server runs with comes from its /props: 1000 over 3 slots is 512 each there.
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto', contextSize: 1000, parallelRequests: 3 });
  expect(info).toEqual(expect.objectContaining({ configuredContextSize: 1000, effectiveContextSize: 512, effectiveParallelRequests: 3 }));
  expect(await ready).toEqual(expect.objectContaining({ configuredContextSize: 1000, effectiveContextSize: 512, effectiveParallelRequests: 3, port: info.port }));
  await llamaServer.stop();
  const after = llamaServer.getInfo();
  for (const gone of ['pid', 'configuredContextSize', 'effectiveContextSize', 'effectiveParallelRequests']) expect(after).not.toHaveProperty(gone);
  expect(log).toEqual([`Using llama-server binary: ${LLAMA}`, 'Using cached validation result (binary verified)']);
  log.length = 0;
  await llamaServer.start({ modelId: 'smollm2', port: 'auto', forceValidation: true });
  await llamaServer.stop();
  llamaServer.off('binary-log', onLog);
  expect(log.slice(0, 3)).toEqual([`Using llama-server binary: ${LLAMA}`, 'Force validation requested, re-running tests...', 'Phase 1: Testing binary basic validation...']);
  expect(log.at(-1)).toBe('Phase 1: ✓ Binary validation passed (--version)');
});

test('a binary that cannot run here: BinaryError before anything is started', async () => {
  const dir = tempDir('genai-badbin-');
  const broken = path.join(dir, 'llama-server');
  writeFileSync(broken, '#!/bin/sh\necho "error while loading shared libraries: libggml.so: cannot open shared object file" >&2\nexit 127\n', { mode: 0o755 });
  const notExecutable = path.join(dir, 'plain-file');
  writeFileSync(notExecutable, 'x', { mode: 0o644 });
  const log = [];
  const onLog = (e) => log.push(e);
  llamaServer.on('binary-log', onLog);
  const err = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binaryPath: broken }).catch((e) => e);
  expect(err).toBeInstanceOf(BinaryError);
  expect(err.message).toMatch(/llama-server binary failed validation: --version ended with exit code 127: .*libggml\.so/);
  expect(log.at(-1)).toEqual({ message: expect.stringMatching(/^Phase 1: ✗ Basic validation failed: /), level: 'error' });
  expect(llamaServer.getStatus()).toBe('stopped');
  const err2 = await llamaServer.start({ modelId: 'smollm2', binaryPath: notExecutable }).catch((e) => e);
  expect(err2).toBeInstanceOf(BinaryError);
  expect(err2.message).toContain(`Binary is not executable: ${notExecutable}`);
  const err3 = await llamaServer.start({ modelId: 'smollm2', binaryPath: path.join(dir, 'missing') }).catch((e) => e);
  expect(err3).toBeInstanceOf(BinaryError);
  expect(log.at(-1)).toEqual({ message: `Binary file not found: ${path.join(dir, 'missing')}`, level: 'error' });
  // One that runs but exits while starting: ServerError with its last log lines.
  const exits = path.join(dir, 'exits');
  writeFileSync(exits, '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "main: error: failed to load model" >&2\nexit 1\n', { mode: 0o755 });
  const err4 = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binaryPath: exits }).catch((e) => e);
  expect(err4).toBeInstanceOf(ServerError);
  expect(err4.message).toBe('Server error: llama-server exited during startup (exit code 1)');
  expect(err4.details.lastLogs.join('\n')).toContain('main: error: failed to load model');
  llamaServer.off('binary-log', onLog);
  expect(llamaServer.getStatus()).toBe('stopped');
});

// The record's start time is computed here from /proc, which only Linux has.
const linuxOnly = process.platform === 'linux' ? test : test.skip;
linuxOnly('a llama-server left by a crashed earlier run is reaped at the next start, and nothing else is (Linux: start time read from /proc)', async () => {
  // The earlier run: a real llama-server on the real model, and the record the supervisor keeps
  // in userData (pid, start time in seconds since the epoch, executable).
  const stray = spawn(LLAMA, ['-m', MODEL, '--port', '0', '-t', '1'], { stdio: 'ignore', detached: true });
  const bystander = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  const startTime = (pid) => {
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))[1]);
    const ticks = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
    return btime + Math.floor(ticks / 100);
  };
  const record = path.join(api.PATHS.temp, 'children', 'llama-server.json');
  mkdirSync(path.dirname(record), { recursive: true });
  // A record whose executable does not match the live process: left alone.
  writeFileSync(record, JSON.stringify({ pid: bystander.pid, startTime: startTime(bystander.pid), exe: LLAMA }));
  await llamaServer.start({ modelId: 'smollm2', port: 'auto' });
  await llamaServer.stop();
  expect(alive(bystander.pid)).toBe(true);
  bystander.kill('SIGKILL');

  const log = [];
  const onLog = (e) => log.push(e);
  llamaServer.on('binary-log', onLog);
  writeFileSync(record, JSON.stringify({ pid: stray.pid, startTime: startTime(stray.pid), exe: LLAMA }));
  const exited = new Promise((r) => stray.once('exit', (code, signal) => r(signal)));
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto' });
  llamaServer.off('binary-log', onLog);
  expect(await exited).toBe('SIGKILL');
  expect(log[0]).toEqual({ message: `Killed llama-server (PID ${stray.pid}) left running by an earlier run`, level: 'warn' });
  expect(JSON.parse(readFileSync(record, 'utf8')).pid).toBe(info.pid); // now it describes ours
  await llamaServer.stop();
});

test('one start() at a time: a second call is refused with the upstream error', async () => {
  const first = llamaServer.start({ modelId: 'smollm2', port: 'auto' });
  const second = await llamaServer.start({ modelId: 'smollm2', port: 'auto' }).catch((e) => e);
  expect(second).toBeInstanceOf(ServerError);
  expect(second.message).toBe('Server error: Server is already starting');
  expect(second.details).toEqual({ suggestion: 'Wait for the current start() call to finish' });
  const info = await first;
  const third = await llamaServer.start({ modelId: 'smollm2', port: 'auto' }).catch((e) => e);
  expect(third.message).toBe('Server error: Server is already running');
  expect(llamaServer.getInfo().pid).toBe(info.pid); // the running server is untouched
  await llamaServer.stop();
});

test('stop() while start() is under way cancels it: nothing is left running', async () => {
  const seen = [];
  const onStarted = () => seen.push('started');
  llamaServer.on('started', onStarted);
  const starting = llamaServer.start({ modelId: 'smollm2', port: 'auto' });
  await llamaServer.stop();
  const err = await starting.catch((e) => e);
  llamaServer.off('started', onStarted);
  expect(err).toBeInstanceOf(ServerError);
  expect(err.message).toBe('Server error: llama-server start cancelled by stop()');
  expect(llamaServer.getStatus()).toBe('stopped');
  expect(llamaServer.getInfo().pid).toBeUndefined();
  expect(seen).toEqual([]);
  // and the next start() is not affected
  const info = await llamaServer.start({ modelId: 'smollm2', port: 'auto' });
  expect(info.status).toBe('running');
  await llamaServer.stop();
});

test('a server whose /props is unusable: ContextConstraintError as upstream, and it is stopped', async () => {
  // A stand-in that answers /health like llama-server but not /props as it should.
  const dir = tempDir('genai-props-');
  const fake = (props) => {
    const file = path.join(dir, `fake-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `#!${process.execPath}
if (process.argv[2] === '--version') { console.log('version: 0 (fake)'); process.exit(0); }
const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
require('node:http').createServer((req, res) => {
  if (req.url === '/health') return res.end('{"status":"ok"}');
  const [status, body] = ${JSON.stringify(props)};
  res.writeHead(status).end(body);
}).listen(port, '127.0.0.1', () => console.log('listening'));
`, { mode: 0o755 });
    return file;
  };
  const missing = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binaryPath: fake([404, 'no']) }).catch((e) => e);
  expect(missing).toBeInstanceOf(ContextConstraintError);
  expect(missing.message).toBe('Context constraint error: llama-server /props returned HTTP 404');
  expect(missing.details).toEqual(expect.objectContaining({ reason: 'runtime-capacity-unavailable', stage: 'runtime', cause: 'HTTP 404' }));
  expect(llamaServer.getStatus()).toBe('stopped');
  const slots = JSON.stringify({ default_generation_settings: { n_ctx: 4096 }, total_slots: 2 });
  const mismatch = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binaryPath: fake([200, slots]) }).catch((e) => e);
  expect(mismatch).toBeInstanceOf(ContextConstraintError);
  expect(mismatch.message).toBe('Context constraint error: llama-server reported 2 slots, but 1 were configured');
  expect(mismatch.details).toEqual(expect.objectContaining({ reason: 'runtime-slots-mismatch', effectiveParallelRequests: 2, parallelRequests: 1 }));
  expect(llamaServer.getInfo().pid).toBeUndefined();
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
    if (signal) {
      await new Promise((r) => setTimeout(r, 300));
      expect(child.exitCode).toBe(null); // a running server keeps Node alive, as upstream
      child.kill(signal);
    }
    await new Promise((r) => child.once('exit', r));
    const t = Date.now();
    await until(() => !alive(pid), 1000);
    return Date.now() - t;
  };

  test('the event loop runs dry (after unref())', async () => expect(await run('llamaServer.unref()')).toBeLessThan(1000));
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
  expect(out).toMatch(/binary info: Using llama-server binary: /);
  expect(out).toMatch(/context \d+ per slot × 1\)/);
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  child.kill('SIGINT');
  const code = await new Promise((r) => child.once('exit', r));
  expect(code).toBe(0);
  clearTimeout(cleanup);
  expect(out).toMatch(/status stopping -> stopped/);
  expect(alive(Number(pid))).toBe(false);
});

// One detection cache for the whole package: systemInfo.clearCache() reaches the detection that
// llamaServer.start() uses for its auto-configuration, and systemInfo then sees the detection
// start() made. (In this file, not its own: the binary-validation test above must be the first
// start() in its Jest worker process.)
test('clearCache() then start(): start() detects anew, and detect() returns that detection', async () => {
  const tick = () => new Promise((r) => setTimeout(r, 5)); // detectedAt has millisecond resolution
  const before = await systemInfo.detect();
  expect(await systemInfo.detect()).toBe(before);
  systemInfo.clearCache();
  await tick();
  const startCalled = new Date().toISOString();
  await llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  const startReturned = new Date().toISOString();
  await tick();
  // No forceRefresh: with a cache of its own, systemInfo would detect now, after start() returned.
  const after = await systemInfo.detect();
  await llamaServer.stop();
  expect(after).not.toBe(before);
  expect(after.detectedAt > before.detectedAt).toBe(true);
  expect(after.detectedAt >= startCalled).toBe(true);
  expect(after.detectedAt <= startReturned).toBe(true);
  expect(await systemInfo.detect()).toBe(after);
});
