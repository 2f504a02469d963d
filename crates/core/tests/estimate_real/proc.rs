//! A real server process for the estimate tests: its output in a log file, a minimal HTTP
//! client (std only), its memory from /proc, and the buffer sizes it logs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    pub log: PathBuf,
    pub port: u16,
    dir: PathBuf,
}

impl Server {
    pub fn spawn(exe: &Path, args: &[String], port: u16) -> Server {
        let dir =
            std::env::temp_dir().join(format!("genai-estimate-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", exe.display()));
        Server {
            child,
            log,
            port,
            dir,
        }
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap()).into_owned()
    }

    /// Polls `GET path` until it answers 200 (the process must stay alive).
    pub fn wait_ok(&mut self, path: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited ({status}) before {path} answered:\n{}",
                    self.log_text()
                );
            }
            if matches!(self.request("GET", path, None), Some((200, _))) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{path} not ok after {limit:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One HTTP/1.1 request (Connection: close): the status and the body.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).ok()?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        let status = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
        Some((status, body))
    }

    /// `VmRSS` / `VmHWM` (peak) of the process, in bytes (0 where /proc has no such line).
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |k| k * 1024)
        };
        (kib("VmRSS:"), kib("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// The sizes (bytes) in every line containing `marker`, read as `<marker> = 12.34 MiB` or
/// `<marker>: 12.34 MB` (sd.cpp's MB are MiB).
pub fn sizes_after(log: &str, marker: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find(marker)? + marker.len()..];
            let rest = rest.trim_start_matches([' ', '=', ':']);
            let num: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            num.parse::<f64>().ok().map(|m| (m * MIB).round() as u64)
        })
        .collect()
}

pub fn mib(b: u64) -> f64 {
    b as f64 / MIB
}
