'use strict';
// Small helpers with genai-electron's names: platform, files, ids, reasoning, KV math, constants.
const native = require('./native.cjs');

const getPlatform = () => process.platform;
const getArchitecture = () => process.arch;
const getPlatformKey = () => native.platformKey();
const isMac = () => process.platform === 'darwin';
const isWindows = () => process.platform === 'win32';
const isLinux = () => process.platform === 'linux';
const isAppleSilicon = () => isMac() && process.arch === 'arm64';

const ensureDirectory = (dirPath) => native.ensureDirectory(dirPath);
const fileExists = (filePath) => native.fileExists(filePath);
const getFileSize = (filePath) => native.getFileSize(filePath);
const deleteFile = (filePath) => native.deleteFile(filePath);
const moveFile = (fromPath, toPath) => native.moveFile(fromPath, toPath);
const calculateChecksum = (filePath) => native.calculateChecksum(filePath);
const calculateSHA256 = (filePath) => native.calculateChecksum(filePath);
const verifyChecksum = (filePath, expectedChecksum) => native.verifyChecksum(filePath, expectedChecksum);
const formatBytes = (bytes, decimals = 2) => native.formatBytes(bytes, decimals);
const sanitizeFilename = (filename) => native.sanitizeFilename(filename);
const generateId = () => native.generateId();

const REASONING_MODEL_PATTERNS = Object.freeze(['qwen3', 'deepseek-r1', 'gpt-oss']);
const detectReasoningSupport = (filename) => native.detectReasoningSupport(filename);

const KV_CACHE_BYTES_PER_ELEMENT = Object.freeze({
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q5_0: 22 / 32,
  q5_1: 24 / 32,
  q4_0: 18 / 32,
  q4_1: 20 / 32,
  iq4_nl: 18 / 32,
});
const CONTEXT_GRANULARITY_LADDER = Object.freeze(
  [[2048, 128], [4096, 256], [8192, 512], [16384, 1024], [32768, 2048], [Infinity, 4096]].map((r) => Object.freeze(r)),
);
const estimateKVBytesPerToken = (modelInfo, cacheTypeK, cacheTypeV) =>
  native.estimateKvBytesPerToken(modelInfo, cacheTypeK, cacheTypeV);
const floorContextToGranularity = (tokens) => native.floorContextToGranularity(tokens);

const DEFAULT_PORTS = Object.freeze({ llama: 8080, diffusion: 8081 });
const DEFAULT_TIMEOUTS = Object.freeze({ download: 300000, serverStart: 120000, serverStop: 10000, healthCheck: 5000 });

module.exports = {
  getPlatform,
  getArchitecture,
  getPlatformKey,
  isMac,
  isWindows,
  isLinux,
  isAppleSilicon,
  ensureDirectory,
  fileExists,
  getFileSize,
  deleteFile,
  moveFile,
  calculateChecksum,
  calculateSHA256,
  verifyChecksum,
  formatBytes,
  sanitizeFilename,
  generateId,
  REASONING_MODEL_PATTERNS,
  detectReasoningSupport,
  KV_CACHE_BYTES_PER_ELEMENT,
  CONTEXT_GRANULARITY_LADDER,
  estimateKVBytesPerToken,
  floorContextToGranularity,
  DEFAULT_PORTS,
  DEFAULT_TIMEOUTS,
};
