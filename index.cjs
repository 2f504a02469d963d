'use strict';
// genai-electron-rs: the public API (CommonJS build; index.js re-exports it for ESM importers).
// fromNative and nativeManager are internal, so they are left out.
const { fromNative, ...errorClasses } = require('./lib/errors.cjs');
const { PATHS, getBinaryPath, getModelFilePath, getModelDirectory, ensureDirectories } = require('./lib/paths.cjs');
const system = require('./lib/system.cjs');
const helpers = require('./lib/helpers.cjs');
const { formatErrorForUI } = require('./lib/ui-errors.cjs');
const { nativeManager, ...models } = require('./lib/models.cjs');
const servers = require('./lib/servers.cjs');
const { ServerManager, LlamaServerManager } = require('./lib/llama.cjs');
const { ProcessManager } = require('./lib/process.cjs');

module.exports = {
  systemInfo: system.SystemInfo.getInstance(),
  modelManager: models.ModelManager.getInstance(),
  llamaServer: new LlamaServerManager(),
  ...system,
  ...models,
  ServerManager,
  LlamaServerManager,
  ProcessManager,
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
