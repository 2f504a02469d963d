//! The partial file's writer: one blocking thread fed through a bounded channel, so that the
//! receiving task never waits on the disk or the hash. Chunks are written as they come (no copy
//! into a buffer), hashed only when a checksum is expected, and handed to the kernel's writeback
//! every few MiB so the final fsync has little left to do.

use crate::Error;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Chunks in flight between the network and the disk (hyper yields at most ~400 KiB each).
const QUEUE: usize = 16;
/// Dirty data handed to writeback at a time (Linux).
const WRITEBACK_STEP: u64 = 8 << 20;

enum Msg {
    Data(Bytes),
    /// Everything arrived: make it durable.
    Sync,
}

pub(super) struct Writer {
    tx: Option<mpsc::Sender<Msg>>,
    task: tokio::task::JoinHandle<Result<Option<Sha256>, Error>>,
}

impl Writer {
    /// Opens `partial` to append after its first `start` bytes (truncating anything else) and,
    /// when `hash`, hashes those bytes first.
    pub(super) fn open(partial: &Path, start: u64, hash: bool) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let path = partial.to_path_buf();
        let task = tokio::task::spawn_blocking(move || run(&path, start, hash, rx));
        Writer { tx: Some(tx), task }
    }

    /// Queues a chunk; `false` when the writer has stopped (its error comes from `close`).
    /// Waits while the queue is full.
    pub(super) async fn write(&mut self, chunk: Bytes) -> bool {
        let Some(tx) = &self.tx else { return false };
        tx.send(Msg::Data(chunk)).await.is_ok()
    }

    /// Queues a chunk if there is room; gives it back when the queue is full.
    pub(super) fn try_write(&mut self, chunk: Bytes) -> Result<bool, Bytes> {
        let Some(tx) = &self.tx else { return Ok(false) };
        match tx.try_send(Msg::Data(chunk)) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(Msg::Data(b))) => Err(b),
            Err(_) => Ok(false),
        }
    }

    /// Waits until everything queued is on disk (and synced when `sync`); the hash of the whole
    /// file when one was asked for.
    pub(super) async fn close(mut self, sync: bool) -> Result<Option<Sha256>, Error> {
        if let Some(tx) = self.tx.take() {
            if sync {
                let _ = tx.send(Msg::Sync).await;
            }
        }
        self.task.await.map_err(|e| {
            Error::new(
                crate::ErrorCode::FileSystem,
                format!("Download writer failed: {e}"),
                None,
            )
        })?
    }
}

fn fs_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::file_system(format!("{what} {}", path.display()), path, &e)
}

fn run(
    path: &PathBuf,
    start: u64,
    hash: bool,
    mut rx: mpsc::Receiver<Msg>,
) -> Result<Option<Sha256>, Error> {
    let mut hasher = if hash && start > 0 {
        let file = File::open(path).map_err(|e| fs_error("Failed to read partial download:", path, e))?;
        let h = crate::files::sha256_reader(file.take(start))
            .map_err(|e| fs_error("Failed to read partial download:", path, e))?;
        Some(h)
    } else {
        hash.then(Sha256::new)
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(start > 0)
        .truncate(start == 0)
        .open(path)
        .map_err(|e| fs_error("Failed to open", path, e))?;
    let write_error = |e| fs_error("Failed to write", path, e);
    let mut written = 0u64;
    let mut handed = 0u64;
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Data(chunk) => {
                file.write_all(&chunk).map_err(write_error)?;
                if let Some(h) = &mut hasher {
                    h.update(&chunk);
                }
                written += chunk.len() as u64;
                if written - handed >= WRITEBACK_STEP {
                    start_writeback(&file, start + handed, written - handed);
                    handed = written;
                }
            }
            Msg::Sync => file.sync_all().map_err(write_error)?,
        }
    }
    Ok(hasher)
}

/// Starts writing `len` bytes at `offset` to the disk without waiting for it (Linux), so that
/// the disk works while the download runs instead of all at the final fsync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a file descriptor we own; it only schedules I/O.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}
