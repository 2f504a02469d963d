// Install the package as a user gets it: `npm pack` the root package and this machine's platform
// package (npm/linux-x64-gnu here, carrying the addon built in the repository root), then install both tarballs into a
// fresh scratch project from a loopback registry (nothing else), with cargo/rustc off PATH.
//
//   const { dir, env, name } = await installPacked({ alias: true });
//   execFileSync(process.execPath, ['-e', "require('genai-electron')"], { cwd: dir, env });
//
// The root tarball is staged the way `napi prepublish` publishes it: `optionalDependencies` on every
// `genai-electron-rs-<triple>` package of `napi.targets`, at the package's version. Results are cached
// under the OS temp folder by the tarballs' hashes, so the test files of one run share one install.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTriple } from '@napi-rs/cli';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// One cache per checkout (worktrees side by side do not prune each other's).
const CACHE = path.join(os.tmpdir(), 'genai-electron-rs-packed', createHash('sha256').update(ROOT).digest('hex').slice(0, 8));
const NPM_QUIET = { npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

const rootPkg = () => JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The platform package's folder name (npm/<triple>) for this machine: linux-x64-gnu here. */
export const HOST_TRIPLE = rootPkg()
  .napi.targets.map((t) => parseTriple(t))
  .find((t) => t.platform === process.platform && t.arch === process.arch)?.platformArchABI;

/** An environment whose PATH has node and npm but no cargo, rustc or rustup. */
export function envWithoutRust(base = process.env) {
  const shim = path.join(CACHE, 'bin');
  fs.mkdirSync(shim, { recursive: true });
  const rustTools = ['cargo', 'rustc', 'rustup'];
  const hasRust = (dir) => rustTools.some((t) => fs.existsSync(path.join(dir, t)));
  const dirs = (base.PATH ?? '').split(path.delimiter).filter((d) => d && !hasRust(d));
  // node and npm may share a folder with a system Rust (/usr/bin): then reach them through links.
  for (const tool of ['node', 'npm', 'npx']) {
    const found = whichIn((base.PATH ?? '').split(path.delimiter), tool);
    const link = path.join(shim, tool);
    if (!found || fs.existsSync(link)) continue;
    try {
      fs.symlinkSync(found, link);
    } catch (e) {
      if (e.code !== 'EEXIST') throw e; // a parallel worker made it
    }
  }
  const env = { ...base, ...NPM_QUIET, PATH: [shim, ...dirs].join(path.delimiter) };
  for (const key of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(key)) delete env[key];
  return env;
}

function whichIn(dirs, tool) {
  for (const d of dirs) {
    const p = path.join(d, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.realpathSync(p);
    } catch {}
  }
  return null;
}

function npm(args, cwd, env = { ...process.env, ...NPM_QUIET }) {
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function npmPack(dir, dest) {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], dir));
  return path.join(dest, info.filename);
}

/** The root package staged as `napi prepublish` publishes it, packed into `dest`. */
function packRoot(dest) {
  const pkg = rootPkg();
  const stage = fs.mkdtempSync(path.join(dest, 'root-'));
  const [listing] = JSON.parse(npm(['pack', '--dry-run', '--json'], ROOT));
  for (const { path: rel } of listing.files) {
    fs.mkdirSync(path.dirname(path.join(stage, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(stage, rel));
  }
  const optionalDependencies = {};
  for (const triple of pkg.napi.targets) {
    optionalDependencies[`${pkg.name}-${parseTriple(triple).platformArchABI}`] = pkg.version;
  }
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ ...pkg, optionalDependencies }, null, 2));
  const tarball = npmPack(stage, dest);
  fs.rmSync(stage, { recursive: true, force: true });
  return tarball;
}

/** npm/<triple> with the addon from the repository root, packed into `dest`. */
function packPlatform(dest) {
  const pkg = rootPkg();
  const addon = `${pkg.napi.binaryName}.${HOST_TRIPLE}.node`;
  const built = path.join(ROOT, addon);
  if (!fs.existsSync(built)) throw new Error(`${addon} is not built in ${ROOT} (npm run build:debug)`);
  const stage = fs.mkdtempSync(path.join(dest, 'platform-'));
  fs.cpSync(path.join(ROOT, 'npm', HOST_TRIPLE), stage, { recursive: true });
  fs.copyFileSync(built, path.join(stage, addon));
  const tarball = npmPack(stage, dest);
  fs.rmSync(stage, { recursive: true, force: true });
  return tarball;
}

/**
 * Packs both tarballs, once per content: the platform tarball (the addon is large) is keyed by the
 * addon's and npm/<triple>/package.json's hashes, the install folder by both tarballs' hashes.
 */
