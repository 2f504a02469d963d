// The package loads with `import` and with `require` in plain Node, without Electron, and
// exports every name genai-electron exports for what exists so far, with the right kind.
import { jest } from '@jest/globals';
import * as api from '../index.js';
import { ROOT, runNode, tempDir } from './helpers.mjs';
import path from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';

const FUNCTIONS = [
  'getCPUInfo', 'getRecommendedThreads', 'getMemoryInfo', 'estimateVRAM', 'detectGPU',
  'estimateKVBytesPerToken', 'floorContextToGranularity', 'calculateSHA256', 'verifyChecksum',
  'generateId', 'getPlatform', 'getArchitecture', 'getPlatformKey', 'isMac', 'isWindows', 'isLinux',
  'isAppleSilicon', 'ensureDirectory', 'fileExists', 'getFileSize', 'deleteFile', 'moveFile',
  'calculateChecksum', 'formatBytes', 'sanitizeFilename', 'detectReasoningSupport', 'formatErrorForUI',
  'getBinaryPath', 'getModelFilePath', 'getModelDirectory', 'fetchGGUFMetadata', 'fetchLocalGGUFMetadata',
  'getArchField', 'getHuggingFaceURL', 'parseHuggingFaceURL', 'checkHealth', 'waitForHealthy',
  'isServerResponding', 'normalizeHealthHost', 'findFreePort', 'isPortBindable',
];
const CLASSES = [
  'SystemInfo', 'GenaiElectronError', 'ContextConstraintError', 'ModelNotFoundError', 'DownloadError',
  'InsufficientResourcesError', 'ServerError', 'LlamaCalibrationResourceStabilityError', 'PortInUseError',
  'FileSystemError', 'ChecksumError', 'BinaryError', 'ModelManager', 'StorageManager', 'Downloader',
  'LogManager', 'LlamaServerManager', 'ServerManager',
];
const OBJECTS = [
  'systemInfo', 'modelManager', 'llamaServer', 'PATHS', 'REASONING_MODEL_PATTERNS', 'DEFAULT_PORTS', 'DEFAULT_TIMEOUTS',
  'KV_CACHE_BYTES_PER_ELEMENT', 'CONTEXT_GRANULARITY_LADDER',
];

describe('exports', () => {
  test.each(FUNCTIONS)('%s is a function', (name) => {
    expect(typeof api[name]).toBe('function');
  });
  test.each(CLASSES)('%s is a class', (name) => {
    expect(typeof api[name]).toBe('function');
    expect(api[name].prototype).toBeDefined();
    expect(Function.prototype.toString.call(api[name])).toMatch(/^class /);
  });
  test.each(OBJECTS)('%s is an object', (name) => {
    expect(api[name]).not.toBeNull();
    expect(typeof api[name]).toBe('object');
  });
  test('systemInfo is the SystemInfo singleton', () => {
    expect(api.systemInfo).toBeInstanceOf(api.SystemInfo);
    expect(api.SystemInfo.getInstance()).toBe(api.systemInfo);
  });
  test('constants hold upstream values', () => {
    expect(api.DEFAULT_PORTS).toEqual({ llama: 8080, diffusion: 8081 });
    expect(api.DEFAULT_TIMEOUTS).toEqual({ download: 300000, serverStart: 120000, serverStop: 10000, healthCheck: 5000 });
    expect(api.REASONING_MODEL_PATTERNS).toEqual(['qwen3', 'deepseek-r1', 'gpt-oss']);
    expect(api.KV_CACHE_BYTES_PER_ELEMENT.q8_0).toBe(34 / 32);
    expect(api.CONTEXT_GRANULARITY_LADDER.at(-1)).toEqual([Infinity, 4096]);
  });
});

describe('plain Node loading', () => {
  const script = (how) =>
    how === 'import'
      ? `import('genai-electron-rs').then(async (m) => { const c = await m.systemInfo.detect(); console.log(JSON.stringify({ n: Object.keys(m).length, cores: c.cpu.cores, isClass: typeof m.ModelNotFoundError })); })`
      : `const m = require('genai-electron-rs'); m.systemInfo.detect().then((c) => console.log(JSON.stringify({ n: Object.keys(m).length, cores: c.cpu.cores, isClass: typeof m.ModelNotFoundError })));`;

  test.each(['import', 'require'])('%s by package name works without electron installed', (how) => {
    const r = runNode(['-e', script(how)], { env: { GENAI_ELECTRON_USER_DATA: tempDir() } });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.n).toBe(Object.keys(api).length);
    expect(out.cores).toBeGreaterThan(0);
    expect(out.isClass).toBe('function');
  });

  test('import and require give the same singletons in one process', () => {
    const r = runNode(['--input-type=module', '-e', `
      import { createRequire } from 'node:module';
      import * as esm from 'genai-electron-rs';
      const cjs = createRequire(import.meta.url)('genai-electron-rs');
      console.log(esm.systemInfo === cjs.systemInfo && esm.ServerError === cjs.ServerError);`]);
    expect(r.stdout.trim()).toBe('true');
  });
});

