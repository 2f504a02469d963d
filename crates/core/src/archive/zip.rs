//! `.zip`: the central directory gives the count and the total size up front; each entry is
//! then streamed (never the whole archive in memory).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use zip::ZipArchive;

use super::{corrupt, io_failed, refuse, Sink};
use crate::Result;

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
/// A symlink entry's content is its target; longer than PATH_MAX is not a target.
const MAX_LINK: u64 = 4096;

pub(super) fn extract(archive: &Path, sink: &mut Sink<'_>) -> Result<()> {
    let file =
        File::open(archive).map_err(|e| io_failed("Cannot open the archive", archive, &e))?;
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(None, e))?;
    let max = sink.limits().max_entries;
    if zip.len() as u64 > max {
        let n = zip.len();
        return Err(refuse(
            "(central directory)",
            format!("{n} entries, more than {max}"),
        ));
    }
    let (mut total, mut files) = (0u64, 0u64);
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| corrupt(None, e))?;
        total = total.saturating_add(f.size());
        files += u64::from(!f.is_dir());
    }
    sink.total = Some(total);
    sink.total_files = Some(files);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| corrupt(None, e))?;
        let name = f.name().map_err(|e| corrupt(None, e))?.into_owned();
        let Some(rel) = sink.begin(&name)? else {
            if f.is_dir() {
                continue;
            }
            return Err(refuse(&name, "an empty path"));
        };
        let mode = f.unix_mode();
        match mode.map(|m| m & S_IFMT) {
            Some(S_IFLNK) => {
                let mut target = String::new();
                (&mut f)
                    .take(MAX_LINK + 1)
                    .read_to_string(&mut target)
                    .map_err(|e| corrupt(Some(&name), e))?;
                if target.len() as u64 > MAX_LINK {
                    return Err(refuse(&name, "a symlink target longer than 4096 bytes"));
                }
                sink.symlink(&name, &rel, &target)?;
            }
            Some(S_IFDIR) => sink.dir(&name, &rel, mode)?,
            _ if f.is_dir() => sink.dir(&name, &rel, mode)?,
            Some(S_IFREG) | Some(0) | None => sink.file(&name, &rel, mode, &mut f)?,
            Some(_) => return Err(refuse(&name, "a device file, FIFO or socket")),
        }
        sink.end();
    }
    Ok(())
}
