// genai-electron-rs/llama-server-launch: the typings of genai-electron 0.26.0's Electron-free
// entry (`genai-electron/llama-server-launch`), identical to upstream's
// (__test__/types/launch-equivalence.ts). The shared types are the main entry's own.
import type { LlamaServerConfig, HealthCheckResponse } from './index.js';

export {
  GenaiElectronError,
  ServerError,
  ContextConstraintError,
  PortInUseError,
  waitForHealthy,
  checkHealth,
  isServerResponding,
  normalizeHealthHost,
  findFreePort,
  isPortBindable,
} from './index.js';
export type { LlamaServerConfig, KVCacheType, FlashAttentionSetting, HealthCheckResponse } from './index.js';

export type LlamaServerRuntimeConfig = Pick<
  LlamaServerConfig,
  | 'host'
  | 'threads'
  | 'contextSize'
  | 'gpuLayers'
  | 'parallelRequests'
  | 'flashAttention'
  | 'fit'
  | 'cacheTypeK'
  | 'cacheTypeV'
  | 'swaFull'
  | 'overrideTensors'
  | 'cacheRam'
  | 'cpuMoe'
  | 'nCpuMoe'
  | 'reasoningFormat'
  | 'modelAlias'
  | 'batchSize'
  | 'continuousBatching'
  | 'useMmap'
  | 'useMlock'
  | 'jinja'
>;
export type LlamaServerRunnerConfig = Omit<LlamaServerRuntimeConfig, 'contextSize' | 'parallelRequests' | 'fit'>;
export type ResolvedLlamaServerRunnerConfig = LlamaServerRunnerConfig & {
  port: number;
  contextSize: number;
  parallelRequests: number;
  fit: 'off';
};
export type ResolvedLlamaServerRuntimeConfig = LlamaServerRuntimeConfig & {
  port: number;
};

export interface LlamaModelFile {
  path: string;
}
export type LlamaSlotsEndpointMode = 'default' | 'enabled' | 'disabled';
export interface LlamaServerArgsOptions {
  slotsEndpoint?: LlamaSlotsEndpointMode;
  slotSavePath?: string;
}

/** The config with the flash-attention setting a quantized V cache needs (`auto`/unset → `on`;
 * `off` throws a ServerError). */
export declare function normalizeLlamaVCacheConfig<T extends Partial<LlamaServerRuntimeConfig>>(config: T): T;
/** llama-server's argv, in genai-electron's order. Addition: where current llama-server replaced
 * `--no-mmap`/`--mlock`, the argv has `--load-mode` (as the manager starts it). */
export declare function buildLlamaServerArgs(
  config: ResolvedLlamaServerRuntimeConfig,
  modelInfo: LlamaModelFile,
  options?: LlamaServerArgsOptions,
): string[];

export interface LlamaRuntimeCapacity {
  effectiveContextSize: number;
  totalSlots?: number;
  modelPath?: string;
}
export type VerifiedLlamaRuntimeCapacity = LlamaRuntimeCapacity & {
  totalSlots: number;
};
export declare function fetchLlamaRuntimeCapacity(
  port: number,
  host: string,
  parallelRequests: number,
  timeout?: number,
  signal?: AbortSignal,
): Promise<LlamaRuntimeCapacity>;
export declare function formatHttpHost(host: string): string;

export interface LlamaServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}
export interface StartLlamaServerRunnerOptions {
  binaryPath: string;
  model: LlamaModelFile;
  config: LlamaServerRunnerConfig;
  contextSize: number;
  parallelRequests: number;
  startupTimeoutMs: number;
  port?: number;
  cwd?: string;
  signal?: AbortSignal;
  stderrMaxBytes?: number;
  slotsEndpoint?: LlamaSlotsEndpointMode;
  slotSavePath?: string;
  temporarySlotSavePath?: boolean;
}
export interface LlamaServerHandle {
  readonly port: number;
  readonly args: readonly string[];
  readonly config: ResolvedLlamaServerRunnerConfig;
  readonly capacity: VerifiedLlamaRuntimeCapacity;
  readonly loadTimeMs: number;
  readonly pid: number;
  readonly stderrTail: string;
  readonly stdoutTail: string;
  readonly exitPromise: Promise<LlamaServerExit>;
  raceWithExit<T>(operation: Promise<T>): Promise<T>;
  stop(): Promise<void>;
}
export declare function startLlamaServerRunner(options: StartLlamaServerRunnerOptions): Promise<LlamaServerHandle>;
