// Binary provisioning for llama-server through the public API, on real processes: the release
// host is a loopback server (support/release-host.mjs) serving REAL archives of the real
// llama-server, named by a test catalog (GENAI_BINARY_CATALOG) and reached through
// GENAI_BINARY_MIRROR — no code is changed for the test. The server really starts and answers.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runNodeAsync, tempDir, until } from './helpers.mjs';
import { BINARY_VERSIONS as UPSTREAM_VERSIONS } from '../node_modules/genai-electron/dist/config/defaults.js';
import { LLAMA_TAG, PLATFORM, WRONG_CHECKSUM, asset, sha256, startReleaseHost } from './support/release-host.mjs';

const MODEL = asset('GENAI_TEST_MODEL', 'model');
const LLAMA = asset('GENAI_TEST_LLAMA_SERVER', 'llama-server');
const host = await startReleaseHost();
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-binaries-jest-');
delete process.env.GENAI_LLAMA_SERVER_PATH;
delete process.env.GENAI_BINARIES_DIR;
process.env.GENAI_BINARY_MIRROR = host.mirror;
const CATALOG = host.catalog({ llama: [{ type: 'cpu' }] });
process.env.GENAI_BINARY_CATALOG = CATALOG;
const api = await import('../index.js');
const { llamaServer, BinaryError, provisionBinary, listBinaries } = api;

const BINARIES = path.join(process.env.GENAI_ELECTRON_USER_DATA, 'binaries');
const INSTALLED = path.join(BINARIES, 'llama');
const EXE = path.join(INSTALLED, 'llama-server');
const CPU_ASSET = `/ggml-org/llama.cpp/releases/download/${LLAMA_TAG}/llama-${LLAMA_TAG}-bin-ubuntu-x64.tar.gz`;
const VULKAN_ASSET = `/ggml-org/llama.cpp/releases/download/${LLAMA_TAG}/llama-${LLAMA_TAG}-bin-ubuntu-vulkan-x64.tar.gz`;
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
/** A start that must succeed: a failure shows its details (every variant's reason), not only the message. */
const start = (config) =>
  llamaServer.start(config).catch((e) => {
    throw new Error(`${e.name}: ${e.message}\n${JSON.stringify(e.details, null, 2)}`);
  });
const PHASES = ['downloading', 'verifying', 'extracting', 'finalizing', 'testing', 'installing'];

/** `binary-log` and `binary-progress` from now on; `off()` detaches. */
function record(server = llamaServer) {
  const logs = [];
  const progress = [];
  const onLog = (e) => logs.push(e);
  const onProgress = (e) => progress.push(e);
  server.on('binary-log', onLog);
  server.on('binary-progress', onProgress);
  return { logs, progress, off: () => (server.off('binary-log', onLog), server.off('binary-progress', onProgress)) };
}

/** The phases in the order first seen, consecutive repeats folded. */
const phaseRuns = (progress, file = 'binary') =>
  progress.filter((e) => e.file === file).map((e) => e.phase).filter((p, i, all) => p !== all[i - 1]);

/**
 * Every phase in upstream's order (finalizing optional), once each, with sane numbers: downloaded ≤
 * total and reaching it, percentages in 0..100, extraction counting every entry and byte.
 */
