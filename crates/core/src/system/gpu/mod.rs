//! GPU detection, in process where a library or the kernel can answer: NVML for NVIDIA (every
//! device, VRAM, driver, CUDA), sysfs for AMD and Intel on Linux, the CPU brand on Apple Silicon.
//! Tools are spawned only as fallbacks (nvidia-smi, rocm-smi, system_profiler, lspci), bounded in
//! time, and their output goes through the pure parsers below. No GPU, no driver or a failing tool
//! is a normal result (`available: false`), never an error.

mod tools;

pub use tools::{
    parse_lspci_name, parse_nvidia_smi_csv, parse_nvidia_smi_driver, parse_rocm_smi_csv,
    parse_system_profiler_chipset,
};
use tools::{rocm_smi_gpus, run_tool, which, NVIDIA_SMI_ARGS};

use serde::{Deserialize, Serialize};
use std::path::Path;

const MIB: f64 = 1024.0 * 1024.0;

/// genai-electron's `GPUInfo` for the primary GPU, plus every GPU found in `devices`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GpuInfo {
    /// Absent in a caller's object means not available (upstream tests `!gpu.available`).
    #[serde(default)]
    pub available: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vram: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vram_available: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuda: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metal: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rocm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulkan: Option<bool>,
    /// Addition: driver version (NVIDIA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// Addition: highest CUDA version the driver supports, e.g. `12.4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuda_version: Option<String>,
    /// Addition: every GPU found, primary first (upstream reports only one).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub devices: Vec<GpuDevice>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GpuDevice {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vram: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vram_available: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus_id: Option<String>,
}

/// A caller's `GPUInfo` object that does not have upstream's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidGpuInfo(pub String);

impl std::fmt::Display for InvalidGpuInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invalid GPUInfo: {}", self.0)
    }
}

impl std::error::Error for InvalidGpuInfo {}

impl GpuInfo {
    pub fn unavailable() -> Self {
        GpuInfo::default()
    }

    /// A `GPUInfo` a caller built (`estimateVRAM(gpu)`). A field of the wrong type is an error,
    /// not a GPU-less machine; a missing `available` means not available, as upstream; unknown
    /// keys are ignored.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, InvalidGpuInfo> {
        GpuInfo::deserialize(value).map_err(|e| InvalidGpuInfo(e.to_string()))
    }

    /// The genai-electron fields come from the first device; all devices are listed.
    fn from_devices(devices: Vec<GpuDevice>) -> Self {
        let Some(primary) = devices.first() else {
            return Self::unavailable();
        };
        let mut info = GpuInfo {
            available: true,
            kind: Some(primary.kind.clone()),
            name: Some(primary.name.clone()),
            vram: primary.vram,
            vram_available: primary.vram_available,
            ..Default::default()
        };
        match primary.kind.as_str() {
            "nvidia" => info.cuda = Some(true),
            "amd" => info.rocm = Some(true),
            "intel" => info.vulkan = Some(true),
            "apple" => info.metal = Some(true),
            _ => {}
        }
        info.devices = devices;
        info
    }
}

/// `detectGPU()` for this machine.
pub fn detect_gpu() -> GpuInfo {
    match crate::platform::platform() {
        "darwin" => detect_apple(),
        "win32" => {
            let nvidia = detect_nvidia();
            if nvidia.available {
                return nvidia;
            }
            let mut info = GpuInfo::from_devices(ranked(dxgi_gpus()));
            if info.kind.as_deref() != Some("nvidia") && info.available {
                (info.rocm, info.vulkan) = (None, Some(true)); // no ROCm on Windows: Vulkan builds
            }
            info
        }
        "linux" => {
            let nvidia = detect_nvidia();
            if nvidia.available {
                return nvidia;
            }
            let mut devices = sysfs_gpus(Path::new("/sys/class/drm"));
            if !devices.iter().any(|d| d.kind == "amd") {
                devices.extend(rocm_smi_gpus());
            }
            let mut info = GpuInfo::from_devices(ranked(devices));
            if info.kind.as_deref() == Some("amd") {
                info.rocm = Some(Path::new("/dev/kfd").exists() || which("rocm-smi"));
            }
            info
        }
        _ => GpuInfo::unavailable(),
    }
}

/// Primary first: NVIDIA, then AMD, then Intel (discrete before integrated); within a vendor,
/// the most VRAM first.
fn ranked(mut devices: Vec<GpuDevice>) -> Vec<GpuDevice> {
    let rank = |d: &GpuDevice| match d.kind.as_str() {
        "nvidia" => 0,
        "amd" => 1,
        _ => 2,
    };
    devices.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(b.vram.unwrap_or(0.0).total_cmp(&a.vram.unwrap_or(0.0)))
    });
    devices
}

