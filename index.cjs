'use strict';
// genai-electron-rs: the public API (CommonJS build; index.js re-exports it for ESM importers).
// fromNative and calculateGPULayers are internal (as upstream), so they are left out.
const { fromNative, ...errorClasses } = require('./lib/errors.cjs');
const { PATHS, getBinaryPath, getModelFilePath, getModelDirectory, ensureDirectories } = require('./lib/paths.cjs');
const { calculateGPULayers, ...system } = require('./lib/system.cjs');
const helpers = require('./lib/helpers.cjs');
const { formatErrorForUI } = require('./lib/ui-errors.cjs');
const models = require('./lib/models.cjs');
const servers = require('./lib/servers.cjs');

module.exports = {
  systemInfo: system.SystemInfo.getInstance(),
  modelManager: models.ModelManager.getInstance(),
  ...system,
  ...models,
  ...servers,
  ...helpers,
  formatErrorForUI,
  PATHS,
  getBinaryPath,
  getModelFilePath,
  getModelDirectory,
  ensureDirectories,
  ...errorClasses,
};
