//! Hostile input to model storage and downloads (issue 9, findings 4, 5 and 9): ids and
//! metadata files that point outside `models/<type>/` or at another model's files, model
//! directories that slug to nothing, credentials in URLs, names without an id and URLs without a
//! file name. Real files in a temp `userData`, a real HTTP server on 127.0.0.1; sentinel files
//! beside `userData` must survive every test.

mod common;

use common::server::TestServer;
use genai_core::models::{
    Callbacks, ComponentConfig, DownloadConfig, ModelManager, ModelType, SourceSpec,
};
use genai_core::paths::Paths;
use genai_core::ErrorCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `<tmp>/genai-hostile-<tag>-<pid>/` holding `ud/` (the userData) and sentinels beside it.
struct Sandbox {
    base: PathBuf,
    root: PathBuf,
    mgr: ModelManager,
}

const SENTINELS: [&str; 3] = ["x.json", "victim.bin", "outside/keep.gguf"];

impl Sandbox {
    fn new(tag: &str) -> Sandbox {
        let base = std::env::temp_dir().join(format!("genai-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("ud");
        std::fs::create_dir_all(base.join("outside")).unwrap();
        // What `<type>/../../../x.json` names, and the files it names in turn.
        let x = json!({ "id": "../../../x", "name": "x", "type": "llm", "size": 1,
            "path": base.join("victim.bin"), "downloadedAt": "t", "source": { "type": "url", "url": "u" } });
        std::fs::write(base.join("x.json"), x.to_string()).unwrap();
        std::fs::write(base.join("victim.bin"), b"victim").unwrap();
        std::fs::write(base.join("outside/keep.gguf"), b"keep").unwrap();
        let mgr = ModelManager::new(Paths::new(&root));
        mgr.storage.initialize().unwrap();
        Sandbox { base, root, mgr }
    }

    fn llm(&self) -> PathBuf {
        self.root.join("models/llm")
    }

    fn diffusion(&self) -> PathBuf {
        self.root.join("models/diffusion")
    }

    /// A metadata file written by hand into a type folder.
    fn write_meta(&self, model_type: &str, file: &str, meta: Value) {
        let dir = self.root.join("models").join(model_type);
        std::fs::write(dir.join(file), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    }

    fn assert_sentinels(&self) {
        for s in SENTINELS {
            assert!(
                self.base.join(s).is_file(),
                "sentinel {s} beside userData survives"
            );
        }
        assert_eq!(
            std::fs::read(self.base.join("victim.bin")).unwrap(),
            b"victim"
        );
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

fn single(id: &str, path: &Path) -> Value {
    json!({ "id": id, "name": id, "type": "llm", "size": 4, "path": path,
        "downloadedAt": "t", "source": { "type": "url", "url": "http://h/m.gguf" } })
}

fn url_spec(url: &str) -> SourceSpec {
    SourceSpec {
        source: "url".into(),
        url: Some(url.into()),
        ..Default::default()
    }
}

fn config(name: &str, model_type: &str, url: &str) -> DownloadConfig {
    DownloadConfig {
        spec: url_spec(url),
        name: name.into(),
        model_type: model_type.into(),
        ..Default::default()
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Finding 5: an id is checked before it becomes a path, at every storage entry.
#[test]
fn ids_that_leave_the_type_folder_are_refused_at_every_entry() {
    let sb = Sandbox::new("ids");
    let s = &sb.mgr.storage;
    for id in ["../../../x", "..", "a/b", "", ".hidden"] {
        let errors = [
            s.load(ModelType::Llm, id).unwrap_err(),
            s.delete_files(ModelType::Llm, id).unwrap_err(),
            s.verify(ModelType::Llm, id).unwrap_err(),
            s.save(&serde_json::from_value(single(id, &sb.base.join("victim.bin"))).unwrap())
                .unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.code, ErrorCode::FileSystem, "{id}: {e}");
            assert!(e.message.starts_with("Invalid model id "), "{id}: {e}");
        }
    }
    assert_eq!(
        sb.mgr.delete("../../../x").unwrap_err().code,
        ErrorCode::ModelNotFound
    );
    sb.assert_sentinels();
    assert!(!sb.base.join("ud/x.json").exists() && !sb.root.join("models/x.json").exists());
}

/// Finding 5: a metadata file whose `id` is not its file name is skipped by listings (and a
/// typed error on a direct load), so a JSON claiming `../../../x` or another model's id
/// deletes nothing.
#[test]
fn a_metadata_file_must_hold_its_own_id() {
    let sb = Sandbox::new("claims");
    let llm = sb.llm();
    std::fs::write(llm.join("victim.gguf"), b"GGUF").unwrap();
    sb.write_meta(
        "llm",
        "victim.json",
        single("victim", &llm.join("victim.gguf")),
    );
    std::fs::write(llm.join("evil.gguf"), b"GGUF").unwrap();
    sb.write_meta(
        "llm",
        "evil.json",
        single("../../../x", &sb.base.join("victim.bin")),
    );
    sb.write_meta(
        "llm",
        "evil2.json",
        single("victim", &llm.join("evil.gguf")),
    );
    let mut wrong_type = single("t", &llm.join("evil.gguf"));
    wrong_type["type"] = json!("diffusion");
    sb.write_meta("llm", "t.json", wrong_type);

    let ids: Vec<String> = sb
        .mgr
        .storage
        .list(None)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        ids,
        ["victim"],
        "files claiming another id or type are skipped"
    );
    let e = sb.mgr.storage.load(ModelType::Llm, "evil2").unwrap_err();
    assert_eq!(e.code, ErrorCode::FileSystem);
    assert!(
        e.message
            .starts_with("Model metadata does not match its file: "),
        "{e}"
    );
    assert!(sb.mgr.storage.load(ModelType::Llm, "t").is_err());

    assert_eq!(
        sb.mgr.delete("../../../x").unwrap_err().code,
        ErrorCode::ModelNotFound
    );
    assert_eq!(
        sb.mgr.delete("t").unwrap_err().code,
        ErrorCode::ModelNotFound
    );
    sb.assert_sentinels();
    sb.mgr.delete("victim").unwrap();
    assert_eq!(
        listing(&llm),
        ["evil.gguf", "evil.json", "evil2.json", "t.json"]
    );
    sb.assert_sentinels();
}

/// Finding 5: nothing a model names is deleted outside `models/<type>/` (its path, shards or
/// components; `..` and symlinked folders resolved), and nothing at all is deleted then.
#[cfg(unix)]
#[test]
fn deletes_stay_inside_the_type_folder() {
    let sb = Sandbox::new("inside");
    let llm = sb.llm();
    let victim = sb.base.join("victim.bin");
    std::os::unix::fs::symlink(sb.base.join("outside"), llm.join("link")).unwrap();
    let own = llm.join("own.gguf");
    let own_diffusion = sb.diffusion().join("own.gguf");
    let cases = [
        ("abs", single("abs", &victim)),
        ("dotdot", single("dotdot", &llm.join("../../../victim.bin"))),
        ("linked", single("linked", &llm.join("link/keep.gguf"))),
        ("shards", {
            let mut m = single("shards", &own);
            m["shards"] = json!([{ "path": own, "size": 1 }, { "path": victim, "size": 1 }]);
            m
        }),
        ("parts", {
            let mut m = single("parts", &own_diffusion);
            m["type"] = json!("diffusion");
            m["components"] = json!({ "diffusion_model": { "path": own_diffusion, "size": 1 },
                "vae": { "path": sb.base.join("outside/keep.gguf"), "size": 1 } });
            m
        }),
    ];
    for (id, meta) in cases {
        std::fs::write(&own, b"own").unwrap();
        std::fs::write(&own_diffusion, b"own").unwrap();
        let folder = meta["type"].as_str().unwrap().to_string();
        sb.write_meta(&folder, &format!("{id}.json"), meta);
        let e = sb.mgr.delete(id).unwrap_err();
        assert_eq!(e.code, ErrorCode::FileSystem, "{id}: {e}");
        assert!(
            e.message.starts_with("Path is outside the models folder "),
            "{id}: {e}"
        );
        assert!(
            own.exists() && own_diffusion.exists(),
            "{id}: nothing deleted when one file is outside"
        );
        assert!(sb.mgr.storage.find(id).is_ok(), "{id}: the metadata stays");
        sb.assert_sentinels();
    }
    // A symlink inside the folder is removed as a link; its target stays.
    std::os::unix::fs::symlink(&victim, llm.join("ln.gguf")).unwrap();
    sb.write_meta("llm", "ln.json", single("ln", &llm.join("ln.gguf")));
    sb.mgr.delete("ln").unwrap();
    assert!(std::fs::symlink_metadata(llm.join("ln.gguf")).is_err());
    sb.assert_sentinels();
}

/// Finding 5: a file another model names is never deleted with a model that names it too
/// (upstream kept only shared components), nor any metadata file.
#[test]
fn a_delete_keeps_what_other_models_name() {
    let sb = Sandbox::new("others");
    let llm = sb.llm();
    std::fs::create_dir_all(llm.join("sub")).unwrap();
    std::fs::write(llm.join("victim.gguf"), b"GGUF").unwrap();
    sb.write_meta(
        "llm",
        "victim.json",
        single("victim", &llm.join("victim.gguf")),
    );
    sb.write_meta("llm", "a.json", single("a", &llm.join("victim.gguf")));
    sb.write_meta(
        "llm",
        "b.json",
        single("b", &llm.join("sub/../victim.gguf")),
    );
    sb.write_meta("llm", "c.json", single("c", &llm.join("victim.json")));
    for id in ["a", "b", "c"] {
        sb.mgr.delete(id).unwrap();
        assert!(llm.join("victim.gguf").exists(), "{id}");
        assert!(llm.join("victim.json").exists(), "{id}");
    }
    assert_eq!(sb.mgr.storage.find("victim").unwrap().id, "victim");
    sb.mgr.delete("victim").unwrap();
    assert_eq!(listing(&llm), ["sub"]);
    sb.assert_sentinels();
}

/// Finding 4: a modelDirectory that slugs to nothing, components for an llm, and a file in the
/// way that is no other model's component are refused before anything is fetched; another
/// model's files are never reused or deleted.
#[tokio::test]
async fn components_never_take_over_another_models_files() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/d/model.gguf", data[..4_000_000].to_vec());
    server.put("/d/vae.safetensors", vec![5u8; 1000]);
    let sb = Sandbox::new("components");
    let diffusion = sb.diffusion();
    // A single-file diffusion model lives in models/diffusion/ itself.
    let single_model = sb
        .mgr
        .download(
            &config("Model", "diffusion", &server.url("/d/model.gguf")),
            Callbacks::default(),
        )
        .await
        .unwrap();
    let before = listing(&diffusion);
    assert_eq!(before, ["model.gguf", "model.json"]);
    let components = |file: &str| {
        Some(vec![ComponentConfig {
            role: "vae".into(),
            spec: url_spec(&server.url(file)),
        }])
    };
    server.take_sent();
    for dir in ["..", "!!!", "模型", "-"] {
        let cfg = DownloadConfig {
            components: components("/d/vae.safetensors"),
            model_directory: Some(dir.into()),
            ..config("Variant", "diffusion", &server.url("/d/model.gguf"))
        };
        let e = sb
            .mgr
            .download(&cfg, Callbacks::default())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::DownloadFailed, "{dir}: {e}");
        assert!(
            e.message.starts_with("Invalid modelDirectory "),
            "{dir}: {e}"
        );
        assert_eq!(listing(&diffusion), before, "{dir}");
    }
    assert_eq!(server.take_sent(), 0, "refused before any request");

    // `type: 'llm'` with components is refused (upstream's message names diffusion).
    let llm_cfg = DownloadConfig {
        components: components("/d/vae.safetensors"),
        ..config("Llm Parts", "llm", &server.url("/d/model.gguf"))
    };
    let e = sb
        .mgr
        .download(&llm_cfg, Callbacks::default())
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Multi-component downloads are only supported for diffusion models (type: llm)"
    );
    assert!(listing(&sb.llm()).is_empty());

    // A file already in the model folder that no model owns is not reused.
    let shared = diffusion.join("flux-shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("vae.safetensors"), b"not downloaded").unwrap();
    let cfg = DownloadConfig {
        components: components("/d/vae.safetensors"),
        model_directory: Some("Flux Shared".into()),
        ..config("Flux A", "diffusion", &server.url("/d/model.gguf"))
    };
    let e = sb
        .mgr
        .download(&cfg, Callbacks::default())
        .await
        .unwrap_err();
    assert_eq!(e.message, "Component file already exists: vae.safetensors");
    assert_eq!(
        std::fs::read(shared.join("vae.safetensors")).unwrap(),
        b"not downloaded"
    );
    assert_eq!(listing(&shared), ["vae.safetensors"]);
    std::fs::remove_file(shared.join("vae.safetensors")).unwrap();
    sb.mgr.download(&cfg, Callbacks::default()).await.unwrap();

    // The single-file model is untouched and still whole.
    let still = sb.mgr.storage.find("model").unwrap();
    assert_eq!(still, single_model);
    assert_eq!(std::fs::read(&still.path).unwrap(), data[..4_000_000]);
    sb.assert_sentinels();
}

/// Finding 4: a model folder that is a symlink to elsewhere is refused (downloads write only
/// inside `models/<type>/`).
#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_model_folder_is_refused() {
    let server = TestServer::start().await;
    let data = std::fs::read(common::smollm_path()).unwrap();
    server.put("/d/flux.gguf", data[..4_000_000].to_vec());
    server.put("/d/vae.safetensors", vec![5u8; 1000]);
    let sb = Sandbox::new("folderlink");
    std::os::unix::fs::symlink(sb.base.join("outside"), sb.diffusion().join("flux")).unwrap();
    let cfg = DownloadConfig {
        components: Some(vec![ComponentConfig {
            role: "vae".into(),
            spec: url_spec(&server.url("/d/vae.safetensors")),
        }]),
        model_directory: Some("Flux".into()),
        ..config("Flux", "diffusion", &server.url("/d/flux.gguf"))
    };
    let e = sb
        .mgr
        .download(&cfg, Callbacks::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileSystem, "{e}");
    assert!(
        e.message.starts_with("Path is outside the models folder "),
        "{e}"
    );
    assert_eq!(listing(&sb.base.join("outside")), ["keep.gguf"]);
    sb.assert_sentinels();
}

/// Finding 9: credentials in a URL are sent (basic authentication) but stored nowhere and
/// reported in no error.
#[tokio::test]
async fn credentials_in_a_url_are_used_not_stored() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/m.gguf", data[..4_000_000].to_vec());
    let sb = Sandbox::new("creds");
    let url = server
        .url("/m.gguf")
        .replace("http://", "http://user:s3cret@");
    let info = sb
        .mgr
        .download(&config("Private", "llm", &url), Callbacks::default())
        .await
        .unwrap();
    assert_eq!(info.source.url, server.url("/m.gguf"));
    let text = std::fs::read_to_string(sb.llm().join("private.json")).unwrap();
    assert!(
        !text.contains("s3cret") && !text.contains("user:"),
        "{text}"
    );
    let basic = "Basic dXNlcjpzM2NyZXQ="; // base64("user:s3cret")
    let auth: Vec<Option<String>> = server.requests().into_iter().map(|r| r.2).collect();
    assert!(
        !auth.is_empty() && auth.iter().all(|a| a.as_deref() == Some(basic)),
        "{auth:?}"
    );

    let missing = server
        .url("/missing.gguf")
        .replace("http://", "http://user:s3cret@");
    let e = sb
        .mgr
        .download(&config("Missing", "llm", &missing), Callbacks::default())
        .await
        .unwrap_err();
    let shown = format!("{} {}", e.message, e.details.clone().unwrap_or_default());
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains(&server.url("/missing.gguf")), "{shown}");
    sb.assert_sentinels();
}

/// Finding 9: a name without an id and a URL without a file name are typed errors, and
/// nothing is written (upstream saved `.json` and said "Model file already exists: ").
#[tokio::test]
async fn a_name_without_an_id_and_a_url_without_a_file_are_refused() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/m.gguf", data[..4_000_000].to_vec());
    let sb = Sandbox::new("names");
    for name in ["日本語", "!!!", "", "nul"] {
        let e = sb
            .mgr
            .download(
                &config(name, "llm", &server.url("/m.gguf")),
                Callbacks::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::DownloadFailed, "{name}: {e}");
        assert!(e.message.starts_with("Invalid model name "), "{name}: {e}");
    }
    let root_url = server.url("/");
    let e = sb
        .mgr
        .download(&config("Root", "llm", &root_url), Callbacks::default())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::DownloadFailed);
    assert_eq!(e.message, format!("No file name in the URL: {root_url}"));
    assert!(listing(&sb.llm()).is_empty());
    assert!(server.requests().is_empty(), "refused before any request");
    sb.assert_sentinels();
}