/// Hardware adapters from DXGI (name, vendor, dedicated VRAM).
#[cfg(windows)]
fn dxgi_gpus() -> Vec<GpuDevice> {
    use windows::Win32::Graphics::Dxgi::{
        CreateDXGIFactory1, IDXGIFactory1, DXGI_ADAPTER_FLAG_SOFTWARE,
    };
    // SAFETY: plain COM calls on interfaces we own; failures end the enumeration.
    let Ok(factory) = (unsafe { CreateDXGIFactory1::<IDXGIFactory1>() }) else {
        return Vec::new();
    };
    let mut devices = Vec::new();
    for index in 0u32..64 {
        let Ok(adapter) = (unsafe { factory.EnumAdapters1(index) }) else {
            break;
        };
        let Ok(desc) = (unsafe { adapter.GetDesc1() }) else {
            continue;
        };
        if desc.Flags & (DXGI_ADAPTER_FLAG_SOFTWARE.0 as u32) != 0 {
            continue; // Microsoft Basic Render Driver
        }
        let kind = match desc.VendorId {
            0x10DE => "nvidia",
            0x1002 | 0x1022 => "amd",
            0x8086 => "intel",
            _ => continue,
        };
        let len = desc
            .Description
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(desc.Description.len());
        devices.push(GpuDevice {
            kind: kind.into(),
            name: String::from_utf16_lossy(&desc.Description[..len])
                .trim()
                .to_string(),
            vram: Some(desc.DedicatedVideoMemory as f64),
            ..Default::default()
        });
    }
    devices
}

#[cfg(not(windows))]
fn dxgi_gpus() -> Vec<GpuDevice> {
    Vec::new()
}

fn detect_apple() -> GpuInfo {
    let name = if crate::platform::architecture() == "arm64" {
        // On Apple Silicon the GPU is part of the SoC and carries its name ("Apple M2 Pro").
        let brand = super::cpu::cpu_info().model;
        if brand.starts_with("Apple") {
            Some(brand)
        } else {
            None
        }
    } else {
        run_tool("system_profiler", &["SPDisplaysDataType"])
            .and_then(|out| parse_system_profiler_chipset(&out))
    };
    let fallback = if crate::platform::architecture() == "arm64" {
        "Apple Silicon GPU"
    } else {
        "Apple GPU"
    };
    let device = GpuDevice {
        kind: "apple".into(),
        name: name.unwrap_or_else(|| fallback.into()),
        ..Default::default()
    };
    GpuInfo::from_devices(vec![device])
}

/// NVIDIA through NVML (loaded at run time); nvidia-smi if NVML cannot be loaded.
fn detect_nvidia() -> GpuInfo {
    // A broken driver install must not take the app down: contain any panic from the wrapper.
    if let Ok(Some(info)) = std::panic::catch_unwind(nvml_gpus) {
        return info;
    }
    run_tool("nvidia-smi", &NVIDIA_SMI_ARGS)
        .map(|out| {
            let mut info = GpuInfo::from_devices(parse_nvidia_smi_csv(&out));
            info.driver_version = parse_nvidia_smi_driver(&out);
            info
        })
        .unwrap_or_default()
}

fn nvml_gpus() -> Option<GpuInfo> {
    use nvml_wrapper::Nvml;
    let nvml = Nvml::init().ok()?;
    let count = nvml.device_count().ok()?;
    let devices: Vec<GpuDevice> = (0..count)
        .filter_map(|i| nvml.device_by_index(i).ok())
        .map(|d| {
            let mem = d.memory_info().ok();
            GpuDevice {
                kind: "nvidia".into(),
                name: d.name().unwrap_or_else(|_| "NVIDIA GPU".into()),
                vram: mem.as_ref().map(|m| m.total as f64),
                vram_available: mem.as_ref().map(|m| m.free as f64),
                bus_id: d.pci_info().ok().map(|p| p.bus_id),
            }
        })
        .collect();
    if devices.is_empty() {
        return None;
    }
    let mut info = GpuInfo::from_devices(devices);
    info.driver_version = nvml.sys_driver_version().ok();
    info.cuda_version = nvml.sys_cuda_driver_version().ok().map(|v| {
        format!(
            "{}.{}",
            nvml_wrapper::cuda_driver_version_major(v),
            nvml_wrapper::cuda_driver_version_minor(v)
        )
    });
    Some(info)
}

