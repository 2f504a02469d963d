//! One error type whose variants map 1:1 to genai-electron's error classes.
//!
//! `message` is the text the caller gave, without the class prefix: the JS facade rebuilds the
//! error with genai-electron's constructor, which adds the prefix (`Server error: …`). `Display`
//! shows the prefixed message, so Rust users and the CLI print what JS users see.

use serde_json::{json, Value};
use std::fmt;

/// genai-electron's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ModelNotFound,
    DownloadFailed,
    InsufficientResources,
    ServerError,
    PortInUse,
    FileSystem,
    Checksum,
    Binary,
    ContextConstraint,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ModelNotFound => "MODEL_NOT_FOUND",
            ErrorCode::DownloadFailed => "DOWNLOAD_FAILED",
            ErrorCode::InsufficientResources => "INSUFFICIENT_RESOURCES",
            ErrorCode::ServerError => "SERVER_ERROR",
            ErrorCode::PortInUse => "PORT_IN_USE",
            ErrorCode::FileSystem => "FILE_SYSTEM_ERROR",
            ErrorCode::Checksum => "CHECKSUM_ERROR",
            ErrorCode::Binary => "BINARY_ERROR",
            ErrorCode::ContextConstraint => "CONTEXT_CONSTRAINT_ERROR",
        }
    }

    /// The prefix genai-electron's constructor puts before the message.
    fn prefix(self) -> &'static str {
        match self {
            ErrorCode::ModelNotFound => "Model not found: ",
            ErrorCode::DownloadFailed => "Download failed: ",
            ErrorCode::ServerError => "Server error: ",
            ErrorCode::FileSystem => "File system error: ",
            ErrorCode::Checksum => "Checksum verification failed: ",
            ErrorCode::Binary => "Binary error: ",
            ErrorCode::ContextConstraint => "Context constraint error: ",
            ErrorCode::InsufficientResources | ErrorCode::PortInUse => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: ErrorCode,
    /// Unprefixed message (for `ModelNotFound` the model id, for `PortInUse` the port).
    pub message: String,
    pub details: Option<Value>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>, details: Option<Value>) -> Self {
        Error {
            code,
            message: message.into(),
            details,
        }
    }

    /// `details.code`: the finer cause some errors carry (`BACKEND_JOB_STUCK`, …).
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }

    pub fn model_not_found(model_id: &str) -> Self {
        Self::new(
            ErrorCode::ModelNotFound,
            model_id,
            Some(json!({
                "modelId": model_id,
                "suggestion": "Use modelManager.listModels() to see available models",
            })),
        )
    }

    pub fn port_in_use(port: u16) -> Self {
        Self::new(
            ErrorCode::PortInUse,
            format!("Port {port} is already in use"),
            Some(json!({
                "port": port,
                "suggestion": format!("Choose a different port or stop the process using port {port}"),
            })),
        )
    }

    /// A file-system failure with the path and the OS error in `details`.
    pub fn file_system(
        message: impl Into<String>,
        path: &std::path::Path,
        err: &std::io::Error,
    ) -> Self {
        Self::new(
            ErrorCode::FileSystem,
            message,
            Some(json!({ "path": path.to_string_lossy(), "error": io_error_json(err) })),
        )
    }

    pub fn server(message: impl Into<String>, details: Option<Value>) -> Self {
        Self::new(ErrorCode::ServerError, message, details)
    }

    pub fn context_constraint(message: impl Into<String>, details: Value) -> Self {
        Self::new(ErrorCode::ContextConstraint, message, Some(details))
    }

    pub fn insufficient_resources(message: impl Into<String>, details: Value) -> Self {
        Self::new(ErrorCode::InsufficientResources, message, Some(details))
    }

    /// The JSON the binding puts in the napi error's reason; the facade turns it into the class.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code.as_str(),
            "message": self.message,
            "details": self.details.clone().unwrap_or(Value::Null),
        })
    }

    /// The message as genai-electron shows it (with the class prefix).
    pub fn full_message(&self) -> String {
        format!("{}{}", self.code.prefix(), self.message)
    }
}

/// An `io::Error` as JSON: `{ code: "ENOENT", message }`, the shape Node gives its fs errors.
pub fn io_error_json(err: &std::io::Error) -> Value {
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => "ENOENT",
        std::io::ErrorKind::PermissionDenied => "EACCES",
        std::io::ErrorKind::AlreadyExists => "EEXIST",
        std::io::ErrorKind::DirectoryNotEmpty => "ENOTEMPTY",
        std::io::ErrorKind::NotADirectory => "ENOTDIR",
        std::io::ErrorKind::IsADirectory => "EISDIR",
        std::io::ErrorKind::StorageFull => "ENOSPC",
        std::io::ErrorKind::CrossesDevices => "EXDEV",
        _ => "EIO",
    };
    json!({ "code": code, "message": err.to_string() })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_message())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_genai_electron() {
        assert_eq!(
            Error::model_not_found("x").to_string(),
            "Model not found: x"
        );
        assert_eq!(
            Error::port_in_use(8080).to_string(),
            "Port 8080 is already in use"
        );
        assert_eq!(
            Error::server("boom", None).to_string(),
            "Server error: boom"
        );
        let e = Error::new(ErrorCode::Checksum, "bad", None);
        assert_eq!(e.to_string(), "Checksum verification failed: bad");
        let j = Error::port_in_use(1).to_json();
        assert_eq!(j["code"], "PORT_IN_USE");
        assert_eq!(j["details"]["port"], 1);
    }

    #[test]
    fn io_errors_get_node_codes() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(io_error_json(&e)["code"], "ENOENT");
    }
}
