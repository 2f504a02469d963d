//! `#[napi]` shims for model storage, downloads and GGUF metadata.

use crate::{blocking, core_err, to_json};
use genai_core::download::{Downloader, ProgressFn, Request};
use genai_core::models::{manager, Callbacks, DownloadConfig, ModelManager};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// `(downloaded, total)` → JS, without keeping Node alive and without waiting for JS.
pub type ProgressCallback =
    ThreadsafeFunction<FnArgs<(f64, f64)>, (), FnArgs<(f64, f64)>, Status, false, true>;
/// `(role, filename, index, total)` → JS.
pub type ComponentCallback = ThreadsafeFunction<
    FnArgs<(String, String, u32, u32)>,
    (),
    FnArgs<(String, String, u32, u32)>,
    Status,
    false,
    true,
>;

fn progress_fn(cb: Option<ProgressCallback>) -> Option<ProgressFn> {
    let cb = Arc::new(cb?);
    Some(Arc::new(move |done, total| {
        cb.call(
            (done as f64, total as f64).into(),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }))
}

fn bad_config(e: serde_json::Error) -> napi::Error {
    core_err(genai_core::Error::new(
        genai_core::ErrorCode::DownloadFailed,
        format!("Invalid download configuration: {e}"),
        None,
    ))
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

    #[napi]
    pub async fn initialize(&self) -> Result<()> {
        let m = self.inner.clone();
        blocking(move || m.storage.initialize()).await
    }

    #[napi]
    pub fn reset_initialization(&self) {
        self.inner.storage.reset_initialization();
    }

    #[napi(ts_return_type = "Promise<any[]>")]
    pub async fn list_models(&self, model_type: Option<String>) -> Result<Value> {
        let m = self.inner.clone();
        let list = blocking(move || m.storage.list(model_type.as_deref())).await?;
        Ok(Value::Array(list.into_iter().map(Value::Object).collect()))
    }

    #[napi(ts_return_type = "Promise<string[]>")]
    pub async fn list_model_files(&self, model_type: String) -> Result<Value> {
        let m = self.inner.clone();
        to_json(&blocking(move || m.storage.list_ids(&model_type)).await?)
    }

    #[napi(ts_return_type = "Promise<any>")]
    pub async fn get_model_info(&self, id: String) -> Result<Value> {
        let m = self.inner.clone();
        Ok(Value::Object(blocking(move || m.storage.find(&id)).await?))
    }

    #[napi(ts_return_type = "Promise<any>")]
    pub async fn load_model_metadata(&self, model_type: String, id: String) -> Result<Value> {
        let m = self.inner.clone();
        Ok(Value::Object(
            blocking(move || m.storage.load(&model_type, &id)).await?,
        ))
    }

    #[napi(ts_args_type = "info: any")]
    pub async fn save_model_metadata(&self, info: Value) -> Result<()> {
        let m = self.inner.clone();
        let Value::Object(info) = info else {
            return Err(napi::Error::from_reason("model metadata must be an object"));
        };
        blocking(move || m.storage.save(&info)).await
    }

    #[napi]
    pub fn metadata_path(&self, model_type: String, id: String) -> Result<String> {
        self.inner
            .storage
            .metadata_path(&model_type, &id)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(core_err)
    }

    #[napi]
    pub async fn delete_model(&self, id: String) -> Result<()> {
        let m = self.inner.clone();
        blocking(move || m.delete(&id)).await
    }

    #[napi]
    pub async fn delete_model_files(&self, model_type: String, id: String) -> Result<()> {
        let m = self.inner.clone();
        blocking(move || m.storage.delete_files(&model_type, &id)).await
    }

    #[napi]
    pub async fn verify_model(&self, id: String) -> Result<bool> {
        let m = self.inner.clone();
        blocking(move || m.verify(&id)).await
    }

    #[napi]
    pub async fn verify_model_integrity(&self, model_type: String, id: String) -> Result<bool> {
        let m = self.inner.clone();
        blocking(move || m.storage.verify(&model_type, &id)).await
    }

    #[napi]
    pub async fn storage_used(&self, model_type: Option<String>) -> Result<f64> {
        let m = self.inner.clone();
        blocking(move || m.storage.storage_used(model_type.as_deref())).await
    }

    #[napi]
    pub async fn check_disk_space(&self) -> Result<f64> {
        let m = self.inner.clone();
        blocking(move || Ok(m.storage.check_disk_space())).await
    }

    #[napi(
        ts_args_type = "config: any, onProgress?: (downloaded: number, total: number) => void, onComponentStart?: (role: string, filename: string, index: number, total: number) => void",
        ts_return_type = "Promise<any>"
    )]
    pub async fn download_model(
        &self,
        config: Value,
        on_progress: Option<ProgressCallback>,
        on_component_start: Option<ComponentCallback>,
    ) -> Result<Value> {
        let cfg: DownloadConfig = serde_json::from_value(config).map_err(bad_config)?;
        let component_start = on_component_start.map(Arc::new).map(|cb| {
            let f: manager::ComponentStartFn = Arc::new(move |role, file, index, total| {
                cb.call(
                    (
                        role.to_string(),
                        file.to_string(),
                        index as u32,
                        total as u32,
                    )
                        .into(),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            });
            f
        });
        let callbacks = Callbacks {
            progress: progress_fn(on_progress),
            component_start,
        };
        let info = self
            .inner
            .download(&cfg, callbacks)
            .await
            .map_err(core_err)?;
        Ok(Value::Object(info))
    }

    #[napi]
    pub fn cancel_download(&self) {
        self.inner.cancel_download();
    }

    #[napi]
    pub fn is_downloading(&self) -> bool {
        self.inner.is_downloading()
    }

    #[napi(ts_return_type = "Promise<any>")]
    pub async fn update_model_metadata(&self, id: String, source: Option<String>) -> Result<Value> {
        Ok(Value::Object(
            self.inner
                .update_metadata(&id, source.as_deref())
                .await
                .map_err(core_err)?,
        ))
    }

    /// `[layerCount, contextLength, architecture]` with genai-electron's fallbacks.
    #[napi(ts_return_type = "Promise<[number, number, string]>")]
    pub async fn model_shape(&self, id: String) -> Result<Value> {
        let m = self.inner.clone();
        let info = blocking(move || m.storage.find(&id)).await?;
        Ok(serde_json::json!([
            manager::layer_count(&info),
            manager::context_length(&info),
            manager::architecture(&info)
        ]))
    }
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
        ts_args_type = "url: string, destination: string, headers: Record<string, string>, onProgress?: (downloaded: number, total: number) => void"
    )]
    pub async fn download(
        &self,
        url: String,
        destination: String,
        headers: Value,
        on_progress: Option<ProgressCallback>,
    ) -> Result<()> {
        let mut req = Request::new(&url, &PathBuf::from(destination));
        if let Value::Object(h) = headers {
            req.headers = h
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
                .collect();
        }
        self.inner
            .download(&req, progress_fn(on_progress))
            .await
            .map(|_| ())
            .map_err(core_err)
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

fn gguf_result(h: &genai_core::gguf::Header) -> Value {
    serde_json::json!({ "metadata": genai_core::gguf::metadata::metadata_object(h), "tensorInfos": genai_core::gguf::metadata::tensor_infos(h) })
}

#[napi(ts_return_type = "Promise<{ metadata: Record<string, unknown>; tensorInfos: any[] }>")]
pub async fn fetch_gguf_metadata(url: String) -> Result<Value> {
    Ok(gguf_result(
        &genai_core::gguf::fetch_metadata(&url)
            .await
            .map_err(core_err)?,
    ))
}

#[napi(ts_return_type = "Promise<{ metadata: Record<string, unknown>; tensorInfos: any[] }>")]
pub async fn fetch_local_gguf_metadata(path: String) -> Result<Value> {
    Ok(gguf_result(
        &blocking(move || genai_core::gguf::read_metadata(&PathBuf::from(path))).await?,
    ))
}

#[napi]
pub fn hugging_face_url(repo: String, file: String, revision: Option<String>) -> Result<String> {
    genai_core::hf::hf_url(&repo, &file, revision.as_deref().unwrap_or("main"))
        .map_err(napi::Error::from_reason)
}

#[napi(ts_return_type = "{ repo: string; revision: string; file: string } | null")]
pub fn parse_hugging_face_url(url: String) -> Value {
    genai_core::hf::parse_hf_url(&url).map_or(
        Value::Null,
        |r| serde_json::json!({ "repo": r.repo, "revision": r.revision, "file": r.file }),
    )
}
