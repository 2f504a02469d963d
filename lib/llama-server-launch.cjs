'use strict';
// genai-electron-rs/llama-server-launch: genai-electron's Electron-free entry. Everything here is
// backed by the manager's core code (argv, V-cache rule, health probes, /props, ports); the
// health/port helpers and the error classes are the main entry's own objects, so `instanceof`
// holds across both entries. Loads the native addon, never Electron.
const native = require('./native.cjs');
const { checkHealth, waitForHealthy, isServerResponding, normalizeHealthHost, findFreePort, isPortBindable } =
  require('./servers.cjs');
const { GenaiElectronError, ServerError, ContextConstraintError, PortInUseError } = require('./errors.cjs');

/** A native cancel token that `signal` fires (already fired if it is aborted). */
function tokenFor(signal) {
  const token = new native.NativeCancelToken();
  if (signal?.aborted) token.cancel();
  const abort = () => token.cancel();
  signal?.addEventListener('abort', abort, { once: true });
  return { token, release: () => signal?.removeEventListener('abort', abort) };
}

/** `config` with the flash-attention setting its V cache needs (core's rule). */
function normalizeLlamaVCacheConfig(config) {
  const flashAttention = native.llamaVCacheFlashAttention({
    cacheTypeV: config.cacheTypeV,
    flashAttention: config.flashAttention,
  }) ?? undefined; // napi's "none" is null
  return flashAttention === config.flashAttention ? { ...config } : { ...config, flashAttention };
}

function buildLlamaServerArgs(config, modelInfo, options = {}) {
  return native.buildLlamaServerArgs(config, config.port, modelInfo.path, options.slotsEndpoint, options.slotSavePath);
}

const formatHttpHost = (host) => native.formatHttpHost(host);

async function fetchLlamaRuntimeCapacity(port, host, parallelRequests, timeout, signal) {
  const { token, release } = tokenFor(signal);
  try {
    return await native.fetchLlamaRuntimeCapacity(port, host, parallelRequests, timeout, token);
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    release();
  }
}

/** `LlamaServerHandle` over a started native runner. */
function makeHandle(runner, started) {
  let exited = false;
  const exitPromise = runner.waitExit().finally(() => {
    exited = true;
  });
  void exitPromise.catch(() => undefined);
  const crash = () => {
    try {
      runner.throwCrashError();
    } catch (err) {
      return err;
    }
    return new ServerError('Calibration candidate process exited unexpectedly', { code: 'CALIBRATION_CANDIDATE_CRASHED' });
  };
  let stopping;
  return Object.freeze({
    port: started.port,
    args: Object.freeze([...started.args]),
    config: started.config,
    capacity: started.capacity,
    loadTimeMs: started.loadTimeMs,
    pid: started.pid,
    get stderrTail() {
      return runner.stderrTail();
    },
    get stdoutTail() {
      return runner.stdoutTail();
    },
    exitPromise,
    raceWithExit(operation) {
      const guarded = operation.then(
        (value) => {
          if (exited) throw crash();
          return value;
        },
        (err) => {
          throw exited ? crash() : err;
        },
      );
      const exit = exitPromise.then(
        () => Promise.reject(crash()),
        () => Promise.reject(crash()),
      );
      return Promise.race([guarded, exit]);
    },
    stop() {
      stopping ??= runner.stop().then(() => exitPromise).then(() => undefined);
      return stopping;
    },
  });
}

async function startLlamaServerRunner(options) {
  const { token, release } = tokenFor(options.signal);
  const runner = new native.NativeLlamaRunner();
  try {
    const started = await runner.start(
      {
        binaryPath: options.binaryPath,
        modelPath: options.model.path,
        config: options.config,
        contextSize: options.contextSize,
        parallelRequests: options.parallelRequests,
        startupTimeoutMs: options.startupTimeoutMs,
        port: options.port,
        cwd: options.cwd,
        stderrMaxBytes: options.stderrMaxBytes,
        slotsEndpoint: options.slotsEndpoint,
        slotSavePath: options.slotSavePath,
        temporarySlotSavePath: options.temporarySlotSavePath,
      },
      token,
    );
    return makeHandle(runner, started);
  } finally {
    release();
  }
}

module.exports = {
  buildLlamaServerArgs,
  normalizeLlamaVCacheConfig,
  startLlamaServerRunner,
  waitForHealthy,
  checkHealth,
  isServerResponding,
  normalizeHealthHost,
  formatHttpHost,
  fetchLlamaRuntimeCapacity,
  findFreePort,
  isPortBindable,
  GenaiElectronError,
  ServerError,
  ContextConstraintError,
  PortInUseError,
};
