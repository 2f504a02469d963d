//! GGUF metadata, read from a local file (only the header bytes) or from a URL with HTTP Range
//! requests (a small prefix first, grown only as far as the header needs).

pub mod metadata;
pub mod parse;
pub mod remote;
pub mod value;

pub use parse::{
    parse_header, Header, ParseError, TensorInfo, MAX_ARRAY_DEPTH, MAX_ARRAY_LEN, MAX_DIMS,
    MAX_KV_COUNT, MAX_METADATA_VALUES, MAX_STRING_LEN, MAX_TENSOR_COUNT,
};
pub use value::{Array, Value};

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// First read: enough for most headers without a large vocabulary.
pub const INITIAL_PREFIX: u64 = 256 * 1024;
/// No header may need more than this: real ones are under ~12 MB (a 256k-token vocabulary with
/// merges), and @huggingface/gguf cannot read past 50 MB, so nothing upstream reads is refused.
pub const MAX_HEADER_BYTES: u64 = 64 << 20;

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    Io(String),
    Http { status: u16, message: String },
    Parse(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(m) | ReadError::Parse(m) => f.write_str(m),
            ReadError::Http { status, message } => write!(f, "HTTP {status}: {message}"),
        }
    }
}

fn read_error(message: String, mut details: serde_json::Value, e: &ReadError) -> crate::Error {
    details["originalError"] = serde_json::Value::String(e.to_string());
    if let ReadError::Http { status, .. } = e {
        details["status"] = (*status).into();
    }
    crate::Error::new(crate::ErrorCode::DownloadFailed, message, Some(details))
}

/// `fetchGGUFMetadata(url)`: the header over HTTP, or genai-electron's DownloadError (with the
/// HTTP status in `details` when there was one).
pub async fn fetch_metadata(url: &str) -> crate::Result<Header> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let probe = remote::fetch_metadata(url, &crate::http::DEFAULT_LIMITS, &cancel).await?;
    Ok(probe.header)
}

/// `fetchLocalGGUFMetadata(path)`: the header of a local file (blocking), or the DownloadError.
pub fn read_metadata(path: &Path) -> crate::Result<Header> {
    read_local(path).map_err(|e| {
        let suggestion = "Verify the file exists and is a valid GGUF format. The file may be corrupted if it was not fully downloaded.";
        read_error(format!("Failed to read GGUF metadata from local file: {e}"), serde_json::json!({ "filePath": path.to_string_lossy(), "suggestion": suggestion }), &e)
    })
}

/// One parse attempt over the bytes read so far: the header, or how many bytes to have next.
pub(crate) fn step(buf: &[u8], at_end: bool) -> Result<Result<Header, u64>, ReadError> {
    match parse_header(buf) {
        Ok(h) => Ok(Ok(h)),
        Err(ParseError::Invalid(m)) => Err(ReadError::Parse(m)),
        Err(ParseError::Truncated { need }) if at_end => Err(ReadError::Parse(format!(
            "file ends inside the GGUF header (needs {need} bytes, has {})",
            buf.len()
        ))),
        Err(ParseError::Truncated { need }) if need > MAX_HEADER_BYTES => Err(ReadError::Parse(
            format!("GGUF header larger than {MAX_HEADER_BYTES} bytes"),
        )),
        Err(ParseError::Truncated { need }) => Ok(Err(need
            .max((buf.len() as u64).saturating_mul(2))
            .min(MAX_HEADER_BYTES))),
    }
}

/// Reads the header of a local GGUF file, reading only the bytes the header occupies.
pub fn read_local(path: &Path) -> Result<Header, ReadError> {
    let io = |e: std::io::Error| ReadError::Io(format!("{}: {e}", path.display()));
    let (mut file, len) = open_regular(path)?;
    let mut buf = Vec::new();
    let mut target = INITIAL_PREFIX;
    loop {
        let start = buf.len() as u64;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        buf.reserve_exact((target.min(len).saturating_sub(start)) as usize);
        let got = (&mut file)
            .take(target - start)
            .read_to_end(&mut buf)
            .map_err(io)?;
        match step(&buf, (got as u64) < target - start)? {
            Ok(h) => return Ok(h),
            Err(next) => target = next,
        }
    }
}

/// Opens `path` for reading if it is a regular file; returns it with its length. A FIFO, device or directory is refused:
/// a FIFO would block the open and the reads forever, a device could stream without end.
fn open_regular(path: &Path) -> Result<(File, u64), ReadError> {
    let io = |e: std::io::Error| ReadError::Io(format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK); // opening a FIFO must not wait for a writer
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ReadError::Io(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    Ok((file, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::parse::tests::Writer;
    use super::*;

    #[test]
    fn local_read_grows_past_the_first_prefix() {
        // A header with a 600 KB string: needs more than the first 256 KiB read.
        let mut w = Writer::header(3, 0, 2);
        w.kv_str("general.architecture", "llama")
            .kv_str("big", &"x".repeat(600_000));
        let mut bytes = w.0.clone();
        bytes.extend(std::iter::repeat_n(0u8, 1_000_000)); // tensor data that must not matter
        let path = std::env::temp_dir().join(format!("genai-gguf-{}.gguf", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let h = read_local(&path).unwrap();
        assert_eq!(h.header_len, w.0.len() as u64);
        std::fs::write(&path, &w.0[..w.0.len() - 10]).unwrap();
        assert!(matches!(read_local(&path), Err(ReadError::Parse(m)) if m.contains("ends inside")));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(read_local(&path), Err(ReadError::Io(_))));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_folder_is_refused_not_waited_on() {
        let dir = std::env::temp_dir().join(format!("genai-gguf-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("model.gguf");
        let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever opens it: a plain open would wait forever.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || tx.send(read_metadata(&path)));
        let outcome = rx.recv_timeout(std::time::Duration::from_secs(20));
        let e = outcome.expect("reading a FIFO settles").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::DownloadFailed);
        let want = format!(
            "Failed to read GGUF metadata from local file: {}: not a regular file",
            fifo.display()
        );
        assert_eq!(e.message, want);
        let folder = read_local(&dir).unwrap_err();
        assert!(
            folder.to_string().ends_with("not a regular file"),
            "{folder}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
