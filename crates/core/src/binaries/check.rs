//! Testing a candidate binary (upstream's phase 1 and phase 2). PLACEHOLDER until the helper's
//! branch lands: it must not be released like this.

use super::{BinaryKind, LogFn, TestModel};
use std::path::Path;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tested {
    pub phase1_passed: bool,
    pub phase2_passed: Option<bool>,
}

pub async fn test_binary(
    _kind: BinaryKind,
    _exe: &Path,
    _model: Option<&TestModel>,
    _scratch: &Path,
    _log: &LogFn,
    _cancel: &CancellationToken,
) -> std::result::Result<Tested, String> {
    Err("placeholder".into())
}
