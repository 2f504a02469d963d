//! HTTP from the tests' side: reqwest (no proxy) for well-formed requests, raw sockets for what a
//! client library will not send.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const GENERATIONS: &str = "/v1/images/generations";

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A response read off the wire: status, headers (lowercase names), body.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `request` as is, reads until the server closes (or 10 s), parses the first response.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes));
    let _ = read.await;
    parse(&String::from_utf8_lossy(&bytes))
}

pub fn parse(text: &str) -> Raw {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

/// `GET <path>` with these extra header lines, the connection closed after the answer.
pub async fn raw_get(addr: SocketAddr, path: &str, headers: &str) -> Raw {
    let req = format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

/// Status, JSON body and headers of one request.
pub async fn call(
    method: Method,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = client().request(method, url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    let res = req.send().await.expect("the front answers");
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, json, headers)
}

pub async fn get(url: &str) -> (StatusCode, Value) {
    let (s, v, _) = call(Method::GET, url, None, &[]).await;
    (s, v)
}

pub async fn post(base: &str, body: &str) -> (StatusCode, Value) {
    let (s, v, _) = call(
        Method::POST,
        &format!("{base}{GENERATIONS}"),
        Some(body),
        &[],
    )
    .await;
    (s, v)
}

pub async fn delete(base: &str, id: &str) -> (StatusCode, Value) {
    let (s, v, _) = call(
        Method::DELETE,
        &format!("{base}{GENERATIONS}/{id}"),
        None,
        &[],
    )
    .await;
    (s, v)
}
