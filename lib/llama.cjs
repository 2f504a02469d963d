'use strict';
// ServerManager (EventEmitter base) and LlamaServerManager over the native supervisor. Events
// arrive from Rust in order and are re-emitted with genai-electron's names and payloads.
const { EventEmitter } = require('node:events');
const native = require('./native.cjs');
const path = require('node:path');
const { LogManager, isServerResponding, isPortBindable } = require('./servers.cjs');
const { GenaiElectronError, ServerError, PortInUseError } = require('./errors.cjs');
const { PATHS } = require('./paths.cjs');
const { nativeManager } = require('./models.cjs');
const { installExitHook, KeepAlive } = require('./process.cjs');
const { registerNative } = require('./orchestrator.cjs');
const { binaryEnv } = require('./binaries.cjs');

/**
 * genai-electron's ServerManager: a subclass supplies `start()`/`stop()` and keeps the state in
 * the protected fields (`_status`, `_pid`, `_port`, `_config`, `_startedAt`, `logManager`), as
 * upstream's subclasses do; the rest is concrete. This package's own managers keep their state in
 * Rust and override the getters; the derived checks (`isRunning()`...) read `getStatus()`.
 */
class ServerManager extends EventEmitter {
  _status = 'stopped';
  /** @type {number | undefined} */ _pid;
  _port = 0;
  /** @type {any} */ _config;
  /** @type {Date | undefined} */ _startedAt;
  /** @type {LogManager | undefined} */ logManager;

  /** @param {any} _config @returns {Promise<any>} ServerInfo */
  async start(_config) {
    throw new Error('ServerManager.start() is abstract');
  }

  /** @returns {Promise<void>} */
  async stop() {
    throw new Error('ServerManager.stop() is abstract');
  }

  /** @returns {any} ServerInfo */
  getInfo() {
    return {
      status: this._status,
      health: 'unknown',
      pid: this._pid,
      port: this._port,
      modelId: this._config?.modelId || '',
      startedAt: this._startedAt?.toISOString(),
    };
  }

  /** @returns {any} the last configuration */
  getConfig() {
    return this._config;
  }

  /** @returns {string | undefined} */
  getLogPath() {
    return this.logManager?.getLogPath();
  }

  getStatus() {
    return this.getInfo().status;
  }

  getPort() {
    return this.getInfo().port;
  }

  getPid() {
    return this.getInfo().pid;
  }

  isRunning() {
    return this.getStatus() === 'running';
  }

  isStopped() {
    return this.getStatus() === 'stopped';
  }

  isStarting() {
    return this.getStatus() === 'starting';
  }

  isStopping() {
    return this.getStatus() === 'stopping';
  }

  hasCrashed() {
    return this.getStatus() === 'crashed';
  }

  async restart() {
    const config = this.getConfig();
    if (!config) {
      throw new ServerError('Cannot restart: no previous configuration', {
        suggestion: 'Start the server first with a configuration',
      });
    }
    if (!this.isStopped()) await this.stop();
    const info = await this.start(config);
    this.emit('restarted', info);
    return info;
  }

  async getLogs(lines = 100) {
    const logPath = this.getLogPath();
    if (!logPath) return [];
    try {
      return await new LogManager(logPath).getRecent(lines);
    } catch {
      return [];
    }
  }

  async getStructuredLogs(lines = 100) {
    const raw = await this.getLogs(lines);
    return raw.map((line) => LogManager.parseEntry(line) ?? { timestamp: new Date().toISOString(), level: 'info', message: line });
  }

  async clearLogs() {
    const logPath = this.getLogPath();
    if (!logPath) return;
    try {
      await new LogManager(logPath).clear();
    } catch {
      // as upstream: clearing logs never fails
    }
  }

  // --- upstream's protected helpers, for subclasses

  /** @param {string} status */
  setStatus(status) {
    const old = this._status;
    this._status = status;
    this.emit('status', status, old);
  }

  /** @param {string} event @param {unknown} [data] */
  emitEvent(event, data) {
    this.emit(event, data);
  }

  /** @param {Record<string, unknown>} config @param {ReadonlySet<string>} validFields @param {string} serverName */
  validateConfigFields(config, validFields, serverName) {
    const unknownFields = Object.keys(config).filter((key) => !validFields.has(key));
    if (unknownFields.length === 0) return;
    const valid = [...validFields].sort();
    throw new ServerError(
      `Unknown configuration field${unknownFields.length > 1 ? 's' : ''}: ${unknownFields.join(', ')}. ` +
        `Valid fields for ${serverName} are: ${valid.join(', ')}`,
      {
        unknownFields,
        validFields: valid,
        suggestion:
          'Remove unrecognized fields from the configuration object. ' +
          'If using getOptimalConfig(), pick only the fields needed for this server type.',
      },
    );
  }

