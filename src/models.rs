//! `#[napi]` shims for model storage, downloads and GGUF metadata.

use crate::callbacks::{self, Callback};
use crate::convert::JsText;
use crate::errors::{blocking, js_error, promise};
use crate::json::Json;
use genai_core::download::{Downloader, ProgressFn, Request};
use genai_core::models::{manager, Callbacks, DownloadConfig, ModelInfo, ModelManager, ModelType};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// `(downloaded, total)` → JS, without keeping Node alive and without waiting for JS.
pub type ProgressCallback = Callback<(f64, f64)>;
/// `(role, filename, index, total)` → JS; the download waits for its answer.
pub type ComponentCallback = Callback<(String, String, u32, u32)>;

/// A throwing progress callback is ignored, as upstream's download loop ignores it.
fn progress_fn(cb: Option<ProgressCallback>) -> Option<ProgressFn> {
    let cb = Arc::new(cb?);
    Some(Arc::new(move |done, total| {
        callbacks::notify(&cb, (done as f64, total as f64));
    }))
}

/// `onComponentStart`: core waits for it and ends the download if it throws.
fn component_fn(cb: Option<ComponentCallback>) -> Option<manager::ComponentStartFn> {
    let cb = Arc::new(cb?);
    Some(Arc::new(move |role, file, index, total| {
        let args = (
            role.to_string(),
            file.to_string(),
            index as u32,
            total as u32,
        );
        callbacks::ask(&cb, args)
    }))
}

#[napi]
pub struct NativeModelManager {
    inner: Arc<ModelManager>,
}

impl NativeModelManager {
    /// The core manager, shared with the llama-server supervisor.
    pub fn shared(&self) -> Arc<ModelManager> {
        self.inner.clone()
    }
}

/// `ModelInfo` crosses as its JSON object: it keeps keys this version does not know (a
/// `#[napi(object)]` could not), and binding.d.cts names the public `ModelInfo` type for it.
/// It crosses as JSON text (`crate::json`): its GGUF metadata alone can hold ~10^6 values.
fn model_json(info: ModelInfo) -> Json {
    Json::of(&info)
}

fn model_type(name: Option<String>) -> genai_core::Result<Option<ModelType>> {
    name.as_deref().map(ModelType::parse).transpose()
}

#[napi]
impl NativeModelManager {
    #[napi(constructor)]
    pub fn new(user_data: String) -> Self {
        NativeModelManager {
            inner: Arc::new(ModelManager::new(genai_core::paths::Paths::new(
                &PathBuf::from(user_data),
            ))),
        }
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn initialize<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let m = self.inner.clone();
        blocking(env, move || m.storage.initialize())
    }

    #[napi]
    pub fn reset_initialization(&self) {
        self.inner.storage.reset_initialization();
    }

