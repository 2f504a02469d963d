// Shared test helpers: run a script in a fresh plain-Node process, make temp folders.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function tempDir(prefix = 'genai-test-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs `node <args>` with extra env; returns { status, stdout, stderr }. */
export function runNode(args, { env = {}, cwd = ROOT, input } = {}) {
  const r = spawnSync(process.execPath, args, {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    input,
    encoding: 'utf8',
    timeout: 30000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runNode, without blocking this process's event loop (for children that talk to servers
 * running in the test process). */
export function runNodeAsync(args, { env = {}, cwd = ROOT } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NODE_OPTIONS: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * A live process: signalable (`kill(pid, 0)`) and not a zombie. A zombie is still signalable, and
 * where nothing reaps orphans (PID 1 in a container) a killed child stays one, so the state is
 * read too: on Linux the field after the command name in /proc/<pid>/stat, on macOS `ps`'s STAT.
 * Elsewhere (Windows) only signalable.
 */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false; // EPERM: it exists, owned by another user
  }
  const state = processState(pid);
  return state !== '' && !state?.startsWith('Z');
}

/** The process's state letters; '' when it is gone; undefined where the OS gives none. */
function processState(pid) {
  if (process.platform === 'linux') {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return '';
    }
    // The command name is in parentheses and may hold spaces or ')': the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  }
  if (process.platform === 'darwin') {
    const r = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : '';
  }
  return undefined;
}

/** Polls `cond` every 5 ms until it holds; fails (rejects) after `ms` milliseconds. */
export async function until(cond, ms = 5000) {
  const t = Date.now();
  while (!(await cond())) {
    if (Date.now() - t > ms) throw new Error(`timed out after ${ms} ms waiting for ${cond}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