function expectFullProgress(progress, archiveBytes, { entries, bytes }) {
  const runs = phaseRuns(progress);
  expect(runs.filter((p) => p !== 'finalizing')).toEqual(['downloading', 'verifying', 'extracting', 'testing', 'installing']);
  expect(runs.map((p) => PHASES.indexOf(p))).toEqual([...runs.map((p) => PHASES.indexOf(p))].sort((a, b) => a - b));
  for (const e of progress) {
    expect(PHASES).toContain(e.phase);
    if (e.percent !== undefined) expect(e.percent >= 0 && e.percent <= 100).toBe(true);
  }
  const dl = progress.filter((e) => e.phase === 'downloading' && e.file === 'binary');
  for (const e of dl) expect(e.downloaded).toBeLessThanOrEqual(e.total);
  expect(dl.map((e) => e.downloaded)).toEqual([...dl.map((e) => e.downloaded)].sort((a, b) => a - b));
  expect(dl.at(-1)).toEqual(expect.objectContaining({ downloaded: archiveBytes, total: archiveBytes }));
  // Entries are counted as they are written (a gzip stream's total is known only at its end).
  const ex = progress.filter((e) => e.phase === 'extracting' && e.completedEntries !== undefined);
  expect(ex.length).toBeGreaterThan(0);
  expect(ex.map((e) => e.completedEntries)).toEqual([...ex.map((e) => e.completedEntries)].sort((a, b) => a - b));
  for (const e of ex) {
    if (e.totalEntries !== undefined) expect(e.completedEntries).toBeLessThanOrEqual(e.totalEntries);
    if (e.writtenBytes !== undefined && e.totalUncompressedBytes !== undefined) expect(e.writtenBytes).toBeLessThanOrEqual(e.totalUncompressedBytes);
  }
  const last = ex.at(-1);
  expect(last.completedEntries).toBeGreaterThanOrEqual(entries);
  if (last.totalEntries !== undefined) expect(last.completedEntries).toBe(last.totalEntries);
  if (last.writtenBytes !== undefined) expect(last.writtenBytes).toBeGreaterThanOrEqual(bytes);
}

/** Every file below `dir` with its size, mode and mtime: a listing that any write changes. */
function snapshot(dir, rel = '') {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    const s = statSync(path.join(dir, p));
    const line = `${p} ${s.size} ${s.mode.toString(8)} ${s.mtimeMs}`;
    return e.isDirectory() ? [line, ...snapshot(dir, p)] : [line];
  });
}

/** Upstream's files for an installed llama-server, as genai-electron 0.26.0 writes them. */
function writeUpstreamFolder(dir, { variant = 'vulkan', version = LLAMA_TAG, validatedAt = '2025-01-02T03:04:05.000Z' } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const exe = path.join(dir, 'llama-server');
  copyFileSync(LLAMA, exe);
  chmodSync(exe, 0o755);
  writeFileSync(path.join(dir, '.variant.json'), JSON.stringify({ variant, platform: PLATFORM }), 'utf-8');
  writeFileSync(path.join(dir, '.deps.json'), JSON.stringify({ version: 1, dependencies: [] }, null, 2), 'utf-8');
  const validation = { variant, checksum: sha256(readFileSync(exe)), validatedAt, phase1Passed: true, phase2Passed: true, version };
  writeFileSync(path.join(dir, '.validation.json'), JSON.stringify(validation, null, 2), 'utf-8');
  return exe;
}

/** A real completion from the running server. */
async function expectAnswer(port) {
  const r = await fetch(`http://127.0.0.1:${port}/completion`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hello', n_predict: 4 }),
  });
  expect(r.status).toBe(200);
  expect((await r.json()).content).toEqual(expect.any(String));
}

/** What a binaries folder holds beside its `llama/` and `diffusion/` (temporary files, candidates). */
const leftovers = (dir) => readdirSync(dir).filter((name) => name !== 'llama' && name !== 'diffusion');

const requestPaths = () => host.requests.map((r) => r.path);

beforeAll(async () => {
  await api.StorageManager.getInstance().initialize();
  await api.StorageManager.getInstance().saveModelMetadata({
    id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(MODEL).size, path: MODEL,
    downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
    ggufMetadata: { architecture: 'llama', block_count: 30, context_length: 8192, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576 },
  });
});
afterEach(async () => {
  await llamaServer.stop();
  host.server.setFaults({});
  process.env.GENAI_BINARY_CATALOG = CATALOG;
  delete process.env.GENAI_BINARIES_DIR;
});
afterAll(async () => {
  await llamaServer.stop();
  await host.close();
});

