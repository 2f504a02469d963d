//! Archive extraction that cannot escape its destination: `.tar.gz`/`.tgz` and `.zip`, detected
//! by content, streamed entry by entry. Every entry is checked before anything is written:
//! no `..`, no absolute or drive/UNC paths, nothing written through a symlink, symlinks and
//! hardlinks only to places inside the destination, no device files or FIFOs, and limits on the
//! entry count and the bytes really written (bombs). A truncated or corrupt archive is an error.
//! On an error the destination is emptied again, so a half-extracted tree is never left behind.

mod tar;
mod zip;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::io_error_json;
use crate::{Error, ErrorCode, Result};

/// What one extraction may produce at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: u64,
    /// Uncompressed bytes really written (not what headers claim).
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // Far above the largest llama.cpp / stable-diffusion.cpp release (CUDA builds ~1-2 GiB).
        Self {
            max_entries: 100_000,
            max_bytes: 16 << 30,
        }
    }
}

/// Reported after every entry and every few MiB (genai-electron's `binary-progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub entries: u64,
    /// Entries done that are not folders (genai-electron's `completedEntries`).
    pub files: u64,
    /// Entries that are not folders, known up front for zip (`totalEntries`).
    pub total_files: Option<u64>,
    pub written_bytes: u64,
    /// Known up front for zip (central directory), unknown for a gzip stream.
    pub total_uncompressed_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub written_bytes: u64,
}

/// Progress between entries at most this often (bytes) while a large file is written.
const PROGRESS_STEP: u64 = 8 << 20;
/// Symlink hops followed when checking where a link leads (as the kernel's ELOOP limit).
const MAX_HOPS: u32 = 40;

/// Extracts `archive` into `dest`, which must not exist yet or be an empty folder.
pub fn extract(
    archive: &Path,
    dest: &Path,
    limits: &Limits,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let kind = detect(archive)?;
    prepare_dest(dest)?;
    let mut sink = Sink {
        dest: dest.to_path_buf(),
        limits: *limits,
        progress,
        total: None,
        total_files: None,
        entries: 0,
        files: 0,

        written: 0,
        reported: 0,
        symlinks: Vec::new(),
    };
    let result = match kind {
        Kind::TarGz => tar::extract(archive, &mut sink),
        Kind::Zip => zip::extract(archive, &mut sink),
    }
    .and_then(|()| sink.finish());
    if result.is_err() {
        empty_dir(dest);
    }
    result
}

enum Kind {
    TarGz,
    Zip,
}