/// AMD and Intel GPUs from `/sys/class/drm/card<N>/device` (the amdgpu driver publishes
/// `mem_info_vram_total` / `mem_info_vram_used` there).
pub fn sysfs_gpus(drm: &Path) -> Vec<GpuDevice> {
    let Ok(entries) = std::fs::read_dir(drm) else {
        return Vec::new();
    };
    let mut cards: Vec<(u32, std::path::PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("card")?.parse::<u32>().ok()?; // skips card0-DP-1 connectors
            Some((n, e.path().join("device")))
        })
        .collect();
    cards.sort();
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let read_num = |p: &Path| read(p).and_then(|s| s.parse::<f64>().ok());
    cards
        .into_iter()
        .filter_map(|(_, dev)| {
            let bus_id = std::fs::canonicalize(&dev)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            match read(&dev.join("vendor"))?.as_str() {
                "0x1002" => {
                    let total = read_num(&dev.join("mem_info_vram_total"));
                    let used = read_num(&dev.join("mem_info_vram_used"));
                    let name = read(&dev.join("product_name")).filter(|n| !n.is_empty());
                    Some(GpuDevice {
                        kind: "amd".into(),
                        name: name.unwrap_or_else(|| "AMD GPU".into()),
                        vram: total,
                        vram_available: total.zip(used).map(|(t, u)| (t - u).max(0.0)),
                        bus_id,
                    })
                }
                "0x8086" => {
                    let name = bus_id
                        .as_deref()
                        .and_then(|slot| run_tool("lspci", &["-s", slot]))
                        .and_then(|out| parse_lspci_name(&out));
                    Some(GpuDevice {
                        kind: "intel".into(),
                        name: name.unwrap_or_else(|| "Intel GPU".into()),
                        bus_id,
                        ..Default::default()
                    })
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_gpu_info_is_checked() {
        use serde_json::json;
        let ok = GpuInfo::from_json(
            &json!({ "available": true, "type": "nvidia", "vram": 8.0e9, "extra": 1 }),
        );
        assert_eq!(ok.map(|g| (g.available, g.vram)), Ok((true, Some(8.0e9))));
        assert_eq!(
            GpuInfo::from_json(&json!({ "available": false })),
            Ok(GpuInfo::unavailable())
        );
        assert_eq!(GpuInfo::from_json(&json!({})), Ok(GpuInfo::unavailable()));
        let wrong = GpuInfo::from_json(&json!({ "available": true, "vram": "8 GB" })).unwrap_err();
        assert!(
            wrong
                .to_string()
                .starts_with("Invalid GPUInfo: invalid type: string"),
            "{wrong}"
        );
        assert!(GpuInfo::from_json(&json!(42)).is_err());
    }

    #[test]
    fn no_gpu_here_is_not_an_error() {
        // Whatever this machine has, detection returns a well-formed answer.
        let g = detect_gpu();
        assert_eq!(g.available, g.kind.is_some());
        assert_eq!(g.available, !g.devices.is_empty());
    }

    #[test]
    fn sysfs_amd_and_intel() {
        let root = std::env::temp_dir().join(format!("genai-drm-{}", std::process::id()));
        let mk = |card: &str, files: &[(&str, &str)]| {
            let dev = root.join(card).join("device");
            std::fs::create_dir_all(&dev).unwrap();
            for (f, v) in files {
                std::fs::write(dev.join(f), format!("{v}\n")).unwrap();
            }
        };
        mk("card0", &[("vendor", "0x8086")]);
        mk(
            "card1",
            &[
                ("vendor", "0x1002"),
                ("mem_info_vram_total", "17163091968"),
                ("mem_info_vram_used", "1163091968"),
            ],
        );
        mk("card1-DP-1", &[("vendor", "0x1002")]);
        mk("card2", &[("vendor", "0x1af4")]); // virtio: not a compute GPU
        let devs = sysfs_gpus(&root);
        assert_eq!(devs.len(), 2);
        assert_eq!(devs[0].kind, "intel");
        assert_eq!(devs[1].kind, "amd");
        assert_eq!(devs[1].vram, Some(17163091968.0));
        assert_eq!(devs[1].vram_available, Some(16000000000.0));
        std::fs::remove_dir_all(&root).unwrap();
        assert!(sysfs_gpus(&root).is_empty());
    }

    #[test]
    fn primary_fields_follow_the_first_device() {
        let csv = "name, memory.total [MiB], memory.free [MiB]\nA, 100, 50\nB, 200, 10\n";
        let info = GpuInfo::from_devices(parse_nvidia_smi_csv(csv));
        assert!(info.available);
        assert_eq!(info.kind.as_deref(), Some("nvidia"));
        assert_eq!(info.name.as_deref(), Some("A"));
        assert_eq!(info.vram, Some(100.0 * MIB));
        assert_eq!(info.cuda, Some(true));
        assert_eq!(info.devices.len(), 2);
        let json = serde_json::to_value(GpuInfo::unavailable()).unwrap();
        assert_eq!(json, serde_json::json!({ "available": false }));
    }

    #[test]
    fn ranking_puts_discrete_first() {
        let dev = |kind: &str, vram: Option<f64>| GpuDevice {
            kind: kind.into(),
            name: kind.into(),
            vram,
            ..Default::default()
        };
        let order: Vec<(String, Option<f64>)> = ranked(vec![
            dev("intel", None),
            dev("amd", Some(1.0)),
            dev("amd", Some(16.0)),
            dev("nvidia", Some(8.0)),
        ])
        .into_iter()
        .map(|d| (d.kind, d.vram))
        .collect();
        assert_eq!(
            order,
            vec![
                ("nvidia".into(), Some(8.0)),
                ("amd".into(), Some(16.0)),
                ("amd".into(), Some(1.0)),
                ("intel".into(), None)
            ]
        );
    }

    #[test]
    fn tool_timeouts_and_failures_are_none() {
        assert_eq!(run_tool("definitely-not-a-tool-xyz", &[]), None);
        assert_eq!(run_tool("false", &[]), None);
        assert_eq!(run_tool("echo", &["hi"]).as_deref(), Some("hi\n"));
    }
}
