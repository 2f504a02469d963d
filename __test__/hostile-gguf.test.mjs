// Hostile and large GGUF metadata through the public API (issue 9, findings 2, 6 and 7): a header
// built to exhaust memory is a DownloadError on every path that reads one, big metadata crosses
// to JS whole (napi's generic JSON conversion stopped at 1,000,000 values), and a FIFO is refused
// instead of read forever.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startFileServer } from './support/file-server.mjs';
import { ROOT, runNodeAsync, tempDir } from './helpers.mjs';

const MODEL = execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', 'model'], { encoding: 'utf8' }).trim();

const USER_DATA = tempDir('genai-hostile-gguf-jest-');
process.env.GENAI_ELECTRON_USER_DATA = USER_DATA;
const api = await import('../index.js');
const { modelManager, StorageManager, DownloadError } = api;

// Deep equality of big JSON values (Jest's toEqual walks 10^6 elements slowly).
const same = (a, b) => expect(JSON.stringify(a)).toBe(JSON.stringify(b));

/** A GGUF v3 header: string keys, then one array per `arrays` entry `[key, elementType, count]`
 * (elements all 1), then the tensor infos `[name, shape, dtype, offset]`. */
function gguf({ strings = {}, u32s = {}, arrays = [], tensors = [] }) {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { const b = Buffer.from(s); u64(b.length); parts.push(b); };
  parts.push(Buffer.from('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(Object.keys(strings).length + Object.keys(u32s).length + arrays.length);
  for (const [k, v] of Object.entries(strings)) { str(k); u32(8); str(v); }
  for (const [k, v] of Object.entries(u32s)) { str(k); u32(4); u32(v); }
  const size = { 0: 1, 4: 4 };
  for (const [k, type, n] of arrays) { str(k); u32(9); u32(type); u64(n); parts.push(Buffer.alloc(n * size[type], 1)); }
  for (const [name, shape, dtype, offset] of tensors) {
    str(name); u32(shape.length); for (const d of shape) u64(d); u32(dtype); u64(offset);
  }
  return Buffer.concat(parts);
}

const TOO_BIG = 'Metadata array length 16777216 exceeds maximum allowed (1000000)';
// The reproducer: one 16 MiB u8 array (it peaked at ~2.9 GB, then failed untyped).
const HUGE = gguf({ strings: { 'general.architecture': 'llama' }, arrays: [['tokenizer.ggml.token_type', 0, 16 << 20]] });
// Within every limit, but 1.2 million values: more than napi's generic JSON conversion takes.
const BIG = gguf({
  strings: { 'general.architecture': 'llama', 'general.name': 'Big Vocab' },
  u32s: { 'llama.block_count': 2, 'llama.context_length': 4096 },
  arrays: [['tokenizer.ggml.token_type', 4, 600_000], ['tokenizer.ggml.scores', 0, 600_000]],
  tensors: [['blk.0.ffn_up_exps.weight', [8, 2n ** 60n], 0, 0], ['output.weight', [8], 0, 2n ** 60n + 7n]],
});

let server;
const dir = tempDir('genai-hostile-gguf-files-');
const hugePath = path.join(dir, 'huge.gguf');
beforeAll(async () => {
  server = await startFileServer();
  server.put('/huge.gguf', HUGE);
  server.put('/big.gguf', BIG);
  writeFileSync(hugePath, HUGE);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true }); // the 16 MiB header
});

describe('a header built to exhaust memory', () => {
  test('is a DownloadError with upstream prefixes: local read, URL read, and downloadModel', async () => {
    const local = await api.fetchLocalGGUFMetadata(hugePath).catch((e) => e);
    expect(local).toBeInstanceOf(DownloadError);
    expect(local.message).toBe(`Download failed: Failed to read GGUF metadata from local file: ${TOO_BIG}`);
    const remote = await api.fetchGGUFMetadata(server.url('/huge.gguf')).catch((e) => e);
    expect(remote).toBeInstanceOf(DownloadError);
    expect(remote.message).toBe(`Download failed: Failed to fetch GGUF metadata from URL: ${TOO_BIG}`);
    const download = await modelManager.downloadModel({ source: 'url', url: server.url('/huge.gguf'), name: 'Huge', type: 'llm' }).catch((e) => e);
    expect(download).toBeInstanceOf(DownloadError);
    // upstream's wording, its inner DownloadError's prefix included
    expect(download.message).toBe(`Download failed: Failed to fetch GGUF metadata before download: Download failed: Failed to fetch GGUF metadata from URL: ${TOO_BIG}`);
    expect(await modelManager.listModels()).toEqual([]);
  });

  test('is read in bounded memory (peak RSS of a fresh process)', async () => {
    const script = `
      const api = require(${JSON.stringify(path.join(ROOT, 'index.cjs'))});
      (async () => {
        for (let i = 0; i < 3; i++) await api.fetchLocalGGUFMetadata(process.argv[1]).catch(() => {});
        await api.fetchGGUFMetadata(process.argv[2]).catch(() => {});
        // VmHWM is this process's own peak; getrusage's maxRSS on Linux keeps the peak of the
        // forked parent (the Jest worker) across exec.
        const hwm = process.platform === 'linux'
          && /VmHWM:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
        console.log(JSON.stringify({ maxRssKiB: hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS }));
      })();`;
    const r = await runNodeAsync(['-e', script, hugePath, server.url('/huge.gguf')], { env: { GENAI_ELECTRON_USER_DATA: tempDir() } });
    expect(r.stderr).toBe('');
    const { maxRssKiB } = JSON.parse(r.stdout);
    expect(maxRssKiB / 1024).toBeLessThan(256); // it was ~2.9 GB
  });
});

