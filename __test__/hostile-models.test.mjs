// Hostile input to modelManager and StorageManager through the public API (issue 9, findings 4,
// 5 and 9): ids and metadata files that lead outside models/<type>/ or to another model's files,
// model directories that slug to nothing, credentials in URLs, names without an id, URLs without
// a file name. Real files in a temp userData, the real test file server; sentinel files beside
// userData must survive every test.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startFileServer } from './support/file-server.mjs';
import { ROOT, tempDir } from './helpers.mjs';

const MODEL = execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', 'model'], { encoding: 'utf8' }).trim();
const GGUF = readFileSync(MODEL).subarray(0, 4_000_000); // the whole header: enough for a download

// userData is `<base>/ud`; `<base>` holds the sentinels that `../` ids and paths would reach.
const BASE = tempDir('genai-hostile-jest-');
const USER_DATA = path.join(BASE, 'ud');
process.env.GENAI_ELECTRON_USER_DATA = USER_DATA;
const VICTIM = path.join(BASE, 'victim.bin');
const KEEP = path.join(BASE, 'outside', 'keep.gguf');
const X_JSON = path.join(BASE, 'x.json'); // what models/llm/../../../x.json names
mkdirSync(path.dirname(KEEP), { recursive: true });
writeFileSync(VICTIM, 'victim');
writeFileSync(KEEP, 'keep');
writeFileSync(X_JSON, JSON.stringify({ id: '../../../x', name: 'x', type: 'llm', size: 6, path: VICTIM, downloadedAt: 't', source: { type: 'url', url: 'u' } }));

const api = await import('../index.js');
const { modelManager, StorageManager, DownloadError, FileSystemError, ModelNotFoundError, PATHS } = api;
const storage = StorageManager.getInstance();
const LLM = PATHS.models.llm;
const DIFFUSION = PATHS.models.diffusion;

function expectSentinels() {
  expect(readFileSync(VICTIM, 'utf8')).toBe('victim');
  expect(readFileSync(KEEP, 'utf8')).toBe('keep');
  expect(JSON.parse(readFileSync(X_JSON, 'utf8')).id).toBe('../../../x');
  expect(readdirSync(BASE).sort()).toEqual(['outside', 'ud', 'victim.bin', 'x.json']);
}

const single = (id, file, type = 'llm') => ({ id, name: id, type, size: 4, path: file, downloadedAt: 't', source: { type: 'url', url: 'http://h/m.gguf' } });
const writeMeta = (dir, file, meta) => writeFileSync(path.join(dir, file), JSON.stringify(meta, null, 2));
const rejection = (promise) => promise.then(() => { throw new Error('expected a rejection'); }, (e) => e);

let server;
beforeAll(async () => {
  server = await startFileServer();
  server.put('/m.gguf', GGUF);
  server.put('/d/model.gguf', GGUF);
  server.put('/d/vae.safetensors', Buffer.alloc(1000, 5));
  await storage.initialize();
});
afterAll(async () => {
  await server.close();
  expectSentinels();
  rmSync(BASE, { recursive: true, force: true });
});
afterEach(() => {
  expectSentinels();
  for (const dir of [LLM, DIFFUSION]) {
    for (const f of readdirSync(dir)) rmSync(path.join(dir, f), { recursive: true, force: true });
  }
});

