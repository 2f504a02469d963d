#!/usr/bin/env node
// genai-electron-rs command line: a report of this machine, and the models in the data folder.
import path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { systemInfo, modelManager, llamaServer, StorageManager, fetchLocalGGUFMetadata, getArchField, formatBytes, PATHS } from '../index.js';
import { generate, GENERATE_USAGE } from './generate.js';
import { binaries, BINARIES_USAGE } from './binaries.js';

const USAGE = `Usage: genai-electron-rs <command> [options]

Commands:
  info [--json]                        System report: CPU, RAM, GPUs, recommendations, folders
  models list [--type llm|diffusion] [--json]
  models info <id> [--json]
  models download <url | hf:<owner>/<repo>/<file>> --name <name>
                  [--type llm|diffusion] [--checksum <sha256>] [--revision <rev>] [--json]
                                       Resumes an interrupted download of the same file
  models delete <id>
  serve <model-id | file.gguf> [--port <n>|auto] [--threads <n>] [--context <n>] [--host <h>]
                                       Runs llama-server and streams its status; Ctrl-C stops it
${GENERATE_USAGE}
${BINARIES_USAGE}

Environment:
  GENAI_ELECTRON_USER_DATA   where models, binaries and logs live (default: the OS data folder)
  GENAI_LLAMA_SERVER_PATH    the llama-server binary (default: <data folder>/binaries/llama, downloaded
                             on first start)
  GENAI_SD_SERVER_PATH       the sd-server binary (default: <data folder>/binaries/diffusion, likewise)
  GENAI_BINARIES_DIR         a read-only binaries folder (made by \`binaries install --dir\`) to run from
  GENAI_BINARY_MIRROR        replaces https://github.com/ in the release URLs (a mirror)
  GENAI_BINARY_CATALOG       a JSON file of BINARY_VERSIONS' shape that replaces the built-in pins
  HF_TOKEN                   sent to huggingface.co for gated repositories`;

class UsageError extends Error {}

/** `--flag value` and `-X value` pairs, and bare words (`-1` is a word: a negative number). */
function parseArgs(argv) {
  const flags = {};
  const words = [];
  for (let i = 0; i < argv.length; i++) {
    const short = /^-[A-Za-z]$/.test(argv[i]);
    if (argv[i].startsWith('--') || short) {
      const key = argv[i].slice(short ? 1 : 2);
      const next = argv[i + 1];
      flags[key] = next === undefined || next.startsWith('--') || /^-[A-Za-z]$/.test(next) ? true : (i++, next);
    } else words.push(argv[i]);
  }
  return { flags, words };
}

function printInfo(caps) {
  const { cpu, memory, gpu, recommendations: rec } = caps;
  const lines = [
    `Platform:        ${caps.platform} (${cpu.architecture})`,
    `CPU:             ${cpu.model}, ${cpu.cores} logical cores`,
    `RAM:             ${formatBytes(memory.total)} total, ${formatBytes(memory.available)} available`,
  ];
  if (!gpu.available) lines.push('GPU:             none usable (CPU inference)');
  for (const [i, d] of (gpu.devices ?? []).entries()) {
    const free = d.vramAvailable !== undefined ? ` (${formatBytes(d.vramAvailable)} free)` : '';
    const vram = d.vram ? `, ${formatBytes(d.vram)} VRAM${free}` : '';
    lines.push(`${i === 0 ? 'GPU:            ' : '                '} ${d.name} [${d.type}]${vram}`);
  }
  if (gpu.driverVersion) lines.push(`Driver:          ${gpu.driverVersion}${gpu.cudaVersion ? `, CUDA ${gpu.cudaVersion}` : ''}`);
  lines.push(
    `Recommended:     models up to ${rec.maxModelSize}, quantization ${rec.recommendedQuantization.join(' / ')}, ${rec.threads} threads` +
      (rec.gpuAcceleration ? ', GPU acceleration' : ''),
    `Data folder:     ${path.dirname(path.dirname(PATHS.models.llm))}`,
  );
  console.log(lines.join('\n'));
}

function printModel(m) {
  const g = m.ggufMetadata ?? {};
  console.log([
    `${m.name} (${m.id})`,
    `  type:       ${m.type}`,
    `  size:       ${formatBytes(m.size)}`,
    `  file:       ${m.path}`,
    `  source:     ${m.source?.url ?? ''}`,
    `  downloaded: ${m.downloadedAt}`,
    ...(g.architecture ? [`  gguf:       ${g.architecture}, ${g.block_count ?? '?'} layers, context ${g.context_length ?? '?'}`] : []),
    ...(m.checksum ? [`  checksum:   ${m.checksum}`] : []),
  ].join('\n'));
}

