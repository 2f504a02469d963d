//! Archives built byte by byte for the tests: the layouts release archives use, and hostile
//! entries (`..`, absolute paths, links out, FIFOs) that no archiving tool would write.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::File;
use std::io::Write;
use std::path::Path;
pub use tar::EntryType;
use tar::Header;
use zip::write::SimpleFileOptions;

/// One entry: a file (name, mode, content), a folder, a symlink or hardlink (name, target), or
/// a special file (FIFO, device).
pub enum E<'a> {
    File(&'a str, u32, &'a [u8]),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Special(&'a str, EntryType),
}

pub fn header(name: &str, kind: EntryType, size: u64, mode: u32, link: &str) -> Header {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_cksum();
    h
}

pub fn write_tgz(path: &Path, entries: &[E]) {
    let gz = GzEncoder::new(File::create(path).unwrap(), Compression::fast());
    let mut b = tar::Builder::new(gz);
    for e in entries {
        let (h, data): (Header, &[u8]) = match *e {
            E::File(n, mode, d) => (header(n, EntryType::Regular, d.len() as u64, mode, ""), d),
            E::Dir(n) => (header(n, EntryType::Directory, 0, 0o755, ""), b""),
            E::Sym(n, t) => (header(n, EntryType::Symlink, 0, 0o777, t), b""),
            E::Hard(n, t) => (header(n, EntryType::Link, 0, 0o644, t), b""),
            E::Special(n, k) => (header(n, k, 0, 0o644, ""), b""),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

pub fn write_zip(path: &Path, entries: &[E]) {
    let mut z = zip::ZipWriter::new(File::create(path).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for e in entries {
        match *e {
            E::File(n, mode, d) => {
                z.start_file(n, opts.unix_permissions(mode)).unwrap();
                z.write_all(d).unwrap();
            }
            E::Dir(n) => z.add_directory(n, opts).unwrap(),
            E::Sym(n, t) => z.add_symlink(n, t, opts).unwrap(),
            E::Hard(..) | E::Special(..) => unreachable!("zip has no such entries"),
        }
    }
    z.finish().unwrap();
}
