// modelManager, StorageManager, Downloader and the GGUF helpers through the public API, against
// a real HTTP server on 127.0.0.1 serving the real SmolLM2-135M GGUF.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { startFileServer } from './support/file-server.mjs';
import { ROOT, runNodeAsync, tempDir, until } from './helpers.mjs';

const MODEL = execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', 'model'], { encoding: 'utf8' }).trim();
const DATA = readFileSync(MODEL);
const SHA = createHash('sha256').update(DATA).digest('hex');
const NAME = 'SmolLM2-135M-Instruct.Q4_1.gguf';

// This file's own userData, set before the package is loaded.
const USER_DATA = tempDir('genai-models-jest-');
process.env.GENAI_ELECTRON_USER_DATA = USER_DATA;
const api = await import('../index.js');
const { modelManager, ModelManager, StorageManager, Downloader, DownloadError, ChecksumError, ModelNotFoundError } = api;

let server;
beforeAll(async () => {
  server = await startFileServer();
  server.put(`/${NAME}`, DATA);
  server.put('/small.bin', Buffer.alloc(300_000, 3));
});
afterAll(() => server.close());
afterEach(() => server.setFaults({}));

describe('modelManager', () => {
  test('downloads SmolLM2 with progress to the total, lists, verifies, deletes', async () => {
    const calls = [];
    const info = await modelManager.downloadModel({
      source: 'url', url: server.url(`/${NAME}`), name: 'SmolLM2 135M', type: 'llm', checksum: `sha256:${SHA}`,
      onProgress: (d, t) => calls.push([d, t]),
    });
    expect(Object.keys(info)).toEqual(['id', 'name', 'type', 'size', 'path', 'downloadedAt', 'source', 'checksum', 'supportsReasoning', 'ggufMetadata']);
    expect(info).toEqual(expect.objectContaining({
      id: 'smollm2-135m', name: 'SmolLM2 135M', type: 'llm', size: DATA.length, checksum: `sha256:${SHA}`, supportsReasoning: false,
      path: path.join(api.PATHS.models.llm, NAME), source: { type: 'url', url: server.url(`/${NAME}`) },
    }));
    expect(info.ggufMetadata).toEqual(expect.objectContaining({ architecture: 'llama', block_count: 30, context_length: 8192, embedding_length: 576, attention_head_count: 9, attention_head_count_kv: 3, file_type: 3 }));
    expect(calls.at(-1)).toEqual([DATA.length, DATA.length]);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
    // The metadata file is what JSON.stringify(info, null, 2) writes.
    const file = path.join(api.PATHS.models.llm, 'smollm2-135m.json');
    expect(readFileSync(file, 'utf8')).toBe(JSON.stringify(info, null, 2));
    expect(await modelManager.listModels()).toEqual([info]);
    expect(await modelManager.listModels('diffusion')).toEqual([]);
    expect(await modelManager.getModelInfo('smollm2-135m')).toEqual(info);
    expect(await modelManager.verifyModel('smollm2-135m')).toBe(true);
    expect(await modelManager.getModelLayerCount('smollm2-135m')).toBe(30);
    expect(await modelManager.getModelContextLength('smollm2-135m')).toBe(8192);
    expect(await modelManager.getModelArchitecture('smollm2-135m')).toBe('llama');
    const storage = StorageManager.getInstance();
    expect(await storage.getStorageUsed()).toBe(DATA.length);
    expect(await storage.listModelFiles('llm')).toEqual(['smollm2-135m']);
    expect(await storage.checkDiskSpace()).toBeGreaterThan(0);
    const updated = await modelManager.updateModelMetadata('smollm2-135m', { source: 'local-only' });
    expect(updated.ggufMetadata).toEqual(info.ggufMetadata);

    await modelManager.deleteModel('smollm2-135m');
    expect(await modelManager.listModels()).toEqual([]);
    expect(existsSync(info.path)).toBe(false);
    const err = await modelManager.deleteModel('smollm2-135m').catch((e) => e);
    expect(err).toBeInstanceOf(ModelNotFoundError);
    expect(ModelManager.getInstance()).toBe(modelManager);
  });

  test('a checksum mismatch is a ChecksumError and leaves nothing behind', async () => {
    const err = await modelManager.downloadModel({ source: 'url', url: server.url(`/${NAME}`), name: 'Bad Sum', type: 'llm', checksum: '0'.repeat(64) }).catch((e) => e);
    expect(err).toBeInstanceOf(ChecksumError);
    expect(err.details).toEqual(expect.objectContaining({ expected: '0'.repeat(64), actual: SHA }));
    expect(readdirSync(api.PATHS.models.llm)).toEqual([]);
    expect(await modelManager.listModels()).toEqual([]);
  });

  test('bad input: typed errors, nothing written', async () => {
    const cases = [
      [{ source: 'url', name: 'x', type: 'llm' }, 'Download failed: URL is required when source is "url"'],
      [{ source: 'huggingface', repo: 'a/b', name: 'x', type: 'llm' }, 'Download failed: Repository and file are required when source is "huggingface"'],
      [{ source: 'ftp', url: 'ftp://x', name: 'x', type: 'llm' }, 'Download failed: Unsupported source type: ftp'],
    ];
    for (const [config, message] of cases) {
      const err = await modelManager.downloadModel(config).catch((e) => e);
      expect(err).toBeInstanceOf(DownloadError);
      expect(err.message).toBe(message);
    }
    const missing = await modelManager.downloadModel({ source: 'url', url: server.url('/missing.gguf'), name: 'Missing', type: 'llm' }).catch((e) => e);
    expect(missing).toBeInstanceOf(DownloadError);
    expect(missing.details.status).toBe(404);
    server.setFaults({ status: 403 });
    const forbidden = await modelManager.downloadModel({ source: 'url', url: server.url(`/${NAME}`), name: 'Gated', type: 'llm' }).catch((e) => e);
    expect(forbidden.details.status).toBe(403);
    expect(readdirSync(api.PATHS.models.llm)).toEqual([]);
  });

  test('cancel, then download again: it resumes and completes', async () => {
    // Every request stalls (not only the first): on a machine so loaded that the cancel comes
    // after the 20 s low-speed limit, a resume must not complete the download behind its back.
    server.setFaults({ stallAfter: 40_000_000, times: 100 });
    const url = server.url(`/${NAME}`);
    const pending = modelManager.downloadModel({ source: 'url', url, name: 'Resumable', type: 'llm' });
    const partial = path.join(api.PATHS.models.llm, `${NAME}.partial`);
    await until(() => existsSync(partial) && statSync(partial).size > 30_000_000, 20000);
    expect(modelManager.isDownloading()).toBe(true);
    const busy = await modelManager.downloadModel({ source: 'url', url, name: 'Other', type: 'llm' }).catch((e) => e);
    expect(busy.message).toBe('Download failed: Download already in progress');
    modelManager.cancelDownload();
    const err = await pending.catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toBe('Download failed: Download cancelled');
    expect(await modelManager.listModels()).toEqual([]);
    expect(modelManager.isDownloading()).toBe(false);

    server.setFaults({});
    server.takeSent();
    const info = await modelManager.downloadModel({ source: 'url', url, name: 'Resumable', type: 'llm', checksum: SHA });
    expect(server.takeSent()).toBeLessThan(DATA.length - 30_000_000 + 4_000_000); // rest + metadata prefix
    expect(info.checksum).toBe(`sha256:${SHA}`);
    await modelManager.deleteModel(info.id);
  });

  test('resumes in a new process after the first one is killed', async () => {
    const dir = tempDir('genai-models-proc-');
    const url = server.url(`/${NAME}`);
    const script = `import('genai-electron-rs').then(({ modelManager }) =>
      modelManager.downloadModel({ source: 'url', url: ${JSON.stringify(url)}, name: 'Killed', type: 'llm' })
        .then((m) => console.log(JSON.stringify(m))))`;
    server.setFaults({ stallAfter: 50_000_000, times: 100 }); // every request (probes, retries, the body) stalls
    const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', GENAI_ELECTRON_USER_DATA: dir } });
    const partial = path.join(dir, 'models', 'llm', `${NAME}.partial`);
    await until(() => existsSync(partial) && statSync(partial).size >= 45_000_000, 30000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    server.setFaults({});
    const before = statSync(partial).size;
    server.takeSent();
    const r = await runNodeAsync(['-e', script], { env: { GENAI_ELECTRON_USER_DATA: dir } });
    expect(r.stderr).toBe('');
    const info = JSON.parse(r.stdout);
    expect(info.size).toBe(DATA.length);
    expect(createHash('sha256').update(readFileSync(info.path)).digest('hex')).toBe(SHA);
    expect(server.takeSent()).toBeLessThan(DATA.length - before + 4_000_000);
    expect(server.requests.some((q) => q.range === `bytes=${before}-`)).toBe(true);
  });
});

describe('GGUF metadata helpers', () => {
  test('remote read fetches a small prefix and agrees with the local read', async () => {
    server.takeSent();
    const remote = await api.fetchGGUFMetadata(server.url(`/${NAME}`));
    const fetched = server.takeSent();
    expect(fetched).toBeLessThan(4 * 1024 * 1024);
    const local = await api.fetchLocalGGUFMetadata(MODEL);
    expect(remote).toEqual(local);
    expect(local.metadata['general.architecture']).toBe('llama');
    expect(api.getArchField(local.metadata, 'block_count')).toBe(30);
    expect(local.tensorInfos).toHaveLength(272);
    expect(typeof local.tensorInfos[0].offset).toBe('bigint');
  });

  test('errors are DownloadErrors with upstream prefixes', async () => {
    const local = await api.fetchLocalGGUFMetadata(path.join(ROOT, 'package.json')).catch((e) => e);
    expect(local).toBeInstanceOf(DownloadError);
    expect(local.message).toMatch(/^Download failed: Failed to read GGUF metadata from local file: /);
    const remote = await api.fetchGGUFMetadata(server.url('/small.bin')).catch((e) => e);
    expect(remote.message).toMatch(/^Download failed: Failed to fetch GGUF metadata from URL: /);
  });

  test('Hugging Face URLs', () => {
    expect(api.getHuggingFaceURL('o/r', 'dir/a b.gguf', 'refs/pr/1')).toBe('https://huggingface.co/o/r/resolve/refs%2Fpr%2F1/dir/a%20b.gguf');
    expect(api.parseHuggingFaceURL('https://huggingface.co/o/r/resolve/main/dir/x.gguf')).toEqual({ repo: 'o/r', revision: 'main', file: 'dir/x.gguf' });
    expect(api.parseHuggingFaceURL('https://example.com/x')).toBeNull();
    expect(() => api.getHuggingFaceURL('o/r', 'x', ' ')).toThrow(TypeError);
  });
});

describe('Downloader', () => {
  test('downloads, reports progress, refuses a second concurrent download, honours AbortSignal', async () => {
    const dir = tempDir('genai-dl-');
    const d = new Downloader();
    const calls = [];
    await d.download({ url: server.url('/small.bin'), destination: path.join(dir, 'a.bin'), onProgress: (x, t) => calls.push([x, t]) });
    expect(readFileSync(path.join(dir, 'a.bin'))).toEqual(Buffer.alloc(300_000, 3));
    expect(calls.at(-1)).toEqual([300_000, 300_000]);

    server.setFaults({ stallAfter: 1000 });
    const ac = new AbortController();
    const first = d.download({ url: server.url('/small.bin'), destination: path.join(dir, 'b.bin'), signal: ac.signal });
    await until(() => d.downloading);
    const second = await d.download({ url: server.url('/small.bin'), destination: path.join(dir, 'c.bin') }).catch((e) => e);
    expect(second.message).toBe('Download failed: Download already in progress');
    ac.abort();
    expect((await first.catch((e) => e)).message).toBe('Download failed: Download cancelled');
    expect(d.downloading).toBe(false);
    // A file bigger than the free disk space is refused before a byte is written.
    server.setFaults({ announceLength: 2 ** 50 });
    const full = await d.download({ url: server.url('/small.bin'), destination: path.join(dir, 'e.bin') }).catch((e) => e);
    expect(full).toBeInstanceOf(api.InsufficientResourcesError);
    expect(full.message).toBe('Not enough disk space to download e.bin');
    expect(full.details).toEqual(expect.objectContaining({ required: '1 PB' }));
    expect(readdirSync(dir).filter((f) => f.startsWith('e.bin'))).toEqual([]);
    server.setFaults({});
    const http = await d.download({ url: server.url('/nope'), destination: path.join(dir, 'd.bin') }).catch((e) => e);
    expect(http.message).toBe('Download failed: HTTP error: 404 Not Found');
    expect(http.details).toEqual({ status: 404, url: server.url('/nope') });
  });
});

describe('genai-electron-rs models …', () => {
  const cli = (args, dir) => runNodeAsync([path.join(ROOT, 'bin', 'genai-electron-rs.js'), ...args], { env: { GENAI_ELECTRON_USER_DATA: dir } });

  test('download with a progress bar, list, info, delete', async () => {
    const dir = tempDir('genai-cli-');
    const dl = await cli(['models', 'download', server.url(`/${NAME}`), '--name', 'Smol CLI', '--checksum', SHA], dir);
    expect(dl.status).toBe(0);
    expect(dl.stderr).toMatch(/\[#{30}\] 100\.0% 93\.81 MB \/ 93\.81 MB [\d.]+ [KMG]?B\/s ETA 0m00s/);
    expect(dl.stdout).toMatch(/^Smol CLI \(smol-cli\)$/m);
    const list = await cli(['models', 'list', '--json'], dir);
    expect(JSON.parse(list.stdout).map((m) => m.id)).toEqual(['smol-cli']);
    expect((await cli(["models", "list"], dir)).stdout).toMatch(/^smol-cli +llm +93\.81 MB {2}Smol CLI$/m);
    const info = JSON.parse((await cli(['models', 'info', 'smol-cli', '--json'], dir)).stdout);
    expect(info.ggufMetadata.architecture).toBe('llama');
    expect((await cli(['models', 'delete', 'smol-cli'], dir)).stdout).toBe('Deleted smol-cli\n');
    const gone = await cli(['models', 'info', 'smol-cli'], dir);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toBe('Model not found: smol-cli\n');
    expect((await cli(['models', 'download', 'http://x'], dir)).status).toBe(2);
  });
});
