// Error classes: upstream names, codes, prefixes and details; errors from Rust arrive as these
// classes (instanceof holds for the class, GenaiElectronError and Error).
import { createRequire } from 'node:module';
import path from 'node:path';
import * as api from '../index.js';
import { tempDir } from './helpers.mjs';

const {
  GenaiElectronError, ModelNotFoundError, DownloadError, InsufficientResourcesError, ServerError,
  PortInUseError, FileSystemError, ChecksumError, BinaryError, ContextConstraintError,
  LlamaCalibrationResourceStabilityError, formatErrorForUI,
} = api;

const catching = (f) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('constructors match genai-electron', () => {
  test.each([
    [new ModelNotFoundError('m1'), 'ModelNotFoundError', 'MODEL_NOT_FOUND', 'Model not found: m1',
      { modelId: 'm1', suggestion: 'Use modelManager.listModels() to see available models' }],
    [new DownloadError('Download cancelled', { url: 'u' }), 'DownloadError', 'DOWNLOAD_FAILED', 'Download failed: Download cancelled', { url: 'u' }],
    [new InsufficientResourcesError('Not enough RAM', { required: '8GB', available: '4GB' }), 'InsufficientResourcesError',
      'INSUFFICIENT_RESOURCES', 'Not enough RAM', { required: '8GB', available: '4GB' }],
    [new ServerError('boom'), 'ServerError', 'SERVER_ERROR', 'Server error: boom', undefined],
    [new PortInUseError(8080), 'PortInUseError', 'PORT_IN_USE', 'Port 8080 is already in use',
      { port: 8080, suggestion: 'Choose a different port or stop the process using port 8080' }],
    [new FileSystemError('x'), 'FileSystemError', 'FILE_SYSTEM_ERROR', 'File system error: x', undefined],
    [new ChecksumError('SHA256 checksum mismatch', { expected: 'a', actual: 'b' }), 'ChecksumError', 'CHECKSUM_ERROR',
      'Checksum verification failed: SHA256 checksum mismatch',
      { expected: 'a', actual: 'b', suggestion: 'The downloaded file may be corrupted. Try downloading again.' }],
    [new BinaryError('missing'), 'BinaryError', 'BINARY_ERROR', 'Binary error: missing', undefined],
    [new ContextConstraintError('bad', { reason: 'invalid-minimum', stage: 'validation' }), 'ContextConstraintError',
      'CONTEXT_CONSTRAINT_ERROR', 'Context constraint error: bad', { reason: 'invalid-minimum', stage: 'validation' }],
    [new GenaiElectronError('raw', 'CUSTOM', 1), 'GenaiElectronError', 'CUSTOM', 'raw', 1],
  ])('%#', (err, name, code, message, details) => {
    expect(err).toBeInstanceOf(GenaiElectronError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(name);
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
    expect(err.details).toEqual(details);
    expect(err.stack).toContain(name === 'GenaiElectronError' ? 'raw' : message.slice(0, 10));
  });

  test('the calibration stability error is a ServerError', () => {
    const e = new LlamaCalibrationResourceStabilityError('drift', { code: 'CALIBRATION_RESOURCE_DRIFT', partialReport: {}, suggestion: 's' });
    expect(e).toBeInstanceOf(ServerError);
    expect(e.name).toBe('LlamaCalibrationResourceStabilityError');
    expect(e.code).toBe('SERVER_ERROR');
  });
});

describe('errors thrown in Rust arrive as the classes', () => {
  test('FileSystemError from a failed stat', async () => {
    const missing = path.join(tempDir(), 'missing.gguf');
    const err = await api.getFileSize(missing).catch((e) => e);
    expect(err).toBeInstanceOf(FileSystemError);
    expect(err).toBeInstanceOf(GenaiElectronError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FileSystemError');
    expect(err.code).toBe('FILE_SYSTEM_ERROR');
    expect(err.message).toBe(`File system error: Failed to get file size: ${missing}`);
    const osText = process.platform === 'win32' ? /cannot find the file/ : /No such file/;
    expect(err.details).toEqual({ path: missing, error: { code: 'ENOENT', message: expect.stringMatching(osText) } });
  });

  test('FileSystemError from delete and move, with upstream detail keys', async () => {
    const dir = tempDir();
    const a = path.join(dir, 'a');
    const del = await api.deleteFile(a).catch((e) => e);
    expect(del.message).toBe(`File system error: Failed to delete file: ${a}`);
    const mv = await api.moveFile(a, path.join(dir, 'b')).catch((e) => e);
    expect(mv).toBeInstanceOf(FileSystemError);
    expect(mv.details).toEqual(expect.objectContaining({ fromPath: a, toPath: path.join(dir, 'b') }));
  });

  test('ContextConstraintError from sizing validation', async () => {
    const model = { size: 1e9, type: 'llm' };
    const err = await api.systemInfo.getOptimalConfig(model, { minimumContextSize: -1 }).catch((e) => e);
    expect(err).toBeInstanceOf(ContextConstraintError);
    expect(err.details).toEqual({
      reason: 'invalid-minimum', stage: 'validation', minimumContextSize: -1,
      suggestion: 'Set minimumContextSize to a positive integer no larger than Number.MAX_SAFE_INTEGER',
    });
  });

  test('a plain Error stays a plain Error: a native failure without a genai code', () => {
    // getPlatformKey fails only on an unsupported platform; napi's own argument errors are real
    // native failures everywhere. Their `code` is a napi status, not one of genai-electron's.
    const require = createRequire(import.meta.url);
    const binding = require('../binding.cjs');
    const native = require('../lib/native.cjs');
    const raw = catching(() => binding.formatBytes('not a number'));
    expect(typeof raw.code).toBe('string');
    expect(raw.code).not.toMatch(/^[A-Z_]+$/); // e.g. 'NumberExpected'
    const err = catching(() => native.formatBytes('not a number'));
    expect(err).toBeInstanceOf(Error); // made in this realm (a native error is not, see napi.md §5)
    expect(err).not.toBeInstanceOf(GenaiElectronError);
    expect(err.constructor).toBe(Error);
    expect(err.message).toBe(raw.message);
    expect(formatErrorForUI(err).code).toBe('UNKNOWN_ERROR');
    // And the public getPlatformKey keeps upstream's plain Error where it fails.
    const supported = ['darwin-arm64', 'darwin-x64', 'win32-x64', 'linux-x64'].includes(`${process.platform}-${process.arch}`);
    if (supported) expect(api.getPlatformKey()).toBe(`${process.platform}-${process.arch}`);
    else expect(() => api.getPlatformKey()).toThrow(/^Unsupported platform: /);
  });

  test('only the table\'s codes make classes: fromNative on real native errors', async () => {
    const { fromNative } = createRequire(import.meta.url)('../lib/errors.cjs');
    const binding = createRequire(import.meta.url)('../binding.cjs');
    const missing = path.join(tempDir(), 'missing');
    const raw = await binding.getFileSize(missing).catch((e) => e);
    expect(raw.code).toBe('FILE_SYSTEM_ERROR');
    expect(raw.message).toBe(`Failed to get file size: ${missing}`); // unprefixed: the class adds it
    expect(fromNative(raw)).toBeInstanceOf(FileSystemError);
    // The same error with a code outside the table is a plain Error, message untouched.
    raw.code = 'SOMETHING_ELSE';
    const plain = fromNative(raw);
    expect(plain.constructor).toBe(Error);
    expect(plain.message).toBe(`Failed to get file size: ${missing}`);
    // JSON in a message is just text now.
    const json = fromNative(new Error('{"code":"SERVER_ERROR","message":"x","details":null}'));
    expect(json.constructor).toBe(Error);
  });
});

describe('formatErrorForUI', () => {
  test.each([
    [new ModelNotFoundError('x'), 'MODEL_NOT_FOUND', 'Model Not Found', 'Use modelManager.listModels() to see available models'],
    [new PortInUseError(1), 'PORT_IN_USE', 'Port Already In Use', 'Choose a different port or stop the process using port 1'],
    [new ServerError('s'), 'SERVER_ERROR', 'Server Error', 'Check the server logs for more details. The server may need to be restarted.'],
    [new DownloadError('d'), 'DOWNLOAD_FAILED', 'Download Failed', expect.stringContaining('internet connection')],
    [new ContextConstraintError('c', { reason: 'invalid-minimum', stage: 'validation' }), 'CONTEXT_CONSTRAINT_ERROR',
      'Context Capacity Requirement Not Met', expect.stringContaining('context policy')],
    [new GenaiElectronError('g', 'X', { suggestion: 'do y' }), 'X', 'Operation Failed', 'do y'],
    [new Error('e'), 'UNKNOWN_ERROR', 'Unknown Error', expect.stringContaining('try again')],
  ])('%#', (err, code, title, remediation) => {
    expect(formatErrorForUI(err)).toEqual({ code, title, message: err.message, remediation });
  });

  test('non-errors', () => {
    expect(formatErrorForUI('oops').message).toBe('oops');
    expect(formatErrorForUI(null).message).toBe('An unexpected error occurred.');
  });
});
