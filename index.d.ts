import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
// As genai-electron's: Electron is an optional peer dependency (without it, `App` is `any`).
import type { App } from 'electron';

// Public typings of genai-electron-rs. Every declaration shared with genai-electron 0.26.0 is
// type-identical to it (checked by __test__/types/equivalence.ts); additions are marked.

// ---------------------------------------------------------------------------------------------
// System types

export interface GPUInfo {
  available: boolean;
  type?: 'nvidia' | 'amd' | 'apple' | 'intel';
  name?: string;
  vram?: number;
  vramAvailable?: number;
  cuda?: boolean;
  metal?: boolean;
  rocm?: boolean;
  vulkan?: boolean;
  /** Addition: the NVIDIA driver version. */
  driverVersion?: string;
  /** Addition: the highest CUDA version the NVIDIA driver supports (e.g. `12.4`). */
  cudaVersion?: string;
  /** Addition: every GPU found, primary first (the fields above describe the primary one). */
  devices?: GPUDevice[];
}

/** Addition: one GPU of the machine. */
export interface GPUDevice {
  type: 'nvidia' | 'amd' | 'apple' | 'intel';
  name: string;
  vram?: number;
  vramAvailable?: number;
  busId?: string;
}

export interface CPUInfo {
  cores: number;
  model: string;
  architecture: string;
}

export interface MemoryInfo {
  total: number;
  available: number;
  used: number;
}

export type MemoryTelemetryRefreshStatus = 'refreshed' | 'not-required' | 'failed';

export interface TelemetryCommandOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface SystemRecommendations {
  maxModelSize: string;
  recommendedQuantization: readonly string[];
  threads: number;
  gpuLayers?: number;
  gpuAcceleration: boolean;
}

export interface SystemCapabilities {
  cpu: CPUInfo;
  memory: MemoryInfo;
  gpu: GPUInfo;
  platform: NodeJS.Platform;
  recommendations: SystemRecommendations;
  detectedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Model types

export type ModelType = 'llm' | 'diffusion';

export type DiffusionComponentRole = 'diffusion_model' | 'clip_l' | 'clip_g' | 't5xxl' | 'llm' | 'llm_vision' | 'vae';

export interface ArtifactProvenance {
  license: string;
  licenseUrl?: string;
  lastCheckedOn?: string;
  note?: string;
}

export interface DiffusionComponentInfo {
  path: string;
  size: number;
  checksum?: string;
  source?: ModelSource;
  provenance?: ArtifactProvenance;
}

export type DiffusionModelComponents = Partial<Record<DiffusionComponentRole, DiffusionComponentInfo>>;

export interface DiffusionComponentDownload {
  role: DiffusionComponentRole;
  source: 'huggingface' | 'url';
  url?: string;
  repo?: string;
  file?: string;
  revision?: string;
  provenance?: ArtifactProvenance;
  checksum?: string;
}

export type MetadataFetchStrategy = 'local-only' | 'remote-only' | 'local-remote' | 'remote-local';

export interface ModelSource {
  type: 'huggingface' | 'url';
  url: string;
  repo?: string;
  file?: string;
  revision?: string;
}

export interface GGUFMetadata {
  version?: number;
  tensor_count?: number;
  kv_count?: number;
  architecture?: string;
  general_name?: string;
  file_type?: number;
  block_count?: number;
  context_length?: number;
  attention_sliding_window?: number | number[];
  attention_head_count?: number | number[];
  attention_head_count_kv?: number | number[];
  attention_key_length?: number | number[];
  expert_count?: number;
  expert_used_count?: number;
  expert_feed_forward_length?: number;
  expert_weights_bytes?: number;
  embedding_length?: number;
  feed_forward_length?: number;
  attention_layer_norm_rms_epsilon?: number;
  vocab_size?: number;
  rope_dimension_count?: number;
  rope_freq_base?: number;
  raw?: Record<string, unknown>;
}

export interface ShardInfo {
  path: string;
  size: number;
  checksum?: string;
}

export interface ModelInfo {
  id: string;
  name: string;
  type: ModelType;
  size: number;
  path: string;
  downloadedAt: string;
  source: ModelSource;
  provenance?: ArtifactProvenance;
  checksum?: string;
  supportsReasoning?: boolean;
  ggufMetadata?: GGUFMetadata;
  components?: DiffusionModelComponents;
  shards?: ShardInfo[];
}

export type DownloadProgressCallback = (downloaded: number, total: number) => void;

export interface DownloadConfig {
  source: 'huggingface' | 'url';
  url?: string;
  repo?: string;
  file?: string;
  revision?: string;
  provenance?: ArtifactProvenance;
  name: string;
  type: ModelType;
  checksum?: string;
  onProgress?: DownloadProgressCallback;
  shardFiles?: string[];
  components?: DiffusionComponentDownload[];
  modelDirectory?: string;
  onComponentStart?: (info: { role: string; filename: string; index: number; total: number }) => void;
}

export interface DownloadProgress {
  downloaded: number;
  total: number;
  percentage: number;
  speed: number;
  estimatedTimeRemaining?: number;
}

// ---------------------------------------------------------------------------------------------
// Server configuration types

export type ServerStatus = 'stopped' | 'starting' | 'running' | 'stopping' | 'crashed';
export type HealthStatus = 'ok' | 'loading' | 'error' | 'unknown';
export type KVCacheType = 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl';
export type FlashAttentionSetting = boolean | 'on' | 'off' | 'auto';

export interface ServerConfig {
  modelId: string;
  port?: number | 'auto';
  threads?: number;
  contextSize?: number;
  minimumContextSize?: number;
  preferredContextSize?: number;
  maximumContextSize?: number;
  gpuLayers?: number;
  parallelRequests?: number;
  flashAttention?: FlashAttentionSetting;
  host?: string;
  forceValidation?: boolean;
  startupTimeout?: number;
}

export interface ServerInfo {
  status: ServerStatus;
  health: HealthStatus;
  pid?: number;
  port: number;
  modelId: string;
  startedAt?: string;
  error?: string;
  loadTimeMs?: number;
  configuredContextSize?: number;
  effectiveContextSize?: number;
  serverGeneration?: number;
  effectiveParallelRequests?: number;
}

export interface LlamaServerReadyState {
  serverGeneration: number;
  modelId: string;
  port: number;
  configuredContextSize?: number;
  effectiveContextSize: number;
  effectiveParallelRequests: number;
  startedAt: string;
}

export interface LlamaServerConfig extends ServerConfig {
  modelAlias?: string;
  continuousBatching?: boolean;
  batchSize?: number;
  useMmap?: boolean;
  useMlock?: boolean;
  jinja?: boolean;
  cacheTypeK?: KVCacheType;
  cacheTypeV?: KVCacheType;
  swaFull?: boolean;
  overrideTensors?: string;
  cacheRam?: number;
  cpuMoe?: boolean;
  nCpuMoe?: number;
  reasoningFormat?: 'auto' | 'deepseek' | 'deepseek-legacy' | 'none';
  fit?: 'on' | 'off';
  occupancyCheck?: 'warn' | 'strict' | 'off';
  autoRestart?: boolean;
  maxRestarts?: number;
  healthCheckInterval?: number;
}

export type LlamaPreStartHook = (ctx: {
  config: LlamaServerConfig;
  reason: 'start' | 'auto-restart';
}) => Promise<void> | void;

export type OptimalConfigHints = Partial<
  Pick<
    LlamaServerConfig,
    | 'contextSize'
    | 'minimumContextSize'
    | 'preferredContextSize'
    | 'maximumContextSize'
    | 'gpuLayers'
    | 'parallelRequests'
    | 'flashAttention'
    | 'cacheTypeK'
    | 'cacheTypeV'
    | 'cpuMoe'
    | 'nCpuMoe'
    | 'overrideTensors'
  >
>;

// ---------------------------------------------------------------------------------------------
// Utility types

export type Optional<T> = { [K in keyof T]?: T[K] };
export type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];
export type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

