'use strict';
// Binary provisioning on demand (additions): install the pinned llama.cpp / stable-diffusion.cpp
// builds ahead of time (an offline bundle) and list what a binaries folder holds. The servers
// provision by themselves at start; this is for installers, CI and the CLI.
const path = require('node:path');
const native = require('./native.cjs');
const { PATHS, deepFreeze } = require('./paths.cjs');

/** genai-electron's `BINARY_VERSIONS`: the pinned releases, per platform the variants in order. */
const BINARY_VERSIONS = deepFreeze(native.binaryVersions());

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
  return native.provisionBinary(type, { dir: dir ?? defaultDir(), platform, mirror, catalog, force }, listener);
}

/** What a binaries folder (default `<userData>/binaries`) holds: `InstalledBinary[]`. */
function listBinaries(options = {}) {
  return native.listBinaries(options?.dir ?? defaultDir());
}

module.exports = { BINARY_VERSIONS, provisionBinary, listBinaries };
