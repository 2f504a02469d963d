// diffusionServer's HTTP API with a real client (Node's fetch, raw sockets for what fetch will not
// send), on the real sd-server and a real SDXS model (random weights): generations, batches,
// cancel, busy, TTL, a backend killed mid-job, strict validation, the Host/Origin guards.
// sd-server is heavy: few backend starts, small images, no assertion on time.
import os from 'node:os';
import { alive, tempDir, until } from './helpers.mjs';
import { SD_SERVER, SMALL, registerModels, pngSize, rawRequest } from './support/diffusion.mjs';

process.env.GENAI_ELECTRON_USER_DATA = tempDir('genai-diffusion-http-jest-');
process.env.GENAI_SD_SERVER_PATH = SD_SERVER;
const api = await import('../index.js');
const { diffusionServer, DiffusionServerManager } = api;

const ORIGIN = 'http://app.example';
let base;
let port;

beforeAll(async () => {
  await registerModels(api);
  const info = await diffusionServer.start({ modelId: 'sdxs', port: 'auto', threads: 2, usageMode: 'burst', allowedOrigins: [ORIGIN] });
  port = info.port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => diffusionServer.stop());

const post = (body, headers = {}) =>
  fetch(`${base}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const getGeneration = async (id, at = base) => {
  const r = await fetch(`${at}/v1/images/generations/${id}`);
  return { status: r.status, body: await r.json() };
};

/** Polls a generation until it is terminal; every state seen along the way. */
async function pollToEnd(id, at = base) {
  const seen = [];
  await until(async () => {
    const { body } = await getGeneration(id, at);
    seen.push(body);
    return ['complete', 'error', 'cancelled'].includes(body.status);
  }, 60000);
  return { final: seen.at(-1), seen };
}

/** Polls until the generation's progress is in the diffusion stage (the backend is at work). */
const untilDiffusing = (id) => until(async () => (await getGeneration(id)).body.progress?.stage === 'diffusion', 60000);

const health = async () => (await fetch(`${base}/health`)).json();

test('POST → poll → three base64 PNGs with batch progress; busy meanwhile → 503', async () => {
  expect(await health()).toEqual({ status: 'ok', busy: false, backend: 'absent' });
  const r = await post({ prompt: 'three foxes', ...SMALL, seed: 100, count: 3 });
  expect(r.status).toBe(201);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const created = await r.json();
  expect(created).toEqual({ id: expect.stringMatching(/^gen_/), status: 'pending', createdAt: expect.any(Number) });

  const busy = await post({ prompt: 'another', ...SMALL });
  expect(busy.status).toBe(503);
  expect((await busy.json()).error).toEqual(expect.objectContaining({ code: 'SERVER_BUSY' }));
  expect((await health()).busy).toBe(true);

  const { final, seen } = await pollToEnd(created.id);
  expect(final.status).toBe('complete');
  expect(final.result.format).toBe('png');
  expect(final.result.timeTaken).toEqual(expect.any(Number));
  expect(final.result.images.map((i) => i.seed)).toEqual([100, 101, 102]);
  for (const img of final.result.images) {
    expect(pngSize(Buffer.from(img.image, 'base64'))).toEqual({ width: 64, height: 64 });
    expect([img.width, img.height]).toEqual([64, 64]);
  }
  expect(final).not.toHaveProperty('progress'); // progress only while in progress
  const progress = seen.filter((s) => s.status === 'in_progress' && s.progress).map((s) => s.progress);
  expect(progress.length).toBeGreaterThan(0);
  for (const p of progress) expect(p).toEqual(expect.objectContaining({ totalImages: 3, currentImage: expect.any(Number) }));
  const images = progress.map((p) => p.currentImage);
  expect(images).toEqual([...images].sort((a, b) => a - b));
  expect(images.every((n) => n >= 1 && n <= 3)).toBe(true);
  const pcts = progress.map((p) => p.percentage);
  expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
  expect(await health()).toEqual({ status: 'ok', busy: false, backend: 'ready' });
});

test('DELETE mid-way cancels: slot free, the next job works; 409 once complete, 404 unknown', async () => {
  const { id } = await (await post({ prompt: 'long', width: 64, height: 64, steps: 150 })).json();
  await untilDiffusing(id);
  const del = await fetch(`${base}/v1/images/generations/${id}`, { method: 'DELETE' });
  expect(del.status).toBe(200);
  expect(await del.json()).toEqual({ id, status: 'cancelled' });
  expect((await getGeneration(id)).body.status).toBe('cancelled');
  await until(async () => !(await health()).busy, 30000);
  expect(diffusionServer.getActiveGenerationId()).toBeUndefined();

  const next = await (await post({ prompt: 'after', ...SMALL })).json();
  const { final } = await pollToEnd(next.id);
  expect(final.status).toBe('complete');
  const late = await fetch(`${base}/v1/images/generations/${next.id}`, { method: 'DELETE' });
  expect(late.status).toBe(409);
  expect((await late.json()).error.code).toBe('ALREADY_TERMINAL');
  const unknown = await getGeneration('gen_0_unknown');
  expect(unknown).toEqual({ status: 404, body: { error: { message: expect.any(String), code: expect.any(String) } } });
});

test('DELETE while the backend is still loading: cancelled, the backend state settles, the next job works', async () => {
  await diffusionServer.releaseBackend(); // the next job starts a backend
  const { id } = await (await post({ prompt: 'early', ...SMALL })).json();
  await until(async () => (await health()).backend === 'starting', 30000);
  const del = await fetch(`${base}/v1/images/generations/${id}`, { method: 'DELETE' });
  expect(del.status).toBe(200);
  await until(async () => !(await health()).busy, 30000);
  expect((await getGeneration(id)).body.status).toBe('cancelled');
  expect((await health()).backend).toBe('absent'); // not stuck in 'starting'
  const next = await (await post({ prompt: 'after an early cancel', ...SMALL })).json();
  expect((await pollToEnd(next.id)).final.status).toBe('complete');
});

test('sd-server killed mid-job: that job fails with BACKEND_ERROR, the front stays up, the next job gets a new backend', async () => {
  const { id } = await (await post({ prompt: 'doomed', width: 64, height: 64, steps: 150 })).json();
  await untilDiffusing(id);
  const pid = diffusionServer.getPid();
  process.kill(pid, 'SIGKILL');
  const { final } = await pollToEnd(id);
  expect(final.status).toBe('error');
  expect(final.error).toEqual({ message: expect.any(String), code: 'BACKEND_ERROR' });
  expect(await health()).toEqual({ status: 'ok', busy: false, backend: 'absent' });
  expect(await diffusionServer.isHealthy()).toBe(true);

  const next = await (await post({ prompt: 'phoenix', ...SMALL })).json();
  expect((await pollToEnd(next.id)).final.status).toBe('complete');
  expect(diffusionServer.getPid()).not.toBe(pid);
  expect(alive(diffusionServer.getPid())).toBe(true);
});

test('finished results expire after IMAGE_RESULT_TTL_MS → 404', async () => {
  // One backend per userData at a time: the main server's is released first.
  await diffusionServer.releaseBackend();
  process.env.IMAGE_RESULT_TTL_MS = '500';
  const short = new DiffusionServerManager();
  delete process.env.IMAGE_RESULT_TTL_MS;
  const info = await short.start({ modelId: 'sdxs', port: 'auto', threads: 2, usageMode: 'single' });
  const at = `http://127.0.0.1:${info.port}`;
  try {
    const r = await fetch(`${at}/v1/images/generations`, { method: 'POST', body: JSON.stringify({ prompt: 'brief', ...SMALL }) });
    const { id } = await r.json();
    expect((await pollToEnd(id, at)).final.status).toBe('complete');
    await until(async () => (await getGeneration(id, at)).status === 404, 10000);
    expect((await getGeneration(id, at)).body.error.code).toBe('NOT_FOUND');
  } finally {
    await short.stop();
  }
});

