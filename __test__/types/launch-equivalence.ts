// Type-level proof that genai-electron-rs/llama-server-launch's typings are genai-electron
// 0.26.0's `genai-electron/llama-server-launch`, export by export (values and types).
import type * as Up from 'genai-electron/llama-server-launch';
import type * as Rs from '../../llama-server-launch.js';
import type * as RsMain from '../../index.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Surface<T> = Pick<T, keyof T>;
type Ctor<T> = T extends abstract new (...args: infer P) => infer R ? [P, Surface<R>] : never;

function check<T extends true>(): void {}

// Every value export, by name: a name missing on either side fails here.
type UpValues = typeof import('genai-electron/llama-server-launch');
type RsValues = typeof import('../../llama-server-launch.js');
check<Equals<keyof UpValues, keyof RsValues>>();

// --- functions
check<Equals<UpValues['buildLlamaServerArgs'], RsValues['buildLlamaServerArgs']>>();
check<Equals<UpValues['normalizeLlamaVCacheConfig'], RsValues['normalizeLlamaVCacheConfig']>>();
check<Equals<UpValues['startLlamaServerRunner'], RsValues['startLlamaServerRunner']>>();
check<Equals<UpValues['waitForHealthy'], RsValues['waitForHealthy']>>();
check<Equals<UpValues['checkHealth'], RsValues['checkHealth']>>();
check<Equals<UpValues['isServerResponding'], RsValues['isServerResponding']>>();
check<Equals<UpValues['normalizeHealthHost'], RsValues['normalizeHealthHost']>>();
check<Equals<UpValues['formatHttpHost'], RsValues['formatHttpHost']>>();
check<Equals<UpValues['fetchLlamaRuntimeCapacity'], RsValues['fetchLlamaRuntimeCapacity']>>();
check<Equals<UpValues['findFreePort'], RsValues['findFreePort']>>();
check<Equals<UpValues['isPortBindable'], RsValues['isPortBindable']>>();

// --- error classes: constructors and instances as upstream's, and the main entry's very classes
check<Equals<Ctor<UpValues['GenaiElectronError']>, Ctor<RsValues['GenaiElectronError']>>>();
check<Equals<Ctor<UpValues['ServerError']>, Ctor<RsValues['ServerError']>>>();
check<Equals<Ctor<UpValues['ContextConstraintError']>, Ctor<RsValues['ContextConstraintError']>>>();
check<Equals<Ctor<UpValues['PortInUseError']>, Ctor<RsValues['PortInUseError']>>>();
check<Equals<RsValues['ServerError'], typeof RsMain.ServerError>>();
check<Equals<RsValues['PortInUseError'], typeof RsMain.PortInUseError>>();
check<Equals<RsValues['ContextConstraintError'], typeof RsMain.ContextConstraintError>>();
check<Equals<RsValues['GenaiElectronError'], typeof RsMain.GenaiElectronError>>();

// --- types
check<Equals<Up.LlamaModelFile, Rs.LlamaModelFile>>();
check<Equals<Up.LlamaSlotsEndpointMode, Rs.LlamaSlotsEndpointMode>>();
check<Equals<Up.LlamaServerArgsOptions, Rs.LlamaServerArgsOptions>>();
check<Equals<Up.ResolvedLlamaServerRuntimeConfig, Rs.ResolvedLlamaServerRuntimeConfig>>();
check<Equals<Up.StartLlamaServerRunnerOptions, Rs.StartLlamaServerRunnerOptions>>();
check<Equals<Up.LlamaServerHandle, Rs.LlamaServerHandle>>();
check<Equals<Up.LlamaServerExit, Rs.LlamaServerExit>>();
check<Equals<Up.LlamaRuntimeCapacity, Rs.LlamaRuntimeCapacity>>();
check<Equals<Up.VerifiedLlamaRuntimeCapacity, Rs.VerifiedLlamaRuntimeCapacity>>();
check<Equals<Up.HealthCheckResponse, Rs.HealthCheckResponse>>();
check<Equals<Up.LlamaServerConfig, Rs.LlamaServerConfig>>();
check<Equals<Up.LlamaServerRuntimeConfig, Rs.LlamaServerRuntimeConfig>>();
check<Equals<Up.LlamaServerRunnerConfig, Rs.LlamaServerRunnerConfig>>();
check<Equals<Up.ResolvedLlamaServerRunnerConfig, Rs.ResolvedLlamaServerRunnerConfig>>();
check<Equals<Up.KVCacheType, Rs.KVCacheType>>();
check<Equals<Up.FlashAttentionSetting, Rs.FlashAttentionSetting>>();

// Every type export too: this list is upstream's `export type { … }` of
// dist/llama-server-launch.d.ts, checked against it by the Jest test (launch entry's exports).