  /** @param {number} port @param {number} [timeout] @param {string} [host] */
  async checkPortAvailability(port, timeout = 2000, host = '127.0.0.1') {
    if ((await isServerResponding(port, timeout, host)) || !(await isPortBindable(port, host))) {
      throw new PortInUseError(port);
    }
  }

  /** @param {string} logFileName @param {string} startupMessage */
  async initializeLogManager(logFileName, startupMessage) {
    this.logManager = new LogManager(path.join(PATHS.logs, logFileName));
    await this.logManager.initialize();
    await this.logManager.write(startupMessage, 'info');
  }

  /** @param {string} serverName @param {unknown} error @param {() => Promise<void>} [cleanup] @returns {Promise<never>} */
  async handleStartupError(serverName, error, cleanup) {
    this.setStatus('stopped');
    if (cleanup) await cleanup().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    await this.logManager?.write(`Failed to start: ${message}`, 'error').catch(() => undefined);
    if (error instanceof GenaiElectronError) throw error;
    throw new ServerError(`Failed to start ${serverName}: ${error instanceof Error ? error.message : 'Unknown error'}`, {
      error: message,
    });
  }
}

class LlamaServerManager extends ServerManager {
  #native;
  #alive = new KeepAlive(); // a running server keeps Node alive, as a ref'd child process does upstream
  #thrown; // { err }: the first listener throw during start()
  #preStartHooks = new Set();

  constructor() {
    super();
    this.#native = new native.NativeLlamaServer(nativeManager(), (name, payload) => this.#onEvent(name, payload));
    registerNative(this, this.#native);
  }

  /**
   * `registerPreStartHook(hook)`: `hook({ config, reason: 'start' })` is awaited before every
   * `start()` (in registration order); one that throws fails the start with its error. Returns
   * the function that removes it. (A reload by the orchestrator and an automatic restart start
   * the server in the core, without JS hooks.)
   */
  registerPreStartHook(hook) {
    this.#preStartHooks.add(hook);
    return () => {
      this.#preStartHooks.delete(hook);
    };
  }

  /** A listener's throw goes back to Rust (which fails the start() or stop() under way, as
   * upstream's emit inside its try does); the value is kept for `start()`. */
  #onEvent(name, payload) {
    try {
      if (name === 'status') {
        const [status, old] = payload;
        if (status === 'running') this.#alive.hold(true);
        // Its 'stopped'/'crashed' event comes in a call of its own: Node lingers for it.
        if (status === 'stopped' || status === 'crashed') this.#alive.hold(false, true);
        this.emit('status', status, old);
      } else if (name === 'stopped' || name === 'crashed') {
        this.#alive.hold(false); // the last event of a stop or an exit has arrived
        if (name === 'stopped') this.emit('stopped');
        else this.emit(name, payload);
      } else this.emit(name, payload);
    } catch (err) {
      this.#thrown ??= { err };
      throw err;
    }
  }

  /**
   * Addition (as ChildProcess#unref): a running server no longer keeps Node alive. When nothing
   * else is left to do, Node exits and the exit hook kills the server.
   */
  unref() {
    this.#alive.unref();
    return this;
  }

  /** Addition: undo `unref()`; a running server keeps Node alive again (the default). */
  ref() {
    this.#alive.ref(this.isRunning());
    return this;
  }

  /**
   * The binary: `config.binaryPath`, else `$GENAI_LLAMA_SERVER_PATH`, else provisioned in
   * `binaries/llama/` (core decides; `$GENAI_BINARY_MIRROR`, `$GENAI_BINARY_CATALOG` and
   * `$GENAI_BINARIES_DIR` fill the binary-source fields left unset). The variables are read here,
   * and only here: `process.env` is what the app (or a Jest test, whose sandbox never writes to
   * the C environment) set, which Rust cannot see.
   */
  async start(config) {
    installExitHook();
    // A server that is already up (or on its way) fails in the core with upstream's error,
    // before any hook runs, as upstream checks the status first.
    if (!['running', 'starting', 'stopping'].includes(this.getStatus())) {
      for (const hook of [...this.#preStartHooks]) await hook({ config, reason: 'start' });
    }
    this.#thrown = undefined;
    try {
      return await this.#native.start({ ...config }, binaryEnv('GENAI_LLAMA_SERVER_PATH'));
    } catch (err) {
      // Upstream's handleStartupError rethrows a listener's GenaiElectronError as it is.
      throw this.#thrown?.err instanceof GenaiElectronError ? this.#thrown.err : err;
    } finally {
      this.#thrown = undefined;
    }
  }

  stop() {
    return this.#native.stop();
  }

  getInfo() {
    return this.#native.info();
  }

  getConfig() {
    return this.#native.config() ?? undefined;
  }

  isHealthy() {
    return this.#native.isHealthy();
  }

  async getHealthStatus() {
    if (!this.isRunning()) return 'unknown';
    return (await this.isHealthy()) ? 'ok' : 'error';
  }

  getLogPath() {
    return this.#native.logPath();
  }
}

module.exports = { ServerManager, LlamaServerManager };