test('BINARY_VERSIONS is upstream\'s catalog', () => {
  expect(api.BINARY_VERSIONS).toEqual(UPSTREAM_VERSIONS);
});

test('a first start with no binary provisions it, validates it with the model (phase 2) and runs it', async () => {
  expect(existsSync(EXE)).toBe(false);
  const seen = record();
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  seen.off();
  expect(info.status).toBe('running');
  await expectAnswer(info.port);
  expect(requestPaths().every((p) => p === CPU_ASSET)).toBe(true);
  expect(requestPaths().length).toBeGreaterThan(0);
  expectFullProgress(seen.progress, host.archive('llama').length, { entries: 2, bytes: statSync(LLAMA).size });

  // Upstream's layout and files; nothing left beside it (archives, extraction or candidate folders).
  expect(leftovers(BINARIES)).toEqual([]);
  expect(readdirSync(INSTALLED)).toEqual(expect.arrayContaining(['llama-server', '.variant.json', '.validation.json', '.deps.json']));
  expect(sha256(readFileSync(EXE))).toBe(sha256(readFileSync(LLAMA)));
  expect(statSync(EXE).mode & 0o111).toBe(0o111);
  expect(readJson(path.join(INSTALLED, '.variant.json'))).toEqual({ variant: 'cpu', platform: PLATFORM });
  expect(readJson(path.join(INSTALLED, '.deps.json'))).toEqual({ version: 1, dependencies: [] });
  const validation = readJson(path.join(INSTALLED, '.validation.json'));
  expect(validation).toEqual({
    variant: 'cpu', checksum: sha256(readFileSync(LLAMA)), validatedAt: expect.any(String), phase1Passed: true, phase2Passed: true, version: LLAMA_TAG,
  });
  expect(new Date(validation.validatedAt).toISOString()).toBe(validation.validatedAt);
});

test('a second start reuses the installed binary: no request, no test', async () => {
  host.clearRequests();
  const seen = record();
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  seen.off();
  await expectAnswer(info.port);
  expect(host.requests).toEqual([]);
  expect(seen.progress.map((e) => e.phase)).not.toContain('testing');
  expect(seen.progress.map((e) => e.phase)).not.toContain('downloading');
});

test('an upstream-style binaries/llama folder is used as it is', async () => {
  writeUpstreamFolder(INSTALLED);
  const before = snapshot(INSTALLED);
  const files = Object.fromEntries(['.variant.json', '.validation.json', '.deps.json'].map((f) => [f, readFileSync(path.join(INSTALLED, f), 'utf8')]));
  host.clearRequests();
  const seen = record();
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  seen.off();
  await expectAnswer(info.port);
  expect(host.requests).toEqual([]);
  expect(seen.progress.map((e) => e.phase)).not.toContain('testing');
  expect(snapshot(INSTALLED)).toEqual(before);
  for (const [f, text] of Object.entries(files)) expect([f, readFileSync(path.join(INSTALLED, f), 'utf8')]).toEqual([f, text]);
});

test('a catalog with another version reinstalls', async () => {
  writeUpstreamFolder(INSTALLED); // valid for b9860
  process.env.GENAI_BINARY_CATALOG = host.catalog({ llama: [{ type: 'cpu' }], llamaVersion: 'b9861' });
  host.clearRequests();
  const seen = record();
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  seen.off();
  await expectAnswer(info.port);
  expect(requestPaths()).toContain('/ggml-org/llama.cpp/releases/download/b9861/llama-b9861-bin-ubuntu-x64.tar.gz');
  expect(phaseRuns(seen.progress)).toContain('testing');
  expect(readJson(path.join(INSTALLED, '.validation.json'))).toEqual(expect.objectContaining({ variant: 'cpu', version: 'b9861', phase2Passed: true }));
  expect(readJson(path.join(INSTALLED, '.variant.json'))).toEqual({ variant: 'cpu', platform: PLATFORM });
});

