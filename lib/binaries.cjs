'use strict';
// Binary provisioning on demand (additions): install the pinned llama.cpp / stable-diffusion.cpp
// builds ahead of time (an offline bundle) and list what a binaries folder holds. The servers
// provision by themselves at start; this is for installers, CI and the CLI.
const path = require('node:path');
const native = require('./native.cjs');
const { PATHS, deepFreeze } = require('./paths.cjs');

/** genai-electron's `BINARY_VERSIONS`: the pinned releases, per platform the variants in order. */
const BINARY_VERSIONS = deepFreeze(native.binaryVersions());

/** What `process.env` says about a server's binary (`pathVar`: its path variable), at the call. */
const binaryEnv = (pathVar) => ({
  binaryPath: process.env[pathVar],
  binaryMirror: process.env.GENAI_BINARY_MIRROR,
  binaryCatalog: process.env.GENAI_BINARY_CATALOG,
  binariesDir: process.env.GENAI_BINARIES_DIR,
});

/** `<userData>/binaries`, the folder that holds `llama/` and `diffusion/`. */
const defaultDir = () => path.dirname(PATHS.binaries.llama);

/**
 * Installs (or verifies) one engine: `type` 'llama' | 'diffusion'; options `{platform, dir,
 * mirror, catalog, force, onLog, onProgress}`. Resolves with the `InstalledBinary`.
 */
function provisionBinary(type, options = {}) {
  const { onLog, onProgress, dir, platform, mirror, catalog, force } = options ?? {};
  const listener = (name, payload) => {
    const fn = name === 'binary-log' ? onLog : onProgress;
    if (typeof fn === 'function') fn(payload);
  };
  const env = binaryEnv('GENAI_LLAMA_SERVER_PATH');
  const settings = { dir: dir ?? defaultDir(), platform, mirror: mirror ?? env.binaryMirror, catalog: catalog ?? env.binaryCatalog, force };
  return native.provisionBinary(type, settings, listener);
}

/** What a binaries folder (default `<userData>/binaries`) holds: `InstalledBinary[]`. */
function listBinaries(options = {}) {
  return native.listBinaries(options?.dir ?? defaultDir());
}

module.exports = { BINARY_VERSIONS, provisionBinary, listBinaries, binaryEnv };
