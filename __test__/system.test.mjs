// systemInfo and the system helpers on this real machine, checked against Node's own readings
// and against genai-electron's formulas.
import os from 'node:os';
import {
  systemInfo, SystemInfo, getCPUInfo, getRecommendedThreads, getMemoryInfo, detectGPU, estimateVRAM,
  estimateKVBytesPerToken, floorContextToGranularity, ContextConstraintError, InsufficientResourcesError,
  GenaiElectronError,
} from '../index.js';

const GiB = 1024 ** 3;

/** genai-electron's thread ladder, written out independently as the test oracle. */
const ladder = (c) => (c <= 2 ? c : c <= 8 ? c - 1 : c <= 16 ? c - 2 : Math.floor(c * 0.85));

/** SmolLM2-135M-Instruct's metadata shape (architecture llama, 30 layers, 3 KV heads, dim 64). */
const smollm = {
  id: 'smollm2-135m', name: 'SmolLM2 135M', type: 'llm', size: 100 * 1024 * 1024, path: '/m.gguf',
  downloadedAt: '2026-01-01T00:00:00.000Z', source: { type: 'url', url: 'http://127.0.0.1/m.gguf' },
  ggufMetadata: { architecture: 'llama', block_count: 30, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576, context_length: 8192 },
};

describe('detect()', () => {
  beforeEach(() => systemInfo.clearCache());

  test('reports this machine as Node sees it', async () => {
    const caps = await systemInfo.detect();
    expect(Object.keys(caps)).toEqual(['cpu', 'memory', 'gpu', 'platform', 'recommendations', 'detectedAt']);
    expect(caps.cpu).toEqual({ cores: os.cpus().length, model: os.cpus()[0].model.trim(), architecture: os.arch() });
    expect(caps.platform).toBe(process.platform);
    expect(caps.memory.total).toBe(os.totalmem());
    expect(caps.memory.used).toBe(caps.memory.total - caps.memory.available);
    // available is a live reading; it must be close to Node's (within 5 % of RAM).
    expect(Math.abs(caps.memory.available - os.freemem())).toBeLessThan(os.totalmem() * 0.05);
    expect(new Date(caps.detectedAt).toISOString()).toBe(caps.detectedAt);
    expect(typeof caps.gpu.available).toBe('boolean');
  });

  test('recommendations follow genai-electron formulas', async () => {
    const { cpu, memory, gpu, recommendations: rec } = await systemInfo.detect();
    const ramGB = memory.total / GiB;
    const vramGB = gpu.vram ? gpu.vram / GiB : 0;
    const expected = gpu.available && vramGB >= 24 ? '70B' : gpu.available && vramGB >= 16 ? '34B'
      : ramGB >= 32 ? '34B' : ramGB >= 16 ? '13B' : '7B';
    expect(rec.maxModelSize).toBe(expected);
    expect(rec.threads).toBe(ladder(cpu.cores));
    expect(rec.gpuAcceleration).toBe(gpu.available);
    if (gpu.available) expect(rec).not.toHaveProperty('gpuLayers');
    else expect(rec.gpuLayers).toBe(0);
    expect(rec.recommendedQuantization).toContain('Q4_K_M');
  });

  test('a second call within 60 s returns the cached object; forceRefresh re-detects', async () => {
    const first = await systemInfo.detect();
    const second = await systemInfo.detect();
    expect(second).toBe(first);
    await new Promise((r) => setTimeout(r, 5));
    const fresh = await systemInfo.detect(true);
    expect(fresh).not.toBe(first);
    expect(fresh.detectedAt > first.detectedAt).toBe(true);
    expect(await systemInfo.detect()).toBe(fresh);
  });

  test('clearCache() makes the next call detect again', async () => {
    const first = await systemInfo.detect();
    systemInfo.clearCache();
    await new Promise((r) => setTimeout(r, 5));
    expect((await systemInfo.detect()).detectedAt).not.toBe(first.detectedAt);
  });

  test('concurrent detect() calls do not block each other and all resolve', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => systemInfo.detect(i % 2 === 0)));
    for (const caps of all) expect(caps.cpu.cores).toBe(os.cpus().length);
  });
});