test('a checksum mismatch on the first variant falls back to the next, and binary-log says why', async () => {
  rmSync(INSTALLED, { recursive: true, force: true });
  process.env.GENAI_BINARY_CATALOG = host.catalog({ llama: [{ type: 'vulkan', checksum: WRONG_CHECKSUM }, { type: 'cpu' }] });
  host.clearRequests();
  const seen = record();
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  seen.off();
  await expectAnswer(info.port);
  expect(requestPaths()).toEqual(expect.arrayContaining([VULKAN_ASSET, CPU_ASSET]));
  expect(seen.logs.some((e) => e.level !== 'info' && /vulkan/.test(e.message) && /checksum/i.test(e.message))).toBe(true);
  expect(readJson(path.join(INSTALLED, '.variant.json'))).toEqual({ variant: 'cpu', platform: PLATFORM });
  expect(sha256(readFileSync(EXE))).toBe(sha256(readFileSync(LLAMA)));
});

test('an archive whose executable does not run falls back to the next variant (provisionBinary)', async () => {
  const dir = tempDir('genai-binaries-notrun-');
  const catalog = host.catalog({ llama: [{ type: 'vulkan', content: 'broken' }, { type: 'cpu' }] });
  const logs = [];
  const progress = [];
  const installed = await provisionBinary('llama', { dir, catalog, mirror: host.mirror, onLog: (e) => logs.push(e), onProgress: (e) => progress.push(e) });
  expect(installed).toEqual(expect.objectContaining({
    type: 'llama', path: path.join(dir, 'llama', 'llama-server'), dir: path.join(dir, 'llama'),
    variant: 'cpu', platform: PLATFORM, version: LLAMA_TAG, checksum: sha256(readFileSync(LLAMA)), phase1Passed: true, verified: true,
  }));
  expect(logs.some((e) => e.level !== 'info' && /vulkan/.test(e.message))).toBe(true);
  // Both variants were tested: the broken one first.
  expect(progress.filter((e) => e.phase === 'testing').length).toBeGreaterThanOrEqual(2);
  expect(sha256(readFileSync(installed.path))).toBe(sha256(readFileSync(LLAMA)));
  expect(await listBinaries({ dir })).toEqual([expect.objectContaining({ type: 'llama', variant: 'cpu', verified: true, path: installed.path })]);
});

test('all variants failing: BinaryError with every variant and its reason; nothing installed', async () => {
  rmSync(INSTALLED, { recursive: true, force: true });
  process.env.GENAI_BINARY_CATALOG = host.catalog({ llama: [{ type: 'vulkan', content: 'broken' }, { type: 'cpu', checksum: WRONG_CHECKSUM }] });
  const seen = record();
  const err = await llamaServer.start({ modelId: 'smollm2', port: 'auto' }).catch((e) => e);
  seen.off();
  expect(err).toBeInstanceOf(BinaryError);
  expect(err.message).toBe(`Binary error: Failed to download binary. Tried all variants for ${PLATFORM}.`);
  expect(err.details).toEqual(expect.objectContaining({ platform: PLATFORM, errors: expect.stringMatching(/^vulkan: .+; cpu: .+$/), suggestion: expect.any(String) }));
  expect(err.details.variants).toEqual([
    { variant: 'vulkan', url: expect.stringContaining(path.basename(VULKAN_ASSET)), reason: expect.any(String) },
    { variant: 'cpu', url: expect.stringContaining(path.basename(CPU_ASSET)), reason: expect.stringMatching(/checksum/i) },
  ]);
  expect(err.details.errors).toBe(err.details.variants.map((v) => `${v.variant}: ${v.reason}`).join('; '));
  expect(llamaServer.getStatus()).toBe('stopped');
  expect(existsSync(EXE)).toBe(false);
  expect(seen.logs.filter((e) => e.level !== 'info').length).toBeGreaterThanOrEqual(2);

  process.env.GENAI_BINARY_CATALOG = host.catalog({ llama: [] });
  host.clearRequests();
  const none = await llamaServer.start({ modelId: 'smollm2', port: 'auto' }).catch((e) => e);
  expect(none).toBeInstanceOf(BinaryError);
  expect(none.message).toBe(`Binary error: No binary variants available for platform: ${PLATFORM}`);
  expect(host.requests).toEqual([]);
});