describe('ids are checked at every entry (finding 5)', () => {
  test.each(['../../../x', '..', 'a/b', ''])('StorageManager refuses %j', async (id) => {
    for (const call of [
      () => storage.loadModelMetadata('llm', id),
      () => storage.deleteModelFiles('llm', id),
      () => storage.verifyModelIntegrity('llm', id),
      () => storage.saveModelMetadata(single(id, VICTIM)),
    ]) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(FileSystemError);
      expect(err.message).toMatch(/^File system error: Invalid model id /);
    }
    let thrown;
    try {
      storage.getModelMetadataPath('llm', id);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(FileSystemError);
    expect(existsSync(path.join(USER_DATA, 'x.json'))).toBe(false);
  });

  test('a metadata file must hold the id of its name: claims of ../ or another id are skipped', async () => {
    writeFileSync(path.join(LLM, 'victim.gguf'), 'GGUF');
    writeMeta(LLM, 'victim.json', single('victim', path.join(LLM, 'victim.gguf')));
    writeMeta(LLM, 'evil.json', single('../../../x', VICTIM));
    writeMeta(LLM, 'evil2.json', single('victim', path.join(LLM, 'victim.gguf')));
    expect((await modelManager.listModels()).map((m) => m.id)).toEqual(['victim']);
    expect(await rejection(modelManager.deleteModel('../../../x'))).toBeInstanceOf(ModelNotFoundError);
    const err = await rejection(storage.loadModelMetadata('llm', 'evil2'));
    expect(err).toBeInstanceOf(FileSystemError);
    expect(err.message).toMatch(/^File system error: Model metadata does not match its file: /);
    await modelManager.deleteModel('victim');
    expect(readdirSync(LLM).sort()).toEqual(['evil.json', 'evil2.json']);
  });
});

describe('deletes stay inside models/<type>/ (finding 5)', () => {
  test('a path, a shard or a component outside: refused, nothing deleted', async () => {
    mkdirSync(path.join(LLM, 'sub'));
    symlinkSync(path.dirname(KEEP), path.join(LLM, 'link'), 'junction'); // a junction needs no privilege on Windows
    const own = path.join(LLM, 'own.gguf');
    const ownDiffusion = path.join(DIFFUSION, 'own.gguf');
    const cases = [
      single('abs', VICTIM),
      single('dotdot', [LLM, 'sub', '..', '..', '..', '..', 'victim.bin'].join(path.sep)), // path.join would drop the ..
      single('linked', path.join(LLM, 'link', 'keep.gguf')),
      { ...single('shards', own), shards: [{ path: own, size: 1 }, { path: VICTIM, size: 1 }] },
      { ...single('parts', ownDiffusion, 'diffusion'), components: { diffusion_model: { path: ownDiffusion, size: 1 }, vae: { path: KEEP, size: 1 } } },
    ];
    for (const meta of cases) {
      writeFileSync(own, 'own');
      writeFileSync(ownDiffusion, 'own');
      writeMeta(PATHS.models[meta.type], `${meta.id}.json`, meta);
      const err = await rejection(modelManager.deleteModel(meta.id));
      expect(err).toBeInstanceOf(FileSystemError);
      expect(err.message).toMatch(/^File system error: Path is outside the models folder /);
      expect(existsSync(own) && existsSync(ownDiffusion)).toBe(true);
      expect((await modelManager.getModelInfo(meta.id)).id).toBe(meta.id);
      expectSentinels();
    }
  });

  test("a file another model names is kept, and so is another model's metadata", async () => {
    writeFileSync(path.join(LLM, 'victim.gguf'), 'GGUF');
    writeMeta(LLM, 'victim.json', single('victim', path.join(LLM, 'victim.gguf')));
    writeMeta(LLM, 'a.json', single('a', path.join(LLM, 'victim.gguf')));
    writeMeta(LLM, 'b.json', single('b', path.join(LLM, 'victim.json')));
    await modelManager.deleteModel('a');
    await modelManager.deleteModel('b');
    expect(readdirSync(LLM).sort()).toEqual(['victim.gguf', 'victim.json']);
    expect(await modelManager.verifyModel('victim')).toBe(false);
  });
});

