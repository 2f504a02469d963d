// Binary provisioning for the diffusion server through the public API, on real processes: the
// loopback release host (support/release-host.mjs) serves a REAL stable-diffusion.cpp-style zip of
// the real sd-server and sd-cli, named by a test catalog (GENAI_BINARY_CATALOG, reached through
// GENAI_BINARY_MIRROR). The first start provisions both and validates sd-server with a real 64×64
// job on the model (phase 2); a real image comes out at the end; the next start reuses them.
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { tempDir, until } from './helpers.mjs';
import { PLATFORM, SD_TAG, WRONG_CHECKSUM, asset, sha256, startReleaseHost } from './support/release-host.mjs';
import { SMALL, pngSize, registerModels } from './support/diffusion.mjs';

const SD_SERVER = asset('GENAI_TEST_SD_SERVER', 'sd-server');
const SD_CLI = asset('GENAI_TEST_SD_CLI', 'sd-cli');
const host = await startReleaseHost();
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-binaries-diffusion-jest-');
delete process.env.GENAI_SD_SERVER_PATH;
delete process.env.GENAI_BINARIES_DIR;
process.env.GENAI_BINARY_MIRROR = host.mirror;
const CATALOG = host.catalog({ diffusion: [{ type: 'vulkan', checksum: WRONG_CHECKSUM }, { type: 'cpu' }] });
process.env.GENAI_BINARY_CATALOG = CATALOG;
const api = await import('../index.js');
const { diffusionServer, BinaryError } = api;

const BINARIES = path.join(process.env.GENAI_ELECTRON_USER_DATA, 'binaries');
const INSTALLED = path.join(BINARIES, 'diffusion');
const ASSET_DIR = `/leejet/stable-diffusion.cpp/releases/download/${SD_TAG}`;
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
/** A start that must succeed: a failure shows its details (every variant's reason), not only the message. */
const start = (config) =>
  diffusionServer.start(config).catch((e) => {
    throw new Error(`${e.name}: ${e.message}\n${JSON.stringify(e.details, null, 2)}`);
  });

function record() {
  const logs = [];
  const progress = [];
  const onLog = (e) => logs.push(e);
  const onProgress = (e) => progress.push(e);
  diffusionServer.on('binary-log', onLog);
  diffusionServer.on('binary-progress', onProgress);
  return { logs, progress, off: () => (diffusionServer.off('binary-log', onLog), diffusionServer.off('binary-progress', onProgress)) };
}

const phaseRuns = (progress, file = 'binary') =>
  progress.filter((e) => e.file === file).map((e) => e.phase).filter((p, i, all) => p !== all[i - 1]);

beforeAll(() => registerModels(api));
afterEach(async () => {
  await diffusionServer.stop();
  process.env.GENAI_BINARY_CATALOG = CATALOG;
});
afterAll(async () => {
  await diffusionServer.stop();
  await host.close();
});

