//! The fallback tools (nvidia-smi, rocm-smi, system_profiler, lspci): run without a shell and
//! bounded in time, their output read by pure parsers (tested on real recorded outputs).

use super::{GpuDevice, MIB};
use std::time::Duration;

const TOOL_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn rocm_smi_gpus() -> Vec<GpuDevice> {
    run_tool("rocm-smi", &ROCM_SMI_ARGS)
        .map(|out| parse_rocm_smi_csv(&out))
        .unwrap_or_default()
}

/// The `nvidia-smi` query used when NVML cannot be loaded (header kept, so columns are found by name).
pub const NVIDIA_SMI_ARGS: [&str; 2] = [
    "--query-gpu=name,memory.total,memory.free,driver_version,pci.bus_id",
    "--format=csv,nounits",
];

/// A CSV table with a header row: rows as (header → cell) lookups. Header names are compared
/// case-insensitively and without a unit suffix (`memory.total [MiB]` → `memory.total`).
fn csv_rows(out: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<String> = header
        .split(',')
        .map(|h| {
            h.split(" [")
                .next()
                .unwrap_or(h)
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    lines
        .map(|line| {
            names
                .iter()
                .cloned()
                .zip(line.split(',').map(|c| c.trim().to_string()))
                .collect()
        })
        .collect()
}

fn cell<'a>(row: &'a [(String, String)], name: &str) -> Option<&'a str> {
    row.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty() && *v != "[N/A]" && *v != "N/A")
}

/// `nvidia-smi --query-gpu=… --format=csv[,nounits]` with its header: one device per row.
/// Memory columns are MiB. Output without a header (or without a `name` column) gives nothing.
pub fn parse_nvidia_smi_csv(out: &str) -> Vec<GpuDevice> {
    csv_rows(out)
        .iter()
        .filter_map(|row| {
            let mib = |col: &str| cell(row, col).and_then(parse_int_prefix).map(|v| v * MIB);
            Some(GpuDevice {
                kind: "nvidia".into(),
                name: cell(row, "name")?.to_string(),
                vram: mib("memory.total"),
                vram_available: mib("memory.free"),
                bus_id: cell(row, "pci.bus_id").map(str::to_string),
            })
        })
        .collect()
}

/// The driver version column of the same output.
pub fn parse_nvidia_smi_driver(out: &str) -> Option<String> {
    csv_rows(out)
        .first()
        .and_then(|row| cell(row, "driver_version").map(str::to_string))
}

/// The query used for AMD when sysfs shows no amdgpu device.
pub const ROCM_SMI_ARGS: [&str; 4] = ["--showproductname", "--showmeminfo", "vram", "--csv"];

/// `rocm-smi --showproductname --showmeminfo vram --csv`: one device per row; the name is the
/// `Card Series` column and memory is in bytes. (genai-electron reads column 0, which is the
/// `cardN` device label, and treats the byte count as MiB.)
pub fn parse_rocm_smi_csv(out: &str) -> Vec<GpuDevice> {
    // rocm-smi may print banner lines before the table; the table starts at the `device,` header.
    let table = out.find("device,").map_or(out, |i| &out[i..]);
    csv_rows(table)
        .iter()
        .filter_map(|row| {
            let bytes = |col: &str| cell(row, col).and_then(parse_int_prefix);
            let total = bytes("vram total memory (b)");
            let used = bytes("vram total used memory (b)");
            Some(GpuDevice {
                kind: "amd".into(),
                name: cell(row, "card series")
                    .or_else(|| cell(row, "device"))?
                    .to_string(),
                vram: total,
                vram_available: total.zip(used).map(|(t, u)| (t - u).max(0.0)),
                bus_id: None,
            })
        })
        .collect()
}

/// `system_profiler SPDisplaysDataType`: the first `Chipset Model: …` value.
pub fn parse_system_profiler_chipset(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Chipset Model:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The device name in an `lspci` line: `00:02.0 VGA compatible controller: Intel Corporation
/// UHD Graphics 630 (rev 02)` → `Intel Corporation UHD Graphics 630`. First line that names one.
pub fn parse_lspci_name(out: &str) -> Option<String> {
    out.lines().find_map(|line| {
        let (_, rest) = line.split_once(": ")?;
        let name = match rest.rfind(" (rev ") {
            Some(i) if rest.ends_with(')') => &rest[..i],
            _ => rest,
        };
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// `parseInt`: the leading integer of a string (after spaces), as a float.
fn parse_int_prefix(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse::<i64>().ok().map(|v| v as f64)
}

pub(super) fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// Runs a tool with a time limit and returns its stdout when it exits with success.
pub(super) fn run_tool(program: &str, args: &[&str]) -> Option<String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let deadline = std::time::Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = reader.join().ok()?;
    status
        .filter(|s| s.success())
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_like_js() {
        assert_eq!(parse_int_prefix(" 24576 MiB"), Some(24576.0));
        assert_eq!(parse_int_prefix("[N/A]"), None);
    }
}
