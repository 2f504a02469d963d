// Benchmarks (not timed tests): genai-electron-rs next to genai-electron@0.26.0 in the same run.
// Usage: npm run bench   (builds nothing; run `npm run build` first for a release binary)
// Writes bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

// genai-electron imports `electron` at load: give it a stand-in that provides app.getPath,
// through a resolve hook (ESM ignores NODE_PATH).
const stub = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-electron-'));
mkdirSync(path.join(stub, 'electron'));
const stubFile = path.join(stub, 'electron', 'index.mjs');
writeFileSync(stubFile, `export const app = { getPath: () => ${JSON.stringify(stub)} };\n`);
const hooks = path.join(stub, 'hooks.mjs');
writeFileSync(hooks, `export async function resolve(spec, ctx, next) {
  return spec === 'electron' ? { url: ${JSON.stringify(pathToFileURL(stubFile).href)}, shortCircuit: true } : next(spec, ctx);
}\n`);
const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;

const LIBS = {
  'genai-electron-rs': path.join(ROOT, 'index.js'),
  'genai-electron@0.26.0': path.join(ROOT, 'node_modules', 'genai-electron', 'dist', 'index.js'),
};

/** Runs a measurement script in a fresh Node process; it prints one JSON line. */
function measure(entry, body) {
  const script = `const __t0 = performance.now(); const lib = await import(${JSON.stringify(entry)});
const importMs = performance.now() - __t0; ${body}`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script], {
    env: { ...process.env, GENAI_ELECTRON_USER_DATA: stub },
    encoding: 'utf8',
    timeout: 120000,
  });
  if (r.status !== 0) throw new Error(`${entry}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rssMiB = 'process.memoryUsage().rss / 1048576';

const BODY = `
const t1 = performance.now(); await lib.systemInfo.detect(); const coldMs = performance.now() - t1;
const N = 2000; const t2 = performance.now(); for (let i = 0; i < N; i++) await lib.systemInfo.detect();
const cachedUs = (performance.now() - t2) * 1000 / N;
const t3 = performance.now(); for (let i = 0; i < 200; i++) lib.getMemoryInfo(); const memUs = (performance.now() - t3) * 1000 / 200;
console.log(JSON.stringify({ importMs, coldMs, cachedUs, memUs, rss: ${rssMiB} }));`;

const results = {};
for (const [name, entry] of Object.entries(LIBS)) {
  const runs = Array.from({ length: RUNS }, () => measure(entry, BODY));
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
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const table = [
  `| measure (median of ${RUNS} fresh processes) | genai-electron-rs | genai-electron@0.26.0 | ratio (upstream / rs) |`,
  '|---|---:|---:|---:|',
  ...rows.map(([label, k]) => `| ${label} | ${fmt(ours[k])} | ${fmt(theirs[k])} | ${(theirs[k] / ours[k]).toFixed(2)}× |`),
].join('\n');

const machine = `${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}-${process.arch}`;
console.log(table);
const out = path.join(ROOT, 'bench', 'RESULTS.md');
const previous = (() => { try { return readFileSync(out, 'utf8'); } catch { return ''; } })();
const section = `## systemInfo (${new Date().toISOString().slice(0, 10)})\n\nMachine: ${machine}. Ratio > 1 means genai-electron-rs is faster/smaller.\n\n${table}\n`;
const kept = previous.replace(/## systemInfo[\s\S]*?(?=\n## |$)/, '').trim();
writeFileSync(out, `# Benchmarks\n\nRun with \`npm run build && npm run bench\`. Every row is measured in one run, side by side.\n\n${section}${kept.replace(/^# Benchmarks[\s\S]*?(?=\n## |$)/, '')}`);
