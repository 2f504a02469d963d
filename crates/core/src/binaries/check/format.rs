//! Whether a file is a program this machine runs directly. `execvp` hands a file the kernel
//! refuses (ENOEXEC) to `/bin/sh`, which would run a downloaded blob or another CPU's binary as
//! shell commands; so nothing is started unless it is an image of this OS and CPU (ELF, Mach-O,
//! PE) or a `#!` script.

use std::io::Read;
use std::path::Path;

/// `Err(why)` when `path` is not a program for this system.
pub fn check_program(path: &Path) -> Result<(), String> {
    let mut head = [0u8; 20];
    let n = std::fs::File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let head = &head[..n];
    if cfg!(unix) && head.starts_with(b"#!") {
        return Ok(());
    }
    let what = if head.starts_with(b"\x7fELF") {
        elf(head)
    } else if head.starts_with(b"MZ") {
        native_if(cfg!(windows), "a Windows program")
    } else if is_macho(head) {
        native_if(cfg!(target_os = "macos"), "a macOS program")
    } else {
        Err("not a program (no ELF, Mach-O or PE header, no #!)".to_string())
    };
    what.map_err(|why| format!("{} is not a program for this system: {why}", path.display()))
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn native_if(native: bool, what: &str) -> Result<(), String> {
    if native {
        Ok(())
    } else {
        Err(what.to_string())
    }
}

fn is_macho(head: &[u8]) -> bool {
    const MAGICS: [[u8; 4]; 4] = [
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
        [0xfe, 0xed, 0xfa, 0xcf],
    ];
    MAGICS.iter().any(|m| head.starts_with(m))
}

/// An ELF image for this CPU (`e_machine`, little-endian as on every CPU we ship for).
fn elf(head: &[u8]) -> Result<(), String> {
    if !cfg!(any(target_os = "linux", target_os = "freebsd")) {
        return Err("a Linux program".into());
    }
    let machine = head.get(18..20).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let here: Option<u16> = if cfg!(target_arch = "x86_64") {
        Some(62)
    } else if cfg!(target_arch = "aarch64") {
        Some(183)
    } else {
        None // another CPU: let the kernel judge
    };
    match (machine, here) {
        (Some(m), Some(h)) if m != h => Err(format!(
            "an ELF image for another CPU (e_machine {m}, this one is {h})"
        )),
        (None, _) => Err("a truncated ELF header".into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(tag: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("genai-format-{tag}-{}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn this_systems_programs_and_scripts_pass_and_the_rest_say_why() {
        let me = std::env::current_exe().unwrap();
        assert_eq!(check_program(&me), Ok(()));
        let text = file("text", b"touch pwned\n");
        assert!(check_program(&text).unwrap_err().contains("not a program"));
        let pe = file("pe", b"MZ\x90\x00");
        let macho = file("macho", &[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]);
        let mut arm = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00".to_vec();
        arm.extend_from_slice(&[40, 0]); // EM_ARM: never this machine's
        let arm = file("arm", &arm);
        let short = file("short", b"\x7fELF\x02");
        if cfg!(target_os = "linux") {
            let script = file("script", b"#!/bin/sh\nexit 0\n");
            assert_eq!(check_program(&script), Ok(()));
            assert!(check_program(&pe)
                .unwrap_err()
                .ends_with("a Windows program"));
            assert!(check_program(&macho)
                .unwrap_err()
                .ends_with("a macOS program"));
            assert!(check_program(&arm)
                .unwrap_err()
                .contains("another CPU (e_machine 40"));
            assert!(check_program(&short).unwrap_err().contains("truncated ELF"));
            std::fs::remove_file(script).unwrap();
        }
        for p in [text, pe, macho, arm, short] {
            std::fs::remove_file(p).unwrap();
        }
    }
}