fn detect(archive: &Path) -> Result<Kind> {
    let mut magic = [0u8; 4];
    let mut file =
        File::open(archive).map_err(|e| io_failed("Cannot open the archive", archive, &e))?;
    let n = read_full(&mut file, &mut magic)
        .map_err(|e| io_failed("Cannot read the archive", archive, &e))?;
    match &magic[..n] {
        [0x1f, 0x8b, ..] => Ok(Kind::TarGz),
        // A local file header, or the end record of an empty zip.
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Ok(Kind::Zip),
        _ => Err(Error::new(
            ErrorCode::Binary,
            "Unknown archive format (expected .tar.gz or .zip)",
            Some(json!({ "archive": archive.to_string_lossy(), "reason": "unknown format" })),
        )),
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn prepare_dest(dest: &Path) -> Result<()> {
    match fs::read_dir(dest) {
        Ok(mut it) => match it.next() {
            None => Ok(()),
            Some(_) => Err(Error::new(
                ErrorCode::Binary,
                "The extraction folder is not empty",
                Some(json!({ "path": dest.to_string_lossy(), "reason": "not empty" })),
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dest)
            .map_err(|e| io_failed("Cannot create the extraction folder", dest, &e)),
        Err(e) => Err(io_failed("Cannot use the extraction folder", dest, &e)),
    }
}

/// Best effort: removes what a failed extraction wrote (never follows symlinks).
fn empty_dir(dest: &Path) {
    if let Ok(it) = fs::read_dir(dest) {
        for entry in it.flatten() {
            let p = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let _ = if is_dir {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// A refused or failed entry: `BinaryError` naming the entry and the reason.
pub(crate) fn refuse(entry: &str, reason: impl Into<String>) -> Error {
    let reason = reason.into();
    Error::new(
        ErrorCode::Binary,
        format!("Archive entry \"{entry}\" refused: {reason}"),
        Some(json!({ "entry": entry, "reason": reason })),
    )
}

/// The archive itself is unreadable: truncated, corrupt, not what its magic says.
pub(crate) fn corrupt(entry: Option<&str>, err: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Binary,
        format!("The archive is truncated or corrupt: {err}"),
        Some(json!({ "entry": entry, "reason": "truncated or corrupt", "error": err.to_string() })),
    )
}

/// The archive or the destination cannot be used at all (open, read, create).
pub(crate) fn io_failed(message: &str, path: &Path, err: &io::Error) -> Error {
    Error::new(
        ErrorCode::Binary,
        format!("{message}: {err}"),
        Some(json!({
            "path": path.to_string_lossy(),
            "reason": message,
            "error": io_error_json(err),
        })),
    )
}

fn write_failed(entry: &str, path: &Path, err: &io::Error) -> Error {
    Error::new(
        ErrorCode::Binary,
        format!("Cannot write archive entry \"{entry}\": {err}"),
        Some(json!({
            "entry": entry,
            "reason": "write failed",
            "path": path.to_string_lossy(),
            "error": io_error_json(err),
        })),
    )
}

fn split(name: &str) -> impl DoubleEndedIterator<Item = &str> {
    name.split(['/', '\\'])
}

fn is_absolute(name: &str) -> bool {
    name.starts_with(['/', '\\']) || split(name).next().is_some_and(is_drive)
}

fn is_drive(comp: &str) -> bool {
    let b = comp.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The entry's path relative to the destination; empty for `./`. Both separators count, as
/// archives made on Windows use `\`.
pub(crate) fn safe_relative(name: &str) -> std::result::Result<PathBuf, &'static str> {
    if name.contains('\0') {
        return Err("the name contains a NUL byte");
    }
    if is_absolute(name) {
        return Err("absolute path");
    }
    let mut out = PathBuf::new();
    for comp in split(name) {
        match comp {
            "" | "." => {}
            ".." => return Err("a `..` component"),
            c if cfg!(windows) && c.contains(':') => return Err("a `:` in a Windows name"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Writes checked entries under `dest`; shared by the tar and zip readers.
pub(crate) struct Sink<'a> {
    dest: PathBuf,
    limits: Limits,
    progress: &'a mut dyn FnMut(Progress),
    pub(crate) total: Option<u64>,
    pub(crate) total_files: Option<u64>,
    entries: u64,
    /// Entries written that are not folders (files and links).
    files: u64,
    written: u64,
    reported: u64,
    /// (entry name, relative path) of every symlink, checked again once all entries are out.
    symlinks: Vec<(String, PathBuf)>,
}

impl Sink<'_> {
    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts the entry and checks its name; `None` for the destination itself (`./`).
    pub(crate) fn begin(&mut self, name: &str) -> Result<Option<PathBuf>> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            let max = self.limits.max_entries;
            return Err(refuse(name, format!("more than {max} entries")));
        }
        let rel = safe_relative(name).map_err(|r| refuse(name, r))?;
        Ok((!rel.as_os_str().is_empty()).then_some(rel))
    }

    pub(crate) fn end(&mut self) {
        self.report();
    }

    fn report(&mut self) {
        self.reported = self.written;
        (self.progress)(Progress {
            entries: self.entries,
            files: self.files,
            total_files: self.total_files,
            written_bytes: self.written,
            total_uncompressed_bytes: self.total,
        });
    }

    /// Creates the missing parents of `rel` as real folders; refuses a parent that is a symlink
    /// or a file, so nothing is ever written through a link.
    fn parent(&self, name: &str, rel: &Path) -> Result<PathBuf> {
        let mut cur = self.dest.clone();
        if let Some(parent) = rel.parent() {
            for comp in parent.components() {
                cur.push(comp);
                match fs::symlink_metadata(&cur) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(refuse(name, "a parent folder is a symlink or a file")),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        fs::create_dir(&cur).map_err(|e| write_failed(name, &cur, &e))?
                    }
                    Err(e) => return Err(write_failed(name, &cur, &e)),
                }
            }
        }
        Ok(self.dest.join(rel))
    }

    /// Makes room for a new non-folder entry (archives may repeat a name; the last one wins).
    fn replace(&self, name: &str, rel: &Path) -> Result<PathBuf> {
        let path = self.parent(name, rel)?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Err(refuse(name, "it would replace a folder")),
            Ok(_) => fs::remove_file(&path).map_err(|e| write_failed(name, &path, &e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(write_failed(name, &path, &e)),
        }?;
        Ok(path)
    }

    pub(crate) fn dir(&mut self, name: &str, rel: &Path, mode: Option<u32>) -> Result<()> {
        let path = self.parent(name, rel)?;
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refuse(name, "a folder over a file or symlink")),
            Err(_) => fs::create_dir(&path).map_err(|e| write_failed(name, &path, &e))?,
        }
        set_mode(&path, mode.map(|m| m | 0o700)).map_err(|e| write_failed(name, &path, &e))
    }

    /// Streams one file, counting the bytes really written against the limit.
    pub(crate) fn file(
        &mut self,
        name: &str,
        rel: &Path,
        mode: Option<u32>,
        data: &mut dyn Read,
    ) -> Result<()> {
        self.files += 1;
        let path = self.replace(name, rel)?;
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| write_failed(name, &path, &e))?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(Some(name), e)),
            };
            if self.written + n as u64 > self.limits.max_bytes {
                let max = self.limits.max_bytes;
                return Err(refuse(name, format!("more than {max} uncompressed bytes")));
            }
            out.write_all(&buf[..n])
                .map_err(|e| write_failed(name, &path, &e))?;
            self.written += n as u64;
            if self.written - self.reported >= PROGRESS_STEP {
                self.report();
            }
        }
        drop(out);
        set_mode(&path, mode).map_err(|e| write_failed(name, &path, &e))
    }

    pub(crate) fn symlink(&mut self, name: &str, rel: &Path, target: &str) -> Result<()> {
        self.files += 1;
        if target.is_empty() || target.contains('\0') || is_absolute(target) {
            return Err(refuse(
                name,
                format!("symlink to \"{target}\" (absolute or empty)"),
            ));
        }
        if !self.resolves_inside(rel, target) {
            return Err(refuse(
                name,
                format!("symlink to \"{target}\" leads outside"),
            ));
        }
        let path = self.replace(name, rel)?;
        make_symlink(target, &path).map_err(|e| write_failed(name, &path, &e))?;
        self.symlinks.push((name.to_string(), rel.to_path_buf()));
        Ok(())
    }

    /// A hardlink to an earlier regular file of this archive (never a symlink, never outside).
    pub(crate) fn hardlink(&mut self, name: &str, rel: &Path, target: &str) -> Result<()> {
        self.files += 1;
        let outside = || {
            refuse(
                name,
                format!("hardlink to \"{target}\" outside the archive"),
            )
        };
        let target_rel = match safe_relative(target) {
            Ok(t) if !t.as_os_str().is_empty() => t,
            _ => return Err(outside()),
        };
        let source = self.parent(name, &target_rel)?;
        match fs::symlink_metadata(&source) {
            Ok(m) if m.is_file() => {}
            _ => return Err(outside()),
        }
        let path = self.replace(name, rel)?;
        fs::hard_link(&source, &path).map_err(|e| write_failed(name, &path, &e))
    }

    /// Follows `target` from the link's folder the way the kernel will, through the links
    /// already written, and says whether every step stays inside the destination.
    fn resolves_inside(&self, rel: &Path, target: &str) -> bool {
        let mut cur: Vec<String> = match rel.parent() {
            Some(p) => p
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into())
                .collect(),
            None => Vec::new(),
        };
        let mut queue: VecDeque<String> = split(target).map(String::from).collect();
        let mut hops = 0;
        while let Some(comp) = queue.pop_front() {
            match comp.as_str() {
                "" | "." => continue,
                ".." => {
                    if cur.pop().is_none() {
                        return false;
                    }
                    continue;
                }
                _ => cur.push(comp),
            }
            let path = self.dest.join(cur.iter().collect::<PathBuf>());
            let Ok(link) = fs::read_link(&path) else {
                continue;
            };
            hops += 1;
            let Some(link) = link.to_str() else {
                return false;
            };
            if hops > MAX_HOPS || link.is_empty() || is_absolute(link) {
                return false;
            }
            cur.pop();
            for c in split(link).rev() {
                queue.push_front(c.to_string());
            }
        }
        true
    }

    /// Checks every symlink again against the final tree: a later entry may have changed
    /// where an earlier link leads (`a -> .` written after `b -> a/..`).
    fn finish(&mut self) -> Result<Summary> {
        for (name, rel) in &self.symlinks {
            let Ok(target) = fs::read_link(self.dest.join(rel)) else {
                continue;
            };
            let target = target.to_string_lossy();
            if !self.resolves_inside(rel, &target) {
                return Err(refuse(
                    name,
                    format!("symlink to \"{target}\" leads outside"),
                ));
            }
        }
        self.report();
        Ok(Summary {
            entries: self.entries,
            written_bytes: self.written,
        })
    }
}

/// Unix permission bits only: the executable bit survives, setuid/setgid/sticky never do.
#[cfg(unix)]
fn set_mode(path: &Path, mode: Option<u32>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match mode {
        Some(m) => fs::set_permissions(path, fs::Permissions::from_mode(m & 0o777)),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: Option<u32>) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &str, path: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(not(unix))]
fn make_symlink(target: &str, path: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target.replace('/', "\\"), path)
}
