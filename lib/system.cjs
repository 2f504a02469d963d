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

const CACHE_TTL = 60000;

class SystemInfo {
  static #instance;
  #cached = null;
  #cachedAt = 0;

  static getInstance() {
    if (!SystemInfo.#instance) SystemInfo.#instance = new SystemInfo();
    return SystemInfo.#instance;
  }

  /** Cached for 60 s; the same object is returned while the cache holds. */
  async detect(forceRefresh = false) {
    if (!forceRefresh && this.#cached && Date.now() - this.#cachedAt < CACHE_TTL) return this.#cached;
    // The native side keeps its own copy (canRunModel and getOptimalConfig read it).
    const caps = await native.systemDetect(Boolean(forceRefresh));
    if (this.#cached && this.#cached.detectedAt === caps.detectedAt) return this.#cached;
    this.#cached = caps;
    this.#cachedAt = Date.now();
    return caps;
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
    this.#cachedAt = 0;
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
