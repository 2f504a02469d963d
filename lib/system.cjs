'use strict';
// SystemInfo and the standalone system helpers. Detection, sizing and formulas run in Rust, off
// the JS thread; this file only forwards and keeps the cached object's identity.
const native = require('./native.cjs');

function throwIfAborted(options) {
  const signal = options?.signal;
  if (signal?.aborted) throw signal.reason ?? new Error('Telemetry command aborted');
}

const getCPUInfo = () => native.cpuInfo();
const getRecommendedThreads = (cpuCores) => native.recommendedThreads(cpuCores ?? getCPUInfo().cores);
const getMemoryInfo = () => native.memoryInfo();

async function detectGPU(options) {
  throwIfAborted(options);
  return native.detectGpu();
}

async function estimateVRAM(gpu, options) {
  throwIfAborted(options);
  return (await native.estimateVram(gpu ?? { available: false })) ?? null;
}

class SystemInfo {
  static #instance;
  #cached = null;
  #generation = 0;
  #validUntil = 0;

  static getInstance() {
    if (!SystemInfo.#instance) SystemInfo.#instance = new SystemInfo();
    return SystemInfo.#instance;
  }

  /**
   * The cache (60 s) is the native one, shared with llamaServer's auto-configuration; this only
   * keeps the object's identity: the same object is returned for as long as the native cache
   * says it holds the detection it was made from (clearCache and forceRefresh come through here).
   */
  async detect(forceRefresh = false) {
    if (!forceRefresh && this.#cached && performance.now() < this.#validUntil) return this.#cached;
    const { generation, validForMs, capabilities } = await native.systemDetect(Boolean(forceRefresh));
    if (this.#cached && this.#generation === generation) {
      this.#validUntil = performance.now() + validForMs;
      return this.#cached;
    }
    if (generation > this.#generation) {
      [this.#cached, this.#generation] = [capabilities, generation];
      this.#validUntil = performance.now() + validForMs;
    }
    return capabilities;
  }

  getMemoryInfo() {
    return getMemoryInfo();
  }

  async getGPUInfo(options) {
    throwIfAborted(options);
    return native.gpuInfo();
  }

  async canRunModel(modelInfo, options) {
    return native.canRunModel(modelInfo, options);
  }

  async getOptimalConfig(modelInfo, hints = {}) {
    return native.getOptimalConfig(modelInfo, hints);
  }

  /**
   * Windows needed a PowerShell reading upstream to count standby memory as available; the
   * native reading already does, on every platform.
   */
  async refreshMemoryTelemetry(options) {
    throwIfAborted(options);
    return 'not-required';
  }

  clearCache() {
    this.#cached = null;
    native.systemClearCache();
  }
}

module.exports = {
  SystemInfo,
  getCPUInfo,
  getRecommendedThreads,
  getMemoryInfo,
  detectGPU,
  estimateVRAM,
};