    #[napi(ts_return_type = "Promise<ModelInfo[]>")]
    pub fn list_models<'env>(
        &self,
        env: &'env Env,
        model_type_name: Option<String>,
    ) -> Result<PromiseRaw<'env, Vec<Json>>> {
        let m = self.inner.clone();
        blocking(env, move || {
            let list = m.storage.list(model_type(model_type_name)?)?;
            Ok(list.into_iter().map(model_json).collect())
        })
    }

    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn list_model_files<'env>(
        &self,
        env: &'env Env,
        model_type_name: String,
    ) -> Result<PromiseRaw<'env, Vec<String>>> {
        let m = self.inner.clone();
        blocking(env, move || {
            m.storage.list_ids(ModelType::parse(&model_type_name)?)
        })
    }

    #[napi(ts_return_type = "Promise<ModelInfo>")]
    pub fn get_model_info<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, Json>> {
        let m = self.inner.clone();
        blocking(env, move || m.storage.find(&id.0).map(model_json))
    }

    #[napi(ts_return_type = "Promise<ModelInfo>")]
    pub fn load_model_metadata<'env>(
        &self,
        env: &'env Env,
        model_type_name: String,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, Json>> {
        let m = self.inner.clone();
        blocking(env, move || {
            m.storage
                .load(ModelType::parse(&model_type_name)?, &id.0)
                .map(model_json)
        })
    }

    /// The info crosses as `JSON.stringify`'s text (as upstream writes it), parsed off the JS thread.
    #[napi(ts_args_type = "info: ModelInfo", ts_return_type = "Promise<void>")]
    pub fn save_model_metadata<'env>(
        &self,
        env: &'env Env,
        info: Unknown,
    ) -> Result<PromiseRaw<'env, ()>> {
        let text = crate::json::stringify(env, info)?;
        let m = self.inner.clone();
        blocking(env, move || {
            // Too deep for serde_json: null, which from_value refuses as invalid metadata.
            let value = serde_json::from_str(&text).unwrap_or(Value::Null);
            m.storage.save(&ModelInfo::from_value(value)?)
        })
    }

    /// `getModelMetadataPath(type, id)`: the one place the path is made is core's.
    #[napi]
    pub fn metadata_path(
        &self,
        env: &Env,
        model_type_name: String,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<String> {
        let model_type = ModelType::parse(&model_type_name).map_err(|e| js_error(env, &e))?;
        let path = self
            .inner
            .storage
            .metadata_path(model_type, &id.0)
            .map_err(|e| js_error(env, &e))?;
        Ok(path.to_string_lossy().into_owned())
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_model<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, ()>> {
        let m = self.inner.clone();
        blocking(env, move || m.delete(&id.0))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_model_files<'env>(
        &self,
        env: &'env Env,
        model_type_name: String,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, ()>> {
        let m = self.inner.clone();
        blocking(env, move || {
            m.storage
                .delete_files(ModelType::parse(&model_type_name)?, &id.0)
        })
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn verify_model<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, bool>> {
        let m = self.inner.clone();
        blocking(env, move || m.verify(&id.0))
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn verify_model_integrity<'env>(
        &self,
        env: &'env Env,
        model_type_name: String,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, bool>> {
        let m = self.inner.clone();
        blocking(env, move || {
            m.storage.verify(ModelType::parse(&model_type_name)?, &id.0)
        })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn storage_used<'env>(
        &self,
        env: &'env Env,
        model_type_name: Option<String>,
    ) -> Result<PromiseRaw<'env, f64>> {
        let m = self.inner.clone();
        blocking(env, move || {
            m.storage.storage_used(model_type(model_type_name)?)
        })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn check_disk_space<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, f64>> {
        let m = self.inner.clone();
        blocking(env, move || Ok(m.storage.check_disk_space()))
    }

    #[napi(
        ts_args_type = "config: DownloadConfig, onProgress?: (downloaded: number, total: number) => void, onComponentStart?: (role: string, filename: string, index: number, total: number) => void",
        ts_return_type = "Promise<ModelInfo>"
    )]
    pub fn download_model<'env>(
        &self,
        env: &'env Env,
        config: Value,
        on_progress: Option<ProgressCallback>,
        on_component_start: Option<ComponentCallback>,
    ) -> Result<PromiseRaw<'env, Json>> {
        let callbacks = Callbacks {
            progress: progress_fn(on_progress),
            component_start: component_fn(on_component_start),
        };
        let m = self.inner.clone();
        promise(env, async move {
            let cfg = DownloadConfig::from_value(config)?;
            m.download(&cfg, callbacks).await.map(model_json)
        })
    }

    #[napi]
    pub fn cancel_download(&self) {
        self.inner.cancel_download();
    }

    #[napi]
    pub fn is_downloading(&self) -> bool {
        self.inner.is_downloading()
    }

    #[napi(ts_return_type = "Promise<ModelInfo>")]
    pub fn update_model_metadata<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: JsText,
        source: Option<String>,
    ) -> Result<PromiseRaw<'env, Json>> {
        let m = self.inner.clone();
        promise(env, async move {
            m.update_metadata(&id.0, source.as_deref())
                .await
                .map(model_json)
        })
    }

    /// `getModelLayerCount` / `getModelContextLength` / `getModelArchitecture` in one read.
    #[napi(ts_return_type = "Promise<ModelShape>")]
    pub fn model_shape<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "string")] id: JsText,
    ) -> Result<PromiseRaw<'env, ModelShape>> {
        let m = self.inner.clone();
        blocking(env, move || {
            let info = m.storage.find(&id.0)?;
            let view = info.sizing_view();
            Ok(ModelShape {
                layer_count: view.layer_count(),
                context_length: view.context_length(),
                architecture: info.architecture(),
            })
        })
    }
}

