// Downloads: a 1.5 GiB file from a loopback HTTP server, genai-electron-rs vs genai-electron's
// Downloader vs `curl -o`, all writing to disk in the same run (throughput, peak RSS); and the
// bytes each library fetches to read a GGUF's metadata remotely.
import { execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFileServer } from '../__test__/support/file-server.mjs';
import { LIBS, ROOT, fmt, machine, measure, median, writeSection } from './common.mjs';

const SIZE = Number(process.env.BENCH_DOWNLOAD_BYTES ?? 1.5 * 1024 ** 3);
const RUNS = Number(process.env.BENCH_RUNS_DOWNLOAD ?? 5);

const server = await startFileServer();
const big = Buffer.allocUnsafe(SIZE);
for (let off = 0; off < SIZE; off += 1 << 26) randomFillSync(big, off, Math.min(1 << 26, SIZE - off));
server.put('/big.bin', big);
const model = execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', 'model'], { encoding: 'utf8' }).trim();
server.put('/model.gguf', readFileSync(model));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-dl-'));

function curl(dest) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', 'curl', '-s', '-o', dest, server.url('/big.bin')]);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl: ${err}`));
      const [kib, user, sys] = err.trim().split('\n').pop().split(' ').map(Number);
      resolve({ seconds: (performance.now() - t0) / 1000, rssMiB: kib / 1024, cpuSeconds: user + sys });
    });
  });
}

const libDownload = (entry, dest) =>
  measure(entry, `
const cpu = () => { const u = process.resourceUsage(); return (u.userCPUTime + u.systemCPUTime) / 1e6; };
const t0 = performance.now();
const c0 = cpu();
await new lib.Downloader().download({ url: ${JSON.stringify(server.url('/big.bin'))}, destination: ${JSON.stringify(dest)} });
const seconds = (performance.now() - t0) / 1000;
const cpuSeconds = cpu() - c0;
// VmHWM: this process image's peak RSS (getrusage's maxRSS carries over the parent's across exec).
const hwm = Number(/VmHWM:\\s+(\\d+)/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]);
console.log(JSON.stringify({ seconds, rssMiB: hwm / 1024, cpuSeconds }));`);

const tools = { 'genai-electron-rs': (d) => libDownload(LIBS['genai-electron-rs'], d), 'genai-electron@0.26.0': (d) => libDownload(LIBS['genai-electron@0.26.0'], d), 'curl -o': curl };
const results = {};
for (let run = 0; run < RUNS; run++) {
  for (const [name, fn] of Object.entries(tools)) {
    const dest = path.join(tmp, `${name.replace(/\W/g, '_')}-${run}.bin`);
    const r = await fn(dest);
    rmSync(dest, { force: true });
    (results[name] ??= []).push(r);
  }
}
const mib = SIZE / 1024 ** 2;
const summary = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, { mibps: median(rs.map((r) => mib / r.seconds)), rss: median(rs.map((r) => r.rssMiB)), cpu: median(rs.map((r) => r.cpuSeconds)) }]));
const rs = summary['genai-electron-rs'];
const dlTable = [
  `| ${fmt(mib / 1024)} GiB over loopback to disk (median of ${RUNS}) | throughput (MiB/s) | vs genai-electron-rs | CPU (s, user + sys) | peak RSS (MiB) |`,
  '|---|---:|---:|---:|---:|',
  ...Object.entries(summary).map(([k, v]) => `| ${k} | ${fmt(v.mibps)} | ${(v.mibps / rs.mibps).toFixed(2)}× | ${fmt(v.cpu)} | ${fmt(v.rss)} |`),
].join('\n');

// Remote GGUF metadata: body bytes the server sent for one fetchGGUFMetadata of SmolLM2.
const metaRows = [];
for (const [name, entry] of Object.entries(LIBS)) {
  server.takeSent();
  await measure(entry, `await lib.fetchGGUFMetadata(${JSON.stringify(server.url('/model.gguf'))}); console.log('{}');`);
  metaRows.push(`| ${name} | ${fmt(server.takeSent() / 1024 ** 2)} |`);
}
const metaTable = ['| fetchGGUFMetadata(SmolLM2-135M, 93.8 MiB, header 1.7 MiB) | MiB sent by the server |', '|---|---:|', ...metaRows].join('\n');

console.log(`${dlTable}\n\n${metaTable}`);
const note = `Machine: ${machine()}. The server is Node's http on 127.0.0.1 serving from memory; every client writes the file to the same disk. genai-electron-rs fsyncs the file before it resolves (curl and genai-electron leave it to the kernel); it hashes only when a checksum is expected (none here). On 2 cores the server and the client share the CPU, so the times follow the machine's load: compare within a run. CPU is the client's, from start to resolve.`;
writeSection('downloads', `${note}\n\n${dlTable}\n\n${metaTable}`);
await server.close();
rmSync(tmp, { recursive: true, force: true });
