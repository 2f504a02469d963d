// A stand-in for the GitHub release host, for the binary provisioning tests and the benchmark:
// REAL archives built from the real binaries (the llama-server, sd-server and sd-cli that
// scripts/assets.sh builds), laid out like the real release assets of the pinned tags, served by
// the loopback file server (Range, request log, faults), and a catalog of BINARY_VERSIONS' shape
// that names them with `https://github.com/` URLs and their real SHA-256s. A test points the
// library at it with GENAI_BINARY_MIRROR=host.mirror and GENAI_BINARY_CATALOG=<catalog file>.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from '../helpers.mjs';
import { startFileServer } from './file-server.mjs';
import { BINARY_VERSIONS } from '../../node_modules/genai-electron/dist/config/defaults.js';

/** `$GENAI_TEST_<VAR>` (scripts/test.sh exports them), else scripts/assets.sh builds/caches it. */
export function asset(variable, name) {
  if (process.env[variable]) return process.env[variable];
  return execFileSync('bash', [path.join(ROOT, 'scripts/assets.sh'), 'path', name], { encoding: 'utf8' }).trim();
}

export const LLAMA_TAG = BINARY_VERSIONS.llamaServer.version; // b9860
export const SD_TAG = BINARY_VERSIONS.diffusionCpp.version; // master-782-b290693
export const PLATFORM = `${process.platform}-${process.arch}`;
export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
/** A well-formed SHA-256 that matches nothing. */
export const WRONG_CHECKSUM = '0'.repeat(64);

/** Upstream's asset names for the Linux variants (the tag is part of the name and the path). */
const ASSETS = {
  llama: {
    repo: 'ggml-org/llama.cpp',
    tag: LLAMA_TAG,
    name: (variant, tag) => `llama-${tag}-bin-ubuntu-${variant === 'cpu' ? '' : `${variant}-`}x64.tar.gz`,
  },
  diffusion: {
    repo: 'leejet/stable-diffusion.cpp',
    tag: SD_TAG,
    name: (variant, tag) => `sd-${tag.replace(/^master-\d+-/, 'master-')}-bin-Linux-Ubuntu-24.04-x86_64${variant === 'cpu' ? '' : `-${variant}`}.zip`,
  },
  /** A foreign platform: Windows' zip with `llama-server.exe` at the top. */
  'llama-win32': {
    repo: 'ggml-org/llama.cpp',
    tag: LLAMA_TAG,
    name: (variant, tag) => `llama-${tag}-bin-win-${variant}-x64.zip`,
  },
};

/**
 * Bytes that are no program here: an ELF header for another machine (aarch64 on x86-64, x86-64 on
 * anything else) and zeros — what a variant built for the wrong CPU looks like to the loader.
 */
const NOT_A_PROGRAM = (() => {
  const buf = Buffer.alloc(64 * 1024);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(buf); // ELF, 64-bit, little-endian, v1
  buf.writeUInt16LE(2, 16); // ET_EXEC
  buf.writeUInt16LE(process.arch === 'x64' ? 183 : 62, 18); // EM_AARCH64 : EM_X86_64
  return buf;
})();

/** Writes a zip of `files` ({name, file, mode}) with python3's zipfile (keeps the mode bits). */
function zip(out, files) {
  const script = `import sys, json, zipfile
out, files = sys.argv[1], json.loads(sys.argv[2])
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    for f in files:
        info = zipfile.ZipInfo(f['name'], date_time=(2025, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | f['mode']) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(f['file'], 'rb') as src:
            z.writestr(info, src.read())
`;
  execFileSync('python3', ['-c', script, out, JSON.stringify(files)]);
}

/**
 * The release host. `content` of an archive: 'good' (the real executables), 'broken' (the same
 * layout, the executable replaced by bytes that are not a program).
 */
