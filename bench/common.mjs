// Shared by the benchmarks: run code in a fresh Node process against either library, and keep
// bench/RESULTS.md (one section per benchmark, replaced on each run).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// genai-electron imports `electron` at load: a stand-in that provides app.getPath, through a
// resolve hook (ESM ignores NODE_PATH).
const stub = mkdtempSync(path.join(os.tmpdir(), 'genai-bench-electron-'));
mkdirSync(path.join(stub, 'electron'));
const stubFile = path.join(stub, 'electron', 'index.mjs');
writeFileSync(stubFile, `export const app = { getPath: () => ${JSON.stringify(stub)} };\n`);
const hooks = path.join(stub, 'hooks.mjs');
writeFileSync(hooks, `export async function resolve(spec, ctx, next) {
  return spec === 'electron' ? { url: ${JSON.stringify(pathToFileURL(stubFile).href)}, shortCircuit: true } : next(spec, ctx);
}\n`);
const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;

export const LIBS = {
  'genai-electron-rs': path.join(ROOT, 'index.js'),
  'genai-electron@0.26.0': path.join(ROOT, 'node_modules', 'genai-electron', 'dist', 'index.js'),
};

/** `node` arguments that run `script` (an ES module's text) with the `electron` stand-in. */
export function nodeArgs(script) {
  return ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script];
}

/** The environment of a measured process: the stand-in's userData unless `env` says otherwise. */
export function childEnv(env = {}) {
  return { ...process.env, GENAI_ELECTRON_USER_DATA: stub, ...env };
}

/** Imports `entry` as `lib` in a fresh process, runs `body`, returns the last JSON line printed. */
export function measure(entry, body, env = {}) {
  const script = `const __t0 = performance.now(); const lib = await import(${JSON.stringify(entry)});
const importMs = performance.now() - __t0; ${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(script), { env: childEnv(env) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${entry}: ${err}`))));
  });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function machine() {
  return `${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}-${process.arch}`;
}

/** Replaces section `## <title>` of bench/RESULTS.md. */
export function writeSection(title, body) {
  const file = path.join(ROOT, 'bench', 'RESULTS.md');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n\nRun with `npm run build && npm run bench`. Every table is measured in one run, side by side.\n';
  }
  const section = `## ${title}\n\n${body.trim()}\n`;
  const re = new RegExp(`## ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n[\\s\\S]*?(?=\\n## |$)`);
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
}
