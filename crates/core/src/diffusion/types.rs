//! genai-electron's image types (`types/images.d.ts` of 0.26.0) as Rust types. Field names and
//! string values are upstream's; optional fields are absent (not null) when unset.

use serde::{Deserialize, Serialize};

/// Declares a string enum with upstream's exact values, `as_str()` and `parse()`.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $value)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $value),+ } }
            pub fn parse(s: &str) -> Option<Self> { match s { $($value => Some($name::$variant),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// `ImageSampler`: the sampling methods genai-electron passes to sd.cpp.
    ImageSampler {
        EulerA = "euler_a", Euler = "euler", Heun = "heun", Dpm2 = "dpm2", Dpmpp2sA = "dpm++2s_a",
        Dpmpp2m = "dpm++2m", Dpmpp2mv2 = "dpm++2mv2", Lcm = "lcm", ErSde = "er_sde",
        EulerCfgPp = "euler_cfg_pp", EulerACfgPp = "euler_a_cfg_pp",
    }
);

string_enum!(
    /// `ImageGenerationStage`.
    ImageStage { Loading = "loading", Diffusion = "diffusion", Decoding = "decoding" }
);

string_enum!(
    /// `DiffusionUsageMode`: release the backend after each image, or keep it warm.
    UsageMode { Burst = "burst", Single = "single" }
);

string_enum!(
    /// `DiffusionBackendState`: the sd-server child's state.
    BackendState { Absent = "absent", Starting = "starting", Ready = "ready", Busy = "busy", Stopping = "stopping" }
);

string_enum!(
    /// `DiffusionBackendReleaseReason`.
    ReleaseReason {
        Single = "single", IdleTimeout = "idle-timeout", Explicit = "explicit",
        FlagsChanged = "flags-changed", Cancel = "cancel", Stuck = "stuck", Crashed = "crashed",
        Stop = "stop", Shutdown = "shutdown", LlmStart = "llm-start", Calibration = "calibration",
    }
);

// (The enum is declared by `string_enum!`, which derives no Default.)
#[allow(clippy::derivable_impls)]
impl Default for BackendState {
    fn default() -> Self {
        BackendState::Absent
    }
}

impl ReleaseReason {
    /// When two releases meet, the stronger reason is the one reported (upstream's ranking).
    pub fn rank(self) -> u8 {
        use ReleaseReason::*;
        match self {
            Shutdown => 100,
            Stop => 90,
            LlmStart => 80,
            Calibration => 70,
            FlagsChanged => 60,
            IdleTimeout => 50,
            Stuck => 45,
            Explicit => 40,
            Single => 30,
            Cancel => 20,
            Crashed => 10,
        }
    }
}

string_enum!(
    /// `GenerationStatus` of an HTTP generation.
    GenerationStatus {
        Pending = "pending", InProgress = "in_progress", Complete = "complete", Error = "error",
        Cancelled = "cancelled",
    }
);

impl GenerationStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Complete | Self::Error | Self::Cancelled)
    }
}

/// The optimisation flags a backend was started with (`DiffusionBackendInfo.flags`); a
/// generation that resolves other flags restarts the backend (`flags-changed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendFlags {
    pub clip_on_cpu: bool,
    pub vae_on_cpu: bool,
    pub offload_to_cpu: bool,
    pub diffusion_flash_attention: bool,
}

/// `DiffusionBackendInfo` (`getBackendInfo()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendInfo {
    pub state: BackendState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<BackendFlags>,
}

/// Why the backend state changed (`DiffusionBackendStatusEvent.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusReason {
    Release(ReleaseReason),
    Spawned,
    Ready,
    Job,
    StartFailed,
}

impl StatusReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::Release(r) => r.as_str(),
            StatusReason::Spawned => "spawned",
            StatusReason::Ready => "ready",
            StatusReason::Job => "job",
            StatusReason::StartFailed => "start-failed",
        }
    }
}

/// `DiffusionBackendStatusEvent` (the `backend-status` event).
#[derive(Debug, Clone, PartialEq)]
pub struct BackendStatusEvent {
    pub state: BackendState,
    pub previous: BackendState,
    pub reason: Option<StatusReason>,
    /// The child's exit (code, Node's signal name) when it ended by itself.
    pub exit: Option<(Option<i32>, Option<String>)>,
}

/// `ImageGenerationConfig` without its `onProgress` callback: what a caller asks for.
/// Numbers are validated (see `request`) before they get here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageRequest {
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_scale: Option<f64>,
    /// Negative (or absent): a random seed per image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<ImageSampler>,
    /// 1–5 images, made one after the other (seed, seed+1, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_mode: Option<UsageMode>,
}

/// `ImageGenerationProgress`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageProgress {
    pub current_step: u32,
    pub total_steps: u32,
    pub stage: ImageStage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_image: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_images: Option<u32>,
}

/// `ImageGenerationResult`: one PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageResult {
    pub image: Vec<u8>,
    /// Milliseconds.
    pub time_taken: u64,
    pub seed: i64,
    pub width: u32,
    pub height: u32,
}

/// One image of `GenerationState.result` (the PNG as base64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedImage {
    pub image: String,
    pub seed: i64,
    pub width: u32,
    pub height: u32,
}

/// `GenerationState.result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationResult {
    pub images: Vec<EncodedImage>,
    /// Always `"png"`.
    pub format: String,
    pub time_taken: u64,
}

/// `{ message, code }` of a failed generation and of every front error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub message: String,
    pub code: String,
}

/// `GenerationState`: one HTTP generation in the registry. Times are ms since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationState {
    pub id: String,
    pub status: GenerationStatus,
    pub created_at: u64,
    pub updated_at: u64,
    pub config: ImageRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ImageProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<GenerationResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_values_are_upstreams() {
        assert_eq!(
            ImageSampler::parse("dpm++2s_a"),
            Some(ImageSampler::Dpmpp2sA)
        );
        assert_eq!(ImageSampler::ALL.len(), 11);
        assert_eq!(ReleaseReason::IdleTimeout.as_str(), "idle-timeout");
        assert_eq!(json!(GenerationStatus::InProgress), json!("in_progress"));
        assert!(ReleaseReason::Shutdown.rank() > ReleaseReason::Stop.rank());
        assert_eq!(StatusReason::StartFailed.as_str(), "start-failed");
    }

    #[test]
    fn request_rejects_unknown_fields() {
        let r: ImageRequest =
            serde_json::from_value(json!({ "prompt": "a", "sampler": "euler", "count": 2 }))
                .unwrap();
        assert_eq!(r.sampler, Some(ImageSampler::Euler));
        assert!(serde_json::from_value::<ImageRequest>(json!({ "prompt": "a", "x": 1 })).is_err());
        assert_eq!(
            json!(r),
            json!({ "prompt": "a", "sampler": "euler", "count": 2 })
        );
    }
}