function tarballs() {
  const pkg = rootPkg();
  fs.mkdirSync(CACHE, { recursive: true });
  const work = fs.mkdtempSync(path.join(CACHE, 'pack-'));
  try {
    const addonHash = sha256(path.join(ROOT, `${pkg.napi.binaryName}.${HOST_TRIPLE}.node`));
    const platformKey = hash(`${addonHash} ${sha256(path.join(ROOT, 'npm', HOST_TRIPLE, 'package.json'))}`);
    const platform = path.join(CACHE, `platform-${platformKey}`, `${pkg.name}-${HOST_TRIPLE}-${pkg.version}.tgz`);
    if (!fs.existsSync(platform)) {
      fs.mkdirSync(path.dirname(platform), { recursive: true });
      moveOnce(packPlatform(work), platform);
    }
    const packedRoot = packRoot(work);
    const keyDir = path.join(CACHE, `install-${hash(`${sha256(packedRoot)} ${platformKey}`)}`);
    const root = path.join(keyDir, path.basename(packedRoot));
    fs.mkdirSync(keyDir, { recursive: true });
    if (!fs.existsSync(root)) moveOnce(packedRoot, root);
    prune([path.dirname(platform), keyDir]);
    return { keyDir, root, platform };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const hash = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

// Parallel test workers may race: the same content lands under the same name, whoever is first.
function moveOnce(from, to) {
  fs.renameSync(from, to);
}

// Earlier contents' tarballs and installs go once nothing has used them for 10 minutes (a test run
// in progress touches its own on every call).
function prune(keep) {
  const now = new Date();
  for (const dir of keep) fs.utimesSync(dir, now, now);
  const stale = Date.now() - 600_000;
  for (const entry of fs.readdirSync(CACHE)) {
    const p = path.join(CACHE, entry);
    if (!/^(platform|install)-/.test(entry) || keep.includes(p)) continue;
    if (fs.statSync(p).mtimeMs < stale) fs.rmSync(p, { recursive: true, force: true });
  }
}

/**
 * Installs the packed package into a fresh scratch project, from a loopback npm registry that serves
 * only the two tarballs (nothing else is reachable: npm runs with that registry and its own cache).
 * alias false: `"genai-electron-rs": "<version>"`; alias true: `"genai-electron": "npm:genai-electron-rs@<version>"`,
 * the one line an app changes to switch from genai-electron. The platform package is not named by the
 * scratch project: npm installs it through the root package's optionalDependencies, as for a user.
 * Returns { dir, env, name, version, tarballs }: `env` has no cargo/rustc on PATH; `name` is what
 * the scratch project imports.
 */
export async function installPacked({ alias = false } = {}) {
  const pkg = rootPkg();
  const { keyDir, root, platform } = tarballs();
  const name = alias ? 'genai-electron' : pkg.name;
  const dir = path.join(keyDir, alias ? 'alias' : 'own');
  const env = envWithoutRust();
  if (!fs.existsSync(path.join(dir, 'installed'))) {
    const stage = fs.mkdtempSync(`${dir}.tmp-`);
    const spec = alias ? `npm:${pkg.name}@${pkg.version}` : pkg.version;
    const manifest = { name: `scratch-${alias ? 'alias' : 'own'}`, version: '1.0.0', private: true, dependencies: { [name]: spec } };
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
    const registry = await startRegistry([root, platform]);
    try {
      const args = ['install', '--no-audit', '--no-fund', '--ignore-scripts', `--registry=${registry.url}`, `--cache=${path.join(stage, '.npm-cache')}`];
      await run('npm', args, stage, env);
    } finally {
      registry.close();
    }
    fs.rmSync(path.join(stage, '.npm-cache'), { recursive: true, force: true });
    fs.writeFileSync(path.join(stage, 'installed'), '');
    try {
      fs.renameSync(stage, dir);
    } catch {
      fs.rmSync(stage, { recursive: true, force: true }); // another worker finished first
    }
  }
  return { dir, env, name, version: pkg.version, tarballs: { root, platform } };
}

function run(cmd, args, cwd, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** A registry on 127.0.0.1 serving each tarball's package.json as a one-version packument. */
async function startRegistry(files) {
  const packages = new Map(); // name → { manifest, file }
  for (const file of files) {
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' }));
    const data = fs.readFileSync(file);
    const dist = {
      integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
      shasum: createHash('sha1').update(data).digest('hex'),
    };
    packages.set(manifest.name, { manifest, file, dist });
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const [, name, tarball] = /^\/([^/]+)(?:\/-\/(.+))?$/.exec(decodeURIComponent(url.pathname)) ?? [];
    const entry = packages.get(name);
    if (!entry) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    if (tarball) return fs.createReadStream(entry.file).pipe(res.writeHead(200, { 'content-type': 'application/octet-stream' }));
    const { manifest, file, dist } = entry;
    const host = `http://127.0.0.1:${server.address().port}`;
    const version = { ...manifest, dist: { ...dist, tarball: `${host}/${name}/-/${path.basename(file)}` } };
    const packument = { name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}