// ---------------------------------------------------------------------------------------------
// SystemInfo

export declare class SystemInfo {
  private constructor();
  static getInstance(): SystemInfo;
  detect(forceRefresh?: boolean): Promise<SystemCapabilities>;
  getMemoryInfo(): MemoryInfo;
  getGPUInfo(options?: TelemetryCommandOptions): Promise<GPUInfo>;
  canRunModel(
    modelInfo: ModelInfo,
    options?: {
      checkTotalMemory?: boolean;
      gpuLayers?: number;
      totalLayers?: number;
      contextSize?: number;
      cacheTypeK?: KVCacheType;
      cacheTypeV?: KVCacheType;
      cpuMoe?: boolean;
      nCpuMoe?: number;
      overrideTensors?: string;
    },
  ): Promise<{ possible: boolean; reason?: string; suggestion?: string }>;
  getOptimalConfig(modelInfo: ModelInfo, hints?: OptimalConfigHints): Promise<Partial<LlamaServerConfig>>;
  refreshMemoryTelemetry(options?: TelemetryCommandOptions): Promise<MemoryTelemetryRefreshStatus>;
  clearCache(): void;
}

export declare const systemInfo: SystemInfo;

export declare function getCPUInfo(): CPUInfo;
export declare function getRecommendedThreads(cpuCores?: number): number;
export declare function getMemoryInfo(): MemoryInfo;
export declare function estimateVRAM(gpu: GPUInfo, options?: TelemetryCommandOptions): Promise<number | null>;
export declare function detectGPU(options?: TelemetryCommandOptions): Promise<GPUInfo>;

export declare const KV_CACHE_BYTES_PER_ELEMENT: Record<KVCacheType, number>;
export declare const CONTEXT_GRANULARITY_LADDER: readonly (readonly [number, number])[];
export declare function floorContextToGranularity(tokens: number): number;
export declare function estimateKVBytesPerToken(modelInfo: ModelInfo, cacheTypeK?: KVCacheType, cacheTypeV?: KVCacheType): number;

// ---------------------------------------------------------------------------------------------
// Models

export declare class ModelManager {
  private constructor();
  static getInstance(): ModelManager;
  initialize(): Promise<void>;
  listModels(type?: ModelType): Promise<ModelInfo[]>;
  downloadModel(config: DownloadConfig): Promise<ModelInfo>;
  deleteModel(id: string): Promise<void>;
  getModelInfo(id: string): Promise<ModelInfo>;
  verifyModel(id: string): Promise<boolean>;
  cancelDownload(): void;
  isDownloading(): boolean;
  updateModelMetadata(id: string, options?: { source?: MetadataFetchStrategy }): Promise<ModelInfo>;
  getModelLayerCount(id: string): Promise<number>;
  getModelContextLength(id: string): Promise<number>;
  getModelArchitecture(id: string): Promise<string>;
}

