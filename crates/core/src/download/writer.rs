//! The partial file's writer. Chunks are written as they arrive, on the download's own thread
//! (the bytes are still in that core's cache, as curl does it; no copy into a buffer). Every few
//! MiB the written range is handed to the kernel's writeback by a second thread (Linux), so the
//! disk works during the download and the final fsync has little left to do; a third thread
//! hashes, fed through a bounded channel, only when a checksum is expected.

use crate::Error;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Chunks in flight to the hashing thread (hyper yields at most ~400 KiB each).
const HASH_QUEUE: usize = 16;
/// Dirty data handed to writeback at a time (Linux).
const WRITEBACK_STEP: u64 = 8 << 20;

pub(super) struct Writer {
    file: Arc<File>,
    path: PathBuf,
    /// Where this attempt's bytes start in the file.
    start: u64,
    written: u64,
    handed: u64,
    flusher: Option<Flusher>,
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
        let file = Arc::new(file);
        Ok(Writer {
            flusher: Flusher::start(&file),
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
        (&*self.file)
            .write_all(&chunk)
            .map_err(|e| fs_error("Failed to write", path, e))?;
        self.written += chunk.len() as u64;
        if let Some(f) = self.flusher.as_ref() {
            if self.written - self.handed >= WRITEBACK_STEP {
                f.hand(self.start + self.handed, self.written - self.handed);
                self.handed = self.written;
            }
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
        if let Some(f) = self.flusher {
            f.stop();
        }
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

/// Hands written ranges to the kernel's writeback from a thread of its own (the call may wait
/// for the disk's queue; the download's thread never does).
struct Flusher {
    tx: std::sync::mpsc::SyncSender<(u64, u64)>,
    thread: std::thread::JoinHandle<()>,
}

impl Flusher {
    /// `None` where there is no such call (not Linux) or no thread.
    fn start(file: &Arc<File>) -> Option<Flusher> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, u64)>(4);
        let file = file.clone();
        let thread = std::thread::Builder::new()
            .name("genai-download-flush".into())
            .spawn(move || {
                for (offset, len) in rx {
                    start_writeback(&file, offset, len);
                }
            })
            .ok()?;
        Some(Flusher { tx, thread })
    }

    /// A full queue leaves the range to the final fsync.
    fn hand(&self, offset: u64, len: u64) {
        let _ = self.tx.try_send((offset, len));
    }

    fn stop(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// Starts writing `len` bytes at `offset` to the disk without waiting for it to finish.
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
