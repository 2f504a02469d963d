//! The sd-server binary: the given one (`binaryPath`, `$GENAI_SD_SERVER_PATH`) after phase 1,
//! else the provisioned one, tested with the model being started (`binaries::source`).

use super::{DiffusionEvent, DiffusionServer};
use crate::binaries::source::{self, BinaryFields};
use crate::binaries::{BinaryEvent, BinaryKind, TestModel};
use crate::diffusion::DiffusionServerConfig;
use crate::logs::Level;
use crate::models::ModelInfo;
use crate::Result;
use std::path::PathBuf;
use std::sync::Arc;

impl DiffusionServer {
    /// `binary-log`: to listeners and to the log file, as upstream.
    pub(super) fn binary_log(&self, message: &str, level: Level) {
        let _ = self.log.write(message, level);
        self.emit(DiffusionEvent::BinaryLog {
            message: message.to_string(),
            level,
        });
    }

    /// The binary the config names, checked now; None: provisioned at start.
    pub(super) fn given_binary(&self, config: &DiffusionServerConfig) -> Result<Option<PathBuf>> {
        let Some(given) = config.binary_path.as_deref() else {
            return Ok(None);
        };
        crate::llama_server::check_binary(Some(given), &self.binaries_dir, "sd-server")
            .map(Some)
            .inspect_err(|e| self.binary_log(&e.message, Level::Error))
    }

    pub(super) async fn ready_binary(
        &self,
        given: Option<PathBuf>,
        config: &DiffusionServerConfig,
        model: &ModelInfo,
        force: bool,
    ) -> Result<PathBuf> {
        if let Some(binary) = given {
            crate::llama_server::validate_phase1(BinaryKind::Diffusion, &binary, force, &|m, l| {
                self.binary_log(m, l)
            })
            .await?;
            return Ok(binary);
        }
        let me = self.me.clone();
        let events: crate::binaries::EventFn = Arc::new(move |event| {
            let Some(me) = me.upgrade() else { return };
            match event {
                BinaryEvent::Log { message, level } => me.binary_log(&message, level),
                BinaryEvent::Progress(p) => me.emit(DiffusionEvent::BinaryProgress(p)),
            }
        });
        let test_model = crate::diffusion::args::model_args(model)
            .ok()
            .map(|model_args| TestModel {
                path: PathBuf::from(&model.path),
                model_args,
            });
        let cancel = tokio_util::sync::CancellationToken::new();
        *super::lock(&self.provisioning) = Some(cancel.clone());
        let result = source::provide(source::Need {
            kind: BinaryKind::Diffusion,
            binaries_root: self
                .binaries_dir
                .parent()
                .unwrap_or(&self.binaries_dir)
                .to_path_buf(),
            settings: config.binary_settings(),
            test_model,
            force,
            events,
            cancel,
        })
        .await;
        *super::lock(&self.provisioning) = None;
        result
    }
}