export declare const modelManager: ModelManager;

export declare class StorageManager {
  private constructor();
  static getInstance(): StorageManager;
  initialize(): Promise<void>;
  getModelPath(type: ModelType, filename: string): string;
  getModelMetadataPath(type: ModelType, modelId: string): string;
  saveModelMetadata(modelInfo: ModelInfo): Promise<void>;
  loadModelMetadata(type: ModelType, modelId: string): Promise<ModelInfo>;
  deleteModelFiles(type: ModelType, modelId: string): Promise<void>;
  listModelFiles(type: ModelType): Promise<string[]>;
  /** Bytes free on the disk that holds the models (upstream: always Number.MAX_SAFE_INTEGER). */
  checkDiskSpace(): Promise<number>;
  verifyModelIntegrity(type: ModelType, modelId: string): Promise<boolean>;
  getStorageUsed(type?: ModelType): Promise<number>;
  resetInitialization(): void;
}

export interface DownloadOptions {
  url: string;
  destination: string;
  onProgress?: DownloadProgressCallback;
  timeout?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export declare class Downloader {
  /** Streams to `<destination>.partial`, resumes an interrupted download of the same URL. */
  download(options: DownloadOptions): Promise<void>;
  cancel(): void;
  get downloading(): boolean;
}

/** A tensor's header entry (`dtype` is the ggml type id, as @huggingface/gguf's enum). */
export interface GGUFTensorInfo {
  name: string;
  n_dims: number;
  shape: bigint[];
  dtype: number;
  offset: bigint;
}

export interface ParsedGGUFData {
  metadata: Record<string, unknown>;
  tensorInfos: GGUFTensorInfo[];
}

export declare function fetchGGUFMetadata(url: string): Promise<ParsedGGUFData>;
export declare function fetchLocalGGUFMetadata(filePath: string): Promise<ParsedGGUFData>;
export declare function getArchField(metadata: Record<string, unknown>, fieldPath: string): unknown;
export declare function getHuggingFaceURL(repo: string, file: string, revision?: string): string;
export declare function parseHuggingFaceURL(url: string): { repo: string; revision: string; file: string } | null;

// ---------------------------------------------------------------------------------------------
// Server plumbing: logs, health, ports

export interface LogRotationOptions {
  maxFileSize?: number;
  maxArchives?: number;
}
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface LogEntry {
  timestamp: string;
  level: LogLevel;
  message: string;
}

export declare class LogManager {
  constructor(logPath: string, rotation?: LogRotationOptions);
  initialize(): Promise<void>;
  write(message: string, level?: LogLevel): Promise<void>;
  /** Reads backwards from the end of the file: the cost grows with `lines`, not the file. */
  getRecent(lines?: number): Promise<string[]>;
  clear(): Promise<void>;
  getLogPath(): string;
  static parseEntry(line: string): LogEntry | null;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  onError?: (error: Error) => void;
}
export interface SpawnResult {
  process: ChildProcess;
  pid: number;
}
/**
 * Spawns through Node's child_process (the result is a real ChildProcess); the child is killed
 * when this process exits (exit hook; Windows: kill-on-close job).
 */
export declare class ProcessManager {
  spawn(command: string, args: string[], options?: SpawnOptions): SpawnResult;
  /** SIGTERM, SIGKILL after `timeout` (10 s); resolves once the process is gone. */
  kill(pid: number, timeout?: number): Promise<void>;
  /** A live process (a zombie is not). */
  isRunning(pid: number): boolean;
}

export interface HealthCheckResponse {
  status: HealthStatus;
  [key: string]: unknown;
}
export declare function checkHealth(port: number, timeout?: number, host?: string, signal?: AbortSignal): Promise<HealthCheckResponse>;
export declare function waitForHealthy(port: number, timeout?: number, initialDelay?: number, maxDelay?: number, host?: string, signal?: AbortSignal): Promise<void>;
export declare function isServerResponding(port: number, timeout?: number, host?: string): Promise<boolean>;
export declare function normalizeHealthHost(host?: string): string;
export declare function findFreePort(host?: string): Promise<number>;
export declare function isPortBindable(port: number, host?: string): Promise<boolean>;

// ---------------------------------------------------------------------------------------------
// llama-server (calibration and pre-start hooks are not here yet)

export type ServerEvent =
  | 'ready'
  | 'started'
  | 'stopped'
  | 'crashed'
  | 'restarted'
  | 'health-check-ok'
  | 'health-check-failed'
  | 'binary-log'
  | 'binary-progress'
  | 'backend-status'
  | 'calibration-progress';

export interface ServerEventData {
  event: ServerEvent;
  serverInfo: ServerInfo;
  error?: Error;
  timestamp: string;
}

/** `binary-log`: which binary is used and how its validation went. */
export interface BinaryLogEvent {
  message: string;
  level: 'info' | 'warn' | 'error';
}

/** `binary-progress`: provisioning's steps (`file` is `binary` or a dependency's description). */
export interface BinaryProgressEvent {
  phase: 'downloading' | 'extracting' | 'finalizing' | 'verifying' | 'testing' | 'installing';
  file: string;
  downloaded?: number;
  total?: number;
  percent?: number;
  completedEntries?: number;
  totalEntries?: number;
  writtenBytes?: number;
  totalUncompressedBytes?: number;
}

/**
 * Additions to both servers' start config: which binary, and where a provisioned one comes from.
 * Unset: `$GENAI_LLAMA_SERVER_PATH` / `$GENAI_SD_SERVER_PATH`, `$GENAI_BINARY_MIRROR`,
 * `$GENAI_BINARY_CATALOG`, `$GENAI_BINARIES_DIR`.
 */
export interface BinarySourceOptions {
  /** A binary outside userData: used as is (after `--version`/`--help`), never provisioned. */
  binaryPath?: string;
  /** Replaces the `https://github.com/` prefix of every catalog URL (mirrors, air-gapped hosts). */
  binaryMirror?: string;
  /** A JSON file of `BINARY_VERSIONS`' shape that replaces the built-in catalog. */
  binaryCatalog?: string;
  /** A read-only binaries folder (`llama/`, `diffusion/`), e.g. from `genai-electron-rs binaries install`. */
  binariesDir?: string;
}

/**
 * As genai-electron's: a subclass implements `start()`/`stop()` and keeps its state in the
 * protected fields; everything else is concrete (this package's managers override the getters).
 * Not here: the protected `ensureBinaryHelper` (binaries come from `provisionBinary`).
 */
export declare abstract class ServerManager extends EventEmitter {
  protected _status: ServerStatus;
  protected _pid?: number;
  protected _port: number;
  protected _config?: ServerConfig;
  protected _startedAt?: Date;
  protected logManager?: LogManager;
  abstract start(config: ServerConfig): Promise<ServerInfo>;
  abstract stop(): Promise<void>;
  restart(): Promise<ServerInfo>;
  getStatus(): ServerStatus;
  getInfo(): ServerInfo;
  getPort(): number;
  getPid(): number | undefined;
  getConfig(): ServerConfig | undefined;
  isRunning(): boolean;
  isStopped(): boolean;
  isStarting(): boolean;
  isStopping(): boolean;
  hasCrashed(): boolean;
  protected setStatus(status: ServerStatus): void;
  protected emitEvent<T extends ServerEvent>(event: T, data?: unknown): void;
  getLogs(lines?: number): Promise<string[]>;
  getStructuredLogs(lines?: number): Promise<LogEntry[]>;
  clearLogs(): Promise<void>;
  getLogPath(): string | undefined;
  protected validateConfigFields(config: Record<string, unknown>, validFields: ReadonlySet<string>, serverName: string): void;
  protected checkPortAvailability(port: number, timeout?: number, host?: string): Promise<void>;
  protected initializeLogManager(logFileName: string, startupMessage: string): Promise<void>;
  protected handleStartupError(serverName: string, error: unknown, cleanup?: () => Promise<void>): Promise<never>;
}

/** Addition: how the last llama-server process ended (in `getInfo()` while stopped/crashed). */
export interface ServerExit {
  reason: 'stopped' | 'crashed' | 'watchdog' | 'exited';
  code: number | null;
  signal: string | null;
}

export declare class LlamaServerManager extends ServerManager {
  /** As upstream's first two parameters: one model manager and one system detection per process
   * are used whatever is passed. */
  constructor(modelManager?: ModelManager, systemInfo?: SystemInfo);
  /** `getInfo()` adds `exit?: ServerExit` after the process ended. */
  /**
   * With no binary given (`BinarySourceOptions`), the pinned llama-server is provisioned into
   * `binaries/llama/` on first start (events `binary-log`, `binary-progress`).
   */
  start(config: LlamaServerConfig & BinarySourceOptions): Promise<ServerInfo>;
  /**
   * Awaited (in order) before every `start()`; one that throws fails the start with its error.
   * Returns the function that removes it. A reload by the orchestrator starts the server
   * without the JS hooks.
   */
  registerPreStartHook(hook: LlamaPreStartHook): () => void;
  stop(): Promise<void>;
  getInfo(): ServerInfo;
  isHealthy(): Promise<boolean>;
  getHealthStatus(): Promise<HealthStatus>;
  /** Addition (as ChildProcess#unref): a running server no longer keeps Node alive; it is killed when Node exits. */
  unref(): this;
  /** Addition: a running server keeps Node alive again (the default). */
  ref(): this;
}

export declare const llamaServer: LlamaServerManager;

// ---------------------------------------------------------------------------------------------
// Image generation: diffusionServer (offload calibration is not here yet)

export type ImageSampler =
  | 'euler_a'
  | 'euler'
  | 'heun'
  | 'dpm2'
  | 'dpm++2s_a'
  | 'dpm++2m'
  | 'dpm++2mv2'
  | 'lcm'
  | 'er_sde'
  | 'euler_cfg_pp'
  | 'euler_a_cfg_pp';

export type ImageGenerationStage = 'loading' | 'diffusion' | 'decoding';

export interface ImageGenerationProgress {
  currentStep: number;
  totalSteps: number;
  stage: ImageGenerationStage;
  percentage?: number;
  currentImage?: number;
  totalImages?: number;
}

export interface ImageGenerationConfig {
  prompt: string;
  negativePrompt?: string;
  width?: number;
  height?: number;
  steps?: number;
  cfgScale?: number;
  seed?: number;
  sampler?: ImageSampler;
  count?: number;
  usageMode?: DiffusionUsageMode;
  onProgress?: (currentStep: number, totalSteps: number, stage: ImageGenerationStage, percentage?: number) => void;
}

export type DiffusionUsageMode = 'burst' | 'single';
export type DiffusionBackendState = 'absent' | 'starting' | 'ready' | 'busy' | 'stopping';
export type DiffusionBackendReleaseReason =
  | 'single'
  | 'idle-timeout'
  | 'explicit'
  | 'flags-changed'
  | 'cancel'
  | 'stuck'
  | 'crashed'
  | 'stop'
  | 'shutdown'
  | 'llm-start'
  | 'calibration';

export interface DiffusionBackendInfo {
  state: DiffusionBackendState;
  pid?: number;
  startedAt?: string;
  loadTimeMs?: number;
  lastUsedAt?: string;
  flags?: {
    clipOnCpu: boolean;
    vaeOnCpu: boolean;
    offloadToCpu: boolean;
    diffusionFlashAttention: boolean;
  };
}

export interface DiffusionBackendStatusEvent {
  state: DiffusionBackendState;
  previous: DiffusionBackendState;
  reason?: DiffusionBackendReleaseReason | 'spawned' | 'ready' | 'job' | 'start-failed';
  exit?: {
    code: number | null;
    signal: NodeJS.Signals | null;
  };
}

export interface ImageGenerationResult {
  image: Buffer;
  format: 'png';
  timeTaken: number;
  seed: number;
  width: number;
  height: number;
}

export interface DiffusionServerConfig {
  modelId: string;
  port?: number | 'auto';
  host?: string;
  allowedOrigins?: string[];
  startupTimeout?: number;
  usageMode?: DiffusionUsageMode | 'auto';
  idleTimeoutMs?: number;
  jobActivityTimeoutMs?: number;
  threads?: number;
  gpuLayers?: number;
  forceValidation?: boolean;
  clipOnCpu?: boolean;
  vaeOnCpu?: boolean;
  batchSize?: number;
  offloadToCpu?: boolean;
  diffusionFlashAttention?: boolean;
  /** Addition: the sd-server binary; else `$GENAI_SD_SERVER_PATH`, else provisioned in `binaries/diffusion/`. */
  binaryPath?: string;
  /** Additions, see `BinarySourceOptions`. */
  binaryMirror?: string;
  binaryCatalog?: string;
  binariesDir?: string;
}

export interface DiffusionServerInfo {
  status: ServerStatus;
  health: HealthStatus;
  pid?: number;
  port: number;
  modelId: string;
  startedAt?: string;
  error?: string;
  busy?: boolean;
  backend?: DiffusionBackendInfo;
}

export type GenerationStatus = 'pending' | 'in_progress' | 'complete' | 'error' | 'cancelled';

export interface GenerationState {
  id: string;
  status: GenerationStatus;
  createdAt: number;
  updatedAt: number;
  config: ImageGenerationConfig;
  progress?: ImageGenerationProgress;
  result?: {
    images: {
      image: string;
      seed: number;
      width: number;
      height: number;
    }[];
    format: 'png';
    timeTaken: number;
  };
  error?: {
    message: string;
    code: string;
  };
}

export interface DiffusionOffloadCombo {
  label?: string;
  clipOnCpu?: boolean;
  vaeOnCpu?: boolean;
  offloadToCpu?: boolean;
  diffusionFlashAttention?: boolean;
}

/**
 * The image server: a loopback HTTP API (`/health`, `/v1/images/generations`) from `start()` to
 * `stop()`, and behind it a persistent sd-server started with the first image, kept warm
 * (`burst`) or released after each image (`single`). Events: `status`, `started`, `stopped`,
 * `backend-status` (DiffusionBackendStatusEvent), `binary-log`.
 */
export declare class DiffusionServerManager extends ServerManager {
  /** One model manager and one system detection per process are used whatever is passed. With
   * `llamaServer`, a ResourceOrchestrator is made (`getOrchestrator()`), every image goes through
   * it, and its `prepareForLLMStart` is registered as `llamaServer`'s pre-start hook. */
  constructor(modelManager?: ModelManager, systemInfo?: SystemInfo, llamaServer?: LlamaServerManager);
  protected unregisterPreStartHook?: () => void;
  start(config: DiffusionServerConfig): Promise<ServerInfo>;
  stop(): Promise<void>;
  getActiveGenerationId(): string | undefined;
  cancelImageGeneration(id: string): Promise<void>;
  releaseBackend(options?: { reason?: DiffusionBackendReleaseReason; waitForInFlight?: boolean }): Promise<void>;
  getBackendInfo(): DiffusionBackendInfo;
  /** The orchestrator made with `llamaServer` (the `diffusionServer` singleton has one). */
  getOrchestrator(): ResourceOrchestrator | undefined;
  resolveUsageMode(requestMode: DiffusionUsageMode | undefined, llmWasOffloaded: boolean): DiffusionUsageMode;
  settleResidency(mode: DiffusionUsageMode): Promise<void>;
  generateImage(config: ImageGenerationConfig): Promise<ImageGenerationResult>;
  isHealthy(): Promise<boolean>;
  /** The sd-server backend's pid, while there is one. */
  getPid(): number | undefined;
  getInfo(): DiffusionServerInfo;
  getConfig(): ServerConfig | undefined;
  getLogPath(): string | undefined;
  executeImageGeneration(config: ImageGenerationConfig, flagOverrides?: DiffusionOffloadCombo): Promise<ImageGenerationResult>;
  executeBatchGeneration(config: ImageGenerationConfig): Promise<ImageGenerationResult[]>;
  /** Addition (as ChildProcess#unref): a running server no longer keeps Node alive; its backend is killed when Node exits. */
  unref(): this;
  /** Addition: a running server keeps Node alive again (the default). */
  ref(): this;
}

export declare const diffusionServer: DiffusionServerManager;

/** The LLM's state when the orchestrator stopped it for an image (its resolved config). */
export interface SavedLLMState {
  config: ServerConfig;
  wasRunning: boolean;
  savedAt: Date;
}

/** Addition: the orchestrator's fifth constructor argument. */
export interface ResourceOrchestratorOptions {
  /** Bytes treated as the VRAM (or the available RAM on a CPU machine) for every decision;
   * default `GENAI_MEMORY_BUDGET_BYTES`. */
  memoryBudgetBytes?: number;
}

/**
 * One GPU (or one machine's RAM) shared by the LLM and image generation: before an image the
 * LLM is stopped when both would not fit (75 % of VRAM with a GPU, else of the available RAM),
 * and reloaded in the background after it with the same resolved config, once the memory the
 * image used has come back. A reload that fails is emitted on `llamaServer` as
 * `'reload-failed'` (the typed error), and `waitForReload()` rejects with it.
 */
export declare class ResourceOrchestrator {
  constructor(
    systemInfo: SystemInfo | undefined,
    llamaServer: LlamaServerManager,
    diffusionServer: DiffusionServerManager,
    modelManager?: ModelManager,
    options?: ResourceOrchestratorOptions,
  );
  orchestrateImageGeneration(config: ImageGenerationConfig): Promise<ImageGenerationResult>;
  orchestrateBatchGeneration(config: ImageGenerationConfig): Promise<ImageGenerationResult[]>;
  onDiffusionBackendReleased(reason: DiffusionBackendReleaseReason): void;
  prepareForLLMStart(ctx: { config: LlamaServerConfig }): Promise<void>;
  offloadLLM(): Promise<void>;
  reloadLLM(): Promise<void>;
  clearSavedState(): void;
  getSavedState(): SavedLLMState | undefined;
  waitForReload(): Promise<void>;
  wouldNeedOffload(): Promise<boolean>;
}

/** Addition: `diffusionServer.getOrchestrator()`, the same instance. */
export declare const orchestrator: ResourceOrchestrator;

/**
 * The HTTP API's generations. Finished ones are dropped `maxResultAgeMs` after their last update
 * and never returned after that (enforced on read: no timer, `cleanupIntervalMs` is accepted).
 */
export declare class GenerationRegistry {
  constructor(config?: { maxResultAgeMs?: number; cleanupIntervalMs?: number });
  create(config: ImageGenerationConfig): string;
  get(id: string): GenerationState | null;
  update(id: string, updates: Partial<GenerationState>): void;
  delete(id: string): void;
  getAllIds(): string[];
  size(): number;
  cleanup(maxAgeMs: number): number;
  destroy(): void;
  clear(): void;
}

// ---------------------------------------------------------------------------------------------
// Helpers

export declare function calculateSHA256(filePath: string): Promise<string>;
export declare function verifyChecksum(filePath: string, expectedChecksum: string): Promise<boolean>;
export declare function generateId(): string;

export declare function getPlatform(): NodeJS.Platform;
export declare function getArchitecture(): string;
export declare function getPlatformKey(): 'darwin-arm64' | 'darwin-x64' | 'win32-x64' | 'linux-x64';
export declare function isMac(): boolean;
export declare function isWindows(): boolean;
export declare function isLinux(): boolean;
export declare function isAppleSilicon(): boolean;

export declare function ensureDirectory(dirPath: string): Promise<void>;
export declare function fileExists(filePath: string): Promise<boolean>;
export declare function getFileSize(filePath: string): Promise<number>;
export declare function deleteFile(filePath: string): Promise<void>;
export declare function moveFile(fromPath: string, toPath: string): Promise<void>;
export declare function calculateChecksum(filePath: string): Promise<string>;
export declare function formatBytes(bytes: number, decimals?: number): string;
export declare function sanitizeFilename(filename: string): string;

export declare const REASONING_MODEL_PATTERNS: readonly string[];
export declare function detectReasoningSupport(filename: string): boolean;

export interface UIErrorFormat {
  code: string;
  title: string;
  message: string;
  remediation?: string;
}
export declare function formatErrorForUI(error: unknown): UIErrorFormat;

/**
 * As genai-electron's: on every Electron `before-quit`, the quit is held back
 * (`event.preventDefault()`), the LLM server stops, the diffusion backend is released (reason
 * `shutdown`), the diffusion server stops, and then `app.exit(0)` — also when a step failed.
 */
export declare function attachAppLifecycle(
  app: App,
  managers: { llamaServer?: LlamaServerManager; diffusionServer?: DiffusionServerManager },
): void;

// ---------------------------------------------------------------------------------------------
// Paths and constants

export declare const PATHS: {
  readonly models: { readonly llm: string; readonly diffusion: string };
  readonly binaries: { readonly llama: string; readonly diffusion: string };
  readonly logs: string;
  readonly config: string;
  readonly temp: string;
  readonly loras: string;
};
export declare function getModelDirectory(type: 'llm' | 'diffusion', modelId: string): string;
export declare function getModelFilePath(type: 'llm' | 'diffusion', filename: string): string;
export declare function getBinaryPath(type: 'llama' | 'diffusion', binaryName: string): string;
/** Addition (internal upstream): creates every directory of `PATHS`. */
export declare function ensureDirectories(): Promise<void>;

// ---------------------------------------------------------------------------------------------
// Binaries: the pinned llama.cpp and stable-diffusion.cpp builds

export type BinaryVariant = 'cuda' | 'vulkan' | 'metal' | 'cpu';
export interface BinaryDependency {
  url: string;
  checksum: string;
  description?: string;
}
export interface BinaryVariantConfig {
  type: BinaryVariant;
  url: string;
  checksum: string;
  dependencies?: readonly BinaryDependency[];
}
export declare const BINARY_VERSIONS: {
  readonly llamaServer: {
    readonly version: "b9860";
    readonly variants: {
      readonly 'darwin-arm64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-macos-arm64.tar.gz";
        readonly checksum: "35a2e8c3528adc71db5044e7ad7de8d8b96a4221e737958915e31538a005f1d9";
      }];
      readonly 'darwin-x64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-macos-x64.tar.gz";
        readonly checksum: "d442123d5441c82b23b412a58d91e149f60723adfc20a7cc9df04a3908cb5113";
      }];
      readonly 'win32-x64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-win-cuda-12.4-x64.zip";
        readonly checksum: "70c433fcb55bcb0e0ff0d4a4fc5f02c11a14303445e0525b526071bccdc6c848";
        readonly dependencies: readonly [{
          readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/cudart-llama-bin-win-cuda-12.4-x64.zip";
          readonly checksum: "8c79a9b226de4b3cacfd1f83d24f962d0773be79f1e7b75c6af4ded7e32ae1d6";
          readonly description: "CUDA 12.4 runtime libraries required for NVIDIA GPU acceleration";
        }];
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-win-vulkan-x64.zip";
        readonly checksum: "c3f0703c8fca8fa4cbc01a347d7180fca092e889fe693268bf1192fd07350c13";
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-win-cpu-x64.zip";
        readonly checksum: "d33871623713345cd90b54e516ebada79039cab636e51b22c8c9feae72567837";
      }];
      readonly 'linux-x64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-ubuntu-vulkan-x64.tar.gz";
        readonly checksum: "4aaa4ca2ed9f608cf26cb6ba0cdad9c5b8e8f2d1e95c4f04bb3fa9a1a8c86806";
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/ggml-org/llama.cpp/releases/download/b9860/llama-b9860-bin-ubuntu-x64.tar.gz";
        readonly checksum: "b68e8072eb88d1cc8b8e9d6ea8237aae87b34c6d8bbffda958c870e4dc949714";
      }];
    };
  };
  readonly diffusionCpp: {
    readonly version: "master-782-b290693";
    readonly variants: {
      readonly 'darwin-arm64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-Darwin-macOS-26.4-arm64.zip";
        readonly checksum: "61620d31fa787d318ca1ec67ba73ef77b3236bc3a2dc891d66c161c7b075e45c";
      }];
      readonly 'darwin-x64': readonly [];
      readonly 'win32-x64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-win-cuda12-x64.zip";
        readonly checksum: "bc7aa2f6d471b324bfbc76f108a5cb3b76de29cb892d12609647e11b041f8a02";
        readonly dependencies: readonly [{
          readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/cudart-sd-bin-win-cu12-x64.zip";
          readonly checksum: "fe20366827d357c00797eebb58244dddab7fd9a348d70090c3871004c320f38d";
          readonly description: "CUDA 12 runtime libraries required for NVIDIA GPU acceleration";
        }];
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-win-vulkan-x64.zip";
        readonly checksum: "431dd14e12cc5fb1abdc20ab213bbfdf390f18766ed7f54ecfd61d6b467a7915";
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-win-cpu-x64.zip";
        readonly checksum: "38da3539d3af6918f4c218fd198ac6e26cd71249e54feb3a491d184d3ca94ea0";
      }];
      readonly 'linux-x64': readonly [{
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-Linux-Ubuntu-24.04-x86_64-vulkan.zip";
        readonly checksum: "e49466d0c0c5f985d9ca9f82c18bb55e8e02885c654210f918ca0c0098ea2829";
      }, {
        readonly type: BinaryVariant;
        readonly url: "https://github.com/leejet/stable-diffusion.cpp/releases/download/master-782-b290693/sd-master-b290693-bin-Linux-Ubuntu-24.04-x86_64.zip";
        readonly checksum: "16547f8ffb35547f9058e2ea831a2eb36cfcb99594043fc97ad2895c6c485aaf";
      }];
    };
  };
};