test('a download cut mid-way resumes with a Range request and installs', async () => {
  const dir = tempDir('genai-binaries-cut-');
  // Every response is cut 2 MB after where it starts: the ~5.7 MB archive takes three requests.
  host.server.setFaults({ cutAfter: 2_000_000, times: 20 });
  host.clearRequests();
  const progress = [];
  const installed = await provisionBinary('llama', { dir, onProgress: (e) => progress.push(e) });
  const gets = host.requests.filter((r) => r.method === 'GET' && r.path === CPU_ASSET);
  expect(gets.length).toBeGreaterThanOrEqual(2);
  expect(gets.slice(1).some((r) => /^bytes=[1-9]\d*-$/.test(r.range ?? ''))).toBe(true);
  expect(installed).toEqual(expect.objectContaining({ variant: 'cpu', verified: true, checksum: sha256(readFileSync(LLAMA)) }));
  expect(sha256(readFileSync(installed.path))).toBe(sha256(readFileSync(LLAMA)));
  const dl = progress.filter((e) => e.phase === 'downloading');
  expect(dl.at(-1)).toEqual(expect.objectContaining({ downloaded: host.archive('llama').length, total: host.archive('llama').length }));
  expect(leftovers(dir)).toEqual([]);
});

test('binariesDir / GENAI_BINARIES_DIR: used read-only, never written, never downloaded into', async () => {
  const bundle = tempDir('genai-binaries-bundle-');
  await provisionBinary('llama', { dir: bundle });
  rmSync(INSTALLED, { recursive: true, force: true });
  const before = snapshot(bundle);
  host.clearRequests();
  for (const how of ['option', 'env']) {
    const seen = record();
    const config = { modelId: 'smollm2', port: 'auto', threads: 2 };
    if (how === 'option') config.binariesDir = bundle;
    else process.env.GENAI_BINARIES_DIR = bundle;
    const info = await start(config);
    seen.off();
    await expectAnswer(info.port);
    await llamaServer.stop();
    expect([how, seen.logs.some((e) => e.message.includes(bundle))]).toEqual([how, true]); // "Using llama-server from the binaries folder <bundle>"
  }
  expect(host.requests).toEqual([]);
  expect(snapshot(bundle)).toEqual(before);
  expect(existsSync(EXE)).toBe(false); // nothing provisioned into userData either

  const empty = tempDir('genai-binaries-empty-');
  const missing = await llamaServer.start({ modelId: 'smollm2', port: 'auto', binariesDir: empty }).catch((e) => e);
  expect(missing).toBeInstanceOf(BinaryError);
  expect(readdirSync(empty)).toEqual([]);
  expect(host.requests).toEqual([]);
  expect(existsSync(EXE)).toBe(false);
});

