//! ModelManager end to end against a real HTTP server on 127.0.0.1 serving the real SmolLM2
//! GGUF: single files, shards, diffusion components, remote metadata, listing and deletion, and
//! a data folder laid out as genai-electron writes it.

mod common;

use common::server::{Faults, TestServer};
use genai_core::gguf::{read_local, remote::fetch_header};
use genai_core::models::{Callbacks, ComponentConfig, DownloadConfig, ModelManager, SourceSpec};
use genai_core::paths::Paths;
use genai_core::ErrorCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn user_data(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genai-models-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn url_spec(url: &str) -> SourceSpec {
    SourceSpec {
        source: "url".into(),
        url: Some(url.into()),
        ..Default::default()
    }
}

fn url_config(name: &str, url: &str) -> DownloadConfig {
    DownloadConfig {
        spec: url_spec(url),
        name: name.into(),
        model_type: "llm".into(),
        ..Default::default()
    }
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn downloads_lists_verifies_and_deletes_a_model() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/SmolLM2-135M-Instruct.Q4_1.gguf", data.clone());
    let root = user_data("single");
    let mgr = ModelManager::new(Paths::new(&root));
    let mut cfg = url_config(
        "SmolLM2 135M",
        &server.url("/SmolLM2-135M-Instruct.Q4_1.gguf"),
    );
    cfg.spec.checksum = Some(format!("sha256:{}", sha(&data)));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let callbacks = Callbacks {
        progress: Some(Arc::new(move |d, t| c.lock().unwrap().push((d, t)))),
        ..Default::default()
    };
    let info = mgr.download(&cfg, callbacks).await.unwrap().to_value();

    let keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "type",
            "size",
            "path",
            "downloadedAt",
            "source",
            "checksum",
            "supportsReasoning",
            "ggufMetadata"
        ]
    );
    assert_eq!(info["id"], "smollm2-135m");
    assert_eq!(info["size"], data.len());
    assert_eq!(info["checksum"], json!(format!("sha256:{}", sha(&data))));
    let g = &info["ggufMetadata"];
    assert_eq!(
        (
            g["architecture"].clone(),
            g["block_count"].clone(),
            g["context_length"].clone()
        ),
        (json!("llama"), json!(30), json!(8192))
    );
    assert_eq!(
        (
            g["attention_head_count_kv"].clone(),
            g["embedding_length"].clone()
        ),
        (json!(3), json!(576))
    );
    assert_eq!(
        g["raw"]["tokenizer.ggml.tokens"].as_array().map(Vec::len),
        Some(49152)
    );
    assert_eq!(
        calls.lock().unwrap().last(),
        Some(&(data.len() as u64, data.len() as u64))
    );

    // On disk: the file, and the metadata as JSON.stringify(info, null, 2) writes it.
    let llm = root.join("models/llm");
    assert_eq!(
        std::fs::read(llm.join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap(),
        data
    );
    let text = std::fs::read_to_string(llm.join("smollm2-135m.json")).unwrap();
    assert!(text.starts_with(
        "{\n  \"id\": \"smollm2-135m\",\n  \"name\": \"SmolLM2 135M\",\n  \"type\": \"llm\",\n"
    ));
    assert!(
        text.contains("\"attention_layer_norm_rms_epsilon\": 0.000009999999747378752,"),
        "JS number format"
    );
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), info.clone());

    assert_eq!(mgr.storage.list(None).unwrap().len(), 1);
    assert_eq!(
        mgr.storage.find("smollm2-135m").unwrap().to_value()["path"],
        info["path"]
    );
    assert!(mgr.verify("smollm2-135m").unwrap());
    assert_eq!(mgr.storage.storage_used(None).unwrap(), data.len() as f64);

    // The same model again: refused, nothing changed.
    let err = mgr.download(&cfg, Callbacks::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Download failed: Model already exists: smollm2-135m"
    );

    mgr.delete("smollm2-135m").unwrap();
    assert!(mgr.storage.list(None).unwrap().is_empty());
    assert_eq!(std::fs::read_dir(&llm).unwrap().count(), 0);
    assert_eq!(
        mgr.delete("smollm2-135m").unwrap_err().code,
        ErrorCode::ModelNotFound
    );
}

