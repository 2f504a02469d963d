// Shared by the diffusionServer tests: the real sd-server and the real test model (a random-weight
// SDXS GGUF that sd.cpp loads), their registration in a temp userData, and PNG/HTTP helpers.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers.mjs';

/** `$GENAI_TEST_<VAR>` (scripts/test.sh exports them), else scripts/assets.sh builds/caches it. */
function asset(variable, name) {
  if (process.env[variable]) return process.env[variable];
  return execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
}

export const SD_SERVER = asset('GENAI_TEST_SD_SERVER', 'sd-server');
export const SD_MODEL = asset('GENAI_TEST_SD_MODEL', 'sd-model');

/** Small and quick: the model is random, the size is what is checked. */
export const SMALL = Object.freeze({ width: 64, height: 64, steps: 2 });

/** Registers the diffusion model as `sdxs` and an LLM entry as `smol`, as modelManager would. */
export async function registerModels(api) {
  const storage = api.StorageManager.getInstance();
  await storage.initialize();
  const common = { size: statSync(SD_MODEL).size, path: SD_MODEL, downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/model.gguf' } };
  await storage.saveModelMetadata({ id: 'sdxs', name: 'SDXS (random weights)', type: 'diffusion', ...common });
  await storage.saveModelMetadata({ id: 'smol', name: 'An LLM', type: 'llm', ...common });
}

/** The PNG's size from its IHDR chunk; throws when `buf` is not a PNG. */
export function pngSize(buf) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (!Buffer.from(buf.subarray(0, 8)).equals(signature)) throw new Error('not a PNG signature');
  if (buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error('no IHDR chunk first');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/** `onProgress` calls as `{step, steps, stage, pct}`; `check()` asserts upstream's rules. */
export function progressRecorder() {
  const calls = [];
  const onProgress = (step, steps, stage, pct) => calls.push({ step, steps, stage, pct });
  return { calls, onProgress };
}

const STAGES = ['loading', 'diffusion', 'decoding'];

/** Stages never go back, percentages never go down, 100 exactly once and last. */
export function expectProgressRules(calls, { loading = true } = {}) {
  expect(calls.length).toBeGreaterThan(0);
  const order = calls.map((c) => STAGES.indexOf(c.stage));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect(order).toEqual([...order].sort((a, b) => a - b));
  const seen = [...new Set(calls.map((c) => c.stage))];
  expect(seen).toEqual(loading ? STAGES : expect.arrayContaining(['diffusion', 'decoding']));
  const pcts = calls.map((c) => c.pct);
  expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
  expect(pcts.filter((p) => p === 100)).toHaveLength(1);
  expect(pcts.at(-1)).toBe(100);
  expect(pcts.slice(0, -1).every((p) => p <= 99)).toBe(true);
}

/**
 * A raw HTTP/1.1 exchange on 127.0.0.1 (Host headers and Content-Lengths no fetch would send): the
 * status code and the body of the answer. `head` is the request line and headers.
 */
export function rawRequest(port, head) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    sock.setEncoding('latin1');
    sock.on('data', (d) => (data += d));
    sock.on('error', (err) => (data ? finish() : reject(err))); // a reset after the answer is fine
    sock.on('end', finish);
    function finish() {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4), raw: data });
    }
    // No half-close: the server closes after its answer (`Connection: close`).
    sock.write(`${head}\r\nConnection: close\r\n\r\n`);
  });
}