export async function startReleaseHost() {
  const work = tempDir('genai-release-host-');
  const server = await startFileServer();
  const built = new Map(); // `${kind}:${content}:${tag}` → Buffer

  /** The archive's bytes, built once per kind, content and tag. */
  function archive(kind, content = 'good', tag = ASSETS[kind].tag) {
    const key = `${kind}:${content}:${tag}`;
    if (built.has(key)) return built.get(key);
    const dir = path.join(work, key.replace(/\W/g, '_'));
    mkdirSync(dir, { recursive: true });
    const exe = (name, source) => {
      const file = path.join(dir, name);
      if (content === 'good') copyFileSync(source, file);
      else writeFileSync(file, NOT_A_PROGRAM);
      chmodSync(file, 0o755);
      return file;
    };
    const out = path.join(work, `${key.replace(/\W/g, '_')}.${kind === 'llama' ? 'tar.gz' : 'zip'}`);
    if (kind === 'llama') {
      // llama.cpp: a top folder `llama-<tag>/` with llama-server and the licence.
      const top = path.join(dir, `llama-${tag}`);
      mkdirSync(top);
      exe(`llama-${tag}/llama-server`, asset('GENAI_TEST_LLAMA_SERVER', 'llama-server'));
      writeFileSync(path.join(top, 'LICENSE'), 'MIT License (test copy)\n');
      execFileSync('tar', ['-czf', out, '-C', dir, `llama-${tag}`]);
    } else if (kind === 'diffusion') {
      // stable-diffusion.cpp: sd-cli and sd-server at the top.
      const cli = exe('sd-cli', asset('GENAI_TEST_SD_CLI', 'sd-cli'));
      const srv = exe('sd-server', asset('GENAI_TEST_SD_SERVER', 'sd-server'));
      zip(out, [{ name: 'sd-cli', file: cli, mode: 0o755 }, { name: 'sd-server', file: srv, mode: 0o755 }]);
    } else {
      // Windows: never run here, so any bytes do; the layout is what counts.
      writeFileSync(path.join(dir, 'llama-server.exe'), NOT_A_PROGRAM);
      writeFileSync(path.join(dir, 'ggml.dll'), Buffer.alloc(4096, 1));
      zip(out, [{ name: 'llama-server.exe', file: path.join(dir, 'llama-server.exe'), mode: 0o644 }, { name: 'ggml.dll', file: path.join(dir, 'ggml.dll'), mode: 0o644 }]);
    }
    const buf = readFileSync(out);
    built.set(key, buf);
    return buf;
  }

  /**
   * Serves the archives the variants name and returns one catalog entry per variant.
   * A variant: `{ type, content?: 'good'|'broken', checksum?: string, dependencies? }`.
   */
  function entries(kind, variants, tag) {
    const { repo, name } = ASSETS[kind];
    return variants.map(({ type, content = 'good', checksum, dependencies }) => {
      const buf = archive(kind, content, tag);
      const urlPath = `/${repo}/releases/download/${tag}/${name(type, tag)}`;
      server.put(urlPath, buf);
      const entry = { type, url: `https://github.com${urlPath}`, checksum: checksum ?? sha256(buf) };
      if (dependencies) entry.dependencies = dependencies;
      return entry;
    });
  }

  let catalogs = 0;
  return {
    server,
    /** GENAI_BINARY_MIRROR's value: replaces `https://github.com/`. */
    mirror: server.url('/'),
    requests: server.requests,
    /** The archive's bytes (`kind`: 'llama' | 'diffusion' | 'llama-win32'). */
    archive,
    /** Forgets the request log. */
    clearRequests: () => server.requests.splice(0),
    /**
     * Writes a catalog file (BINARY_VERSIONS' shape: upstream's, with this machine's platform key —
     * and `platform`, for a foreign one — replaced by `llama` / `diffusion` variant lists) and
     * returns its path. `llamaVersion` / `sdVersion` change the pins (another tag in the URLs).
     */
    catalog({ llama, diffusion, platform = PLATFORM, llamaVersion = LLAMA_TAG, sdVersion = SD_TAG, win32Llama } = {}) {
      const cat = structuredClone(BINARY_VERSIONS);
      cat.llamaServer.version = llamaVersion;
      cat.diffusionCpp.version = sdVersion;
      if (llama) cat.llamaServer.variants[platform] = entries('llama', llama, llamaVersion);
      if (diffusion) cat.diffusionCpp.variants[platform] = entries('diffusion', diffusion, sdVersion);
      if (win32Llama) cat.llamaServer.variants['win32-x64'] = entries('llama-win32', win32Llama, llamaVersion);
      const file = path.join(work, `catalog-${++catalogs}.json`);
      writeFileSync(file, JSON.stringify(cat, null, 2));
      return file;
    },
    close: () => server.close(),
  };
}
