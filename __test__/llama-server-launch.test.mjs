// genai-electron-rs/llama-server-launch, the Electron-free entry: the same values as genai-electron
// 0.26.0's `genai-electron/llama-server-launch`, compared with upstream's own functions where they
// are pure (argv, V-cache rule, hosts, /props parsing against a real HTTP server), and the runner on
// the real llama-server and SmolLM2.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as upstream from 'genai-electron/llama-server-launch';
import * as launch from '../llama-server-launch.js';
import * as main from '../index.js';
import { ROOT, alive, runNode } from './helpers.mjs';

const asset = (name) => execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
const MODEL = process.env.GENAI_TEST_MODEL || asset('model');
const LLAMA = process.env.GENAI_TEST_LLAMA_SERVER || asset('llama-server');

/** The live llama-server children of this process (Linux: from /proc). */
function llamaChildren() {
  if (process.platform !== 'linux') return [];
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return fields[1] === String(process.pid) && fields[0] !== 'Z' && stat.includes('(llama-server)');
    } catch {
      return false;
    }
  });
}

/** A thrown error's observable parts. */
function thrown(fn) {
  try {
    fn();
  } catch (err) {
    return { name: err.name, message: err.message, code: err.code, details: err.details };
  }
  throw new Error('did not throw');
}

async function rejected(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('did not reject');
}

test('the entry exports exactly upstream\'s names, with the main entry\'s own helpers and classes', () => {
  expect(Object.keys(launch).sort()).toEqual(Object.keys(upstream).sort());
  for (const name of ['checkHealth', 'waitForHealthy', 'isServerResponding', 'normalizeHealthHost', 'findFreePort', 'isPortBindable',
    'GenaiElectronError', 'ServerError', 'ContextConstraintError', 'PortInUseError']) {
    expect(launch[name]).toBe(main[name]);
  }
  // The type-level twin of this list: upstream's `export type { … }` names are all checked in
  // __test__/types/launch-equivalence.ts.
  const upTypes = readFileSync(path.join(ROOT, 'node_modules/genai-electron/dist/llama-server-launch.d.ts'), 'utf8')
    .match(/export type \{([^}]*)\}/g).flatMap((m) => m.slice(13, -1).split(',')).map((s) => s.trim()).filter(Boolean);
  const checked = readFileSync(path.join(ROOT, '__test__/types/launch-equivalence.ts'), 'utf8');
  expect(upTypes.length).toBeGreaterThan(10);
  for (const name of upTypes) expect(checked).toContain(`Equals<Up.${name}, Rs.${name}>`);
});

test('plain Node loads the subpath (CJS and ESM) without Electron', () => {
  const guard = "const M=require('node:module');const l=M._load;M._load=function(r,...a){if(r==='electron')throw new Error('electron loaded');return l.call(this,r,...a)};";
  const cjs = runNode(['-e', `${guard}const m=require('genai-electron-rs/llama-server-launch');console.log(typeof m.startLlamaServerRunner)`]);
  expect(cjs.stderr).toBe('');
  expect(cjs.stdout.trim()).toBe('function');
  const esm = runNode(['--input-type=module', '-e', "import('genai-electron-rs/llama-server-launch').then((m)=>console.log(typeof m.buildLlamaServerArgs, Object.keys(process.versions).includes('electron')))"]);
  expect(esm.stderr).toBe('');
  expect(esm.stdout.trim()).toBe('function false');
});

// Current llama-server dropped `--no-mmap`/`--mlock` for `--load-mode` (the manager's argv, checked
// against the real binary's --help): the one place where our argv differs from upstream's, by rule.
function withLoadMode(args) {
  const noMmap = args.includes('--no-mmap');
  const mlock = args.includes('--mlock');
  if (!noMmap && !mlock) return args;
  const mode = noMmap && mlock ? 'mlock' : noMmap ? 'none' : 'mmap+mlock';
  const at = args.indexOf(noMmap ? '--no-mmap' : '--mlock');
  const rest = args.filter((a) => a !== '--no-mmap' && a !== '--mlock');
  rest.splice(at, 0, '--load-mode', mode);
  return rest;
}