/** Addition: `provisionBinary`'s options. */
export interface ProvisionBinaryOptions {
  /** Platform key (`linux-x64`, `win32-x64`, …); another platform's binaries are installed untested. */
  platform?: string;
  /** A binaries folder (holds `llama/`, `diffusion/`); default `<userData>/binaries`. */
  dir?: string;
  mirror?: string;
  catalog?: string;
  /** Test again even when `.validation.json` vouches for the binary. */
  force?: boolean;
  onLog?: (event: BinaryLogEvent) => void;
  onProgress?: (event: BinaryProgressEvent) => void;
}

/** Addition: what a binaries folder holds for one engine. */
export interface InstalledBinary {
  type: 'llama' | 'diffusion';
  path: string;
  dir: string;
  variant?: string;
  platform?: string;
  version?: string;
  checksum?: string;
  validatedAt?: string;
  phase1Passed?: boolean;
  phase2Passed?: boolean;
  /** The file's SHA-256 is the one `.validation.json` records. */
  verified: boolean;
}

/** Addition: downloads, verifies, tests and installs one engine ahead of time (an offline bundle). */
export declare function provisionBinary(type: 'llama' | 'diffusion', options?: ProvisionBinaryOptions): Promise<InstalledBinary>;
/** Addition: the engines installed in a binaries folder (default `<userData>/binaries`). */
export declare function listBinaries(options?: { dir?: string }): Promise<InstalledBinary[]>;

