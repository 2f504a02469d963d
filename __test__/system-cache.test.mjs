// One detection cache for the whole package: systemInfo.clearCache() reaches the detection that
// llamaServer.start() uses for its auto-configuration, and systemInfo then sees the detection
// start() made (on the real llama-server and the real SmolLM2 model).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './helpers.mjs';

const asset = (name, env) => process.env[env]
  || execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model', 'GENAI_TEST_MODEL');
process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-system-cache-jest-');
process.env.GENAI_LLAMA_SERVER_PATH = asset('llama-server', 'GENAI_TEST_LLAMA_SERVER');
const { systemInfo, llamaServer, StorageManager } = await import('../index.js');

const tick = () => new Promise((r) => setTimeout(r, 5)); // detectedAt has millisecond resolution

beforeAll(async () => {
  await StorageManager.getInstance().initialize();
  await StorageManager.getInstance().saveModelMetadata({
    id: 'smollm2', name: 'SmolLM2', type: 'llm', size: statSync(MODEL).size, path: MODEL,
    downloadedAt: new Date().toISOString(), source: { type: 'url', url: 'http://127.0.0.1/x.gguf' },
    ggufMetadata: { architecture: 'llama', block_count: 30, context_length: 8192, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576 },
  });
});
afterAll(() => llamaServer.stop());

test('clearCache() then start(): start() detects anew, and detect() returns that detection', async () => {
  const before = await systemInfo.detect();
  expect(await systemInfo.detect()).toBe(before);
  systemInfo.clearCache();
  await tick();
  const startCalled = new Date().toISOString();
  await llamaServer.start({ modelId: 'smollm2', port: 'auto', threads: 2 });
  const startReturned = new Date().toISOString();
  await tick();
  // No forceRefresh: with a cache of its own, systemInfo would detect now, after start() returned.
  const after = await systemInfo.detect();
  expect(after).not.toBe(before);
  expect(after.detectedAt > before.detectedAt).toBe(true);
  expect(after.detectedAt >= startCalled).toBe(true);
  expect(after.detectedAt <= startReturned).toBe(true);
  expect(await systemInfo.detect()).toBe(after);
});
