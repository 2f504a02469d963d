// systemInfo: import time, detect() cold and cached, getMemoryInfo(), RSS — both libraries.
import { LIBS, fmt, machine, measure, median, writeSection } from './common.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

const BODY = `
const t1 = performance.now(); await lib.systemInfo.detect(); const coldMs = performance.now() - t1;
for (let i = 0; i < 5000; i++) await lib.systemInfo.detect(); // warm-up: measure the JIT-compiled path
const N = 100000; const t2 = performance.now(); for (let i = 0; i < N; i++) await lib.systemInfo.detect();
const cachedUs = (performance.now() - t2) * 1000 / N;
const t3 = performance.now(); for (let i = 0; i < 200; i++) lib.getMemoryInfo(); const memUs = (performance.now() - t3) * 1000 / 200;
console.log(JSON.stringify({ importMs, coldMs, cachedUs, memUs, rss: process.memoryUsage().rss / 1048576 }));`;

const results = {};
for (const [name, entry] of Object.entries(LIBS)) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await measure(entry, BODY));
  results[name] = Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]));
}
const [ours, theirs] = Object.values(results);
const rows = [
  ['import time (ms)', 'importMs'],
  ['detect() cold (ms)', 'coldMs'],
  ['detect() cached (µs/call)', 'cachedUs'],
  ['getMemoryInfo() (µs/call)', 'memUs'],
  ['RSS after the above (MiB)', 'rss'],
];
const table = [
  `| measure (median of ${RUNS} fresh processes) | genai-electron-rs | genai-electron@0.26.0 | ratio (upstream / rs) |`,
  '|---|---:|---:|---:|',
  ...rows.map(([label, k]) => `| ${label} | ${fmt(ours[k])} | ${fmt(theirs[k])} | ${(theirs[k] / ours[k]).toFixed(2)}× |`),
].join('\n');
console.log(table);
writeSection('systemInfo', `Machine: ${machine()}. Ratio > 1 means genai-electron-rs is faster/smaller.\n\n${table}`);