describe('multi-component downloads (finding 4)', () => {
  const vae = () => [{ role: 'vae', source: 'url', url: server.url('/d/vae.safetensors') }];

  test("a modelDirectory that slugs to nothing never reuses or deletes another model's files", async () => {
    const model = await modelManager.downloadModel({ source: 'url', url: server.url('/d/model.gguf'), name: 'Model', type: 'diffusion' });
    expect(readdirSync(DIFFUSION).sort()).toEqual(['model.gguf', 'model.json']);
    server.takeSent();
    for (const modelDirectory of ['..', '!!!', '模型']) {
      const err = await rejection(modelManager.downloadModel({
        source: 'url', url: server.url('/d/model.gguf'), name: 'Variant', type: 'diffusion', components: vae(), modelDirectory,
      }));
      expect(err).toBeInstanceOf(DownloadError);
      expect(err.message).toBe(`Download failed: Invalid modelDirectory ${JSON.stringify(modelDirectory)}: the id is empty`);
    }
    expect(server.takeSent()).toBe(0);
    expect(readdirSync(DIFFUSION).sort()).toEqual(['model.gguf', 'model.json']);
    expect((await modelManager.listModels()).map((m) => [m.id, m.path, m.downloadedAt])).toEqual([[model.id, model.path, model.downloadedAt]]);
    expect(readFileSync(model.path).equals(GGUF)).toBe(true);
  });

  test("components are for diffusion models only, and a file in the way that is no other model's component is not taken over", async () => {
    const llm = await rejection(modelManager.downloadModel({ source: 'url', url: server.url('/d/model.gguf'), name: 'Llm Parts', type: 'llm', components: vae() }));
    expect(llm).toBeInstanceOf(DownloadError);
    expect(llm.message).toBe('Download failed: Multi-component downloads are only supported for diffusion models (type: llm)');
    expect(readdirSync(LLM)).toEqual([]);

    const shared = path.join(DIFFUSION, 'flux-shared');
    mkdirSync(shared);
    writeFileSync(path.join(shared, 'vae.safetensors'), 'not downloaded');
    const config = { source: 'url', url: server.url('/d/model.gguf'), name: 'Flux A', type: 'diffusion', components: vae(), modelDirectory: 'Flux Shared' };
    const err = await rejection(modelManager.downloadModel(config));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toBe('Download failed: Component file already exists: vae.safetensors');
    expect(readdirSync(shared)).toEqual(['vae.safetensors']);
    expect(readFileSync(path.join(shared, 'vae.safetensors'), 'utf8')).toBe('not downloaded');
    rmSync(path.join(shared, 'vae.safetensors'));
    const a = await modelManager.downloadModel(config);
    const b = await modelManager.downloadModel({ ...config, name: 'Flux B' }); // a shared component is reused
    expect(b.components.vae.path).toBe(a.components.vae.path);
  });
});

describe('names, URLs and credentials (finding 9)', () => {
  test('credentials in a URL are sent but stored nowhere and reported in no error', async () => {
    const withCredentials = (p) => server.url(p).replace('http://', 'http://user:s3cret@');
    server.requests.length = 0;
    const info = await modelManager.downloadModel({ source: 'url', url: withCredentials('/m.gguf'), name: 'Private', type: 'llm' });
    expect(info.source.url).toBe(server.url('/m.gguf'));
    expect(readFileSync(path.join(LLM, 'private.json'), 'utf8')).not.toMatch(/s3cret|user:/);
    expect(server.requests.length).toBeGreaterThan(0);
    for (const r of server.requests) expect(r.auth).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);

    const err = await rejection(modelManager.downloadModel({ source: 'url', url: withCredentials('/missing.gguf'), name: 'Missing', type: 'llm' }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(`${err.message} ${JSON.stringify(err.details)}`).not.toMatch(/s3cret/);
    expect(err.details.url).toBe(server.url('/missing.gguf'));
  });

  test('a name without an id and a URL without a file name are DownloadErrors, nothing written', async () => {
    server.requests.length = 0;
    for (const name of ['日本語', '!!!']) {
      const err = await rejection(modelManager.downloadModel({ source: 'url', url: server.url('/m.gguf'), name, type: 'llm' }));
      expect(err).toBeInstanceOf(DownloadError);
      expect(err.message).toBe(`Download failed: Invalid model name ${JSON.stringify(name)}: the id is empty`);
    }
    const err = await rejection(modelManager.downloadModel({ source: 'url', url: server.url('/'), name: 'Root', type: 'llm' }));
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toBe(`Download failed: No file name in the URL: ${server.url('/')}`);
    expect(server.requests).toEqual([]);
    expect(readdirSync(LLM)).toEqual([]);
  });
});
