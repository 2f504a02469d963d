//! The one HTTP client (reqwest + rustls with the ring provider) used for downloads and remote
//! GGUF reads.

use std::sync::LazyLock;
use std::time::Duration;

static CLIENT: LazyLock<Result<reqwest::Client, String>> = LazyLock::new(|| {
    // reqwest is built without a default crypto provider; install ring once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("genai-electron-rs/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
});

pub fn client() -> Result<&'static reqwest::Client, String> {
    CLIENT.as_ref().map_err(Clone::clone)
}

/// A GET with the Hugging Face token when the URL needs it.
pub fn get(url: &str) -> Result<reqwest::RequestBuilder, String> {
    let mut req = client()?.get(url);
    if let Some(auth) = crate::hf::auth_header(url) {
        req = req.header(reqwest::header::AUTHORIZATION, auth);
    }
    Ok(req)
}
