// `genai-electron-rs binaries`: install the pinned llama.cpp / stable-diffusion.cpp builds ahead of
// time (an offline bundle an app can ship; point the managers at it with GENAI_BINARIES_DIR), and
// list what a binaries folder holds.
import * as lib from '../index.js';

export const BINARIES_USAGE = `  binaries install [--type llama|diffusion] [--platform <key>] [--dir <folder>] [--force] [--json]
                                       Downloads, verifies, tests and installs the pinned builds
                                       (default: both types, into <data folder>/binaries)
  binaries list [--dir <folder>] [--json]
                                       What a binaries folder holds: variant, version, validation`;

const TYPES = ['llama', 'diffusion'];

/** A flag that must carry a value (`--dir` alone is a usage error). */
function value(flags, name, usage) {
  const v = flags[name];
  if (v === true) throw usage(`--${name} needs a value`);
  return v;
}

/** `12.3 MB / 53.7 MB, 1/2 files` while extracting (a gzip stream's totals come only at its end). */
function extracted(e) {
  if (e.completedEntries === undefined) return '';
  const bytes = e.writtenBytes === undefined ? '' : `${lib.formatBytes(e.writtenBytes)}${e.totalUncompressedBytes ? ` / ${lib.formatBytes(e.totalUncompressedBytes)}` : ''}, `;
  return ` ${bytes}${e.completedEntries}${e.totalEntries ? `/${e.totalEntries}` : ''} files`;
}

/** A bar per file on a terminal; a line per phase change elsewhere (logs, CI). */
function progressPrinter(type, stream = process.stderr) {
  let last = '';
  let open = false;
  const endLine = () => {
    if (open) stream.write('\n');
    open = false;
  };
  const onProgress = (e) => {
    const key = `${e.phase}:${e.file}`;
    if (stream.isTTY) {
      const pct = e.percent ?? (e.total ? Math.floor((e.downloaded / e.total) * 100) : undefined);
      const width = 30;
      const bar = pct === undefined ? '' : `[${'#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.')}] ${String(pct).padStart(3)}% `;
      const size = e.total ? ` ${lib.formatBytes(e.downloaded ?? 0)} / ${lib.formatBytes(e.total)}` : extracted(e);
      if (key !== last) endLine();
      stream.write(`\r${type}: ${bar}${e.phase} ${e.file}${size}\x1b[K`);
      open = true;
    } else if (key !== last) {
      stream.write(`${type}: ${e.phase} ${e.file}\n`);
    }
    last = key;
  };
  // Why a variant was skipped or failed is worth a line; the info chatter is not.
  const onLog = (e) => {
    if (e.level === 'info') return;
    endLine();
    stream.write(`${type}: ${e.level}: ${e.message}\n`);
  };
  return { onProgress, onLog, done: endLine };
}

function describe(b) {
  const validation = b.validatedAt
    ? `validated ${b.validatedAt} (phase 1 ${b.phase1Passed ? 'passed' : 'failed'}${b.phase2Passed === undefined ? '' : `, phase 2 ${b.phase2Passed ? 'passed' : 'failed'}`})`
    : 'not validated (installed for another platform, or by hand)';
  return [
    `${b.type}: ${b.variant ?? 'unknown variant'} ${b.version ?? ''} for ${b.platform ?? 'unknown platform'}`.trimEnd(),
    `  path:       ${b.path}`,
    `  validation: ${validation}`,
    `  checksum:   ${b.checksum ?? 'none recorded'}${b.checksum ? (b.verified ? ' (matches the file)' : ' (DOES NOT match the file)') : ''}`,
  ].join('\n');
}

/** `<ErrorClass>: message` and the details, exit status 1. */
function reportError(err) {
  console.error(`${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`);
  if (err?.details !== undefined) console.error(JSON.stringify(err.details, null, 2));
  return 1;
}

async function install(flags, usage) {
  const type = value(flags, 'type', usage);
  if (type !== undefined && !TYPES.includes(type)) throw usage(`--type must be llama or diffusion, not ${type}`);
  const json = Boolean(flags.json);
  const options = { platform: value(flags, 'platform', usage), dir: value(flags, 'dir', usage), force: Boolean(flags.force) };
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
  const installed = [];
  for (const t of type ? [type] : TYPES) {
    const printer = progressPrinter(t);
    try {
      installed.push(await lib.provisionBinary(t, { ...options, onProgress: printer.onProgress, onLog: printer.onLog }));
    } catch (err) {
      printer.done();
      return reportError(err);
    }
    printer.done();
  }
  if (json) console.log(JSON.stringify(installed, null, 2));
  else for (const b of installed) console.log(describe(b));
  return 0;
}

async function list(flags, usage) {
  const dir = value(flags, 'dir', usage);
  let found;
  try {
    found = await lib.listBinaries(dir === undefined ? {} : { dir });
  } catch (err) {
    return reportError(err);
  }
  if (flags.json) console.log(JSON.stringify(found, null, 2));
  else if (found.length === 0) console.log('No binaries installed. Install them with: genai-electron-rs binaries install');
  else console.log(found.map(describe).join('\n'));
  return 0;
}

/**
 * @param {string[]} words the subcommand (first bare word)
 * @param {Record<string, string | true>} flags parsed flags
 * @param {(msg: string) => Error} usage
 */
export async function binaries(words, flags, usage) {
  switch (words[0]) {
    case 'install':
      return install(flags, usage);
    case 'list':
      return list(flags, usage);
    default:
      throw usage(`Unknown binaries command: ${words[0] ?? '(none)'}`);
  }
}
