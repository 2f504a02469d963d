// The small helpers against genai-electron's formulas (written out here as test oracles) and
// against Node's own fs/crypto on real files.
import { createHash } from 'node:crypto';
import { writeFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import * as api from '../index.js';
import { tempDir } from './helpers.mjs';

/** genai-electron's formatBytes formula. */
function oracleFormatBytes(bytes, decimals = 2) {
  if (bytes === 0) return '0 Bytes';
  const k = 1024;
  const dm = decimals < 0 ? 0 : decimals;
  const sizes = ['Bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  const i = Math.floor(Math.log(bytes) / Math.log(k));
  return `${parseFloat((bytes / Math.pow(k, i)).toFixed(dm))} ${sizes[i]}`;
}

/** genai-electron's sanitizeFilename. */
const oracleSanitize = (s) => s.replace(/[<>:"/\\|?*\x00-\x1F]/g, '').replace(/\s+/g, ' ').trim();

test('formatBytes equals the upstream formula on 5000 values', () => {
  const values = [0, 1, 512, 1023, 1024, 1025, 1536, 1152, 1e6, 1e9, 1.5e9, 2 ** 40, 2 ** 50, 2 ** 50 * 1023, -1];
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 5000; i++) values.push(Math.floor(rand() * 2 ** (1 + (i % 52))));
  for (const v of values) {
    for (const d of [0, 1, 2, 3]) expect([v, d, api.formatBytes(v, d)]).toEqual([v, d, oracleFormatBytes(v, d)]);
  }
  expect(api.formatBytes(1536)).toBe('1.5 KB');
  expect(api.formatBytes(-1)).toBe('NaN undefined');
});

test('sanitizeFilename equals the upstream regexes', () => {
  const inputs = ['a<b>c:d"e/f\\g|h?i*j', '  spaced\t\tname \n.gguf  ', 'ctl\x00\x01\x1fchars', 'ünïcödé 名前.gguf',
    '\u00a0nbsp\u3000ideographic\u2028line', 'plain.gguf', ''];
  for (const s of inputs) expect(api.sanitizeFilename(s)).toBe(oracleSanitize(s));
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

test('reasoning detection and platform helpers', () => {
  expect(api.detectReasoningSupport('Qwen3-8B-Q4_K_M.gguf')).toBe(true);
  expect(api.detectReasoningSupport('DeepSeek-R1-Distill.gguf')).toBe(true);
  expect(api.detectReasoningSupport('SmolLM2-135M-Instruct.Q4_1.gguf')).toBe(false);
  expect(api.getPlatform()).toBe(process.platform);
  expect(api.getArchitecture()).toBe(process.arch);
  expect(api.isLinux()).toBe(process.platform === 'linux');
  expect(api.isAppleSilicon()).toBe(process.platform === 'darwin' && process.arch === 'arm64');
  expect(api.getModelFilePath('llm', 'a.gguf')).toBe(path.join(api.PATHS.models.llm, 'a.gguf'));
  expect(api.getBinaryPath('diffusion', 'sd-cli')).toBe(
    path.join(api.PATHS.binaries.diffusion, process.platform === 'win32' ? 'sd-cli.exe' : 'sd-cli'));
});
