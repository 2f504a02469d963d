'use strict';
// genai-electron-rs: the public API (CommonJS build; index.js re-exports it for ESM importers).
// fromNative and nativeManager are internal, so they are left out.
const { PATHS, getBinaryPath, getModelFilePath, getModelDirectory, ensureDirectories } = require('./lib/paths.cjs');
const system = require('./lib/system.cjs');
const helpers = require('./lib/helpers.cjs');
const { formatErrorForUI } = require('./lib/ui-errors.cjs');
const { attachAppLifecycle } = require('./lib/lifecycle.cjs');
// (required whole first: TypeScript's check of this file reads `const { a, ...rest } = require()`
// as an import of a member named `rest`)
const errorsModule = require('./lib/errors.cjs');
const { fromNative, ...errorClasses } = errorsModule;
const modelsModule = require('./lib/models.cjs');
const { nativeManager, ...models } = modelsModule;
const servers = require('./lib/servers.cjs');
const { ServerManager, LlamaServerManager } = require('./lib/llama.cjs');
const { ProcessManager } = require('./lib/process.cjs');
const diffusion = require('./lib/diffusion.cjs');
const { ResourceOrchestrator } = require('./lib/orchestrator.cjs');
const binaries = require('./lib/binaries.cjs');

const systemInfo = system.SystemInfo.getInstance();
const modelManager = models.ModelManager.getInstance();
const llamaServer = new LlamaServerManager();
// As upstream: the diffusion server knows the LLM, so its images go through the orchestrator.
const diffusionServer = new diffusion.DiffusionServerManager(modelManager, systemInfo, llamaServer);

module.exports = {
  systemInfo,
  modelManager,
  llamaServer,
  diffusionServer,
  /** Addition: `diffusionServer.getOrchestrator()`, the same instance. */
  orchestrator: diffusionServer.getOrchestrator(),
  ResourceOrchestrator,
  ...system,
  ...models,
  ServerManager,
  LlamaServerManager,
  ...diffusion,
  ProcessManager,
  ...servers,
  BINARY_VERSIONS: binaries.BINARY_VERSIONS,
  /** Additions: binaries installed ahead of time, and what a binaries folder holds. */
  provisionBinary: binaries.provisionBinary,
  listBinaries: binaries.listBinaries,
  ...helpers,
  formatErrorForUI,
  attachAppLifecycle,
  PATHS,
  getBinaryPath,
  getModelFilePath,
  getModelDirectory,
  ensureDirectories,
  ...errorClasses,
};
