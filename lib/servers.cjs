'use strict';
// Server plumbing with genai-electron's names: LogManager, health probes and ports.
const native = require('./native.cjs');

class LogManager {
  #native;

  constructor(logPath, rotation) {
    this.#native = new native.NativeLogFile(logPath, rotation?.maxFileSize, rotation?.maxArchives);
  }

  initialize() {
    return this.#native.initialize();
  }

  write(message, level) {
    return this.#native.write(String(message), level);
  }

  /** The last `lines` (default 100) non-blank lines, read backwards from the end of the file. */
  getRecent(lines) {
    return this.#native.getRecent(lines);
  }

  clear() {
    return this.#native.clear();
  }

  getLogPath() {
    return this.#native.getLogPath();
  }

  static parseEntry(line) {
    return native.parseLogEntry(line);
  }
}

/** Runs a native wait that an AbortSignal can stop; rejects with the signal's reason. */
async function withSignal(signal, run) {
  signal?.throwIfAborted();
  const token = new native.NativeCancelToken();
  const abort = () => token.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    return await run(token);
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

const checkHealth = (port, timeout = 5000, host = '127.0.0.1', signal) =>
  withSignal(signal, () => native.checkHealth(port, timeout, host));

const waitForHealthy = (port, timeout = 120000, initialDelay = 100, maxDelay = 2000, host = '127.0.0.1', signal) =>
  withSignal(signal, (token) => native.waitForHealthy(port, timeout, initialDelay, maxDelay, host, token));

const isServerResponding = (port, timeout = 2000, host = '127.0.0.1') => native.isServerResponding(port, timeout, host);
const normalizeHealthHost = (host) => native.normalizeHealthHost(host);
const findFreePort = (host = '127.0.0.1') => native.findFreePort(host);
const isPortBindable = (port, host = '127.0.0.1') => native.isPortBindable(port, host);

module.exports = {
  LogManager,
  checkHealth,
  waitForHealthy,
  isServerResponding,
  normalizeHealthHost,
  findFreePort,
  isPortBindable,
};