export declare const DEFAULT_PORTS: { readonly llama: 8080; readonly diffusion: 8081 };
export declare const DEFAULT_TIMEOUTS: {
  readonly download: 300000;
  readonly serverStart: 120000;
  readonly serverStop: 10000;
  readonly healthCheck: 5000;
};
export declare const DIFFUSION_COMPONENT_FLAGS: Record<DiffusionComponentRole, string>;
export declare const DIFFUSION_COMPONENT_ORDER: readonly DiffusionComponentRole[];
export declare const DIFFUSION_VRAM_THRESHOLDS: {
  readonly clipOnCpuHeadroomBytes: number;
  readonly vaeOnCpuHeadroomBytes: number;
  readonly modelOverheadMultiplier: 1.2;
};
export declare const DIFFUSION_BACKEND_DEFAULTS: {
  readonly idleTimeoutMs: 300000;
  readonly jobPollIntervalMs: 200;
  readonly jobRequestTimeoutMs: 10000;
  readonly readyTimeoutMs: 120000;
  readonly stopTimeoutMs: 10000;
  readonly maxTransientPollFailures: 3;
  readonly jobActivityTimeoutMs: 600000;
};

// ---------------------------------------------------------------------------------------------
// Errors

export declare class GenaiElectronError extends Error {
  readonly code: string;
  readonly details?: unknown;
  constructor(message: string, code: string, details?: unknown);
}

