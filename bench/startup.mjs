// llama-server startup: time from llamaServer.start() to resolved, against the raw time for the
// same binary, model and flags to first answer /health 200 (polled every 5 ms), in the same run;
// and LogManager.getRecent(100) on a 200 MB log, both libraries.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIBS, ROOT, fmt, machine, measure, median, writeSection } from './common.mjs';

const RUNS = Number(process.env.BENCH_RUNS_STARTUP ?? 7);
const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = asset('model');
const LLAMA = asset('llama-server');
const userData = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-startup-'));

async function rawStart() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const t0 = performance.now();
  const child = spawn(LLAMA, ['-m', MODEL, '--jinja', '--port', String(port), '--threads', '2', '-c', '8192', '-n', '-1', '-ngl', '0', '-np', '1', '-fit', 'off'], { stdio: 'ignore' });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

const startBody = `
const fs = await import('node:fs');
await lib.StorageManager.getInstance().initialize();
await lib.StorageManager.getInstance().saveModelMetadata({ id: 'smol', name: 'smol', type: 'llm', size: fs.statSync(${JSON.stringify(MODEL)}).size,
  path: ${JSON.stringify(MODEL)}, downloadedAt: 'x', source: { type: 'url', url: 'x' },
  ggufMetadata: { architecture: 'llama', block_count: 30, context_length: 8192, attention_head_count: 9, attention_head_count_kv: 3, embedding_length: 576 } });
const t0 = performance.now();
await lib.llamaServer.start({ modelId: 'smol', port: 'auto', threads: 2 });
const ms = performance.now() - t0;
await lib.llamaServer.stop();
console.log(JSON.stringify({ ms }));`;

const raw = [];
const ours = [];
for (let i = 0; i < RUNS; i++) {
  raw.push(await rawStart());
  ours.push((await measure(LIBS['genai-electron-rs'], startBody, { GENAI_ELECTRON_USER_DATA: userData, GENAI_LLAMA_SERVER_PATH: LLAMA })).ms);
}
const overhead = ours.map((o, i) => o - raw[i]);
const startTable = [
  `| llama-server + SmolLM2, start to ready (median of ${RUNS}) | ms |`,
  '|---|---:|',
  `| raw: spawn → first /health 200 (5 ms polling) | ${fmt(median(raw))} |`,
  `| genai-electron-rs: llamaServer.start() → resolved | ${fmt(median(ours))} |`,
  `| overhead (paired difference) | ${fmt(median(overhead))} |`,
  '| genai-electron@0.26.0 | cannot run here: its start() provisions binaries from GitHub |',
].join('\n');

// getRecent(100) on a 200 MB log.
const log = path.join(userData, 'big.log');
const line = `[2026-01-01T00:00:00.000Z] [INFO ] ${'x'.repeat(180)}\n`;
const block = line.repeat(10000);
for (let i = 0; i < 100; i++) appendFileSync(log, block);
const logBody = `const t0 = performance.now(); const lines = await new lib.LogManager(${JSON.stringify(log)}).getRecent(100);
const ms = performance.now() - t0;
const hwm = Number(/VmHWM:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
console.log(JSON.stringify({ ms, n: lines.length, hwm }));`;
const logRows = [];
for (const [name, entry] of Object.entries(LIBS)) {
  const rs = [];
  for (let i = 0; i < 5; i++) rs.push(await measure(entry, logBody));
  logRows.push(`| ${name} | ${fmt(median(rs.map((r) => r.ms)))} | ${fmt(median(rs.map((r) => r.hwm)))} |`);
}
const logTable = [`| getRecent(100) on a ${fmt(statSync(log).size / 1024 ** 2)} MiB log (median of 5) | ms | peak RSS (MiB) |`, '|---|---:|---:|', ...logRows].join('\n');

console.log(`${startTable}\n\n${logTable}`);
writeSection('llama-server startup and logs', `Machine: ${machine()}.\n\n${startTable}\n\n${logTable}`);
rmSync(userData, { recursive: true, force: true });
