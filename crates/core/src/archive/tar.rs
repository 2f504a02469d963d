//! `.tar.gz` / `.tgz`: one pass over the gzip stream (all members, as `gzip -d`), entry by entry.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use tar::{Archive, EntryType};

use super::{corrupt, io_failed, refuse, Sink};
use crate::Result;

pub(super) fn extract(archive: &Path, sink: &mut Sink<'_>) -> Result<()> {
    let file =
        File::open(archive).map_err(|e| io_failed("Cannot open the archive", archive, &e))?;
    let mut tar = Archive::new(MultiGzDecoder::new(BufReader::new(file)));
    let entries = tar.entries().map_err(|e| corrupt(None, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(None, e))?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| refuse("?", "the name is not UTF-8"))?;
        one(sink, &name, &mut entry)?;
        sink.end();
    }
    // The gzip trailer (CRC, length) lies after the tar end blocks: a cut there is a cut too.
    let limit = sink.limits().max_bytes;
    let rest = io::copy(&mut tar.into_inner().take(limit), &mut io::sink())
        .map_err(|e| corrupt(None, e))?;
    if rest >= limit {
        return Err(refuse("(after the last entry)", "too much trailing data"));
    }
    Ok(())
}

fn one<R: Read>(sink: &mut Sink<'_>, name: &str, entry: &mut tar::Entry<'_, R>) -> Result<()> {
    let kind = entry.header().entry_type();
    // Pax global headers (git archive writes one) carry no file.
    if kind == EntryType::XGlobalHeader {
        return Ok(());
    }
    let Some(rel) = sink.begin(name)? else {
        return match kind {
            EntryType::Directory => Ok(()),
            _ => Err(refuse(name, "an empty path")),
        };
    };
    let mode = entry.header().mode().ok();
    let link = || -> Result<String> {
        let bytes = entry
            .link_name_bytes()
            .ok_or_else(|| refuse(name, "a link without a target"))?;
        String::from_utf8(bytes.into_owned())
            .map_err(|_| refuse(name, "a link target that is not UTF-8"))
    };
    match kind {
        EntryType::Directory => sink.dir(name, &rel, mode),
        EntryType::Regular | EntryType::Continuous => sink.file(name, &rel, mode, entry),
        EntryType::Symlink => {
            let target = link()?;
            sink.symlink(name, &rel, &target)
        }
        EntryType::Link => {
            let target = link()?;
            sink.hardlink(name, &rel, &target)
        }
        EntryType::Char | EntryType::Block => Err(refuse(name, "a device file")),
        EntryType::Fifo => Err(refuse(name, "a FIFO")),
        other => Err(refuse(
            name,
            format!("an unsupported entry type {:?}", other.as_byte() as char),
        )),
    }
}
