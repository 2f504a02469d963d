// A server that accepts connections and never answers, through the public API: downloadModel
// and Downloader.download end promptly on cancel (during the GGUF header probe and during the
// download request) and free the download slot; fetchGGUFMetadata ends with a DownloadError once
// the response timeout passes.
import net from 'node:net';
import path from 'node:path';
import { startFileServer } from './support/file-server.mjs';
import { tempDir, until } from './helpers.mjs';

const USER_DATA = tempDir('genai-hostile-jest-');
process.env.GENAI_ELECTRON_USER_DATA = USER_DATA;
const api = await import('../index.js');
const { modelManager, Downloader, DownloadError } = api;

/** A small valid GGUF (v3, no tensors, general.architecture = llama) padded to `len` bytes. */
function tinyGguf(len) {
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
  const str = (s) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const head = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0), u64(1), str('general.architecture'), u32(8), str('llama')]);
  return Buffer.concat([head, Buffer.alloc(len - head.length, 7)]);
}

/** Accepts every connection, reads what comes, never writes a byte. */
async function startSilentServer() {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  let accepted = 0;
  server.on('connection', () => (accepted += 1));
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    accepted: () => accepted,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

let silent;
let files;
const GGUF = tinyGguf(400_000);
beforeAll(async () => {
  silent = await startSilentServer();
  files = await startFileServer();
  files.put('/tiny.gguf', GGUF);
});
afterAll(async () => {
  await silent.close();
  await files.close();
});

test('downloadModel: cancelDownload() ends a header probe that never gets an answer; the next download works', async () => {
  const before = silent.accepted();
  const hanging = modelManager.downloadModel({ source: 'url', url: silent.url('/m.gguf'), name: 'Hang', type: 'llm' });
  await until(() => silent.accepted() > before && modelManager.isDownloading());
  modelManager.cancelDownload();
  const err = await hanging.catch((e) => e);
  expect(err).toBeInstanceOf(DownloadError);
  expect(err.message).toBe('Download failed: Download cancelled');
  expect(modelManager.isDownloading()).toBe(false);

  const info = await modelManager.downloadModel({ source: 'url', url: files.url('/tiny.gguf'), name: 'Tiny', type: 'llm' });
  expect(info).toEqual(expect.objectContaining({ id: 'tiny', size: GGUF.length }));
  expect((await modelManager.listModels()).map((m) => m.id)).toEqual(['tiny']);
});

test('Downloader: cancel() ends a request that never gets an answer', async () => {
  const d = new Downloader();
  const before = silent.accepted();
  const hanging = d.download({ url: silent.url('/f.bin'), destination: path.join(tempDir('genai-hostile-'), 'f.bin') });
  await until(() => silent.accepted() > before && d.downloading);
  d.cancel();
  const err = await hanging.catch((e) => e);
  expect(err).toBeInstanceOf(DownloadError);
  expect(err.message).toBe('Download failed: Download cancelled');
  expect(d.downloading).toBe(false);
});

test('fetchGGUFMetadata: a server that never answers ends in a DownloadError (response timeout)', async () => {
  const err = await api.fetchGGUFMetadata(silent.url('/m.gguf')).catch((e) => e);
  expect(err).toBeInstanceOf(DownloadError);
  expect(err.message).toBe('Download failed: Failed to fetch GGUF metadata from URL: no response within 20s');
  expect(err.details).toEqual(expect.objectContaining({ url: silent.url('/m.gguf') }));
}, 60_000);
