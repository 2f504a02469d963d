//! The partial file's writer. Chunks are written as they arrive, on the download's own thread
//! (the bytes are still in that core's cache, as curl does it; no copy into a buffer), handed to
//! the kernel's writeback every few MiB so the final fsync has little left to do, and hashed on
//! a second thread, fed through a bounded channel, only when a checksum is expected.

use crate::Error;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Chunks in flight to the hashing thread (hyper yields at most ~400 KiB each).
const HASH_QUEUE: usize = 16;
/// Dirty data handed to writeback at a time (Linux).
const WRITEBACK_STEP: u64 = 8 << 20;

pub(super) struct Writer {
    file: File,
    path: PathBuf,
    /// Where this attempt's bytes start in the file.
    start: u64,
    written: u64,
    handed: u64,
    hasher: Option<Hasher>,
}

fn fs_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::file_system(format!("{what} {}", path.display()), path, &e)
}

impl Writer {
    /// Opens `partial` to append after its first `start` bytes (truncating anything else) and,
    /// when `hash`, starts the hashing thread on those bytes.
    pub(super) fn open(partial: &Path, start: u64, hash: bool) -> Result<Writer, Error> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(start > 0)
            .truncate(start == 0)
            .open(partial)
            .map_err(|e| fs_error("Failed to open", partial, e))?;
        let hasher = match hash {
            true => Some(Hasher::start(partial, start)?),
            false => None,
        };
        Ok(Writer {
            file,
            path: partial.to_path_buf(),
            start,
            written: 0,
            handed: 0,
            hasher,
        })
    }

    /// Writes a chunk (blocking: the download's thread is its own).
    pub(super) async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        let path = &self.path;
        self.file
            .write_all(&chunk)
            .map_err(|e| fs_error("Failed to write", path, e))?;
        self.written += chunk.len() as u64;
        if self.written - self.handed >= WRITEBACK_STEP {
            start_writeback(
                &self.file,
                self.start + self.handed,
                self.written - self.handed,
            );
            self.handed = self.written;
        }
        if let Some(h) = &mut self.hasher {
            // A closed channel means the hasher failed: its error comes from close().
            let _ = h.tx.send(chunk).await;
        }
        Ok(())
    }

    /// Ends the attempt: synced to disk when `sync`; the whole file's hash when one was asked.
    /// Blocks (the download's thread is its own).
    pub(super) fn close(self, sync: bool) -> Result<Option<Sha256>, Error> {
        let path = &self.path;
        if sync {
            self.file
                .sync_all()
                .map_err(|e| fs_error("Failed to write", path, e))?;
        }
        let Some(Hasher { tx, thread }) = self.hasher else {
            return Ok(None);
        };
        drop(tx);
        match thread.join() {
            Ok(Ok(h)) => Ok(Some(h)),
            Ok(Err(e)) => Err(fs_error("Failed to read partial download:", path, e)),
            Err(_) => Err(fs_error(
                "Failed to hash",
                path,
                std::io::Error::other("hashing thread failed"),
            )),
        }
    }
}

/// SHA-256 on its own thread: the bytes already in the partial file, then each chunk.
struct Hasher {
    tx: mpsc::Sender<Bytes>,
    thread: std::thread::JoinHandle<std::io::Result<Sha256>>,
}

impl Hasher {
    fn start(partial: &Path, start: u64) -> Result<Hasher, Error> {
        let (tx, mut rx) = mpsc::channel::<Bytes>(HASH_QUEUE);
        let path = partial.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("genai-download-hash".into())
            .spawn(move || {
                let mut h = match start {
                    0 => Sha256::new(),
                    n => crate::files::sha256_reader(File::open(&path)?.take(n))?,
                };
                while let Some(chunk) = rx.blocking_recv() {
                    h.update(&chunk);
                }
                Ok(h)
            })
            .map_err(|e| fs_error("Failed to hash", partial, e))?;
        Ok(Hasher { tx, thread })
    }
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
