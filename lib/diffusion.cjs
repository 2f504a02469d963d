'use strict';
// DiffusionServerManager (`diffusionServer`) and GenerationRegistry over the native supervisor
// (crates/core diffusion_server): events re-emitted with genai-electron's names and payloads,
// `onProgress` passed apart from the JSON config, the diffusion constants from the core.
const native = require('./native.cjs');
const { ServerManager } = require('./llama.cjs');
const { nativeManager } = require('./models.cjs');
const { binaryEnv } = require('./binaries.cjs');
const { installExitHook, KeepAlive } = require('./process.cjs');
const { ResourceOrchestrator, attach, registerNative, splitProgress, withProgress } = require('./orchestrator.cjs');

const C = native.constants();
// Copied into this realm's objects and frozen (see lib/helpers.cjs), in upstream's shapes.
const DIFFUSION_COMPONENT_FLAGS = Object.freeze(Object.fromEntries(C.diffusionComponents));
const DIFFUSION_COMPONENT_ORDER = Object.freeze(Array.from(C.diffusionComponents, ([role]) => role));
const DIFFUSION_VRAM_THRESHOLDS = Object.freeze({ ...C.diffusionVramThresholds });
const DIFFUSION_BACKEND_DEFAULTS = Object.freeze({ ...C.diffusionBackendDefaults });

/** `IMAGE_RESULT_TTL_MS` read as upstream does (`parseInt`); unset or unusable: core's default. */
function resultTtlFromEnv() {
  const raw = process.env.IMAGE_RESULT_TTL_MS;
  return raw ? Number.parseInt(raw, 10) : undefined;
}

class DiffusionServerManager extends ServerManager {
  #native;
  #alive = new KeepAlive(); // a running server keeps Node alive, as upstream's HTTP server does
  #orchestrator;
  /** Upstream's (protected): removes the orchestrator's hook from `llamaServer`. */
  unregisterPreStartHook;

  /**
   * The arguments are upstream's; this package has one model manager and one system detection
   * per process, which the native supervisor uses. With `llamaServer`, a `ResourceOrchestrator`
   * is made (`getOrchestrator()`): every image goes through it, and its `prepareForLLMStart`
   * is registered as `llamaServer`'s pre-start hook, as upstream (in the core, after the start's
   * claim: a `start()` claims synchronously as before).
   * `IMAGE_RESULT_TTL_MS` is read here, from `process.env` as JS sees it.
   */
  constructor(modelManager, systemInfo, llamaServer) {
    super();
    this.#native = new native.NativeDiffusionServer(
      nativeManager(),
      (name, payload) => this.#onEvent(name, payload),
      resultTtlFromEnv(),
    );
    registerNative(this, this.#native);
    if (llamaServer) {
      this.#orchestrator = new ResourceOrchestrator(systemInfo, llamaServer, this, modelManager);
      this.unregisterPreStartHook = attach(this.#orchestrator);
    }
  }

  #onEvent(name, payload) {
    if (name === 'status') {
      const [status, old] = payload;
      if (status === 'running') this.#alive.hold(true);
      this.emit('status', status, old);
    } else if (name === 'stopped') {
      this.#alive.hold(false); // the last event of a stop
      this.emit('stopped');
    } else this.emit(name, payload);
  }

  /** Addition (as ChildProcess#unref): a running server no longer keeps Node alive. */
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
   * The binary: `config.binaryPath`, else `$GENAI_SD_SERVER_PATH`, else provisioned in
   * `binaries/diffusion/` (core decides; the variables are read here, where `process.env` is
   * what the app set; see LlamaServerManager.start).
   */
  // async: a bad config or a second start() rejects (as upstream's async methods), never throws.
  async start(config) {
    installExitHook();
    return this.#native.start({ ...config }, binaryEnv('GENAI_SD_SERVER_PATH'));
  }

  async stop() {
    return this.#native.stop();
  }

  getActiveGenerationId() {
    return this.#native.activeGenerationId() ?? undefined;
  }

  /** Cancels a generation of the HTTP API (sync in the core; a rejection here, as upstream). */
  async cancelImageGeneration(id) {
    this.#native.cancelImageGeneration(id);
  }

  async releaseBackend(options = {}) {
    return this.#native.releaseBackend(options?.reason, options?.waitForInFlight);
  }

  getBackendInfo() {
    return this.#native.backendInfo();
  }

  getOrchestrator() {
    return this.#orchestrator;
  }

  resolveUsageMode(requestMode, llmWasOffloaded) {
    return this.#native.resolveUsageMode(requestMode, llmWasOffloaded);
  }

  async settleResidency(mode) {
    return this.#native.settleResidency(mode);
  }

  /**
   * One image, through the orchestrator when there is one;
   * `config.onProgress(currentStep, totalSteps, stage, percentage)`.
   */
  generateImage(config) {
    return withProgress((rest, onProgress) => this.#native.generateImage(rest, onProgress), config);
  }

  executeImageGeneration(config, flagOverrides) {
    return withProgress((rest, onProgress) => this.#native.executeImageGeneration(rest, onProgress, flagOverrides), config);
  }

  async executeBatchGeneration(config) {
    const images = await withProgress((rest, onProgress) => this.#native.executeBatchGeneration(rest, onProgress), config);
    return Array.from(images); // an array of this realm
  }

  isHealthy() {
    return this.#native.isHealthy();
  }

  getPid() {
    return this.#native.pid() ?? undefined;
  }

  getStatus() {
    return this.#native.status();
  }

  getPort() {
    return this.#native.port();
  }

  getInfo() {
    return this.#native.info();
  }

  getConfig() {
    return this.#native.config() ?? undefined;
  }

  getLogPath() {
    return this.#native.logPath();
  }
}

/**
 * The HTTP API's generations. The TTL is enforced on read (an expired result is never returned,
 * and `create` sweeps), so no timer runs: `cleanupIntervalMs` is accepted and `destroy()` has
 * nothing to stop.
 */
class GenerationRegistry {
  #native;

  constructor(config = {}) {
    this.#native = new native.NativeGenerationRegistry(config?.maxResultAgeMs);
  }

  /** `config.onProgress`, a function, is not kept (an HTTP generation reports through `progress`). */
  create(config) {
    return this.#native.create(splitProgress(config)[0]);
  }

  get(id) {
    return this.#native.get(id);
  }

  update(id, updates) {
    this.#native.update(id, updates);
  }

  delete(id) {
    this.#native.delete(id);
  }

  getAllIds() {
    return Array.from(this.#native.getAllIds()); // an array of this realm
  }

  size() {
    return this.#native.size();
  }

  cleanup(maxAgeMs) {
    return this.#native.cleanup(maxAgeMs);
  }

  destroy() {}

  clear() {
    this.#native.clear();
  }
}

module.exports = {
  DiffusionServerManager,
  GenerationRegistry,
  DIFFUSION_COMPONENT_FLAGS,
  DIFFUSION_COMPONENT_ORDER,
  DIFFUSION_VRAM_THRESHOLDS,
  DIFFUSION_BACKEND_DEFAULTS,
};