const CONFIGS = [
  [{ port: 8080 }, {}],
  [{ port: 1, host: '::', threads: 4, contextSize: 4096, gpuLayers: 0, parallelRequests: 2 }, {}],
  [{ port: 9000, flashAttention: true, fit: 'on', cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' }, { slotsEndpoint: 'enabled' }],
  [{ port: 9000, flashAttention: false, jinja: false, swaFull: true, overrideTensors: 'exps=CPU', cacheRam: 0 }, { slotsEndpoint: 'disabled' }],
  [{ port: 9000, flashAttention: 'auto', cpuMoe: true, nCpuMoe: 3, reasoningFormat: 'deepseek', modelAlias: 'smol' }, { slotSavePath: '/tmp/s' }],
  [{ port: 9000, batchSize: 512, continuousBatching: false, useMmap: true, useMlock: false, cacheRam: 0.5 }, { slotsEndpoint: 'default', slotSavePath: '' }],
  [{ port: 9000, useMmap: false }, {}],
  [{ port: 9000, useMlock: true, jinja: true }, { slotsEndpoint: 'enabled', slotSavePath: '/s' }],
  [{ port: 9000, useMmap: false, useMlock: true, modelId: 'ignored', autoRestart: true }, {}],
  [{ port: 9000, cacheTypeV: 'q4_0' }, {}], // the V-cache rule is normalize's, not build's
];

test.each(CONFIGS)('buildLlamaServerArgs(%j, …, %j) is upstream\'s argv', (config, options) => {
  const model = { path: '/models/m.gguf' };
  expect(launch.buildLlamaServerArgs(config, model, options)).toEqual(withLoadMode(upstream.buildLlamaServerArgs(config, model, options)));
});

test('buildLlamaServerArgs refuses a slot save path with /slots disabled, as upstream', () => {
  const args = [{ port: 1 }, { path: '/m' }, { slotsEndpoint: 'disabled', slotSavePath: '/s' }];
  const ours = thrown(() => launch.buildLlamaServerArgs(...args));
  expect(ours).toEqual(thrown(() => upstream.buildLlamaServerArgs(...args)));
  expect(() => launch.buildLlamaServerArgs(...args)).toThrow(main.ServerError);
});

test.each([
  [{}],
  [{ cacheTypeV: 'f16', flashAttention: 'off' }],
  [{ cacheTypeV: 'bf16' }],
  [{ cacheTypeV: 'q8_0' }],
  [{ cacheTypeV: 'q8_0', flashAttention: 'auto', threads: 3 }],
  [{ cacheTypeV: 'q4_0', flashAttention: true }],
  [{ cacheTypeV: 'q4_0', flashAttention: 'on', port: 5 }],
  [{ cacheTypeK: 'q8_0', flashAttention: false }],
])('normalizeLlamaVCacheConfig(%j) is upstream\'s', (config) => {
  const ours = launch.normalizeLlamaVCacheConfig(config);
  expect(ours).toStrictEqual(upstream.normalizeLlamaVCacheConfig(config));
  expect(ours).not.toBe(config);
});

test.each([[{ cacheTypeV: 'q4_0', flashAttention: false }], [{ cacheTypeV: 'iq4_nl', flashAttention: 'off' }]])(
  'normalizeLlamaVCacheConfig(%j) throws upstream\'s ServerError',
  (config) => {
    expect(thrown(() => launch.normalizeLlamaVCacheConfig(config))).toEqual(thrown(() => upstream.normalizeLlamaVCacheConfig(config)));
    expect(() => launch.normalizeLlamaVCacheConfig(config)).toThrow(main.ServerError);
  },
);

test('hosts as upstream', () => {
  for (const host of ['127.0.0.1', '::1', '[::1]', 'localhost', 'fe80::1%eth0']) {
    expect(launch.formatHttpHost(host)).toBe(upstream.formatHttpHost(host));
  }
  for (const host of [undefined, '', '0.0.0.0', '::', '::1', '192.168.1.2']) {
    expect(launch.normalizeHealthHost(host)).toBe(upstream.normalizeHealthHost(host));
  }
});

describe('fetchLlamaRuntimeCapacity against a real HTTP server, compared with upstream', () => {
  let server;
  let reply = () => [200, '{}'];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const [status, body] = reply(req);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const settle = (p) => p.then((value) => ({ value }), (err) => ({ name: err.name, message: err.message, details: err.details }));
  const BODIES = [
    [200, JSON.stringify({ default_generation_settings: { n_ctx: 1024 }, total_slots: 2, model_path: '/m.gguf' })],
    [200, JSON.stringify({ default_generation_settings: { n_ctx: 4096 } })],
    [200, JSON.stringify({ default_generation_settings: { n_ctx: 1024 }, total_slots: 3 })],
    [200, JSON.stringify({ default_generation_settings: { n_ctx: 0 }, total_slots: 2 })],
    [200, JSON.stringify({ default_generation_settings: { n_ctx: 1024 }, total_slots: 1.5 })],
    [200, JSON.stringify({ total_slots: 2 })],
    [200, JSON.stringify([1, 2])],
    [200, 'not json'],
    [500, '{}'],
  ];

  test.each(BODIES)('HTTP %i %s', async (status, body) => {
    reply = () => [status, body];
    const { port } = server.address();
    const ours = await settle(launch.fetchLlamaRuntimeCapacity(port, '127.0.0.1', 2));
    const theirs = await settle(upstream.fetchLlamaRuntimeCapacity(port, '127.0.0.1', 2));
    if (body === 'not json') {
      // The JSON parser's own words differ (serde vs V8); the rest is upstream's.
      expect({ ...ours, details: { ...ours.details, cause: 'x' } }).toEqual({ ...theirs, details: { ...theirs.details, cause: 'x' } });
    } else {
      expect(ours).toEqual(theirs);
    }
    if (ours.name) await expect(launch.fetchLlamaRuntimeCapacity(port, '127.0.0.1', 2)).rejects.toBeInstanceOf(main.ContextConstraintError);
  });

  test('an AbortSignal stops the request', async () => {
    reply = () => [200, '{}'];
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    const err = await rejected(launch.fetchLlamaRuntimeCapacity(server.address().port, '127.0.0.1', 1, 5000, controller.signal));
    expect(err.message).toBe('stop now');
  });
});

describe('startLlamaServerRunner on the real llama-server', () => {
  const base = () => ({
    binaryPath: LLAMA,
    model: { path: MODEL },
    config: { threads: 2, gpuLayers: 0 },
    contextSize: 2048,
    parallelRequests: 2,
    startupTimeoutMs: 60000,
  });

  test('options are checked as upstream checks them, before anything starts', async () => {
    const cases = [
      { contextSize: 0 },
      { parallelRequests: 1.5 },
      { port: 70000 },
      { config: { host: ' 127.0.0.1' } },
      { temporarySlotSavePath: true },
      { slotsEndpoint: 'disabled', slotSavePath: '/s' },
      { slotsEndpoint: 'enabled', temporarySlotSavePath: true, slotSavePath: '/s' },
    ];
    for (const change of cases) {
      const options = { ...base(), ...change };
      const ours = await rejected(launch.startLlamaServerRunner(options));
      const theirs = await rejected(upstream.startLlamaServerRunner(options));
      expect({ message: ours.message, details: ours.details }).toEqual({ message: theirs.message, details: theirs.details });
      expect(ours).toBeInstanceOf(main.ServerError);
    }
  });

  test('an aborted signal stops the start', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await rejected(launch.startLlamaServerRunner({ ...base(), signal: controller.signal }));
    expect(err).toBeInstanceOf(launch.ServerError);
    expect(err.details).toEqual({ code: 'CALIBRATION_ABORTED' });
  });

  test('starts, verifies its capacity, answers, refuses its port to another, stops leaving nothing', async () => {
    const handle = await launch.startLlamaServerRunner({ ...base(), slotsEndpoint: 'enabled', temporarySlotSavePath: true });
    try {
      expect(alive(handle.pid)).toBe(true);
      if (process.platform === 'linux') expect(llamaChildren()).toContain(String(handle.pid));
      expect(handle.capacity).toEqual(expect.objectContaining({ effectiveContextSize: 1024, totalSlots: 2 }));
      expect(handle.config).toEqual({ threads: 2, gpuLayers: 0, contextSize: 2048, parallelRequests: 2, port: handle.port, fit: 'off' });
      expect(Object.isFrozen(handle.args)).toBe(true);
      const slotDir = handle.args[handle.args.indexOf('--slot-save-path') + 1];
      expect(existsSync(slotDir)).toBe(true);
      expect(handle.args).toEqual(launch.buildLlamaServerArgs(handle.config, { path: MODEL }, { slotsEndpoint: 'enabled', slotSavePath: slotDir }));
      expect(handle.loadTimeMs).toBeGreaterThanOrEqual(0);
      expect(typeof handle.stderrTail).toBe('string');
      expect(await launch.checkHealth(handle.port)).toEqual(expect.objectContaining({ status: 'ok' }));
      expect(await launch.isServerResponding(handle.port)).toBe(true);
      expect(await launch.fetchLlamaRuntimeCapacity(handle.port, '127.0.0.1', 2)).toEqual(handle.capacity);
      expect(await launch.isPortBindable(handle.port)).toBe(false);
      expect(await handle.raceWithExit(Promise.resolve(42))).toBe(42);
      const taken = await rejected(launch.startLlamaServerRunner({ ...base(), port: handle.port }));
      expect(taken).toBeInstanceOf(main.PortInUseError);
      expect(taken).toBeInstanceOf(launch.PortInUseError);
      expect(taken.message).toBe(`Port ${handle.port} is already in use`);
      await handle.stop();
      expect(alive(handle.pid)).toBe(false);
      expect(existsSync(slotDir)).toBe(false);
      expect(await handle.exitPromise).toEqual({ code: expect.anything(), signal: null });
      await handle.stop(); // again: nothing left to do
    } finally {
      await handle.stop();
    }
  });

  test('a crash resolves exitPromise and cuts raceWithExit short with upstream\'s error', async () => {
    const handle = await launch.startLlamaServerRunner({ ...base(), parallelRequests: 1 });
    try {
      expect(handle.capacity).toEqual(expect.objectContaining({ effectiveContextSize: 2048, totalSlots: 1 }));
      const pending = handle.raceWithExit(new Promise(() => {}));
      process.kill(handle.pid, 'SIGKILL');
      expect(await handle.exitPromise).toEqual({ code: null, signal: 'SIGKILL' });
      const err = await rejected(pending);
      expect(err).toBeInstanceOf(main.ServerError);
      expect(err.message).toBe('Server error: Calibration candidate process exited unexpectedly');
      expect(err.details).toEqual(expect.objectContaining({ code: 'CALIBRATION_CANDIDATE_CRASHED', pid: handle.pid, signal: 'SIGKILL' }));
    } finally {
      await handle.stop();
    }
    expect(alive(handle.pid)).toBe(false);
  });

  test('a start that times out stops its child and says why, with the stderr tail', async () => {
    const before = llamaChildren();
    const err = await rejected(launch.startLlamaServerRunner({ ...base(), startupTimeoutMs: 1 }));
    expect(err).toBeInstanceOf(main.ServerError);
    expect(err.message).toMatch(/^Server error: (Calibration candidate startup failed: )?Server error: Server health check timeout after 1ms/);
    expect(llamaChildren()).toEqual(before);
  });

  test('a server that exits at once fails the start with its stderr', async () => {
    const err = await rejected(launch.startLlamaServerRunner({ ...base(), model: { path: '/nonexistent/model.gguf' } }));
    expect(err).toBeInstanceOf(main.ServerError);
    expect(err.message).toBe('Server error: Calibration candidate process exited unexpectedly');
    expect(err.details).toEqual(expect.objectContaining({ code: 'CALIBRATION_CANDIDATE_CRASHED', stderrTail: expect.any(String) }));
    expect(err.details.stderrTail.length).toBeGreaterThan(0);
  });
});
