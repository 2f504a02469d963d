// Image generation, in one run: (1) five 64×64 images through diffusionServer.generateImage
// (persistent backend) against raw sd-cli run five times on the same model and settings; (2) our
// per-image time over a raw sd-server job on a resident backend; (3) the front under load
// (autocannon) on GET /health and on polling a finished generation, against genai-electron
// 0.26.0's Node front where it can run. Each library runs in a fresh Node process.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { LIBS, ROOT, childEnv, fmt, machine, measure, median, nodeArgs, writeSection } from './common.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const SD_SERVER = asset('sd-server');
const SD_CLI = asset('sd-cli');
const SD_MODEL = asset('sd-model');
const IMAGES = 5;
const W = 64;
const STEPS = 2;
const THREADS = 2;
const UPSTREAM = 'genai-electron@0.26.0';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-diffusion-'));

/** raw sd-cli, one process per image (each loads the model). */
function rawCli() {
  const t0 = performance.now();
  for (let i = 0; i < IMAGES; i++) {
    execFileSync(SD_CLI, ['-m', SD_MODEL, '-p', 'a lighthouse', '-W', `${W}`, '-H', `${W}`, '--steps', `${STEPS}`, '-s', `${42 + i}`, '-t', `${THREADS}`, '-o', path.join(tmp, `cli-${i}.png`)], { stdio: 'ignore' });
  }
  return performance.now() - t0;
}

/** A raw sd-server: load once, then jobs submitted and polled every 20 ms (faster polling takes
 * CPU from sd-server on 2 cores). */
