'use strict';
// userData and genai-electron's directory layout under it. Inside Electron's main process
// userData is app.getPath('userData'); in plain Node it is $GENAI_ELECTRON_USER_DATA or the OS
// data folder. It is resolved once, when the package is first loaded (as upstream does).
const path = require('node:path');
const native = require('./native.cjs');

function electronUserData() {
  if (!process.versions.electron) return undefined; // plain Node: never touch the electron package
  try {
    // @ts-ignore: electron is not a dependency; it exists only inside Electron's main process
    const { app } = require('electron');
    return app && typeof app.getPath === 'function' ? app.getPath('userData') : undefined;
  } catch {
    return undefined;
  }
}

// The variable is read here rather than in Rust: JS's process.env is what the app (or a test
// runner's sandbox) actually set.
const BASE_DIR = electronUserData() ?? (process.env.GENAI_ELECTRON_USER_DATA || native.defaultUserData());

const PATHS = deepFreeze(native.resolvePaths(BASE_DIR));

function deepFreeze(obj) {
  for (const value of Object.values(obj)) if (value && typeof value === 'object') deepFreeze(value);
  return Object.freeze(obj);
}

const ensureDirectories = () => native.ensureDirectories(BASE_DIR);
const getModelDirectory = (type, modelId) => path.join(PATHS.models[type], modelId);
const getModelFilePath = (type, filename) => path.join(PATHS.models[type], filename);
const getBinaryPath = (type, binaryName) =>
  path.join(PATHS.binaries[type], process.platform === 'win32' ? `${binaryName}.exe` : binaryName);
const getLogPath = (logName) => path.join(PATHS.logs, logName);
const getConfigPath = (configName) => path.join(PATHS.config, configName);
const getTempPath = (filename) => path.join(PATHS.temp, filename);

module.exports = {
  deepFreeze,
  BASE_DIR,
  PATHS,
  ensureDirectories,
  getModelDirectory,
  getModelFilePath,
  getBinaryPath,
  getLogPath,
  getConfigPath,
  getTempPath,
};
