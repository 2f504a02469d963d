'use strict';
// genai-electron's error classes (same names, codes, message prefixes and details), and the
// mapping from a native error's `code` (set by Rust, see src/errors.rs) back to these classes.

class GenaiElectronError extends Error {
  constructor(message, code, details) {
    super(message);
    this.name = 'GenaiElectronError';
    this.code = code;
    this.details = details;
    if (Error.captureStackTrace) Error.captureStackTrace(this, this.constructor);
  }
}

class ContextConstraintError extends GenaiElectronError {
  constructor(message, details) {
    super(`Context constraint error: ${message}`, 'CONTEXT_CONSTRAINT_ERROR', details);
    this.name = 'ContextConstraintError';
  }
}

class ModelNotFoundError extends GenaiElectronError {
  constructor(modelId) {
    super(`Model not found: ${modelId}`, 'MODEL_NOT_FOUND', {
      modelId,
      suggestion: 'Use modelManager.listModels() to see available models',
    });
    this.name = 'ModelNotFoundError';
  }
}

class DownloadError extends GenaiElectronError {
  constructor(message, details) {
    super(`Download failed: ${message}`, 'DOWNLOAD_FAILED', details);
    this.name = 'DownloadError';
  }
}

class InsufficientResourcesError extends GenaiElectronError {
  constructor(message, details) {
    super(message, 'INSUFFICIENT_RESOURCES', details);
    this.name = 'InsufficientResourcesError';
  }
}

class ServerError extends GenaiElectronError {
  constructor(message, details) {
    super(`Server error: ${message}`, 'SERVER_ERROR', details);
    this.name = 'ServerError';
  }
}

class LlamaCalibrationResourceStabilityError extends ServerError {
  constructor(message, details) {
    super(message, details);
    this.name = 'LlamaCalibrationResourceStabilityError';
  }
}

class PortInUseError extends GenaiElectronError {
  constructor(port) {
    super(`Port ${port} is already in use`, 'PORT_IN_USE', {
      port,
      suggestion: `Choose a different port or stop the process using port ${port}`,
    });
    this.name = 'PortInUseError';
  }
}

class FileSystemError extends GenaiElectronError {
  constructor(message, details) {
    super(`File system error: ${message}`, 'FILE_SYSTEM_ERROR', details);
    this.name = 'FileSystemError';
  }
}

class ChecksumError extends GenaiElectronError {
  constructor(message, details) {
    super(`Checksum verification failed: ${message}`, 'CHECKSUM_ERROR', {
      ...details,
      suggestion: 'The downloaded file may be corrupted. Try downloading again.',
    });
    this.name = 'ChecksumError';
  }
}

class BinaryError extends GenaiElectronError {
  constructor(message, details) {
    super(`Binary error: ${message}`, 'BINARY_ERROR', details);
    this.name = 'BinaryError';
  }
}

// The one table from the codes the core sets (crates/core/src/error.rs `ErrorCode`) to the
// classes; each entry gets the unprefixed message and the details, as the core sent them.
const BY_CODE = Object.freeze({
  MODEL_NOT_FOUND: (message, details) => new ModelNotFoundError(details?.modelId ?? message),
  PORT_IN_USE: (message, details) => new PortInUseError(details?.port),
  DOWNLOAD_FAILED: (message, details) => new DownloadError(message, details),
  INSUFFICIENT_RESOURCES: (message, details) => new InsufficientResourcesError(message, details),
  SERVER_ERROR: (message, details) => new ServerError(message, details),
  FILE_SYSTEM_ERROR: (message, details) => new FileSystemError(message, details),
  CHECKSUM_ERROR: (message, details) => new ChecksumError(message, details),
  BINARY_ERROR: (message, details) => new BinaryError(message, details),
  CONTEXT_CONSTRAINT_ERROR: (message, details) => new ContextConstraintError(message, details),
});

/**
 * Rebuilds an error thrown by the native binding in this realm: a core error (a `code` from the
 * table) as its class, anything else (napi's own failures, whose codes are napi statuses such
 * as `InvalidArg`) as a plain Error (a TypeError as a TypeError), so that `instanceof` holds where
 * the caller runs.
 */
function fromNative(err) {
  if (err instanceof GenaiElectronError) return err; // already one of ours (thrown by a JS callback)
  const message = err && typeof err.message === 'string' ? err.message : String(err);
  const code = err && typeof err.code === 'string' ? err.code : undefined;
  const make = code !== undefined && Object.hasOwn(BY_CODE, code) ? BY_CODE[code] : undefined;
  if (make) return make(message, err.details ?? undefined);
  return err?.name === 'TypeError' ? new TypeError(message) : new Error(message); // core's TypeErrors stay TypeErrors
}

module.exports = {
  GenaiElectronError,
  ContextConstraintError,
  ModelNotFoundError,
  DownloadError,
  InsufficientResourcesError,
  ServerError,
  LlamaCalibrationResourceStabilityError,
  PortInUseError,
  FileSystemError,
  ChecksumError,
  BinaryError,
  fromNative,
};
