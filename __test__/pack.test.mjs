// Packaging as napi-rs lays it out: the root tarball holds the facade only, the addon comes from
// `genai-electron-rs-<triple>` packages, `napi version` keeps them in step, and the packed package
// installs and loads (ESM and CJS, own name and genai-electron's) where there is no Rust toolchain.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { jest } from '@jest/globals';
import { parseTriple } from '@napi-rs/cli';
import { installPacked, ROOT, HOST_TRIPLE } from './support/packed.mjs';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const NAPI = require.resolve('@napi-rs/cli/package.json').replace(/package\.json$/, 'dist/cli.js');

jest.setTimeout(300_000);

function packedFiles() {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out)[0].files.map((f) => f.path).sort();
}

describe('the root tarball', () => {
  // What a user needs: the facade, its typings, the generated loader, the CLI, README and LICENSE.
  const allowed = [
    /^index\.(js|cjs|d\.ts)$/,
    /^binding\.(cjs|d\.cts)$/,
    /^lib\/[\w-]+\.cjs$/,
    /^bin\/[\w-]+\.js$/,
    /^llama-server-launch\.(js|cjs|d\.ts)$/,
    /^(README\.md|LICENSE|package\.json)$/,
  ];

  test('holds only the facade, typings, CLI, README and LICENSE', () => {
    const files = packedFiles();
    expect(files.filter((f) => !allowed.some((re) => re.test(f)))).toEqual([]);
    for (const f of ['index.js', 'index.cjs', 'index.d.ts', 'binding.cjs', 'binding.d.cts', 'README.md', 'LICENSE', 'bin/genai-electron-rs.js', 'lib/errors.cjs']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /\.node$|^(src|crates|__test__|bench|scripts|npm|target)\//.test(f))).toEqual([]);
    // every file the facade requires is in the tarball
    for (const f of files.filter((f) => f.startsWith('lib/') || f === 'index.cjs')) {
      for (const [, rel] of fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/require\('(\.{1,2}\/[^']+)'\)/g)) {
        const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(f), rel));
        expect(files).toContain(/\.\w+$/.test(target) ? target : `${target}.cjs`);
      }
    }
  });

  test('LICENSE is the MIT license package.json names', () => {
    expect(pkg.license).toBe('MIT');
    expect(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });
});

describe('platform packages (napi create-npm-dirs layout)', () => {
  test('one per napi target, named <package>-<triple>, with os/cpu/libc and the .node as main', () => {
    const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort();
    const targets = pkg.napi.targets.map(parseTriple);
    expect(dirs).toEqual(targets.map((t) => t.platformArchABI).sort());
    for (const t of targets) {
      const sub = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', t.platformArchABI, 'package.json'), 'utf8'));
      const node = `${pkg.napi.binaryName}.${t.platformArchABI}.node`;
      expect(sub).toMatchObject({ name: `${pkg.name}-${t.platformArchABI}`, version: pkg.version, main: node, files: [node], license: pkg.license });
      expect(sub.os).toEqual([t.platform]);
      expect(sub.cpu).toEqual([t.arch]);
      if (t.abi === 'gnu') expect(sub.libc).toEqual(['glibc']);
      else expect(sub.libc).toBeUndefined();
    }
  });

  // What CI's publish job runs (prepublishOnly), dry: it checks each npm/<triple> holds its binary.
  test('`napi prepublish --dry-run` accepts the layout once every npm/<triple> has its .node, and not before', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'napi-prepublish-'));
    const prepublish = () => spawnSync(process.execPath, [NAPI, 'prepublish', '-t', 'npm', '--no-gh-release', '--dry-run', '--cwd', copy], { encoding: 'utf8' });
    try {
      for (const f of ['package.json', 'README.md', 'LICENSE']) fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
      fs.cpSync(path.join(ROOT, 'npm'), path.join(copy, 'npm'), { recursive: true });
      const dirs = fs.readdirSync(path.join(copy, 'npm'));
      // placeholders for the targets not built here; the host's real addon (linked: it is large) after
      for (const dir of dirs.filter((d) => d !== HOST_TRIPLE)) fs.writeFileSync(path.join(copy, 'npm', dir, `${pkg.napi.binaryName}.${dir}.node`), '');
      const missing = prepublish();
      expect(missing.status).not.toBe(0);
      expect(missing.stdout + missing.stderr).toContain(`${pkg.name}-${HOST_TRIPLE} is incomplete: missing ${pkg.napi.binaryName}.${HOST_TRIPLE}.node`);
      const addon = `${pkg.napi.binaryName}.${HOST_TRIPLE}.node`;
      const [from, to] = [path.join(ROOT, addon), path.join(copy, 'npm', HOST_TRIPLE, addon)];
      try {
        fs.linkSync(from, to); // napi refuses symbolic links
      } catch {
        fs.copyFileSync(from, to); // another file system
      }
      const ok = prepublish();
      expect(ok.stdout + ok.stderr).toBe('');
      expect(ok.status).toBe(0);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  test('binding.cjs falls back to the platform package when the .node is not beside it', () => {
    const loader = fs.readFileSync(path.join(ROOT, 'binding.cjs'), 'utf8');
    expect(loader).toContain(`require('./${pkg.napi.binaryName}.${HOST_TRIPLE}.node')`);
    expect(loader).toContain(`require('${pkg.name}-${HOST_TRIPLE}')`);
  });

  test('`napi version` carries the root version into every npm/<triple>/package.json', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'napi-version-'));
    try {
      fs.cpSync(path.join(ROOT, 'npm'), path.join(copy, 'npm'), { recursive: true });
      fs.writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '9.8.7' }, null, 2));
      execFileSync(process.execPath, [NAPI, 'version', '--cwd', copy], { stdio: 'pipe' });
      for (const dir of fs.readdirSync(path.join(copy, 'npm'))) {
        expect(JSON.parse(fs.readFileSync(path.join(copy, 'npm', dir, 'package.json'), 'utf8')).version).toBe('9.8.7');
      }
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