describe('metadata past 1,000,000 values crosses whole', () => {
  test('downloadModel returns it; getModelInfo, listModels, loadModelMetadata and saveModelMetadata too', async () => {
    const info = await modelManager.downloadModel({ source: 'url', url: server.url('/big.gguf'), name: 'Big Vocab', type: 'llm' });
    const raw = info.ggufMetadata.raw;
    expect(raw['tokenizer.ggml.token_type']).toHaveLength(600_000);
    expect(raw['tokenizer.ggml.scores']).toHaveLength(600_000);
    expect(raw['tokenizer.ggml.scores'][599_999]).toBe(1);
    expect(info.ggufMetadata).toEqual(expect.objectContaining({ architecture: 'llama', general_name: 'Big Vocab', block_count: 2, context_length: 4096 }));
    expect(info.ggufMetadata.expert_weights_bytes).toBe(2 ** 60 + 7);
    const file = StorageManager.getInstance().getModelMetadataPath('llm', info.id);
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(info, null, 2));
    same(await modelManager.getModelInfo(info.id), info);
    same(await modelManager.listModels(), [info]);
    const storage = StorageManager.getInstance();
    same(await storage.loadModelMetadata('llm', info.id), info);
    await storage.saveModelMetadata({ ...info, name: 'Renamed' });
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify({ ...info, name: 'Renamed' }, null, 2));
    const updated = await modelManager.updateModelMetadata(info.id, { source: 'local-only' });
    same(updated.ggufMetadata, info.ggufMetadata);
    await modelManager.deleteModel(info.id);
  });

  test('fetchGGUFMetadata and fetchLocalGGUFMetadata: every value, tensor shapes and offsets as exact BigInts', async () => {
    const local = path.join(dir, 'big.gguf');
    writeFileSync(local, BIG);
    for (const result of [await api.fetchGGUFMetadata(server.url('/big.gguf')), await api.fetchLocalGGUFMetadata(local)]) {
      expect(Object.keys(result)).toEqual(['metadata', 'tensorInfos']);
      expect(result.metadata['tokenizer.ggml.token_type']).toHaveLength(600_000);
      expect(result.metadata).toEqual(expect.objectContaining({ version: 3, tensor_count: 2, kv_count: 6, 'llama.block_count': 2 }));
      expect(result.tensorInfos).toEqual([
        { name: 'blk.0.ffn_up_exps.weight', n_dims: 2, shape: [8n, 2n ** 60n], dtype: 0, offset: 0n },
        { name: 'output.weight', n_dims: 1, shape: [8n], dtype: 0, offset: 2n ** 60n + 7n },
      ]);
    }
  });

  test('listModels returns eight real SmolLM2 models (~1.2 million values)', async () => {
    const models = api.PATHS.models.llm;
    mkdirSync(models, { recursive: true });
    const file = path.join(models, 'SmolLM2-135M-Instruct.Q4_1.gguf');
    try {
      symlinkSync(MODEL, file);
    } catch {
      copyFileSync(MODEL, file);
    }
    const base = {
      id: 'smol-1', name: 'SmolLM2 1', type: 'llm', size: statSync(MODEL).size, path: file,
      downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1:9/SmolLM2.gguf' },
    };
    writeFileSync(path.join(models, 'smol-1.json'), JSON.stringify(base, null, 2));
    // The real metadata, as genai-electron keeps it (raw holds the tokenizer's arrays).
    const first = await modelManager.updateModelMetadata('smol-1', { source: 'local-only' });
    expect(first.ggufMetadata.raw['tokenizer.ggml.tokens']).toHaveLength(49152);
    for (let i = 2; i <= 8; i++) {
      const copy = { ...first, id: `smol-${i}`, name: `SmolLM2 ${i}` };
      writeFileSync(path.join(models, `smol-${i}.json`), JSON.stringify(copy, null, 2));
    }
    const list = await modelManager.listModels('llm');
    expect(list.map((m) => m.id).sort()).toEqual(['smol-1', 'smol-2', 'smol-3', 'smol-4', 'smol-5', 'smol-6', 'smol-7', 'smol-8']);
    for (const m of list) same(m.ggufMetadata, first.ggufMetadata);
  });
});

// A FIFO: opening it for reading waits for a writer that never comes (POSIX only).
(process.platform === 'win32' ? test.skip : test)('fetchLocalGGUFMetadata refuses a FIFO at once (DownloadError)', async () => {
  const fifo = path.join(tempDir(), 'model.gguf');
  execFileSync('mkfifo', [fifo]);
  const err = await api.fetchLocalGGUFMetadata(fifo).catch((e) => e);
  expect(err).toBeInstanceOf(DownloadError);
  expect(err.message).toBe(`Download failed: Failed to read GGUF metadata from local file: ${fifo}: not a regular file`);
}, 15_000);