test('the CLI: binaries install, binaries list, then a start from that folder with no request', async () => {
  const dir = tempDir('genai-binaries-cli-');
  const cli = path.join(ROOT, 'bin', 'genai-electron-rs.js');
  const install = await runNodeAsync([cli, 'binaries', 'install', '--type', 'llama', '--dir', dir]);
  expect([install.status, install.stderr]).toEqual([0, expect.any(String)]);
  expect(install.stdout).toMatch(/llama/);
  expect(install.stdout).toMatch(/cpu/);
  expect(existsSync(path.join(dir, 'llama', 'llama-server'))).toBe(true);
  expect(existsSync(path.join(dir, 'diffusion'))).toBe(false);

  const list = await runNodeAsync([cli, 'binaries', 'list', '--dir', dir, '--json']);
  expect(list.status).toBe(0);
  expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({
    type: 'llama', path: path.join(dir, 'llama', 'llama-server'), variant: 'cpu', platform: PLATFORM, version: LLAMA_TAG,
    checksum: sha256(readFileSync(LLAMA)), phase1Passed: true, verified: true,
  })]);
  const human = await runNodeAsync([cli, 'binaries', 'list', '--dir', dir]);
  expect(human.status).toBe(0);
  expect(human.stdout).toMatch(/llama.*cpu/);

  host.clearRequests();
  process.env.GENAI_BINARIES_DIR = dir;
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  await expectAnswer(info.port);
  expect(host.requests).toEqual([]);

  const failing = host.catalog({ llama: [{ type: 'cpu', checksum: WRONG_CHECKSUM }] });
  const bad = await runNodeAsync([cli, 'binaries', 'install', '--type', 'llama', '--dir', tempDir('genai-binaries-cli-bad-')], { env: { GENAI_BINARY_CATALOG: failing } });
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/^BinaryError: Binary error: Failed to download binary\. Tried all variants for /m);
  expect(bad.stderr).toMatch(/cpu: /);
  const usage = await runNodeAsync([cli, 'binaries', 'install', '--type', 'bogus']);
  expect(usage.status).toBe(2);
  expect(usage.stderr).toMatch(/--type/);
}, 120_000);

test('provisionBinary for a foreign platform (win32-x64) installs without testing and writes no .validation.json', async () => {
  const dir = tempDir('genai-binaries-win-');
  const catalog = host.catalog({ win32Llama: [{ type: 'cpu' }] });
  const progress = [];
  const installed = await provisionBinary('llama', { platform: 'win32-x64', dir, catalog, onProgress: (e) => progress.push(e) });
  const folder = path.join(dir, 'llama');
  expect(installed).toEqual(expect.objectContaining({ type: 'llama', dir: folder, path: path.join(folder, 'llama-server.exe'), variant: 'cpu', platform: 'win32-x64' }));
  expect(readdirSync(folder).sort()).toEqual(['.deps.json', '.variant.json', 'ggml.dll', 'llama-server.exe']);
  expect(readJson(path.join(folder, '.variant.json'))).toEqual({ variant: 'cpu', platform: 'win32-x64' });
  expect(progress.map((e) => e.phase)).not.toContain('testing');
  expect(phaseRuns(progress).filter((p) => p !== 'finalizing')).toEqual(['downloading', 'verifying', 'extracting', 'installing']);
  expect(host.requests.map((r) => r.path)).toContain(`/ggml-org/llama.cpp/releases/download/${LLAMA_TAG}/llama-${LLAMA_TAG}-bin-win-cpu-x64.zip`);
});

test('stop() during a provisioning download cancels it; the partial download is resumed by the next start', async () => {
  rmSync(INSTALLED, { recursive: true, force: true });
  host.server.setFaults({ stallAfter: 1_000_000, times: 1 });
  host.clearRequests();
  const seen = record();
  const starting = llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 }).catch((e) => e);
  await until(() => seen.progress.some((e) => e.phase === 'downloading' && e.downloaded >= 1_000_000), 30_000);
  await llamaServer.stop();
  const err = await starting;
  seen.off();
  expect(err).toBeInstanceOf(api.ServerError);
  expect(err.message).toBe('Server error: llama-server start cancelled by stop()');
  expect(llamaServer.getStatus()).toBe('stopped');
  expect(existsSync(EXE)).toBe(false);
  expect(readdirSync(INSTALLED).some((name) => name.endsWith('.partial'))).toBe(true);
  host.server.setFaults({});
  const info = await start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  await expectAnswer(info.port);
  expect(host.requests.some((r) => /^bytes=[1-9]\d*-$/.test(r.range ?? ''))).toBe(true);
});
