'use strict';
// ResourceOrchestrator over the native one (crates/core orchestrator): the LLM stopped before an
// image when both would not fit, reloaded after it; a resident `burst` backend released before an
// LLM start. This file also holds what the image calls share (the managers' native handles and
// the progress plumbing), so that lib/llama.cjs and lib/diffusion.cjs can both use it.
const native = require('./native.cjs');
const { fromNative } = require('./errors.cjs');

/** Each manager's native supervisor (private to the facade). */
const natives = new WeakMap();

function registerNative(manager, handle) {
  natives.set(manager, handle);
}

function nativeOf(manager, what) {
  const handle = natives.get(manager);
  if (!handle) throw new TypeError(`ResourceOrchestrator: ${what} must be this package's ${what}`);
  return handle;
}

/** `GENAI_MEMORY_BUDGET_BYTES` as JS sees it (core ignores what is not a positive number). */
function budgetFromEnv() {
  const raw = process.env.GENAI_MEMORY_BUDGET_BYTES;
  return raw ? Number(raw) : undefined;
}

/** `{ onProgress, ...rest }`: the callback crosses apart (a function is not JSON). */
function splitProgress(config) {
  if (config === null || typeof config !== 'object') return [config, undefined];
  const { onProgress, ...rest } = config;
  return [rest, onProgress];
}

/**
 * Progress calls and the result reach JS through separate native queues: when both are pending
 * together the result may run first. One turn of the event loop delivers the calls the core made
 * before it returned, so the caller's `await` sees the final `onProgress(…, 100)` first, as upstream.
 */
async function withProgress(run, config) {
  const [rest, onProgress] = splitProgress(config);
  const result = await run(rest, onProgress);
  if (typeof onProgress === 'function') await new Promise((resolve) => setImmediate(resolve));
  return result;
}

/** Each orchestrator's native one (for `attach`, which is not part of the public class). */
const orchestratorNatives = new WeakMap();

/**
 * Makes `orchestrator` its diffusion server's own: every image goes through it, and its
 * `prepareForLLMStart` becomes the LLM's pre-start hook, run in the core after the start's claim.
 * Returns the function that unregisters the hook.
 */
function attach(orchestrator) {
  const handle = orchestratorNatives.get(orchestrator);
  handle.attach();
  const id = handle.registerPreStartHook();
  return () => handle.unregisterPreStartHook(id);
}

class ResourceOrchestrator {
  #native;

  /**
   * Upstream's arguments (`systemInfo` and `modelManager` are this package's single instances,
   * which the core uses). Addition: `options.memoryBudgetBytes`, bytes treated as the VRAM (or
   * the available RAM on a CPU machine) for every decision; default `GENAI_MEMORY_BUDGET_BYTES`.
   * A reload that fails is emitted on `llamaServer` as `'reload-failed'` (the typed error), and
   * `waitForReload()` rejects with it.
   */
  constructor(_systemInfo, llamaServer, diffusionServer, _modelManager, options) {
    const budget = options?.memoryBudgetBytes ?? budgetFromEnv();
    this.#native = new native.NativeOrchestrator(
      nativeOf(llamaServer, 'llamaServer'),
      nativeOf(diffusionServer, 'diffusionServer'),
      budget,
      (name, failure) => {
        const err = Object.assign(new Error(failure.message), { code: failure.code, details: failure.details });
        llamaServer.emit(name, fromNative(err));
      },
    );
    orchestratorNatives.set(this, this.#native);
  }

  orchestrateImageGeneration(config) {
    return withProgress((rest, onProgress) => this.#native.orchestrateImageGeneration(rest, onProgress), config);
  }

  async orchestrateBatchGeneration(config) {
    const images = await withProgress((rest, onProgress) => this.#native.orchestrateBatchGeneration(rest, onProgress), config);
    return Array.from(images); // an array of this realm
  }

  onDiffusionBackendReleased(reason) {
    this.#native.onDiffusionBackendReleased(reason);
  }

  async prepareForLLMStart(ctx) {
    return this.#native.prepareForLlmStart({ ...ctx?.config });
  }

  async offloadLLM() {
    return this.#native.offloadLlm();
  }

  async reloadLLM() {
    return this.#native.reloadLlm();
  }

  clearSavedState() {
    this.#native.clearSavedState();
  }

  getSavedState() {
    const s = this.#native.savedState();
    return s ? { config: s.config, wasRunning: s.wasRunning, savedAt: new Date(s.savedAt) } : undefined;
  }

  async waitForReload() {
    return this.#native.waitForReload();
  }

  wouldNeedOffload() {
    return this.#native.wouldNeedOffload();
  }
}

module.exports = { ResourceOrchestrator, attach, registerNative, splitProgress, withProgress };
