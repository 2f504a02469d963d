'use strict';
// ModelManager, StorageManager, Downloader and the GGUF/Hugging Face helpers. Storage, downloads
// and parsing run in Rust; this file adapts callbacks and keeps genai-electron's signatures.
const path = require('node:path');
const native = require('./native.cjs');
const { BASE_DIR, PATHS } = require('./paths.cjs');
const { DownloadError } = require('./errors.cjs');

let shared; // one native manager per process: ModelManager and StorageManager share its state
const nativeManager = () => (shared ??= new native.NativeModelManager(BASE_DIR));

/**
 * Wraps a user progress callback: exceptions are swallowed (as upstream), values never go
 * backwards, and the final (total, total) is delivered before the caller's await returns.
 */
function progressRelay(onProgress) {
  if (typeof onProgress !== 'function') return { fn: undefined, finish() {} };
  let last = [-1, -1];
  let closed = false;
  const call = (d, t) => {
    if (closed || d < last[0]) return;
    last = [d, t];
    try {
      onProgress(d, t);
    } catch {
      // a throwing callback must not break the download
    }
  };
  return {
    fn: call,
    /** Delivers the final call if it has not arrived yet, then ignores late ones. */
    finish(total) {
      if (total > 0 && (last[0] !== total || last[1] !== total)) call(total, total);
      closed = true;
    },
  };
}

/**
 * Wraps `onComponentStart`. A throw reaches Rust, which ends the download with upstream's
 * "Multi-component download failed"; upstream rejects with the thrown value itself when it is a
 * DownloadError (its `catch` rethrows those), which only JS can tell: `rejection` does that.
 */
function componentRelay(onStart) {
  if (typeof onStart !== 'function') return { fn: undefined, rejection: (err) => err };
  let thrown;
  return {
    fn(role, filename, index, total) {
      try {
        onStart({ role, filename, index, total });
      } catch (err) {
        thrown = { err };
        throw err;
      }
    },
    rejection: (err) => (thrown?.err instanceof DownloadError ? thrown.err : err),
  };
}

const snapshot = (config) => ({
  ...config,
  onProgress: undefined,
  onComponentStart: undefined,
  provenance: config.provenance ? { ...config.provenance } : undefined,
  shardFiles: Array.isArray(config.shardFiles) ? [...config.shardFiles] : undefined,
  components: Array.isArray(config.components) ? config.components.map((c) => ({ ...c })) : undefined,
});

class ModelManager {
  static #instance;

  static getInstance() {
    if (!ModelManager.#instance) ModelManager.#instance = new ModelManager();
    return ModelManager.#instance;
  }

  initialize() {
    return nativeManager().initialize();
  }

  listModels(type) {
    return nativeManager().listModels(type || undefined);
  }

  async downloadModel(config) {
    const relay = progressRelay(config?.onProgress);
    const start = componentRelay(config?.onComponentStart);
    let info;
    try {
      info = await nativeManager().downloadModel(snapshot(config ?? {}), relay.fn, start.fn);
    } catch (err) {
      throw start.rejection(err);
    }
    relay.finish(info.size);
    return info;
  }

  deleteModel(id) {
    return nativeManager().deleteModel(id);
  }

  getModelInfo(id) {
    return nativeManager().getModelInfo(id);
  }

  verifyModel(id) {
    return nativeManager().verifyModel(id);
  }

  cancelDownload() {
    nativeManager().cancelDownload();
  }

  isDownloading() {
    return nativeManager().isDownloading();
  }

  updateModelMetadata(id, options) {
    return nativeManager().updateModelMetadata(id, options?.source);
  }

  async getModelLayerCount(id) {
    return (await nativeManager().modelShape(id)).layerCount;
  }

  async getModelContextLength(id) {
    return (await nativeManager().modelShape(id)).contextLength;
  }

  async getModelArchitecture(id) {
    return (await nativeManager().modelShape(id)).architecture;
  }
}

class StorageManager {
  static #instance;

  static getInstance() {
    if (!StorageManager.#instance) StorageManager.#instance = new StorageManager();
    return StorageManager.#instance;
  }

  initialize() {
    return nativeManager().initialize();
  }

  getModelPath(type, filename) {
    return path.join(PATHS.models[type], filename);
  }

  getModelMetadataPath(type, modelId) {
    return nativeManager().metadataPath(type, modelId);
  }

  saveModelMetadata(modelInfo) {
    return nativeManager().saveModelMetadata(modelInfo);
  }

  loadModelMetadata(type, modelId) {
    return nativeManager().loadModelMetadata(type, modelId);
  }

  deleteModelFiles(type, modelId) {
    return nativeManager().deleteModelFiles(type, modelId);
  }

  listModelFiles(type) {
    return nativeManager().listModelFiles(type);
  }

  /** Bytes free on the models' disk (upstream always answers Number.MAX_SAFE_INTEGER). */
  checkDiskSpace() {
    return nativeManager().checkDiskSpace();
  }

  verifyModelIntegrity(type, modelId) {
    return nativeManager().verifyModelIntegrity(type, modelId);
  }

  getStorageUsed(type) {
    return nativeManager().storageUsed(type || undefined);
  }

  resetInitialization() {
    nativeManager().resetInitialization();
  }
}

class Downloader {
  #native = new native.NativeDownloader();

  /** Streams `url` to `destination` (resuming an earlier partial download of the same URL). */
  async download({ url, destination, onProgress, headers, signal }) {
    const relay = progressRelay(onProgress);
    const abort = () => this.#native.cancel();
    if (signal?.aborted) throw new DownloadError('Download cancelled', { url });
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await this.#native.download(url, destination, headers ?? {}, relay.fn);
      const { size } = await require('node:fs/promises').stat(destination);
      relay.finish(size);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  cancel() {
    this.#native.cancel();
  }

  get downloading() {
    return this.#native.downloading;
  }
}

/** `tensorInfos` as @huggingface/gguf gives them: shape and offset as BigInt (the binding gives
 * them as decimal strings, exact past 2^53). */
function withBigInts(result) {
  for (const t of result.tensorInfos) {
    t.shape = t.shape.map((d) => BigInt(d));
    t.offset = BigInt(t.offset);
  }
  return result;
}

const fetchGGUFMetadata = async (url) => withBigInts(await native.fetchGgufMetadata(url));
const fetchLocalGGUFMetadata = async (filePath) => withBigInts(await native.fetchLocalGgufMetadata(filePath));

function getArchField(metadata, fieldPath) {
  const arch = metadata['general.architecture'];
  return typeof arch === 'string' && arch.length > 0 ? metadata[`${arch}.${fieldPath}`] : undefined;
}

function getHuggingFaceURL(repo, file, revision = 'main') {
  try {
    return native.huggingFaceUrl(repo, file, revision);
  } catch (err) {
    throw new TypeError(err.message); // upstream throws a plain TypeError here
  }
}

const parseHuggingFaceURL = (url) => native.parseHuggingFaceUrl(url);

module.exports = {
  nativeManager,
  ModelManager,
  StorageManager,
  Downloader,
  fetchGGUFMetadata,
  fetchLocalGGUFMetadata,
  getArchField,
  getHuggingFaceURL,
  parseHuggingFaceURL,
};