#[napi(object)]
pub struct ModelShape {
    pub layer_count: f64,
    pub context_length: f64,
    pub architecture: String,
}

#[napi]
pub struct NativeDownloader {
    inner: Arc<Downloader>,
}

#[napi]
impl NativeDownloader {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeDownloader {
            inner: Arc::new(Downloader::new()),
        }
    }

    #[napi(
        ts_args_type = "url: string, destination: string, headers: Record<string, string>, onProgress?: (downloaded: number, total: number) => void",
        ts_return_type = "Promise<void>"
    )]
    pub fn download<'env>(
        &self,
        env: &'env Env,
        url: String,
        destination: String,
        headers: Value,
        on_progress: Option<ProgressCallback>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let mut req = Request::new(&url, &PathBuf::from(destination));
        if let Value::Object(h) = headers {
            req.headers = h
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
                .collect();
        }
        let (downloader, progress) = (self.inner.clone(), progress_fn(on_progress));
        promise(env, async move {
            downloader.download(&req, progress).await.map(|_| ())
        })
    }

    #[napi]
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    #[napi(getter)]
    pub fn downloading(&self) -> bool {
        self.inner.is_downloading()
    }
}

/// `fetchGGUFMetadata`'s result: GGUF values are open (any GGUF type), so they stay JSON, and
/// they cross as JSON text (a vocabulary is ~10^5 values).
#[napi(object, object_from_js = false)]
pub struct GgufResult {
    #[napi(ts_type = "Record<string, unknown>")]
    pub metadata: Json,
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub tensor_infos: Json,
}

fn gguf_result(h: genai_core::gguf::Header) -> GgufResult {
    use genai_core::gguf::metadata::{MetadataJson, TensorsJson};
    GgufResult {
        metadata: Json::of(&MetadataJson(&h)),
        tensor_infos: Json::of(&TensorsJson(&h.tensors)),
    }
}

#[napi(ts_return_type = "Promise<GgufResult>")]
pub fn fetch_gguf_metadata(env: &Env, url: String) -> Result<PromiseRaw<'_, GgufResult>> {
    promise(env, async move {
        genai_core::gguf::fetch_metadata(&url)
            .await
            .map(gguf_result)
    })
}

#[napi(ts_return_type = "Promise<GgufResult>")]
pub fn fetch_local_gguf_metadata(env: &Env, path: String) -> Result<PromiseRaw<'_, GgufResult>> {
    blocking(env, move || {
        genai_core::gguf::read_metadata(&PathBuf::from(path)).map(gguf_result)
    })
}

/// Throws a plain Error (not a GenaiElectronError), as genai-electron does.
#[napi]
pub fn hugging_face_url(repo: String, file: String, revision: Option<String>) -> Result<String> {
    let revision = revision
        .as_deref()
        .unwrap_or(genai_core::hf::DEFAULT_REVISION);
    genai_core::hf::hf_url(&repo, &file, revision).map_err(napi::Error::from_reason)
}

#[napi(object)]
pub struct HuggingFaceRef {
    pub repo: String,
    pub revision: String,
    pub file: String,
}

#[napi]
pub fn parse_hugging_face_url(url: String) -> Option<HuggingFaceRef> {
    genai_core::hf::parse_hf_url(&url).map(|r| HuggingFaceRef {
        repo: r.repo,
        revision: r.revision,
        file: r.file,
    })
}
