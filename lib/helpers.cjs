'use strict';
// Small helpers with genai-electron's names: platform, files, ids, reasoning, KV math, constants.
const native = require('./native.cjs');

// The constants come from the core (src/constants.rs), copied into this realm's objects (native
// objects would fail `instanceof Array` in a Jest sandbox) and frozen in upstream's shapes.
const C = native.constants();

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
const formatBytes = (bytes, decimals) => native.formatBytes(bytes, decimals);
const sanitizeFilename = (filename) => native.sanitizeFilename(filename);
const generateId = () => native.generateId();

const REASONING_MODEL_PATTERNS = Object.freeze([...C.reasoningModelPatterns]);
const detectReasoningSupport = (filename) => native.detectReasoningSupport(filename);

const KV_CACHE_BYTES_PER_ELEMENT = Object.freeze(Object.fromEntries(C.kvCacheBytesPerElement));
const CONTEXT_GRANULARITY_LADDER = Object.freeze(Array.from(C.contextGranularityLadder, (rung) => Object.freeze([...rung])));
const estimateKVBytesPerToken = (modelInfo, cacheTypeK, cacheTypeV) =>
  native.estimateKvBytesPerToken(modelInfo, cacheTypeK, cacheTypeV);
const floorContextToGranularity = (tokens) => native.floorContextToGranularity(tokens);

const DEFAULT_PORTS = Object.freeze({ ...C.defaultPorts });
const DEFAULT_TIMEOUTS = Object.freeze({ ...C.defaultTimeouts });

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