describe('userData', () => {
  test('GENAI_ELECTRON_USER_DATA sets PATHS in plain Node', () => {
    const dir = tempDir();
    const r = runNode(['-e', `console.log(JSON.stringify(require('genai-electron-rs').PATHS))`], {
      env: { GENAI_ELECTRON_USER_DATA: dir },
    });
    expect(JSON.parse(r.stdout)).toEqual({
      models: { llm: path.join(dir, 'models', 'llm'), diffusion: path.join(dir, 'models', 'diffusion') },
      binaries: { llama: path.join(dir, 'binaries', 'llama'), diffusion: path.join(dir, 'binaries', 'diffusion') },
      logs: path.join(dir, 'logs'),
      config: path.join(dir, 'config'),
      temp: path.join(dir, 'temp'),
      loras: path.join(dir, 'loras'),
    });
  });

  test('falls back to the OS data folder', () => {
    const home = tempDir();
    const env = { GENAI_ELECTRON_USER_DATA: '', HOME: home, XDG_DATA_HOME: '', APPDATA: '' };
    const r = runNode(['-e', `console.log(require('genai-electron-rs').PATHS.logs)`], { env });
    const base = { darwin: ['Library', 'Application Support'], win32: ['AppData', 'Roaming'] }[process.platform] ?? ['.local', 'share'];
    const expected = path.join(home, ...base, 'genai-electron', 'logs');
    expect(r.stdout.trim()).toBe(expected);
  });

  test("inside Electron's main process it is app.getPath('userData')", () => {
    // A stand-in for the `electron` module (only app.getPath is used) and an Electron version.
    const stubRoot = tempDir();
    const ELECTRON_USER_DATA = path.resolve('/electron/userData'); // C:\electron\userData on Windows
    mkdirSync(path.join(stubRoot, 'electron'));
    writeFileSync(
      path.join(stubRoot, 'electron', 'index.js'),
      `module.exports = { app: { getPath: (n) => n === 'userData' ? ${JSON.stringify(ELECTRON_USER_DATA)} : '/other' } };`,
    );
    const r = runNode(
      ['-e', `Object.defineProperty(process.versions, 'electron', { value: '38.0.0' });
              const m = require('genai-electron-rs');
              console.log(m.PATHS.models.llm, m.getBinaryPath('llama', 'llama-server'), m.getModelDirectory('diffusion', 'x'));`],
      { env: { NODE_PATH: stubRoot, GENAI_ELECTRON_USER_DATA: '' } },
    );
    const exe = process.platform === 'win32' ? '.exe' : '';
    expect(r.stdout.trim().split(' ')).toEqual([
      path.join(ELECTRON_USER_DATA, 'models', 'llm'),
      path.join(ELECTRON_USER_DATA, 'binaries', 'llama', `llama-server${exe}`),
      path.join(ELECTRON_USER_DATA, 'models', 'diffusion', 'x'),
    ]);
  });

  test('ensureDirectories creates every PATHS folder', async () => {
    const dir = tempDir();
    const r = runNode(['-e', `require('genai-electron-rs').ensureDirectories().then(() => console.log('ok'))`], {
      env: { GENAI_ELECTRON_USER_DATA: dir },
    });
    expect(r.stdout.trim()).toBe('ok');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['binaries', 'config', 'logs', 'loras', 'models', 'temp']);
    expect(readdirSync(path.join(dir, 'models')).sort()).toEqual(['diffusion', 'llm']);
  });
});

test('the CLI prints a system report', () => {
  const r = runNode([path.join(ROOT, 'bin', 'genai-electron-rs.js'), 'info', '--json']);
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.cpu.cores).toBeGreaterThan(0);
  expect(report.paths.models.llm).toMatch(/models[\\/]llm$/);
  const human = runNode([path.join(ROOT, 'bin', 'genai-electron-rs.js'), 'info']);
  expect(human.stdout).toMatch(/^CPU: +.+, \d+ logical cores$/m);
  expect(runNode([path.join(ROOT, 'bin', 'genai-electron-rs.js'), 'nope']).status).toBe(2);
});

void jest;

test('index.js exports exactly what index.cjs exports', async () => {
  const { createRequire } = await import('node:module');
  const cjs = createRequire(import.meta.url)('../index.cjs');
  expect(Object.keys(api).sort()).toEqual(Object.keys(cjs).sort());
});