export type ContextConstraintStage = 'validation' | 'sizing' | 'runtime';
export type ContextConstraintReason =
  | 'invalid-minimum'
  | 'invalid-preferred'
  | 'invalid-maximum'
  | 'exact-range-conflict'
  | 'minimum-exceeds-preferred'
  | 'preferred-exceeds-maximum'
  | 'minimum-exceeds-maximum'
  | 'unsafe-total-capacity'
  | 'minimum-exceeds-native'
  | 'model-context-unknown'
  | 'fit-range-conflict'
  | 'precomputed-context-out-of-range'
  | 'runtime-capacity-unavailable'
  | 'runtime-slots-mismatch'
  | 'runtime-below-minimum'
  | 'runtime-above-maximum';

export interface ContextConstraintDetails {
  reason: ContextConstraintReason;
  stage: ContextConstraintStage;
  contextSize?: number;
  minimumContextSize?: number;
  preferredContextSize?: number;
  maximumContextSize?: number;
  configuredContextSize?: number;
  effectiveContextSize?: number;
  nativeContextSize?: number;
  parallelRequests?: number;
  effectiveParallelRequests?: number;
  suggestion?: string;
  cause?: string;
}

export declare class ContextConstraintError extends GenaiElectronError {
  readonly details: ContextConstraintDetails;
  constructor(message: string, details: ContextConstraintDetails);
}

