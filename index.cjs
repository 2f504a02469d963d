'use strict';
// genai-electron-rs: the public API (CommonJS build; index.js re-exports it for ESM importers).
const errors = require('./lib/errors.cjs');
const paths = require('./lib/paths.cjs');
const system = require('./lib/system.cjs');
const helpers = require('./lib/helpers.cjs');
const { formatErrorForUI } = require('./lib/ui-errors.cjs');

const systemInfo = system.SystemInfo.getInstance();

module.exports = {
  // singletons
  systemInfo,
  // classes
  SystemInfo: system.SystemInfo,
  // system helpers
  getCPUInfo: system.getCPUInfo,
  getRecommendedThreads: system.getRecommendedThreads,
  getMemoryInfo: system.getMemoryInfo,
  estimateVRAM: system.estimateVRAM,
  detectGPU: system.detectGPU,
  // KV math
  estimateKVBytesPerToken: helpers.estimateKVBytesPerToken,
  floorContextToGranularity: helpers.floorContextToGranularity,
  KV_CACHE_BYTES_PER_ELEMENT: helpers.KV_CACHE_BYTES_PER_ELEMENT,
  CONTEXT_GRANULARITY_LADDER: helpers.CONTEXT_GRANULARITY_LADDER,
  // checksums, ids
  calculateSHA256: helpers.calculateSHA256,
  verifyChecksum: helpers.verifyChecksum,
  generateId: helpers.generateId,
  // platform
  getPlatform: helpers.getPlatform,
  getArchitecture: helpers.getArchitecture,
  getPlatformKey: helpers.getPlatformKey,
  isMac: helpers.isMac,
  isWindows: helpers.isWindows,
  isLinux: helpers.isLinux,
  isAppleSilicon: helpers.isAppleSilicon,
  // files
  ensureDirectory: helpers.ensureDirectory,
  fileExists: helpers.fileExists,
  getFileSize: helpers.getFileSize,
  deleteFile: helpers.deleteFile,
  moveFile: helpers.moveFile,
  calculateChecksum: helpers.calculateChecksum,
  formatBytes: helpers.formatBytes,
  sanitizeFilename: helpers.sanitizeFilename,
  // reasoning models
  detectReasoningSupport: helpers.detectReasoningSupport,
  REASONING_MODEL_PATTERNS: helpers.REASONING_MODEL_PATTERNS,
  // errors for UIs
  formatErrorForUI,
  // paths
  PATHS: paths.PATHS,
  getBinaryPath: paths.getBinaryPath,
  getModelFilePath: paths.getModelFilePath,
  getModelDirectory: paths.getModelDirectory,
  ensureDirectories: paths.ensureDirectories,
  // constants
  DEFAULT_PORTS: helpers.DEFAULT_PORTS,
  DEFAULT_TIMEOUTS: helpers.DEFAULT_TIMEOUTS,
  // error classes
  GenaiElectronError: errors.GenaiElectronError,
  ContextConstraintError: errors.ContextConstraintError,
  ModelNotFoundError: errors.ModelNotFoundError,
  DownloadError: errors.DownloadError,
  InsufficientResourcesError: errors.InsufficientResourcesError,
  ServerError: errors.ServerError,
  LlamaCalibrationResourceStabilityError: errors.LlamaCalibrationResourceStabilityError,
  PortInUseError: errors.PortInUseError,
  FileSystemError: errors.FileSystemError,
  ChecksumError: errors.ChecksumError,
  BinaryError: errors.BinaryError,
};
