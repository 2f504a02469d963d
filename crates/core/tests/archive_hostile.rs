//! Archive extraction on real archives built here (tar + gzip, zip): the normal layouts
//! release archives use, and hostile ones that must be refused with nothing written outside.
#![cfg(unix)]

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

mod common;

use common::archives::{header, write_tgz, write_zip, EntryType, E};
use flate2::write::GzEncoder;
use flate2::Compression;
use genai_core::archive::{extract, Limits, Progress, Summary};
use genai_core::{Error, ErrorCode};
use zip::write::SimpleFileOptions;

/// A test's folder: the archive, `dest` (not created), and `outside/keep.txt` as bait.
struct Case {
    root: PathBuf,
}

impl Case {
    fn new(tag: &str) -> Self {
        let root = std::env::temp_dir().join(format!("genai-archive-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("outside")).unwrap();
        fs::write(root.join("outside/keep.txt"), b"keep").unwrap();
        Self { root }
    }
    fn tgz(&self) -> PathBuf {
        self.root.join("a.tgz")
    }
    fn zip(&self) -> PathBuf {
        self.root.join("a.zip")
    }
    fn dest(&self) -> PathBuf {
        self.root.join("dest")
    }
    fn run(&self, archive: &Path, limits: &Limits) -> (Result<Summary, Error>, Vec<Progress>) {
        let mut seen = Vec::new();
        let r = extract(archive, &self.dest(), limits, &mut |p| seen.push(p));
        (r, seen)
    }
    /// Refused as `BinaryError` naming `entry`, with a reason containing `reason`, the
    /// destination emptied and nothing else in the test folder touched.
    fn refused(&self, archive: &Path, limits: &Limits, entry: Option<&str>, reason: &str) {
        let (r, _) = self.run(archive, limits);
        let err = r.expect_err("the archive must be refused");
        assert_eq!(err.code, ErrorCode::Binary, "{err:?}");
        let details = err.details.clone().unwrap();
        if let Some(entry) = entry {
            assert_eq!(details["entry"], entry, "{err:?}");
        }
        let text = format!("{} {}", err.message, details["reason"]);
        assert!(text.contains(reason), "expected {reason:?} in {err:?}");
        self.nothing_outside();
    }
    fn nothing_outside(&self) {
        let mut names: Vec<String> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        // `dest` is absent when the archive was refused before anything was created.
        names.retain(|n| n != "a.tgz" && n != "a.zip" && n != "dest");
        assert_eq!(names, ["outside"]);
        let outside: Vec<_> = fs::read_dir(self.root.join("outside")).unwrap().collect();
        assert_eq!(outside.len(), 1);
        assert_eq!(
            fs::read(self.root.join("outside/keep.txt")).unwrap(),
            b"keep"
        );
        if let Ok(mut dest) = fs::read_dir(self.dest()) {
            assert!(dest.next().is_none(), "dest is emptied on error");
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A tar header written byte by byte: the `tar` crate's setters refuse `..` and `/`.
const NORMAL: &[E] = &[
    E::Dir("./"),
    E::Dir("bin/"),
    E::File("bin/tool", 0o4755, b"#!/bin/sh\necho hi\n"),
    E::File("bin/lib/libx.so.1", 0o644, b"library"),
    E::Sym("bin/lib/libx.so", "libx.so.1"),
    E::Sym("bin/up", "../share/doc"),
    E::File("share/doc/readme.txt", 0o644, b"readme"),
];

/// Checks the tree and the progress; gives the reported total.
fn check_normal(case: &Case, archive: &Path, files: u64) -> Option<u64> {
    let (r, seen) = case.run(archive, &Limits::default());
    let summary = r.unwrap();
    let d = case.dest();
    assert_eq!(
        fs::read(d.join("bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    let mode = fs::metadata(d.join("bin/tool"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o755, "executable kept, setuid dropped");
    assert_eq!(fs::read(d.join("bin/lib/libx.so")).unwrap(), b"library");
    assert_eq!(
        fs::read_link(d.join("bin/lib/libx.so")).unwrap(),
        Path::new("libx.so.1")
    );
    assert_eq!(fs::read(d.join("bin/up/readme.txt")).unwrap(), b"readme");
    assert_eq!(fs::read(d.join("share/doc/readme.txt")).unwrap(), b"readme");
    assert_eq!(summary.entries, files);
    let bytes = (18 + 7 + 6) as u64;
    assert!(summary.written_bytes == bytes, "{summary:?}");
    let last = seen.last().unwrap();
    assert_eq!(
        (last.entries, last.written_bytes),
        (summary.entries, summary.written_bytes)
    );
    assert!(seen
        .windows(2)
        .all(|w| w[0].written_bytes <= w[1].written_bytes));
    // Files, links and the like count; the 3 folders (`./`, `bin/`, and `bin/lib`'s) do not.
    assert_eq!(last.files, 5, "{last:?}");
    if last.total_uncompressed_bytes.is_some() {
        assert_eq!(last.total_files, Some(5), "zip: the total up front");
    }
    last.total_uncompressed_bytes
}

#[test]
fn a_normal_tar_gz_extracts_with_modes_and_inner_symlinks() {
    let case = Case::new("normal-tgz");
    write_tgz(&case.tgz(), NORMAL);
    assert_eq!(check_normal(&case, &case.tgz(), 7), None);
}

#[test]
fn a_normal_zip_extracts_with_modes_and_inner_symlinks() {
    let case = Case::new("normal-zip");
    write_zip(&case.zip(), &NORMAL[1..]);
    // The symlinks' targets count in the central directory's sizes.
    let total = (18 + 7 + 6 + 9 + 12) as u64;
    assert_eq!(check_normal(&case, &case.zip(), 6), Some(total));
}

#[test]
fn a_system_tar_archive_extracts() {
    let case = Case::new("system");
    let src = case.root.join("src");
    fs::create_dir_all(src.join("top/bin")).unwrap();
    fs::write(src.join("top/bin/run"), b"x").unwrap();
    fs::set_permissions(src.join("top/bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("bin/run", src.join("top/run")).unwrap();
    let tar = std::process::Command::new("tar")
        .args([
            "czf",
            case.tgz().to_str().unwrap(),
            "-C",
            src.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(tar.success());
    let (r, _) = case.run(&case.tgz(), &Limits::default());
    r.unwrap();
    let run = case.dest().join("top/run");
    assert_eq!(fs::read(&run).unwrap(), b"x");
    assert_eq!(
        fs::metadata(&run).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

fn both(tag: &str, entries: &[E], entry: &str, reason: &str) {
    let case = Case::new(&format!("{tag}-tgz"));
    write_tgz(&case.tgz(), entries);
    case.refused(&case.tgz(), &Limits::default(), Some(entry), reason);
    let case = Case::new(&format!("{tag}-zip"));
    write_zip(&case.zip(), entries);
    case.refused(&case.zip(), &Limits::default(), Some(entry), reason);
}

#[test]
fn dot_dot_entries_are_refused() {
    for name in ["../x", "a/../../outside/keep.txt", "..\\x", "ok/..\\..\\x"] {
        both(
            "dotdot",
            &[E::File("ok/a", 0o644, b"a"), E::File(name, 0o644, b"x")],
            name,
            "`..`",
        );
    }
}

#[test]
fn absolute_and_drive_paths_are_refused() {
    let case = Case::new("abs");
    let inside_root = format!("{}/outside/new", case.root.display());
    let etc_x = format!("/etc/genai-archive-{}", std::process::id());
    for name in [
        inside_root.as_str(),
        etc_x.as_str(),
        "C:\\x",
        "c:/x",
        "\\\\server\\share\\x",
    ] {
        both("abs", &[E::File(name, 0o644, b"x")], name, "absolute");
        assert!(!Path::new(&etc_x).exists());
    }
}

#[test]
fn symlinks_out_and_writes_through_them_are_refused() {
    let etc_new = format!("etc/genai-archive-{}", std::process::id());
    let cases: &[(&[E], &str)] = &[
        (&[E::Sym("pw", "/etc/passwd")], "pw"),
        (
            &[E::Sym("etc", "/etc"), E::File(&etc_new, 0o644, b"x")],
            "etc",
        ),
        (
            &[
                E::Sym("esc", "../outside"),
                E::File("esc/pwned", 0o644, b"x"),
            ],
            "esc",
        ),
        (
            &[E::Dir("a/"), E::Sym("a/esc", "../../outside/keep.txt")],
            "a/esc",
        ),
        // Inside, but a later entry may not be written through it.
        (
            &[
                E::Dir("sub/"),
                E::Sym("d", "sub"),
                E::File("d/f", 0o644, b"x"),
            ],
            "d/f",
        ),
        // Each is inside when written; together `b` leads out (`a` -> dest, `a/..` -> above).
        (&[E::Sym("b", "a/.."), E::Sym("a", ".")], "b"),
        (
            &[
                E::Sym("loop1", "loop2"),
                E::Sym("loop2", "loop1"),
                E::Sym("c", "loop1/x"),
            ],
            "c",
        ),
    ];
    for (i, (entries, entry)) in cases.iter().enumerate() {
        both(&format!("sym{i}"), entries, entry, "symlink");
    }
    assert!(!Path::new("/etc").join(&etc_new[4..]).exists());
}

#[test]
fn hardlinks_outside_are_refused() {
    for (i, target) in ["../outside/keep.txt", "/etc/passwd", "missing", "lnk"]
        .iter()
        .enumerate()
    {
        let case = Case::new(&format!("hard{i}"));
        write_tgz(
            &case.tgz(),
            &[
                E::Sym("lnk", "f"),
                E::File("f", 0o644, b"f"),
                E::Hard("h", target),
            ],
        );
        case.refused(&case.tgz(), &Limits::default(), Some("h"), "hardlink");
    }
    // An inside hardlink to a regular file is kept.
    let case = Case::new("hard-ok");
    write_tgz(&case.tgz(), &[E::File("f", 0o644, b"f"), E::Hard("h", "f")]);
    case.run(&case.tgz(), &Limits::default()).0.unwrap();
    assert_eq!(fs::read(case.dest().join("h")).unwrap(), b"f");
}

#[test]
fn fifos_and_device_files_are_refused() {
    for (kind, reason) in [
        (EntryType::Fifo, "FIFO"),
        (EntryType::Char, "device"),
        (EntryType::Block, "device"),
    ] {
        let case = Case::new("special");
        write_tgz(
            &case.tgz(),
            &[E::File("a", 0o644, b"a"), E::Special("dev", kind)],
        );
        case.refused(&case.tgz(), &Limits::default(), Some("dev"), reason);
    }
    // Zip keeps the unix type in the central directory's external attributes (high 16 bits).
    for kind in [0o010000u32, 0o020000, 0o060000, 0o140000] {
        let case = Case::new("special-zip");
        write_zip(&case.zip(), &[E::File("dev", 0o644, b"")]);
        let mut bytes = fs::read(case.zip()).unwrap();
        let cd = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        let attrs = ((kind | 0o644) << 16).to_le_bytes();
        bytes[cd + 38..cd + 42].copy_from_slice(&attrs);
        fs::write(case.zip(), &bytes).unwrap();
        case.refused(
            &case.zip(),
            &Limits::default(),
            Some("dev"),
            "device file, FIFO or socket",
        );
    }
}

#[test]
fn more_entries_than_the_limit_are_refused() {
    let names: Vec<String> = (0..100_001).map(|i| format!("d{}/f{i}", i % 100)).collect();
    let entries: Vec<E> = names.iter().map(|n| E::File(n, 0o644, b"")).collect();
    let limits = Limits {
        max_entries: 100_000,
        ..Limits::default()
    };
    let case = Case::new("many-tgz");
    write_tgz(&case.tgz(), &entries);
    case.refused(
        &case.tgz(),
        &limits,
        Some(&names[100_000]),
        "more than 100000 entries",
    );
    let case = Case::new("many-zip");
    write_zip(&case.zip(), &entries);
    case.refused(&case.zip(), &limits, None, "more than 100000");
}

/// 1 GiB of zeros from a reader, never held in memory.
fn zeros() -> io::Take<io::Repeat> {
    io::repeat(0).take(1 << 30)
}

fn check_bomb(case: &Case, archive: &Path) {
    let limits = Limits {
        max_bytes: 10 << 20,
        ..Limits::default()
    };
    let (r, seen) = case.run(archive, &limits);
    let err = r.unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary);
    assert_eq!(err.details.as_ref().unwrap()["entry"], "zeros");
    assert!(err.message.contains("uncompressed bytes"), "{err:?}");
    assert!(
        seen.iter().all(|p| p.written_bytes <= 10 << 20),
        "stopped at the limit"
    );
    case.nothing_outside();
}

#[test]
fn a_gzip_bomb_stops_at_the_byte_limit() {
    let case = Case::new("bomb-tgz");
    let gz = GzEncoder::new(File::create(case.tgz()).unwrap(), Compression::fast());
    let mut b = tar::Builder::new(gz);
    b.append(
        &header("zeros", EntryType::Regular, 1 << 30, 0o644, ""),
        zeros(),
    )
    .unwrap();
    b.into_inner().unwrap().finish().unwrap();
    check_bomb(&case, &case.tgz());
}

#[test]
fn a_zip_bomb_stops_at_the_byte_limit() {
    let case = Case::new("bomb-zip");
    let mut z = zip::ZipWriter::new(File::create(case.zip()).unwrap());
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    z.start_file("zeros", opts).unwrap();
    io::copy(&mut zeros(), &mut z).unwrap();
    z.finish().unwrap();
    check_bomb(&case, &case.zip());
}

fn truncate(path: &Path) {
    let len = fs::metadata(path).unwrap().len();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len * 2 / 3)
        .unwrap();
}

#[test]
fn truncated_archives_are_errors() {
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let entries = [
        E::File("a", 0o644, b"a"),
        E::File("big", 0o644, &big),
        E::File("z", 0o644, b"z"),
    ];
    let case = Case::new("trunc-tgz");
    write_tgz(&case.tgz(), &entries);
    truncate(&case.tgz());
    case.refused(
        &case.tgz(),
        &Limits::default(),
        None,
        "truncated or corrupt",
    );
    let case = Case::new("trunc-zip");
    write_zip(&case.zip(), &entries);
    truncate(&case.zip());
    case.refused(
        &case.zip(),
        &Limits::default(),
        None,
        "truncated or corrupt",
    );
    // Cut in the gzip trailer only: every tar entry is whole, the CRC is not.
    let case = Case::new("trunc-trailer");
    write_tgz(&case.tgz(), &entries);
    let len = fs::metadata(case.tgz()).unwrap().len();
    File::options()
        .write(true)
        .open(case.tgz())
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    case.refused(
        &case.tgz(),
        &Limits::default(),
        None,
        "truncated or corrupt",
    );
}

#[test]
fn random_bytes_and_bad_destinations_are_errors() {
    let case = Case::new("random");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let magics = [
        (&b"\x00\x00"[..], "unknown format"),
        (b"\x1f\x8b", "truncated or corrupt"),
        (b"PK\x03\x04", "truncated or corrupt"),
    ];
    for (magic, reason) in magics {
        noise[..magic.len()].copy_from_slice(magic);
        fs::write(case.tgz(), &noise).unwrap();
        case.refused(&case.tgz(), &Limits::default(), None, reason);
    }
    fs::write(case.tgz(), b"").unwrap();
    case.refused(&case.tgz(), &Limits::default(), None, "unknown format");
    // A destination with something in it is not used.
    write_tgz(&case.tgz(), &[E::File("a", 0o644, b"a")]);
    fs::create_dir_all(case.dest()).unwrap();
    fs::write(case.dest().join("old"), b"old").unwrap();
    let err = case.run(&case.tgz(), &Limits::default()).0.unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary);
    assert_eq!(fs::read(case.dest().join("old")).unwrap(), b"old");
    let missing = case.root.join("missing.tgz");
    let err = extract(&missing, &case.dest(), &Limits::default(), &mut |_| {}).unwrap_err();
    assert_eq!(err.code, ErrorCode::Binary, "{err:?}");
}
