//! Provisioning tests' shared parts: a data folder with bait, a real HTTP server standing in for
//! github.com (through the mirror), archives built from the real llama-server in llama.cpp's
//! release layout, and the events a provisioner reported.

use super::archives::{write_tgz, write_zip, E};
use super::server::TestServer;
use genai_core::archive::Limits;
use genai_core::binaries::catalog::{Release, Variant, VariantType};
use genai_core::binaries::provision::Provisioner;
use genai_core::binaries::{BinaryEvent, BinaryKind, Phase};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const TAG: &str = "b9860";
pub const PREFIX: &str = "/ggml-org/llama.cpp/releases/download/b9860/";

pub struct Case {
    pub root: PathBuf,
    pub server: TestServer,
    pub events: Arc<Mutex<Vec<BinaryEvent>>>,
}

impl Case {
    pub async fn new(tag: &str) -> Case {
        let root = std::env::temp_dir().join(format!("genai-prov-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("data/binaries")).unwrap();
        std::fs::write(root.join("data/keep.txt"), "bait").unwrap();
        Case {
            root,
            server: TestServer::start().await,
            events: Arc::default(),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join("data/binaries/llama")
    }

    /// Serves `bytes` as `asset` and returns the variant describing it (with `checksum`, or the
    /// real one).
    pub fn serve(
        &self,
        kind: VariantType,
        asset: &str,
        bytes: Vec<u8>,
        checksum: Option<&str>,
    ) -> Variant {
        let sum = checksum.map_or_else(|| sha256(&bytes), str::to_string);
        self.server.put(&format!("{PREFIX}{asset}"), bytes);
        Variant {
            variant: kind,
            url: format!("https://github.com{PREFIX}{asset}"),
            checksum: sum,
            dependencies: Vec::new(),
        }
    }

    pub fn provisioner(&self, version: &str, variants: Vec<Variant>) -> Provisioner {
        let events = self.events.clone();
        Provisioner {
            kind: BinaryKind::Llama,
            platform_key: "linux-x64".into(),
            release: Release {
                version: version.into(),
                variants: IndexMap::from([("linux-x64".to_string(), variants)]),
            },
            dir: self.dir(),
            mirror: Some(format!("http://{}/", self.server.addr)),
            cuda: false,
            run_tests: true,
            test_model: None,
            events: Arc::new(move |e| events.lock().unwrap().push(e)),
            cancel: Default::default(),
            limits: Limits::default(),
        }
    }

    pub fn logs(&self) -> Vec<String> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                BinaryEvent::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn phases(&self) -> Vec<Phase> {
        let mut phases: Vec<Phase> = Vec::new();
        for e in self.events.lock().unwrap().iter() {
            if let BinaryEvent::Progress(p) = e {
                if phases.last() != Some(&p.phase) {
                    phases.push(p.phase);
                }
            }
        }
        phases
    }

    /// Only `binaries/llama` (and `keep.txt`) in the data folder, no leftovers beside it.
    pub fn nothing_else(&self) {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("data/binaries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["llama"], "beside the installed folder");
        assert_eq!(
            std::fs::read_to_string(self.root.join("data/keep.txt")).unwrap(),
            "bait"
        );
        let top: Vec<_> = std::fs::read_dir(&self.root).unwrap().collect();
        assert_eq!(top.len(), 1, "nothing written outside the data folder");
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn build(entries: &[E], zip: bool) -> Vec<u8> {
    let file = std::env::temp_dir().join(format!(
        "genai-prov-archive-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    if zip {
        write_zip(&file, entries);
    } else {
        write_tgz(&file, entries);
    }
    let bytes = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    bytes
}

/// llama.cpp's layout with the real llama-server.
pub fn real_archive() -> Vec<u8> {
    let exe = std::fs::read(super::llama_server_path()).unwrap();
    let top = format!("llama-{TAG}/");
    let bin = format!("llama-{TAG}/llama-server");
    let license = format!("llama-{TAG}/LICENSE");
    build(
        &[
            E::Dir(&top),
            E::File(&bin, 0o755, &exe),
            E::File(&license, 0o644, b"MIT"),
        ],
        false,
    )
}

/// Same layout, but the executable cannot run.
pub fn broken_archive() -> Vec<u8> {
    build(
        &[E::File(
            "llama-b9860/llama-server",
            0o755,
            b"\x7fELF not really",
        )],
        false,
    )
}

pub fn runs(exe: &Path) -> bool {
    std::process::Command::new(exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
