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

// Defaults (timeouts, the loopback host) are core's: `undefined` goes through as is.
const checkHealth = (port, timeout, host, signal) =>
  withSignal(signal, () => native.checkHealth(port, timeout, host));

const waitForHealthy = (port, timeout, initialDelay, maxDelay, host, signal) =>
  withSignal(signal, (token) => native.waitForHealthy(port, timeout, initialDelay, maxDelay, host, token));

const isServerResponding = (port, timeout, host) => native.isServerResponding(port, timeout, host);
const normalizeHealthHost = (host) => native.normalizeHealthHost(host);
const findFreePort = (host) => native.findFreePort(host);
const isPortBindable = (port, host) => native.isPortBindable(port, host);

module.exports = {
  LogManager,
  checkHealth,
  waitForHealthy,
  isServerResponding,
  normalizeHealthHost,
  findFreePort,
  isPortBindable,
};
