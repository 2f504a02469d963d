// Every genai-electron 0.26.0 value export this project implements exists at runtime, with the
// same kind, in ESM (index.js) and CJS (index.cjs) alike; constants deep-equal upstream's, read
// from genai-electron itself (imported with a stand-in for Electron's `app`, its only use of
// Electron at load). The list comes from upstream's dist/index.d.ts (scripts/upstream-exports.mjs).
import { jest } from '@jest/globals';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, runNode, tempDir } from './helpers.mjs';
import { upstreamExports } from '../scripts/upstream-exports.mjs';

const userData = tempDir('genai-exports-jest-');
process.env.GENAI_ELECTRON_USER_DATA = userData;
jest.unstable_mockModule('electron', () => ({ app: { getPath: () => userData } }), { virtual: true });
const upstream = await import('genai-electron');
const esm = await import('../index.js');
const cjs = createRequire(import.meta.url)('../index.cjs');
const notImplemented = JSON.parse(readFileSync(path.join(ROOT, '__test__/types/not-implemented.json'), 'utf8'));

const all = upstreamExports();
const values = all.filter((e) => e.kind !== 'type' && !(e.name in notImplemented));
const isClass = (v) => typeof v === 'function' && /^class\b/.test(Function.prototype.toString.call(v));
/** Singletons are instances of an exported class; everything else of kind 'const' is data. */
const isInstance = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) !== Object.prototype && !Array.isArray(v);

test('the list is upstream\'s: 0.26.0\'s runtime exports are the value exports of its typings', () => {
  expect(Object.keys(upstream).sort()).toEqual(all.filter((e) => e.kind !== 'type').map((e) => e.name).sort());
  expect(values.length).toBeGreaterThan(70);
  // Only calibration is missing at runtime.
  expect(all.filter((e) => e.kind !== 'type' && e.name in notImplemented).map((e) => e.name).sort()).toEqual([
    'DIFFUSION_CALIBRATION_DEFAULTS',
    'LLAMA_CALIBRATION_DEFAULTS',
  ]);
});

test('scripts/check-surface.mjs: every upstream export implemented or listed, README and the generated checks current', () => {
  const r = runNode([path.join(ROOT, 'scripts/check-surface.mjs')]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

describe.each([
  ['ESM', esm],
  ['CJS', cjs],
])('%s', (_, api) => {
  test.each(values.map((e) => [e.name, e.kind]))('%s is a %s, as upstream\'s', (name, kind) => {
    const ours = api[name];
    expect(ours).toBeDefined();
    if (kind === 'class') expect(isClass(ours)).toBe(true);
    else if (kind === 'function') expect([typeof ours, isClass(ours)]).toEqual(['function', false]);
    else expect(typeof ours).toBe(typeof upstream[name]);
    expect(isClass(upstream[name])).toBe(kind === 'class');
    expect(ours).toBe(esm[name]); // one object whichever way it is loaded
  });
});

test.each(values.filter((e) => e.kind === 'const' && !isInstance(upstream[e.name])).map((e) => [e.name]))(
  'constant %s deep-equals upstream\'s',
  (name) => {
    expect(esm[name]).toEqual(upstream[name]);
  },
);

test('the singletons are instances of the exported classes', () => {
  const singles = values.filter((e) => e.kind === 'const' && isInstance(upstream[e.name])).map((e) => e.name).sort();
  expect(singles).toEqual(['diffusionServer', 'llamaServer', 'modelManager', 'systemInfo']);
  expect(esm.llamaServer).toBeInstanceOf(esm.LlamaServerManager);
  expect(esm.diffusionServer).toBeInstanceOf(esm.DiffusionServerManager);
  expect(esm.modelManager).toBe(esm.ModelManager.getInstance());
  expect(esm.systemInfo).toBe(esm.SystemInfo.getInstance());
  for (const server of [esm.llamaServer, esm.diffusionServer]) expect(server).toBeInstanceOf(esm.ServerManager);
});

/** A subclass as one is written against upstream's ServerManager: start/stop only, state in the protected fields. */
const echoOf = (Base) =>
  class EchoServerManager extends Base {
    async start(config) {
      this.validateConfigFields(config, new Set(['modelId', 'port']), 'echo');
      this.setStatus('starting');
      try {
        await this.checkPortAvailability(config.port, 500);
        await this.initializeLogManager(`echo-${Base === esm.ServerManager ? 'rs' : 'up'}.log`, `starting ${config.modelId}`);
        Object.assign(this, { _config: config, _port: config.port, _pid: process.pid, _startedAt: new Date() });
        this.setStatus('running');
        return this.getInfo();
      } catch (error) {
        return this.handleStartupError('echo', error);
      }
    }

    async stop() {
      this._pid = undefined;
      this.setStatus('stopped');
    }
  };

/** What a user of the subclass sees, step by step (log paths and times left out). */
async function observe(Echo, port) {
  const seen = [];
  const echo = new Echo();
  const info = () => ({ ...echo.getInfo(), startedAt: typeof echo.getInfo().startedAt });
  echo.on('status', (s, old) => seen.push(`${old}->${s}`));
  echo.on('restarted', (i) => seen.push(['restarted', i.status]));
  seen.push(info(), echo.getConfig(), echo.getLogPath(), await echo.getLogs());
  seen.push(await echo.restart().catch((e) => [e.name, e.message, e.details]));
  seen.push(await echo.start({ modelId: 'm', port }).then((i) => ({ ...i, startedAt: typeof i.startedAt })));
  seen.push(info(), echo.getConfig(), [echo.isRunning(), echo.getStatus(), echo.getPort(), echo.getPid()]);
  seen.push(path.dirname(echo.getLogPath()), (await echo.getLogs()).some((l) => l.includes('starting m')));
  seen.push((await echo.getStructuredLogs()).map((e) => [e.level, e.message]));
  await echo.restart();
  await echo.clearLogs();
  seen.push(await echo.getLogs());
  seen.push(await new Echo().start({ modelId: 'm', nope: 1 }).catch((e) => [e.name, e.message, e.details]));
  await echo.stop();
  seen.push(info());
  return seen;
}

test('ServerManager as upstream: a subclass behaves step by step as the same subclass of upstream\'s', async () => {
  const port = await esm.findFreePort();
  const ours = await observe(echoOf(esm.ServerManager), port);
  const theirs = await observe(echoOf(upstream.ServerManager), port);
  expect(ours).toEqual(theirs);
  expect(ours[0]).toEqual({ status: 'stopped', health: 'unknown', pid: undefined, port: 0, modelId: '', startedAt: 'undefined' });
  expect(ours).toContainEqual({ status: 'running', health: 'unknown', pid: process.pid, port, modelId: 'm', startedAt: 'string' });
  expect(ours).toContainEqual(['restarted', 'running']);
  expect(ours).toContainEqual(esm.PATHS.logs);
  expect(ours.filter((x) => x === 'starting->running')).toHaveLength(2);
});