export declare class ModelNotFoundError extends GenaiElectronError {
  constructor(modelId: string);
}

export declare class DownloadError extends GenaiElectronError {
  constructor(message: string, details?: unknown);
}

export interface InsufficientResourcesDetails {
  required: string;
  available: string;
  suggestion?: string;
  minimumContextSize?: number;
  preferredContextSize?: number;
  maximumContextSize?: number;
  configuredContextSize?: number;
  maxFeasibleContextSize?: number;
  parallelRequests?: number;
}

export declare class InsufficientResourcesError extends GenaiElectronError {
  readonly details: InsufficientResourcesDetails;
  constructor(message: string, details: InsufficientResourcesDetails);
}

export declare class ServerError extends GenaiElectronError {
  constructor(message: string, details?: unknown);
}

export type LlamaCalibrationResourceStabilityCode = 'CALIBRATION_RESOURCE_DRIFT' | 'CALIBRATION_RESOURCE_STABILITY_UNVERIFIED';

/**
 * The calibration report types arrive with `llamaServer.calibrate()`; until then the partial
 * report is typed loosely here.
 */
export interface LlamaCalibrationResourceStabilityDetailsCommon {
  partialReport: unknown;
  suggestion: string;
}
export type LlamaCalibrationResourceStabilityDetails = LlamaCalibrationResourceStabilityDetailsCommon &
  ({ code: 'CALIBRATION_RESOURCE_DRIFT' } | { code: 'CALIBRATION_RESOURCE_STABILITY_UNVERIFIED' });

export declare class LlamaCalibrationResourceStabilityError extends ServerError {
  readonly details: LlamaCalibrationResourceStabilityDetails;
  constructor(message: string, details: LlamaCalibrationResourceStabilityDetails);
}

export declare class PortInUseError extends GenaiElectronError {
  constructor(port: number);
}

export declare class FileSystemError extends GenaiElectronError {
  constructor(message: string, details?: unknown);
}

export declare class ChecksumError extends GenaiElectronError {
  constructor(message: string, details: { expected: string; actual: string });
}

export declare class BinaryError extends GenaiElectronError {
  constructor(message: string, details?: unknown);
}