#[tokio::test]
async fn remote_metadata_reads_a_small_prefix_and_agrees_with_local() {
    let path = common::smollm_path();
    let data = std::fs::read(&path).unwrap();
    let server = TestServer::start().await;
    server.put("/m.gguf", data.clone());
    let local = read_local(&path).unwrap();

    let (remote, _) = fetch_header(&server.url("/m.gguf")).await.unwrap();
    let sent = server.take_sent();
    assert_eq!(remote, local);
    assert!(
        sent < 4 * 1024 * 1024,
        "fetched {sent} of {} bytes",
        data.len()
    );
    assert!(sent >= local.header_len);

    // Without Range support the stream is dropped once the header is complete.
    server.set_faults(Faults {
        no_range: true,
        ..Default::default()
    });
    let (remote, _) = fetch_header(&server.url("/m.gguf")).await.unwrap();
    assert_eq!(remote, local);
    assert!(server.take_sent() < 16 * 1024 * 1024);

    // Not a GGUF, and a 404: clear errors; a single-file download of either fails before
    // anything is written.
    server.set_faults(Faults::default());
    server.put("/notes.txt", b"hello".to_vec());
    assert!(fetch_header(&server.url("/notes.txt"))
        .await
        .unwrap_err()
        .to_string()
        .contains("magic"));
    let root = user_data("remote");
    let mgr = ModelManager::new(Paths::new(&root));
    let err = mgr
        .download(
            &url_config("Missing", &server.url("/missing.gguf")),
            Callbacks::default(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Download failed: Failed to fetch GGUF metadata before download: "),
        "{err}"
    );
    assert_eq!(err.details.unwrap()["status"], 404);
    assert_eq!(
        std::fs::read_dir(root.join("models/llm")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn nothing_is_listed_until_complete_and_cancel_keeps_state() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/m.gguf", data.clone());
    server.set_faults(Faults {
        stall_after: Some(20_000_000),
        ..Default::default()
    });
    let root = user_data("cancel");
    let mgr = Arc::new(ModelManager::new(Paths::new(&root)));
    let m2 = mgr.clone();
    let cfg = url_config("Smol", &server.url("/m.gguf"));
    let c2 = cfg.clone();
    let task = tokio::spawn(async move { m2.download(&c2, Callbacks::default()).await });
    // Cancel once part of the file is on disk, so that the resume below has something to skip
    // (on a loaded machine the partial file can exist with no bytes in it yet); more than the
    // ~2 MB the header probe reads, which the "resumed" count below includes.
    let partial = root.join("models/llm/m.gguf.partial");
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 5_000_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(mgr.is_downloading());
    assert!(
        mgr.storage.list(None).unwrap().is_empty(),
        "a partial download is not a model"
    );
    let err = mgr
        .download(
            &url_config("Other", &server.url("/m.gguf")),
            Callbacks::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Download failed: Download already in progress"
    );
    mgr.cancel_download();
    assert_eq!(
        task.await.unwrap().unwrap_err().to_string(),
        "Download failed: Download cancelled"
    );
    assert!(mgr.storage.list(None).unwrap().is_empty());
    assert!(!mgr.is_downloading());

    // Downloading again resumes the partial file and registers the model.
    server.set_faults(Faults::default());
    server.take_sent();
    let info = mgr
        .download(&cfg, Callbacks::default())
        .await
        .unwrap()
        .to_value();
    assert!(
        server.take_sent() < data.len() as u64,
        "resumed, not restarted"
    );
    assert_eq!(std::fs::read(info["path"].as_str().unwrap()).unwrap(), data);
}

#[tokio::test]
async fn shards_download_into_the_model_folder() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    let parts = [
        &data[..3_000_000],
        &data[3_000_000..60_000_000],
        &data[60_000_000..],
    ];
    for (i, p) in parts.iter().enumerate() {
        server.put(
            &format!("/repo/smol-0000{}-of-00003.gguf", i + 1),
            p.to_vec(),
        );
    }
    let root = user_data("shards");
    let mgr = ModelManager::new(Paths::new(&root));
    let mut cfg = url_config(
        "Smol Sharded",
        &server.url("/repo/smol-00001-of-00003.gguf"),
    );
    cfg.spec.checksum = Some(sha(parts[0]));
    let last = Arc::new(Mutex::new((0, 0)));
    let l = last.clone();
    let info = mgr
        .download(
            &cfg,
            Callbacks {
                progress: Some(Arc::new(move |d, t| *l.lock().unwrap() = (d, t))),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .to_value();
    let dir = root.join("models/llm/smol-sharded");
    assert_eq!(
        info["path"],
        json!(dir.join("smol-00001-of-00003.gguf").to_string_lossy())
    );
    assert_eq!(info["size"], data.len());
    let shards = info["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    assert_eq!(
        shards[0]["checksum"],
        json!(format!("sha256:{}", sha(parts[0])))
    );
    assert!(shards[1].get("checksum").is_none());
    assert!(info["ggufMetadata"].get("expert_weights_bytes").is_none());
    assert_eq!(
        *last.lock().unwrap(),
        (data.len() as u64, data.len() as u64),
        "aggregate progress reaches the total"
    );
    let joined: Vec<u8> = shards
        .iter()
        .flat_map(|s| std::fs::read(s["path"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(joined, data);
    assert!(mgr.verify("smol-sharded").unwrap());

    // A shard that is not the first is refused with upstream's advice.
    let err = mgr
        .download(
            &url_config("x", &server.url("/repo/smol-00002-of-00003.gguf")),
            Callbacks::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.details.unwrap()["suggestion"],
        "Use the -00001-of-00003 file; the remaining shards are downloaded automatically"
    );

    mgr.delete("smol-sharded").unwrap();
    assert!(!dir.exists(), "the model folder goes with its shards");
}

#[tokio::test]
async fn diffusion_components_share_files_and_reuse_them() {
    let data = std::fs::read(common::smollm_path()).unwrap();
    let server = TestServer::start().await;
    server.put("/flux/model.gguf", data[..4_000_000].to_vec());
    server.put("/flux/vae.safetensors", vec![5u8; 500_000]);
    server.put("/flux/other.gguf", data[..2_500_000].to_vec());
    let root = user_data("components");
    let mgr = ModelManager::new(Paths::new(&root));
    let component = |file: &str| ComponentConfig {
        role: "vae".into(),
        spec: SourceSpec {
            checksum: Some(sha(&[5u8; 500_000])),
            ..url_spec(&server.url(&format!("/flux/{file}")))
        },
    };
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = starts.clone();
    let cfg = DownloadConfig {
        model_type: "diffusion".into(),
        components: Some(vec![component("vae.safetensors")]),
        model_directory: Some("Flux Shared".into()),
        ..url_config("Flux A", &server.url("/flux/model.gguf"))
    };
    let callbacks = Callbacks {
        component_start: Some(Arc::new(move |role, file, i, n| {
            s.lock().unwrap().push(format!("{role}:{file}:{i}/{n}"));
            genai_core::callback::answered()
        })),
        ..Default::default()
    };
    let a = mgr.download(&cfg, callbacks).await.unwrap().to_value();
    assert_eq!(
        *starts.lock().unwrap(),
        ["diffusion_model:model.gguf:1/2", "vae:vae.safetensors:2/2"]
    );
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "type",
            "size",
            "path",
            "downloadedAt",
            "source",
            "ggufMetadata",
            "components"
        ]
    );
    assert_eq!(
        a["components"]["vae"]["checksum"],
        json!(format!("sha256:{}", sha(&[5u8; 500_000])))
    );
    let shared_dir = root.join("models/diffusion/flux-shared");
    assert!(shared_dir.join("vae.safetensors").exists());

    // A second model in the same folder reuses the VAE (only the new file is fetched).
    server.take_sent();
    let b_cfg = DownloadConfig {
        name: "Flux B".into(),
        spec: url_spec(&server.url("/flux/other.gguf")),
        ..cfg.clone()
    };
    let b = mgr
        .download(&b_cfg, Callbacks::default())
        .await
        .unwrap()
        .to_value();
    assert!(
        server.take_sent() < 2_500_000 + 3_000_000,
        "the VAE was not downloaded again"
    );
    assert_eq!(
        b["components"]["vae"]["path"],
        a["components"]["vae"]["path"]
    );
    let counted = mgr
        .storage
        .storage_used(Some(genai_core::models::ModelType::Diffusion))
        .unwrap();
    assert_eq!(
        counted,
        (4_000_000 + 2_500_000 + 500_000) as f64,
        "a shared file counts once"
    );

    // Deleting A keeps the VAE that B still uses.
    mgr.delete("flux-a").unwrap();
    assert!(shared_dir.join("vae.safetensors").exists() && !shared_dir.join("model.gguf").exists());
    mgr.delete("flux-b").unwrap();
    assert!(!shared_dir.exists());

    let bad = DownloadConfig {
        components: Some(vec![ComponentConfig {
            role: "diffusion_model".into(),
            ..component("vae.safetensors")
        }]),
        ..cfg
    };
    let err = mgr.download(&bad, Callbacks::default()).await.unwrap_err();
    assert!(err
        .to_string()
        .contains("\"diffusion_model\" is not allowed"));
}

/// A data folder as genai-electron 0.26 writes it (tests/fixtures/upstream-userdata, written by
/// hand from the reference): loads unchanged, corrupt files skipped, ordering by id.
#[test]
fn loads_a_folder_written_by_genai_electron() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream-userdata");
    let root = user_data("upstream");
    copy_dir(&fixture, &root);
    // Model paths in the fixture are relative to the folder; make them absolute as upstream's are.
    for entry in std::fs::read_dir(root.join("models/llm"))
        .unwrap()
        .chain(std::fs::read_dir(root.join("models/diffusion")).unwrap())
    {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("<USERDATA>", &root.to_string_lossy());
            std::fs::write(&p, text).unwrap();
        }
    }
    let mgr = ModelManager::new(Paths::new(&root));
    let models = mgr.storage.list(None).unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["llama-32-3b-instruct", "qwen3-4b", "flux-schnell"],
        "llm first, byte order, corrupt.json skipped"
    );
    let qwen = mgr.storage.find("qwen3-4b").unwrap();
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("models/llm/qwen3-4b.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(qwen.to_value(), original, "every key, known or not, kept");
    assert_eq!(qwen.sizing_view().layer_count(), 36.0);
    assert_eq!(
        mgr.storage.find("flux-schnell").unwrap().architecture(),
        "stable-diffusion"
    );
    assert!(
        !mgr.verify("llama-32-3b-instruct").unwrap(),
        "no stored checksum"
    );
    assert!(mgr.verify("qwen3-4b").unwrap());
    // Re-saving writes byte-identical JSON (JSON.stringify(…, null, 2) layout).
    mgr.storage.save(&qwen).unwrap();
    let resaved = std::fs::read_to_string(root.join("models/llm/qwen3-4b.json")).unwrap();
    let before = std::fs::read_to_string(fixture.join("models/llm/qwen3-4b.json"))
        .unwrap()
        .replace("<USERDATA>", &root.to_string_lossy());
    assert_eq!(resaved, before);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
