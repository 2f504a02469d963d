// The small helpers against genai-electron 0.26's own code (its modules that need no Electron,
// imported from node_modules) and against Node's own fs/crypto on real files.
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { alive, tempDir, until } from './helpers.mjs';
import * as upFiles from '../node_modules/genai-electron/dist/utils/file-utils.js';
import * as upPlatform from '../node_modules/genai-electron/dist/utils/platform-utils.js';
import * as upDefaults from '../node_modules/genai-electron/dist/config/defaults.js';
import * as upKv from '../node_modules/genai-electron/dist/utils/kv-cache-math.js';
import * as upReasoning from '../node_modules/genai-electron/dist/config/reasoning-models.js';

// This file's own userData, set before the package is loaded, so that paths have known values.
const USER_DATA = tempDir('genai-helpers-jest-');
process.env.GENAI_ELECTRON_USER_DATA = USER_DATA;
const api = await import('../index.js');

test('formatBytes equals upstream on 5000 values, and defaults to 2 decimals', () => {
  const values = [0, 1, 512, 1023, 1024, 1025, 1536, 1152, 1e6, 1e9, 1.5e9, 2 ** 40, 2 ** 50, 2 ** 50 * 1023, -1];
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 5000; i++) values.push(Math.floor(rand() * 2 ** (1 + (i % 52))));
  for (const v of values) {
    for (const d of [0, 1, 2, 3]) expect([v, d, api.formatBytes(v, d)]).toEqual([v, d, upFiles.formatBytes(v, d)]);
    expect([v, api.formatBytes(v)]).toEqual([v, upFiles.formatBytes(v)]);
  }
  expect(api.formatBytes(1536)).toBe('1.5 KB');
  expect(api.formatBytes(1234567)).toBe('1.18 MB'); // 2 decimals when none are given
  expect(api.formatBytes(-1)).toBe('NaN undefined');
});

test('sanitizeFilename equals upstream', () => {
  const inputs = ['a<b>c:d"e/f\\g|h?i*j', '  spaced\t\tname \n.gguf  ', 'ctl\x00\x01\x1fchars', 'ünïcödé 名前.gguf',
    '\u00a0nbsp\u3000ideographic\u2028line', 'plain.gguf', ''];
  for (const s of inputs) expect(api.sanitizeFilename(s)).toBe(upFiles.sanitizeFilename(s));
  expect(api.sanitizeFilename(' a<b> \t c ')).toBe('ab c');
});

test('exported constants equal upstream\'s, frozen, in its shapes and key order', () => {
  const pairs = [
    ['DEFAULT_PORTS', upDefaults.DEFAULT_PORTS],
    ['DEFAULT_TIMEOUTS', upDefaults.DEFAULT_TIMEOUTS],
    ['KV_CACHE_BYTES_PER_ELEMENT', upKv.KV_CACHE_BYTES_PER_ELEMENT],
    ['CONTEXT_GRANULARITY_LADDER', upKv.CONTEXT_GRANULARITY_LADDER],
    ['REASONING_MODEL_PATTERNS', upReasoning.REASONING_MODEL_PATTERNS],
  ];
  for (const [name, upstream] of pairs) {
    const ours = api[name];
    expect([name, ours]).toEqual([name, upstream]);
    expect([name, Object.keys(ours)]).toEqual([name, Object.keys(upstream)]);
    expect([name, Object.isFrozen(ours)]).toEqual([name, true]);
    expect([name, Array.isArray(ours)]).toEqual([name, Array.isArray(upstream)]);
  }
  // Infinity is a number here (JSON could not carry it), and each rung is frozen too.
  expect(api.CONTEXT_GRANULARITY_LADDER.at(-1)).toEqual([Infinity, 4096]);
  expect(api.CONTEXT_GRANULARITY_LADDER.every((rung) => Object.isFrozen(rung) && rung instanceof Array)).toBe(true);
  expect(api.REASONING_MODEL_PATTERNS).toBeInstanceOf(Array);
  expect(api.DEFAULT_TIMEOUTS.serverStart).toBe(120000);
});

test('checksums match node:crypto on a real file, with and without the sha256: prefix', async () => {
  const file = path.join(tempDir(), 'blob.bin');
  const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  writeFileSync(file, data);
  const expected = createHash('sha256').update(data).digest('hex');
  expect(await api.calculateChecksum(file)).toBe(expected);
  expect(await api.calculateSHA256(file)).toBe(expected);
  expect(await api.verifyChecksum(file, `sha256:${expected}`)).toBe(true);
  expect(await api.verifyChecksum(file, expected.replace(/^./, (c) => (c === '0' ? '1' : '0')))).toBe(false);
  await expect(api.calculateChecksum(file + '.missing')).rejects.toThrow(/^File system error: Failed to calculate checksum: /);
});

