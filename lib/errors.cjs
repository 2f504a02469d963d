'use strict';
// genai-electron's error classes (same names, codes, message prefixes and details), and the
// mapping from the JSON that Rust puts in a native error's message back to these classes.

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

/** Rebuilds an error thrown by the native binding as the matching class, in this realm. */
function fromNative(err) {
  const text = err && typeof err.message === 'string' ? err.message : String(err);
  let payload;
  try {
    payload = text.startsWith('{"code"') ? JSON.parse(text) : undefined;
  } catch {
    payload = undefined;
  }
  if (!payload) return new Error(text); // a plain error (realm-local, so instanceof Error holds)
  const { code, message } = payload;
  const details = payload.details ?? undefined;
  switch (code) {
    case 'MODEL_NOT_FOUND':
      return new ModelNotFoundError(details?.modelId ?? message);
    case 'PORT_IN_USE':
      return new PortInUseError(details?.port);
    case 'DOWNLOAD_FAILED':
      return new DownloadError(message, details);
    case 'INSUFFICIENT_RESOURCES':
      return new InsufficientResourcesError(message, details);
    case 'SERVER_ERROR':
      return new ServerError(message, details);
    case 'FILE_SYSTEM_ERROR':
      return new FileSystemError(message, details);
    case 'CHECKSUM_ERROR':
      return new ChecksumError(message, details);
    case 'BINARY_ERROR':
      return new BinaryError(message, details);
    case 'CONTEXT_CONSTRAINT_ERROR':
      return new ContextConstraintError(message, details);
    default:
      return new GenaiElectronError(message, code, details);
  }
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