// Run in the scratch project as an app would: the loaded .node must come from the platform package.
const PROBE = (resolved) => `
  const s = await g.systemInfo.detect();
  let err;
  try { await g.modelManager.getModelInfo('no-such-model'); } catch (e) { err = e; }
  const addon = Object.keys(require('node:module').createRequire(process.cwd() + '/')
    .cache).filter((k) => k.endsWith('.node'));
  console.log(JSON.stringify({
    cores: s.cpu.cores, totalMemory: s.memory.total,
    binaryVersions: Object.keys(g.BINARY_VERSIONS).sort(),
    notFound: err instanceof g.ModelNotFoundError, base: err instanceof g.GenaiElectronError, code: err && err.code,
    resolved: ${resolved},
    addon,
  }));`;

function probe({ dir, env, name }, mode) {
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'packed-userdata-'));
  const cjs = `const g = require(${JSON.stringify(name)}); (async () => {${PROBE(`require.resolve(${JSON.stringify(name)})`)}})().catch((e) => { console.error(e); process.exit(1); });`;
  const esm = `import * as g from ${JSON.stringify(name)}; import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/');${PROBE(`new URL(import.meta.resolve(${JSON.stringify(name)})).pathname`)}`;
  const args = mode === 'esm' ? ['--input-type=module', '-e', esm] : ['-e', cjs];
  try {
    const out = execFileSync(process.execPath, args, { cwd: dir, env: { ...env, GENAI_ELECTRON_USER_DATA: userData }, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop());
  } finally {
    fs.rmSync(userData, { recursive: true, force: true });
  }
}

describe.each([
  ['its own name', false],
  ['the alias genai-electron (npm:genai-electron-rs@<version>)', true],
])('installed from the tarballs under %s, without cargo or rustc', (_label, alias) => {
  let install;
  beforeAll(async () => {
    install = await installPacked({ alias });
  });

  test('the scratch project declares the package as an app would, and has no Rust toolchain', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(install.dir, 'package.json'), 'utf8'));
    expect(manifest.dependencies).toEqual({ [install.name]: alias ? `npm:${pkg.name}@${pkg.version}` : pkg.version });
    expect(() => execFileSync('which', ['cargo'], { env: install.env, stdio: 'pipe' })).toThrow();
    expect(() => execFileSync('which', ['rustc'], { env: install.env, stdio: 'pipe' })).toThrow();
    // the addon is not in the root package: it came through optionalDependencies
    const installed = path.join(install.dir, 'node_modules', install.name);
    expect(fs.readdirSync(installed).filter((f) => f.endsWith('.node'))).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).optionalDependencies).toMatchObject({ [`${pkg.name}-${HOST_TRIPLE}`]: pkg.version });
  });

  test.each(['cjs', 'esm'])('%s: systemInfo.detect(), BINARY_VERSIONS and instanceof on errors work', (mode) => {
    const r = probe(install, mode);
    expect(r.cores).toBeGreaterThan(0);
    expect(r.totalMemory).toBeGreaterThan(0);
    expect(r.binaryVersions).toEqual(['diffusionCpp', 'llamaServer']);
    expect(r).toMatchObject({ notFound: true, base: true, code: 'MODEL_NOT_FOUND' });
    expect(r.resolved).toBe(path.join(install.dir, 'node_modules', install.name, mode === 'esm' ? 'index.js' : 'index.cjs'));
    expect(r.addon).toEqual([path.join(install.dir, 'node_modules', `${pkg.name}-${HOST_TRIPLE}`, `${pkg.napi.binaryName}.${HOST_TRIPLE}.node`)]);
  });

  test('the CLI runs from node_modules/.bin', () => {
    const out = execFileSync(path.join(install.dir, 'node_modules', '.bin', 'genai-electron-rs'), ['--help'], { cwd: install.dir, env: install.env, encoding: 'utf8' });
    expect(out).toMatch(/^Usage: genai-electron-rs/);
  });
});
