// genai-electron-rs/llama-server-launch for ESM importers: the same objects as the CommonJS module.
import api from './lib/llama-server-launch.cjs';

export const {
  buildLlamaServerArgs,
  normalizeLlamaVCacheConfig,
  startLlamaServerRunner,
  waitForHealthy,
  checkHealth,
  isServerResponding,
  normalizeHealthHost,
  formatHttpHost,
  fetchLlamaRuntimeCapacity,
  findFreePort,
  isPortBindable,
  GenaiElectronError,
  ServerError,
  ContextConstraintError,
  PortInUseError,
} = api;
