// Server plumbing through the public API: LogManager on real files (including a 200 MB log),
// health probes against a real HTTP server, ports.
import http from 'node:http';
import net from 'node:net';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers.mjs';
import * as api from '../index.js';

const { LogManager, checkHealth, waitForHealthy, isServerResponding, normalizeHealthHost, findFreePort, isPortBindable, ServerError } = api;

describe('LogManager', () => {
  test('writes upstream lines, parses them, clears', async () => {
    const file = path.join(tempDir(), 'logs', 'llama-server.log');
    const log = new LogManager(file);
    await log.initialize();
    await log.write('Starting llama-server on port 8080');
    await log.write('slot busy', 'warn');
    const lines = await log.getRecent(10);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] \[INFO \] Starting llama-server on port 8080$/);
    expect(LogManager.parseEntry(lines[1])).toEqual({ timestamp: expect.any(String), level: 'warn', message: 'slot busy' });
    expect(LogManager.parseEntry('garbage')).toBeNull();
    expect(log.getLogPath()).toBe(file);
    await log.clear();
    expect(await log.getRecent()).toEqual([]);
  });

  test('rotates at the size limit, keeping maxArchives archives', async () => {
    const file = path.join(tempDir(), 'x.log');
    const log = new LogManager(file, { maxFileSize: 1000, maxArchives: 2 });
    await log.initialize();
    for (let i = 0; i < 60; i++) await log.write(`message ${i} ${'.'.repeat(50)}`);
    expect(statSync(file).size).toBeLessThanOrEqual(1000);
    expect(existsSync(`${file}.1`) && existsSync(`${file}.2`)).toBe(true);
    expect(existsSync(`${file}.3`)).toBe(false);
    expect((await log.getRecent(1))[0]).toContain('message 59');
  });

  test('getRecent(100) on a 200 MB log returns the last 100 lines', async () => {
    const file = path.join(tempDir(), 'big.log');
    const line = `[2026-01-01T00:00:00.000Z] [INFO ] ${'x'.repeat(180)}\n`;
    const block = line.repeat(10000); // ~2 MB
    for (let i = 0; i < 100; i++) appendFileSync(file, block);
    appendFileSync(file, Array.from({ length: 100 }, (_, i) => `[2026-01-02T00:00:00.000Z] [INFO ] tail ${i}\n`).join(''));
    expect(statSync(file).size).toBeGreaterThan(200_000_000);
    const last = await new LogManager(file).getRecent(100);
    expect(last).toHaveLength(100);
    expect(last[0]).toMatch(/tail 0$/);
    expect(last[99]).toMatch(/tail 99$/);
  });
});

describe('health and ports', () => {
  let server;
  let port;
  let health = { code: 503, body: '{"error":{"code":503,"message":"Loading model"}}' };
  beforeAll(async () => {
    server = http.createServer((req, res) => res.writeHead(health.code, { 'content-type': 'application/json' }).end(health.body));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    port = server.address().port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  test('checkHealth maps llama-server answers like upstream', async () => {
    expect(await checkHealth(port)).toEqual({ status: 'error' }); // 503 while loading
    health = { code: 200, body: '{"status":"ok"}' };
    expect(await checkHealth(port)).toEqual({ status: 'ok' });
    expect(await isServerResponding(port)).toBe(true);
    const closed = await findFreePort();
    expect(await checkHealth(closed, 500)).toEqual({ status: 'unknown' });
    expect(await isServerResponding(closed, 500)).toBe(false);
  });

  test('waitForHealthy: resolves when ready, times out with a ServerError, stops on abort', async () => {
    health = { code: 503, body: '{}' };
    setTimeout(() => (health = { code: 200, body: '{"status":"ok"}' }), 300);
    await expect(waitForHealthy(port, 5000)).resolves.toBeUndefined();
    const closed = await findFreePort();
    const err = await waitForHealthy(closed, 400).catch((e) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect(err.message).toMatch(/^Server error: Server health check timeout after 400ms \(\d+ attempts\)$/);
    expect(err.details).toEqual(expect.objectContaining({ port: closed, timeout: 400 }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user stop')), 100);
    await expect(waitForHealthy(closed, 10000, 100, 2000, '127.0.0.1', ac.signal)).rejects.toThrow('user stop');
  });

  test('ports', async () => {
    const free = await findFreePort();
    expect(await isPortBindable(free)).toBe(true);
    const holder = net.createServer();
    await new Promise((r) => holder.listen(free, '127.0.0.1', r));
    expect(await isPortBindable(free)).toBe(false);
    await new Promise((r) => holder.close(r));
    expect(normalizeHealthHost('0.0.0.0')).toBe('127.0.0.1');
    expect(normalizeHealthHost('::')).toBe('::1');
    expect(normalizeHealthHost()).toBe('127.0.0.1');
    expect(await checkHealth(70000)).toEqual({ status: 'unknown' }); // never throws
    await expect(waitForHealthy(70000, 100)).rejects.toThrow(/Invalid port: 70000/);
  });
});