test('file helpers on real files', async () => {
  const dir = tempDir();
  const nested = path.join(dir, 'a', 'b', 'c');
  await api.ensureDirectory(nested);
  expect(existsSync(nested)).toBe(true);
  const f = path.join(nested, 'f.txt');
  writeFileSync(f, 'hello');
  expect(await api.fileExists(f)).toBe(true);
  expect(await api.getFileSize(f)).toBe(5);
  const g = path.join(dir, 'g.txt');
  await api.moveFile(f, g);
  expect(await api.fileExists(f)).toBe(false);
  await api.deleteFile(g);
  expect(await api.fileExists(g)).toBe(false);
  // ensureDirectory on a path below a file fails with upstream's message
  writeFileSync(path.join(dir, 'file'), '');
  await expect(api.ensureDirectory(path.join(dir, 'file', 'sub'))).rejects.toMatchObject({
    name: 'FileSystemError',
    message: `File system error: Failed to create directory: ${path.join(dir, 'file', 'sub')}`,
  });
  mkdirSync(path.join(dir, 'x'));
});

test('generateId: gen_<ms>_<9 base-36>, unique', () => {
  const before = Date.now();
  const ids = new Set(Array.from({ length: 1000 }, () => api.generateId()));
  expect(ids.size).toBe(1000);
  for (const id of ids) {
    const m = /^gen_(\d+)_([0-9a-z]{9})$/.exec(id);
    expect(m).not.toBeNull();
    expect(Number(m[1])).toBeGreaterThanOrEqual(before);
    expect(Number(m[1])).toBeLessThanOrEqual(Date.now());
  }
});

test('reasoning detection equals upstream', () => {
  const names = ['Qwen3-8B-Q4_K_M.gguf', 'DeepSeek-R1-Distill.gguf', 'gpt-oss-20b.gguf', 'QWEN3.gguf', 'qwen2.5-7b.gguf',
    'SmolLM2-135M-Instruct.Q4_1.gguf', 'deepseek-v3.gguf', ''];
  for (const n of names) expect([n, api.detectReasoningSupport(n)]).toEqual([n, upReasoning.detectReasoningSupport(n)]);
  expect(api.detectReasoningSupport('Qwen3-8B-Q4_K_M.gguf')).toBe(true);
  expect(api.detectReasoningSupport('DeepSeek-R1-Distill.gguf')).toBe(true);
  expect(api.detectReasoningSupport('SmolLM2-135M-Instruct.Q4_1.gguf')).toBe(false);
});

test('platform helpers equal upstream on every platform and architecture', () => {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform');
  const arch = Object.getOwnPropertyDescriptor(process, 'arch');
  const helpers = ['getPlatform', 'getArchitecture', 'isMac', 'isWindows', 'isLinux', 'isAppleSilicon'];
  const seen = new Set();
  try {
    for (const p of ['darwin', 'win32', 'linux', 'freebsd']) {
      for (const a of ['arm64', 'x64', 'ia32']) {
        Object.defineProperty(process, 'platform', { value: p, configurable: true });
        Object.defineProperty(process, 'arch', { value: a, configurable: true });
        for (const h of helpers) {
          expect([p, a, h, api[h]()]).toEqual([p, a, h, upPlatform[h]()]);
          seen.add(`${h}:${api[h]()}`);
        }
      }
    }
  } finally {
    for (const [key, d] of [['platform', platform], ['arch', arch]]) {
      if (d) Object.defineProperty(process, key, d);
      else delete process[key]; // it was inherited
    }
  }
  expect(seen).toContain('isAppleSilicon:true');
  expect(seen).toContain('isWindows:true');
  // getPlatformKey is the build's own platform (native), as upstream on a supported one.
  const key = `${process.platform}-${process.arch}`;
  if (['darwin-arm64', 'darwin-x64', 'win32-x64', 'linux-x64'].includes(key)) expect(api.getPlatformKey()).toBe(key);
});

test('paths under userData, as upstream lays them out', () => {
  const exe = process.platform === 'win32' ? '.exe' : '';
  expect(api.PATHS.models.llm).toBe(path.join(USER_DATA, 'models', 'llm'));
  expect(api.getModelFilePath('llm', 'a.gguf')).toBe(path.join(USER_DATA, 'models', 'llm', 'a.gguf'));
  expect(api.getModelDirectory('diffusion', 'sdxl')).toBe(path.join(USER_DATA, 'models', 'diffusion', 'sdxl'));
  expect(api.getBinaryPath('diffusion', 'sd-cli')).toBe(path.join(USER_DATA, 'binaries', 'diffusion', `sd-cli${exe}`));
  expect(api.getBinaryPath('llama', 'llama-server')).toBe(path.join(USER_DATA, 'binaries', 'llama', `llama-server${exe}`));
});

// The test helper that the process tests rely on: it must see a zombie as dead, or the orphan
// tests pass without testing anything.
(process.platform === 'win32' ? test.skip : test)('alive(): live, zombie and gone processes (needs sh: skipped on Windows)', async () => {
  expect(alive(process.pid)).toBe(true);
  // `sleep 0` exits at once; its parent execs into `sleep 10`, which never reaps it: a zombie.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  parent.stdout.on('data', (d) => (out += d));
  try {
    await until(() => /^\d+\n/.test(out), 5000);
    const zombie = Number(out.trim());
    expect(alive(parent.pid)).toBe(true);
    await until(() => !alive(zombie), 5000);
    expect(() => process.kill(zombie, 0)).not.toThrow(); // still signalable: the zombie path decided
  } finally {
    parent.kill('SIGKILL');
  }
  await new Promise((r) => (parent.exitCode !== null || parent.signalCode !== null ? r() : parent.once('exit', r)));
  expect(alive(parent.pid)).toBe(false); // reaped by Node: gone
});
