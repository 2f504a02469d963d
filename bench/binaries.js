// Binary provisioning: the real llama-server release-style archive (the llama.cpp layout, a
// .tar.gz with llama-<tag>/llama-server, built from the test asset by __test__/support/
// release-host.mjs) served from loopback, downloaded + verified + extracted + tested (phase 1) +
// installed. genai-electron-rs (`provisionBinary`, pointed at the host by GENAI_BINARY_MIRROR and
// GENAI_BINARY_CATALOG) vs genai-electron 0.26.0's own BinaryManager vs `curl -o` + `sha256sum` +
// `tar xzf`, in the same run: wall time (and the time outside the phase-1 test), peak RSS.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { asset, startReleaseHost } from '../__test__/support/release-host.mjs';
import { LIBS, childEnv, fmt, machine, measure, median, writeSection } from './common.mjs';

const RUNS = Number(process.env.BENCH_RUNS_BINARIES ?? 5);
const host = await startReleaseHost();
const catalogFile = host.catalog({ llama: [{ type: 'cpu' }] });
const variant = JSON.parse(readFileSync(catalogFile, 'utf8')).llamaServer.variants[`${process.platform}-${process.arch}`][0];
const url = variant.url.replace('https://github.com/', host.mirror);
const archiveBytes = host.archive('llama').length;
const unpacked = statSync(asset('GENAI_TEST_LLAMA_SERVER', 'llama-server')).size;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-bin-'));
// genai-electron 0.26.0 installs into <userData>/binaries/llama: the bench's Electron stand-in's.
const upstreamBinaries = path.join(childEnv().GENAI_ELECTRON_USER_DATA, 'binaries');

/** Child-side: time the call, the time spent in phase 'testing', and this process's peak RSS. */
const timed = (call) => `
const { readFileSync: __read } = await import('node:fs');
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(__read('/proc/self/status', 'utf8'))[1]) / 1024;
const baseRss = hwm();
let testingAt, testedAt;
const onProgress = (e) => {
  if (e.phase === 'testing' && testingAt === undefined) testingAt = performance.now();
  if (e.phase === 'installing' && testedAt === undefined) testedAt = performance.now();
};
const t0 = performance.now();
${call}
const seconds = (performance.now() - t0) / 1000;
const testSeconds = testingAt !== undefined && testedAt !== undefined ? (testedAt - testingAt) / 1000 : 0;
console.log(JSON.stringify({ seconds, testSeconds, rssMiB: hwm(), baseRssMiB: baseRss }));`;

const ours = (dir) =>
  measure(LIBS['genai-electron-rs'], timed(`await lib.provisionBinary('llama', { dir: ${JSON.stringify(dir)}, onProgress });`), {
    GENAI_BINARY_MIRROR: host.mirror,
    GENAI_BINARY_CATALOG: catalogFile,
  });

// genai-electron 0.26.0 has no mirror or catalog option (its URLs are BINARY_VERSIONS' fixed
// github.com ones): its own ensureBinaryHelper (what llamaServer.start() calls) is given the same
// catalog entry with the loopback URL.
const theirs = () => {
  rmSync(upstreamBinaries, { recursive: true, force: true });
  const config = { version: 'b9860', variants: { [`${process.platform}-${process.arch}`]: [{ ...variant, url }] } };
  return measure(LIBS['genai-electron@0.26.0'], timed(`lib.llamaServer.on('binary-progress', onProgress);
await lib.llamaServer.ensureBinaryHelper('llama', 'llama-server', ${JSON.stringify(config)});`));
};

/** Runs a command under /usr/bin/time: wall seconds and peak RSS (MiB). */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args]);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd}: ${err}`));
      resolve({ seconds: (performance.now() - t0) / 1000, rssMiB: Number(err.trim().split('\n').pop()) / 1024 });
    });
  });
}

async function tools(dir) {
  const file = path.join(dir, path.basename(url));
  const steps = [await run('curl', ['-s', '-o', file, url]), await run('sha256sum', [file]), await run('tar', ['xzf', file, '-C', dir])];
  return { seconds: steps.reduce((s, r) => s + r.seconds, 0), testSeconds: 0, rssMiB: Math.max(...steps.map((r) => r.rssMiB)) };
}

const candidates = {
  'genai-electron-rs': ours,
  'genai-electron@0.26.0': theirs,
  'curl -o + sha256sum + tar xzf': tools,
};
const results = {};
for (let i = 0; i < RUNS; i++) {
  for (const [name, fn] of Object.entries(candidates)) {
    const dir = mkdtempSync(path.join(tmp, 'run-'));
    (results[name] ??= []).push(await fn(dir));
    rmSync(dir, { recursive: true, force: true });
  }
}
rmSync(upstreamBinaries, { recursive: true, force: true });

const ms = (s) => fmt(s * 1000);
const rows = Object.entries(results).map(([name, rs]) => {
  const total = median(rs.map((r) => r.seconds));
  const noTest = median(rs.map((r) => r.seconds - r.testSeconds));
  const base = rs[0].baseRssMiB === undefined ? '–' : fmt(median(rs.map((r) => r.baseRssMiB)));
  return `| ${name} | ${ms(total)} | ${ms(noTest)} | ${fmt(median(rs.map((r) => r.rssMiB)))} | ${base} |`;
});
const table = [
  `| llama-server archive, ${fmt(archiveBytes / 1024 ** 2)} MiB .tar.gz (${fmt(unpacked / 1024 ** 2)} MiB unpacked), loopback (median of ${RUNS}) | total (ms) | without the phase-1 test (ms) | peak RSS (MiB) | peak RSS after import, before (MiB) |`,
  '|---|---:|---:|---:|---:|',
  ...rows,
].join('\n');
console.log(table);
const build = process.env.BENCH_BUILD ?? 'release';
const note = `Machine: ${machine()}; addon: ${build} build. The archive is a llama.cpp-layout release asset built from the test llama-server (a static CPU build; the real b9860 archives are larger and hold shared libraries), served from memory by Node's http on 127.0.0.1. "total" is download + SHA-256 check + extraction + phase-1 test (\`llama-server --version\`) + install; "without the phase-1 test" subtracts the time from the \`testing\` to the \`installing\` progress event (the tools run no test). Peak RSS is the Node process's VmHWM (the tested child is not counted), or /usr/bin/time's maximum for the largest of the three tools. genai-electron 0.26.0 cannot be pointed at a mirror (its URLs are the github.com ones fixed in BINARY_VERSIONS, with no option or environment variable): it is measured through its own \`llamaServer.ensureBinaryHelper\` — the code \`llamaServer.start()\` runs — given the same catalog entry with the loopback URL. On 2 cores the server and the client share the CPU: compare within a run.`;
writeSection('binary provisioning', `${note}\n\n${table}`);
await host.close();
rmSync(tmp, { recursive: true, force: true });