test('a first start provisions sd-server and sd-cli (checksum fallback, phase 2), then a real image', async () => {
  expect(existsSync(path.join(INSTALLED, 'sd-server'))).toBe(false);
  const seen = record();
  await start({ modelId: 'sdxs', port: 'auto', threads: 2 });
  seen.off();
  const paths = host.requests.map((r) => r.path);
  expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${ASSET_DIR}/.*-vulkan\\.zip$`)), expect.stringMatching(new RegExp(`^${ASSET_DIR}/.*x86_64\\.zip$`))]));
  expect(seen.logs.some((e) => e.level !== 'info' && /vulkan/.test(e.message) && /checksum/i.test(e.message))).toBe(true);

  // The cpu variant went through every phase (the vulkan one stopped at verifying).
  const runs = phaseRuns(seen.progress).filter((p) => p !== 'finalizing');
  expect(runs.slice(runs.lastIndexOf('downloading'))).toEqual(['downloading', 'verifying', 'extracting', 'testing', 'installing']);
  const dl = seen.progress.filter((e) => e.phase === 'downloading');
  for (const e of dl) expect(e.downloaded).toBeLessThanOrEqual(e.total);
  const zipBytes = host.archive('diffusion').length;
  expect(dl.at(-1)).toEqual(expect.objectContaining({ downloaded: zipBytes, total: zipBytes }));
  const ex = seen.progress.filter((e) => e.phase === 'extracting' && e.completedEntries !== undefined);
  for (const e of ex) {
    if (e.totalEntries !== undefined) expect(e.completedEntries).toBeLessThanOrEqual(e.totalEntries);
    if (e.writtenBytes !== undefined && e.totalUncompressedBytes !== undefined) expect(e.writtenBytes).toBeLessThanOrEqual(e.totalUncompressedBytes);
  }
  // A zip's entry count is known up front (its central directory): upstream reports it on every event.
  expect(ex.at(-1)).toEqual(expect.objectContaining({ completedEntries: 2, totalEntries: 2 }));
  if (ex.at(-1).writtenBytes !== undefined) expect(ex.at(-1).writtenBytes).toBe(statSync(SD_SERVER).size + statSync(SD_CLI).size);

  // Both executables, upstream's files; sd-server's checksum in .validation.json; nothing left beside.
  expect(readdirSync(BINARIES).filter((name) => name !== 'llama' && name !== 'diffusion')).toEqual([]);
  for (const [name, source] of [['sd-server', SD_SERVER], ['sd-cli', SD_CLI]]) {
    const file = path.join(INSTALLED, name);
    expect([name, sha256(readFileSync(file))]).toEqual([name, sha256(readFileSync(source))]);
    expect(statSync(file).mode & 0o111).toBe(0o111);
  }
  expect(readJson(path.join(INSTALLED, '.variant.json'))).toEqual({ variant: 'cpu', platform: PLATFORM });
  expect(readJson(path.join(INSTALLED, '.deps.json'))).toEqual({ version: 1, dependencies: [] });
  expect(readJson(path.join(INSTALLED, '.validation.json'))).toEqual({
    variant: 'cpu', checksum: sha256(readFileSync(SD_SERVER)), validatedAt: expect.any(String), phase1Passed: true, phase2Passed: true, version: SD_TAG,
  });

  const image = await diffusionServer.generateImage({ prompt: 'a lighthouse', ...SMALL, seed: 1 });
  expect(pngSize(image.image)).toEqual({ width: 64, height: 64 });
}, 180_000); // sd-server loads the 500 MB model twice (phase 2, then the image)

test('a second start reuses both: no request, no test, a real image', async () => {
  host.clearRequests();
  const seen = record();
  await start({ modelId: 'sdxs', port: 'auto', threads: 2 });
  seen.off();
  expect(host.requests).toEqual([]);
  expect(seen.progress.map((e) => e.phase)).not.toContain('testing');
  const image = await diffusionServer.generateImage({ prompt: 'a boat', ...SMALL, seed: 2 });
  expect(pngSize(image.image)).toEqual({ width: 64, height: 64 });
}, 120_000);

test('an sd-server that does not run falls back; all failing → BinaryError with every reason', async () => {
  rmSync(INSTALLED, { recursive: true, force: true });
  process.env.GENAI_BINARY_CATALOG = host.catalog({ diffusion: [{ type: 'vulkan', content: 'broken' }, { type: 'cpu', checksum: WRONG_CHECKSUM }] });
  const err = await diffusionServer.start({ modelId: 'sdxs', port: 'auto' }).catch((e) => e);
  expect(err).toBeInstanceOf(BinaryError);
  expect(err.message).toBe(`Binary error: Failed to download binary. Tried all variants for ${PLATFORM}.`);
  expect(err.details.variants).toEqual([
    { variant: 'vulkan', url: expect.stringMatching(/-vulkan\.zip$/), reason: expect.any(String) },
    { variant: 'cpu', url: expect.stringMatching(/x86_64\.zip$/), reason: expect.stringMatching(/checksum/i) },
  ]);
  expect(diffusionServer.getStatus()).toBe('stopped');
  expect(existsSync(path.join(INSTALLED, 'sd-server'))).toBe(false);

  process.env.GENAI_BINARY_CATALOG = host.catalog({ diffusion: [{ type: 'vulkan', content: 'broken' }, { type: 'cpu' }] });
  const seen = record();
  await start({ modelId: 'sdxs', port: 'auto', threads: 2 });
  seen.off();
  expect(seen.logs.some((e) => e.level !== 'info' && /vulkan/.test(e.message))).toBe(true);
  expect(readJson(path.join(INSTALLED, '.variant.json'))).toEqual({ variant: 'cpu', platform: PLATFORM });
  const image = await diffusionServer.generateImage({ prompt: 'a tree', ...SMALL, seed: 3 });
  expect(pngSize(image.image)).toEqual({ width: 64, height: 64 });
}, 180_000);

test('stop() during a provisioning download cancels it (not after it); the next start resumes the partial', async () => {
  rmSync(INSTALLED, { recursive: true, force: true });
  process.env.GENAI_BINARY_CATALOG = host.catalog({ diffusion: [{ type: 'cpu' }] });
  host.server.setFaults({ stallAfter: 1_000_000, times: 1 });
  host.clearRequests();
  const seen = record();
  const starting = diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 2 }).catch((e) => e);
  await until(() => seen.progress.some((e) => e.phase === 'downloading' && e.downloaded >= 1_000_000), 30_000);
  await diffusionServer.stop();
  const err = await starting;
  seen.off();
  expect(err).toBeInstanceOf(BinaryError);
  expect(err.message).toBe('Binary error: Binary download cancelled');
  expect(diffusionServer.getStatus()).toBe('stopped');
  expect(existsSync(path.join(INSTALLED, 'sd-server'))).toBe(false);
  expect(readdirSync(INSTALLED).some((name) => name.endsWith('.partial'))).toBe(true);
  host.server.setFaults({});
  await start({ modelId: 'sdxs', port: 'auto', threads: 2 });
  expect(host.requests.some((r) => /^bytes=[1-9]\d*-$/.test(r.range ?? ''))).toBe(true);
}, 120_000);
