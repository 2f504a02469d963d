// ProcessManager through the public API, on real child processes.
import { ChildProcess, spawn } from 'node:child_process';
import { ROOT, alive, until } from './helpers.mjs';

const { ProcessManager, ServerError } = await import('../index.js');
const pm = new ProcessManager();
const node = (code) => [process.execPath, ['-e', code]];

test('spawn: a real ChildProcess, output chunks, exit code', async () => {
  const out = [];
  const err = [];
  const exited = new Promise((resolve) => {
    const r = pm.spawn(...node("console.log('hello'); console.error('oops'); process.exit(3)"), {
      onStdout: (d) => out.push(d),
      onStderr: (d) => err.push(d),
      onExit: (code, signal) => resolve({ code, signal }),
    });
    expect(r.process).toBeInstanceOf(ChildProcess);
    expect(r.pid).toBe(r.process.pid);
  });
  expect(await exited).toEqual({ code: 3, signal: null });
  expect(out.join('')).toBe('hello\n');
  expect(err.join('')).toBe('oops\n');
});

test('spawn passes env and cwd', async () => {
  let out = '';
  await new Promise((resolve) => {
    pm.spawn(...node('console.log(process.env.PM_TEST + " " + process.cwd())'), {
      env: { ...process.env, PM_TEST: 'yes' }, cwd: '/tmp', onStdout: (d) => (out += d), onExit: resolve,
    });
  });
  expect(out.trim()).toBe('yes /tmp');
});

test('spawn of a missing program: ServerError, and onError gets the cause', async () => {
  let cause;
  expect(() => pm.spawn('/nonexistent/llama-server', [], { onError: (e) => (cause = e) })).toThrow(ServerError);
  expect(() => pm.spawn('/nonexistent/llama-server', [])).toThrow('Server error: Failed to spawn process: /nonexistent/llama-server');
  await until(() => cause !== undefined);
  expect(cause.code).toBe('ENOENT');
});

test('isRunning and kill: SIGTERM, resolved once the process is gone', async () => {
  let exit;
  const { pid } = pm.spawn(...node('setInterval(() => {}, 1000)'), { onExit: (code, signal) => (exit = { code, signal }) });
  expect(pm.isRunning(pid)).toBe(true);
  await pm.kill(pid);
  expect(alive(pid)).toBe(false);
  expect(pm.isRunning(pid)).toBe(false);
  await until(() => exit !== undefined);
  expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
});

// 300 ms: SIGKILL once it has passed; Infinity, a delay setTimeout would not take: at once, as upstream.
test.each([300, Infinity])('kill(pid, %p): SIGKILL when SIGTERM is ignored', async (timeout) => {
  let exit;
  let out = '';
  const { pid } = pm.spawn(...node("process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"), {
    onStdout: (d) => (out += d),
    onExit: (code, signal) => (exit = { code, signal }),
  });
  await until(() => out.includes('ready'));
  await pm.kill(pid, timeout);
  expect(alive(pid)).toBe(false);
  await until(() => exit !== undefined);
  expect(exit.signal).toBe('SIGKILL');
});

test('kill of a process that is not there resolves; pids that cannot be a child are refused', async () => {
  const gone = 4194303; // the highest pid Linux hands out by default
  expect(pm.isRunning(gone)).toBe(false);
  await expect(pm.kill(gone)).resolves.toBeUndefined();
  for (const pid of [0, -1, 1.5, process.pid]) {
    const err = await pm.kill(pid).catch((e) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect(err.message).toBe(`Server error: Failed to kill process ${pid}`);
  }
  expect(pm.isRunning(0)).toBe(false);
  expect(pm.isRunning(-1)).toBe(false);
  expect(pm.isRunning(2 ** 32 - 1)).toBe(false); // not a pid_t: must not become kill(-1)
  expect(pm.isRunning(process.pid)).toBe(true); // as upstream: our own process is running
});

test('a ProcessManager child dies with its Node process on process.exit()', async () => {
  const script = `
    const { ProcessManager } = require('genai-electron-rs');
    const { pid } = new ProcessManager().spawn('sleep', ['300']);
    console.log('PID ' + pid);
    setTimeout(() => process.exit(0), 50);`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.once('exit', r));
  const pid = Number(/PID (\d+)/.exec(out)?.[1]);
  expect(pid).toBeGreaterThan(0);
  await until(() => !alive(pid), 1000);
});