async function rawServerJobs() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(SD_SERVER, ['-m', SD_MODEL, '-t', `${THREADS}`, '--listen-ip', '127.0.0.1', '--listen-port', `${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}/sdcpp/v1`;
  for (;;) {
    try {
      if ((await fetch(`${base}/capabilities`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const times = [];
  for (let i = 0; i < IMAGES; i++) {
    const t0 = performance.now();
    const body = { prompt: 'a lighthouse', width: W, height: W, seed: 42 + i, batch_count: 1, sample_params: { sample_steps: STEPS, guidance: {} } };
    const { id } = await (await fetch(`${base}/img_gen`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).json();
    for (;;) {
      const job = await (await fetch(`${base}/jobs/${id}`)).json();
      if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    times.push(performance.now() - t0);
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return times;
}

// The library's own run: register the model, start the server, IMAGES images in burst mode.
// Both find sd-server under their userData's binaries/diffusion/ (genai-electron provisions it
// there; it is given ours).
const setup = `
const fs = await import('node:fs');
const path = await import('node:path');
fs.mkdirSync(lib.PATHS.binaries.diffusion, { recursive: true });
const bin = path.join(lib.PATHS.binaries.diffusion, 'sd-server');
if (!fs.existsSync(bin)) fs.copyFileSync(${JSON.stringify(SD_SERVER)}, bin);
await lib.StorageManager.getInstance().initialize();
await lib.StorageManager.getInstance().saveModelMetadata({ id: 'sdxs', name: 'sdxs', type: 'diffusion', size: fs.statSync(${JSON.stringify(SD_MODEL)}).size,
  path: ${JSON.stringify(SD_MODEL)}, downloadedAt: 'x', source: { type: 'url', url: 'x' } });
const server = lib.diffusionServer;
const info = await server.start({ modelId: 'sdxs', port: 'auto', threads: ${THREADS}, usageMode: 'burst' });
const hold = setInterval(() => {}, 1000);`;

const imagesBody = `${setup}
const times = [];
const t0 = performance.now();
for (let i = 0; i < ${IMAGES}; i++) {
  const t = performance.now();
  await server.generateImage({ prompt: 'a lighthouse', width: ${W}, height: ${W}, steps: ${STEPS}, seed: 42 + i });
  times.push(performance.now() - t);
}
const total = performance.now() - t0;
await server.stop();
clearInterval(hold);
console.log(JSON.stringify({ total, times }));`;

/** The library's front, serving until stdin closes; prints the port and a finished generation's id. */
const serveBody = `${setup}
const base = 'http://127.0.0.1:' + info.port;
const { id } = await (await fetch(base + '/v1/images/generations', { method: 'POST', body: JSON.stringify({ prompt: 'a lighthouse', width: ${W}, height: ${W}, steps: ${STEPS}, seed: 1 }), headers: { 'content-type': 'application/json' } })).json();
for (;;) {
  const g = await (await fetch(base + '/v1/images/generations/' + id)).json();
  if (g.status === 'complete' || g.status === 'error') break;
  await new Promise((r) => setTimeout(r, 50));
}
console.log(JSON.stringify({ port: info.port, id }));
process.stdin.resume();
process.stdin.on('end', async () => { await server.stop(); clearInterval(hold); process.exit(0); });`;

function serve(entry, env) {
  const child = spawn(process.execPath, nodeArgs(`const lib = await import(${JSON.stringify(entry)}); ${serveBody}`), { env: childEnv(env), stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, ...JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`${entry}: exited ${code} before serving`)));
  });
}

async function load(url) {
  const r = await autocannon({ url, connections: 10, duration: 5, pipelining: 1 });
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

async function frontLoad(name, entry) {
  const env = { GENAI_ELECTRON_USER_DATA: mkdtempSync(path.join(tmp, 'ud-')) };
  const { child, port, id } = await serve(entry, env);
  try {
    return { name, health: await load(`http://127.0.0.1:${port}/health`), poll: await load(`http://127.0.0.1:${port}/v1/images/generations/${id}`) };
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
  }
}

const cli = rawCli();
const rawJobs = await rawServerJobs();
const ours = await measure(LIBS['genai-electron-rs'], imagesBody, { GENAI_ELECTRON_USER_DATA: mkdtempSync(path.join(tmp, 'ud-')) });
let upstream;
try {
  upstream = await measure(LIBS[UPSTREAM], imagesBody, { GENAI_ELECTRON_USER_DATA: mkdtempSync(path.join(tmp, 'ud-')) });
} catch (e) {
  upstream = { error: String(e.message).split('\n').slice(0, 3).join(' ') };
}
const fronts = [await frontLoad('genai-electron-rs', LIBS['genai-electron-rs'])];
try {
  fronts.push(await frontLoad(UPSTREAM, LIBS[UPSTREAM]));
} catch (e) {
  fronts.push({ name: UPSTREAM, error: String(e.message).split('\n')[0] });
}
rmSync(tmp, { recursive: true, force: true });

const p99 = (ms) => (ms < 1 ? '< 1' : String(ms));
const ips = (ms) => (IMAGES / (ms / 1000)).toFixed(2);
const warm = (t) => median(t.slice(1));
const rows = [
  '| | total ms for 5 images | images/s | first image ms | warm image ms (median) |',
  '|---|---|---|---|---|',
  `| raw sd-cli, 5 processes | ${fmt(cli)} | ${ips(cli)} | ${fmt(cli / IMAGES)} | — |`,
  `| raw sd-server job (resident, polled every 20 ms) | — | — | — | ${fmt(median(rawJobs))} |`,
  `| genai-electron-rs generateImage (burst) | ${fmt(ours.total)} | ${ips(ours.total)} | ${fmt(ours.times[0])} | ${fmt(warm(ours.times))} |`,
  upstream.error
    ? `| ${UPSTREAM} | did not run: ${upstream.error} | | | |`
    : `| ${UPSTREAM} generateImage (burst) | ${fmt(upstream.total)} | ${ips(upstream.total)} | ${fmt(upstream.times[0])} | ${fmt(warm(upstream.times))} |`,
];
const loadRows = ['| front | GET /health req/s | p99 ms | GET generation (poll) req/s | p99 ms | errors |', '|---|---|---|---|---|---|'];
for (const f of fronts) {
  loadRows.push(f.error ? `| ${f.name} | did not run: ${f.error} | | | | |` : `| ${f.name} | ${fmt(f.health.rps)} | ${p99(f.health.p99)} | ${fmt(f.poll.rps)} | ${p99(f.poll.p99)} | ${f.health.errors + f.poll.errors} |`);
}
const ok = fronts.filter((f) => !f.error);
const ratio = ok.length === 2 ? `\n\nGET /health: genai-electron-rs serves ${(ok[0].health.rps / ok[1].health.rps).toFixed(2)}× the requests/s of ${UPSTREAM}; polling: ${(ok[0].poll.rps / ok[1].poll.rps).toFixed(2)}×.` : '';
writeSection(
  'Image generation (diffusionServer)',
  `${machine()}; random-weight SDXS test model (scripts/make-sd-model.py), ${W}×${W}, ${STEPS} steps, ${THREADS} threads, sd.cpp from stable-diffusion-cpp-python 0.4.7.

${rows.join('\n')}

Persistent backend vs a process per image: ${(cli / ours.total).toFixed(2)}× faster for 5 images (${(upstream.total / ours.total || NaN).toFixed(2)}× genai-electron 0.26.0's time). Our time per warm image minus a raw sd-server job's: ${fmt(warm(ours.times) - median(rawJobs))} ms (medians; a raw client polling every 20 ms; ours reads the job as soon as sd-server's output says the image is done, upstream polls every 200 ms). Differences of tens of ms are within this machine's run-to-run noise.

Front under load (autocannon, 10 connections, 5 s each, the server in its own process):

${loadRows.join('\n')}${ratio}`,
);
console.log('diffusion: done');
