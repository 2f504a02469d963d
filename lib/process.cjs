'use strict';
// ProcessManager (genai-electron's general child-process helper) and the exit hook that makes
// children die with this process. Servers are supervised in Rust (process group, PDEATHSIG,
// Windows job); ProcessManager must hand back a real Node ChildProcess, so it spawns through
// child_process and registers the child with the same exit hook (on Windows, libuv already puts
// it in a kill-on-close job).
const { spawn } = require('node:child_process');
const native = require('./native.cjs');
const { ServerError } = require('./errors.cjs');

/** Children spawned through ProcessManager that are still running. */
const nodeChildren = new Set();

let exitHook = false;
/** process.exit() skips every Rust destructor: SIGKILL what is left, synchronously. */
function installExitHook() {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    native.killAllChildren();
    for (const pid of nodeChildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

class ProcessManager {
  spawn(command, args, options = {}) {
    installExitHook();
    let child;
    try {
      child = spawn(command, args, { cwd: options.cwd, env: options.env || process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new ServerError(`Failed to spawn process: ${error instanceof Error ? error.message : 'Unknown error'}`, {
        command,
        args,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    // Attached before anything can throw, so that a failed spawn never becomes an unhandled 'error'.
    child.on('error', (error) => options.onError?.(error));
    if (!child.pid) throw new ServerError(`Failed to spawn process: ${command}`, { command, args });
    const pid = child.pid;
    nodeChildren.add(pid);
    child.stdout.on('data', (data) => options.onStdout?.(data.toString('utf8')));
    child.stderr.on('data', (data) => options.onStderr?.(data.toString('utf8')));
    child.on('exit', (code, signal) => {
      nodeChildren.delete(pid);
      options.onExit?.(code, signal);
    });
    return { process: child, pid };
  }

  /** SIGTERM, SIGKILL after `timeout` ms; resolves once the process is gone. */
  kill(pid, timeout = 10000) {
    return native.killProcess(Number(pid), Number(timeout));
  }

  isRunning(pid) {
    return native.isProcessRunning(Number(pid));
  }
}

/**
 * Keeps Node alive while a server runs, as a ref'd child process (or HTTP server) does upstream;
 * `unref()` lets Node exit anyway (the exit hook then kills the server). `linger`: the server
 * ended but its last event comes in a call of its own, so Node waits for it, 1 s at most.
 */
class KeepAlive {
  #interval;
  #linger;
  #unref = false;

  hold(hold, linger = false) {
    if (hold && !this.#unref) this.#interval ??= setInterval(() => {}, 1 << 30);
    if (!hold || this.#unref) {
      clearInterval(this.#interval);
      this.#interval = undefined;
    }
    clearTimeout(this.#linger);
    this.#linger = linger && !this.#unref ? setTimeout(() => {}, 1000) : undefined;
  }

  unref() {
    this.#unref = true;
    this.hold(false);
  }

  /** `running`: whether the server runs now (it is held again then). */
  ref(running) {
    this.#unref = false;
    this.hold(running);
  }
}

module.exports = { ProcessManager, installExitHook, KeepAlive };