/** A one-line progress bar on stderr: percent, bytes, speed, time left. */
function progressBar() {
  const started = Date.now();
  let lastLen = 0;
  return {
    update(done, total) {
      const secs = Math.max((Date.now() - started) / 1000, 0.001);
      const speed = done / secs;
      const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      const eta = total > 0 && speed > 0 ? Math.ceil((total - done) / speed) : undefined;
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct.toFixed(1)}% ` +
        `${formatBytes(done)}${total > 0 ? ` / ${formatBytes(total)}` : ''} ${formatBytes(speed)}/s` +
        (eta !== undefined ? ` ETA ${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s` : '');
      process.stderr.write(`\r${line.padEnd(lastLen)}`);
      lastLen = line.length;
    },
    done() {
      if (lastLen) process.stderr.write('\n');
    },
  };
}

function downloadConfig(target, flags) {
  if (!target) throw new UsageError('models download needs a URL or hf:<owner>/<repo>/<file>');
  if (!flags.name || flags.name === true) throw new UsageError('models download needs --name <name>');
  const base = { name: flags.name, type: flags.type ?? 'llm', checksum: flags.checksum };
  const hf = /^hf:([^/]+\/[^/]+)\/(.+)$/.exec(target);
  if (hf) return { ...base, source: 'huggingface', repo: hf[1], file: hf[2], revision: flags.revision };
  return { ...base, source: 'url', url: target };
}

async function models([sub, ...rest]) {
  const { flags, words } = parseArgs(rest);
  const json = Boolean(flags.json);
  const out = (value, human) => (json ? console.log(JSON.stringify(value, null, 2)) : human(value));
  switch (sub) {
    case 'list': {
      const list = await modelManager.listModels(flags.type);
      out(list, (l) => {
        if (l.length === 0) return console.log('No models yet. Download one with: genai-electron-rs models download <url> --name <name>');
        for (const m of l) console.log(`${m.id.padEnd(32)} ${m.type.padEnd(9)} ${formatBytes(m.size).padStart(10)}  ${m.name}`);
      });
      return 0;
    }
    case 'info':
      if (!words[0]) throw new UsageError('models info needs a model id');
      out(await modelManager.getModelInfo(words[0]), printModel);
      return 0;
    case 'download': {
      const bar = json ? undefined : progressBar();
      const config = { ...downloadConfig(words[0], flags), onProgress: bar && ((d, t) => bar.update(d, t)) };
      try {
        out(await modelManager.downloadModel(config), (m) => {
          bar?.done();
          printModel(m);
        });
      } finally {
        bar?.done();
      }
      return 0;
    }
    case 'delete':
      if (!words[0]) throw new UsageError('models delete needs a model id');
      await modelManager.deleteModel(words[0]);
      if (!json) console.log(`Deleted ${words[0]}`);
      return 0;
    default:
      throw new UsageError(`Unknown models command: ${sub ?? '(none)'}`);
  }
}

/** A model id, or a GGUF file that is registered (once) under an id made from its name. */
async function resolveModel(target, type = 'llm') {
  if (!existsSync(target)) return target;
  const file = path.resolve(target);
  const known = (await modelManager.listModels(type)).find((m) => m.path === file);
  if (known) return known.id;
  const name = path.basename(file).replace(/\.gguf$/i, '');
  const id = name.toLowerCase().replace(/\s+/g, '-').replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const storage = StorageManager.getInstance();
  await storage.initialize();
  const info = {
    id, name, type, size: statSync(file).size, path: file, downloadedAt: new Date().toISOString(),
    source: { type: 'url', url: `file://${file}` }, supportsReasoning: false,
  };
  if (type === 'llm') {
    const { metadata } = await fetchLocalGGUFMetadata(file);
    const g = (k) => getArchField(metadata, k);
    info.ggufMetadata = {
      version: metadata.version, architecture: metadata['general.architecture'], block_count: g('block_count'),
      context_length: g('context_length'), attention_head_count: g('attention.head_count'),
      attention_head_count_kv: g('attention.head_count_kv'), embedding_length: g('embedding_length'),
    };
  }
  await storage.saveModelMetadata(info);
  console.log(`Registered ${file} as ${id}`);
  return id;
}

async function serve([target, ...rest]) {
  if (!target) throw new UsageError('serve needs a model id or a .gguf file');
  const { flags } = parseArgs(rest);
  const num = (v) => (v === undefined ? undefined : Number(v));
  const config = {
    modelId: await resolveModel(target),
    port: flags.port === 'auto' ? 'auto' : (num(flags.port) ?? 'auto'),
    threads: num(flags.threads),
    contextSize: num(flags.context),
    host: flags.host,
  };
  for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
  const stamp = () => new Date().toISOString().slice(11, 19);
  llamaServer.on('status', (status, old) => console.log(`${stamp()} status ${old} -> ${status}`));
  llamaServer.on('crashed', ({ code, signal }) => console.log(`${stamp()} crashed (code ${code}, signal ${signal})`));
  llamaServer.on('binary-log', ({ message, level }) => console.log(`${stamp()} binary ${level}: ${message}`));
  const info = await llamaServer.start(config);
  console.log(`${stamp()} ready: http://${config.host ?? '127.0.0.1'}:${info.port} (pid ${info.pid}, loaded in ${info.loadTimeMs} ms, context ${info.effectiveContextSize} per slot × ${info.effectiveParallelRequests})`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
  await llamaServer.stop();
  return 0;
}

async function main(argv) {
  const [command, ...rest] = argv;
  switch (command) {
    case 'info': {
      const caps = await systemInfo.detect();
      if (rest.includes('--json')) console.log(JSON.stringify({ ...caps, paths: PATHS }, null, 2));
      else printInfo(caps);
      return 0;
    }
    case 'models':
      return models(rest);
    case 'serve':
      return serve(rest);
    case 'generate': {
      const { flags, words } = parseArgs(rest);
      return generate(words, flags, resolveModel, (m) => new UsageError(m));
    }
    case 'binaries': {
      const { flags, words } = parseArgs(rest);
      return binaries(words, flags, (m) => new UsageError(m));
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      throw new UsageError(`Unknown command: ${command}`);
  }
}

// Ctrl-C during a download: stop it cleanly (the partial file stays for a later resume).
process.on('SIGINT', () => {
  if (modelManager.isDownloading()) modelManager.cancelDownload();
  else if (process.argv[2] !== 'serve') process.exit(130);
});

// exitCode, not exit(): a large --json output to a pipe must be written out completely.
main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : (err?.message ?? String(err)));
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