describe('standalone helpers', () => {
  test('getCPUInfo / getRecommendedThreads / getMemoryInfo', () => {
    expect(getCPUInfo().cores).toBe(os.cpus().length);
    for (const c of [1, 2, 3, 8, 9, 16, 17, 64]) expect(getRecommendedThreads(c)).toBe(ladder(c));
    expect(getRecommendedThreads()).toBe(ladder(os.cpus().length));
    const m = getMemoryInfo();
    expect(m.total).toBe(os.totalmem());
    expect(systemInfo.getMemoryInfo().total).toBe(os.totalmem());
  });

  test('GPU detection returns a well-formed answer, never throws', async () => {
    const gpu = await detectGPU();
    expect(gpu.available).toBe(Array.isArray(gpu.devices) && gpu.devices.length > 0);
    if (!gpu.available) expect(gpu).toEqual({ available: false });
    expect(await systemInfo.getGPUInfo()).toEqual(expect.objectContaining({ available: gpu.available }));
    expect(await estimateVRAM({ available: false })).toBeNull();
    expect(await estimateVRAM({})).toBeNull(); // as upstream: `!gpu.available`
    // A field of the wrong type is a malformed GPUInfo, not a GPU-less machine.
    await expect(estimateVRAM({ available: true, vram: '8 GB' })).rejects.toThrow(/^Invalid GPUInfo: invalid type: string/);
  });

  test('aborted telemetry options reject with the signal reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(detectGPU({ signal: ac.signal })).rejects.toThrow('stop');
    await expect(systemInfo.refreshMemoryTelemetry()).resolves.toBe('not-required');
  });

  test('KV math', () => {
    expect(estimateKVBytesPerToken(smollm)).toBe(30 * 3 * 64 * 4);
    expect(estimateKVBytesPerToken(smollm, 'q8_0', 'q8_0')).toBe(30 * 3 * 64 * (34 / 16));
    expect(floorContextToGranularity(5000)).toBe(4608);
    expect(floorContextToGranularity(100000)).toBe(98304);
  });
});

describe('canRunModel / getOptimalConfig', () => {
  test('a small model runs here', async () => {
    await expect(systemInfo.canRunModel(smollm)).resolves.toEqual({ possible: true });
  });

  test('a model bigger than RAM does not, with upstream wording', async () => {
    const huge = { ...smollm, ggufMetadata: undefined, size: os.totalmem() * 2 };
    const r = await systemInfo.canRunModel(huge, { checkTotalMemory: true });
    expect(r.possible).toBe(false);
    const need = ((huge.size * 1.2) / GiB).toFixed(1);
    const have = (os.totalmem() / GiB).toFixed(1);
    expect(r.reason).toBe(`Insufficient RAM: model requires ${need}GB, but only ${have}GB total`);
    expect(r.suggestion).toBe('This model is too large for your system. Try a smaller model or quantization.');
  });

  test('optimal config for SmolLM2 on this machine', async () => {
    const caps = await systemInfo.detect();
    const config = await systemInfo.getOptimalConfig(smollm);
    expect(config.threads).toBe(ladder(caps.cpu.cores));
    expect(config.parallelRequests).toBe(1);
    expect(config.contextSize).toBe(8192); // tiny model: the native context fits
    if (!caps.gpu.available) expect(config.gpuLayers).toBe(0);
    const hinted = await systemInfo.getOptimalConfig(smollm, { contextSize: 2048, parallelRequests: 2 });
    expect(hinted).toEqual(expect.objectContaining({ contextSize: 2048, parallelRequests: 2 }));
  });

  test('context policy: range honoured, bad policy → ContextConstraintError from Rust', async () => {
    const c = await systemInfo.getOptimalConfig(smollm, { minimumContextSize: 2048, maximumContextSize: 4096 });
    expect(c.contextSize).toBe(4096);
    expect(c.minimumContextSize).toBe(2048);

    const err = await systemInfo.getOptimalConfig(smollm, { minimumContextSize: 16384 }).catch((e) => e);
    expect(err).toBeInstanceOf(ContextConstraintError);
    expect(err).toBeInstanceOf(GenaiElectronError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ContextConstraintError');
    expect(err.code).toBe('CONTEXT_CONSTRAINT_ERROR');
    expect(err.message).toBe("Context constraint error: Minimum context 16384 exceeds the model's native context 8192");
    expect(err.details).toEqual({
      reason: 'minimum-exceeds-native', stage: 'sizing', minimumContextSize: 16384, nativeContextSize: 8192,
      parallelRequests: 1, suggestion: 'Choose minimumContextSize <= 8192',
    });
  });

  test('an impossible minimum → InsufficientResourcesError with details', async () => {
    // 3 TB of weights cannot leave room for any KV cache on this machine.
    const giant = { ...smollm, size: 3 * 1024 ** 4, ggufMetadata: { ...smollm.ggufMetadata, context_length: 131072 } };
    const err = await systemInfo.getOptimalConfig(giant, { minimumContextSize: 4096 }).catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientResourcesError);
    expect(err.code).toBe('INSUFFICIENT_RESOURCES');
    expect(err.message).toBe('Cannot satisfy minimum context 4096 tokens per slot');
    expect(err.details).toEqual(expect.objectContaining({
      required: '4096 context tokens per slot (4096 total across 1 slot)',
      minimumContextSize: 4096, maxFeasibleContextSize: 0, parallelRequests: 1,
    }));
  });
});

test('SystemInfo.getInstance() is the exported singleton', () => {
  expect(SystemInfo.getInstance()).toBe(systemInfo);
});