test('bad requests → 400 naming the field; an oversized body → 413 unread', async () => {
  const bad = async (body) => {
    const r = await post(body);
    return { status: r.status, error: (await r.json()).error };
  };
  expect(await bad('{"prompt": ')).toEqual({ status: 400, error: { message: 'Malformed JSON request body', code: 'INVALID_REQUEST' } });
  // Upstream's messages where it has them; `field` is an addition.
  expect(await bad({ ...SMALL })).toEqual({ status: 400, error: { message: 'Missing required field: prompt', code: 'INVALID_REQUEST', field: 'prompt' } });
  expect(await bad({ prompt: 'x', count: 6 })).toEqual({ status: 400, error: { message: 'count must be between 1 and 5', code: 'INVALID_REQUEST', field: 'count' } });
  for (const [body, field] of [
    [{ prompt: 'x', colour: 'red' }, 'colour'],
    [{ prompt: 'x', width: 100000 }, 'width'],
    [{ prompt: 'x', steps: 0 }, 'steps'],
    [{ prompt: 'x', cfgScale: -1 }, 'cfgScale'],
    [{ prompt: 'x', width: '64' }, 'width'],
    [{ prompt: 'x', sampler: 'nope' }, 'sampler'],
  ]) {
    const { status, error } = await bad(body);
    expect([status, error.code, error.field]).toEqual([400, 'INVALID_REQUEST', field]);
    expect(error.message).toContain(field);
  }
  // Announced and never sent: the answer comes from the headers alone.
  const r = await rawRequest(port, `POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}`);
  expect(r.status).toBe(413);
  expect(JSON.parse(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  expect((await health()).busy).toBe(false);
});

test('foreign Host or Origin → 403; allowed origin gets CORS; unknown route 404; wrong method 405', async () => {
  const foreign = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: evil.example');
  expect(foreign.status).toBe(403);
  expect(JSON.parse(foreign.body).error.code).toBe('INVALID_HOST');
  expect((await rawRequest(port, `GET /health HTTP/1.1\r\nHost: localhost:${port}`)).status).toBe(200);

  const cross = await post({ prompt: 'x', ...SMALL }, { origin: 'http://evil.example' });
  expect(cross.status).toBe(403);
  expect((await cross.json()).error.code).toBe('INVALID_ORIGIN');
  const read = await fetch(`${base}/health`, { headers: { origin: 'http://evil.example' } });
  expect(read.status).toBe(200);
  expect(read.headers.get('access-control-allow-origin')).toBeNull();
  const allowed = await fetch(`${base}/health`, { headers: { origin: ORIGIN } });
  expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  expect((await fetch(`${base}/v1/images/generations`, { method: 'OPTIONS', headers: { origin: ORIGIN } })).status).toBe(200);

  const missing = await fetch(`${base}/v1/nothing`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toEqual({ error: { message: 'Not found', code: 'NOT_FOUND' } });
  const wrong = await fetch(`${base}/health`, { method: 'PUT' });
  expect(wrong.status).toBe(405);
  expect(wrong.headers.get('allow')).toContain('GET');
  expect((await wrong.json()).error.code).toBe('METHOD_NOT_ALLOWED');
});

// The front binds 127.0.0.1: from an address of this machine that is not loopback, nothing answers.
const external = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
(external ? test : test.skip)(`the front is not reachable on a non-loopback address${external ? ` (${external})` : ' (skipped: this machine has none)'}`, async () => {
  const err = await fetch(`http://${external}:${port}/health`).then(() => 'answered', (e) => e);
  expect(err.message).toBe('fetch failed'); // (an error of Node's realm, not Jest's: no instanceof)
  expect(err.cause?.code).toBe('ECONNREFUSED');
  expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200); // while the front is up
});
