//! The tool-output parsers against real recorded outputs (tests/fixtures/gpu, see SOURCES.md).

use genai_core::system::gpu::{
    parse_lspci_name, parse_nvidia_smi_csv, parse_nvidia_smi_driver, parse_rocm_smi_csv,
    parse_system_profiler_chipset,
};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gpu")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn nvidia_smi_two_l40s_with_header() {
    let out = fixture("nvidia-smi-2gpu-header.csv");
    let gpus = parse_nvidia_smi_csv(&out);
    assert_eq!(gpus.len(), 2);
    assert_eq!(gpus[0].name, "NVIDIA L40S");
    assert_eq!(gpus[0].vram, Some(46068.0 * MIB));
    assert_eq!(gpus[0].vram_available, None); // not queried in that capture
    assert_eq!(gpus[1].bus_id.as_deref(), Some("00000000:91:00.0"));
    assert_eq!(parse_nvidia_smi_driver(&out).as_deref(), Some("595.71.05"));
}

#[test]
fn nvidia_smi_p100_nounits_with_na_cells() {
    let gpus = parse_nvidia_smi_csv(&fixture("nvidia-smi-header-nounits-p100.csv"));
    assert_eq!(gpus.len(), 1);
    assert_eq!(gpus[0].name, "Tesla P100-PCIE-16GB");
    assert_eq!(gpus[0].vram_available, Some(16280.0 * MIB));
    assert_eq!(gpus[0].vram, None);
}

#[test]
fn nvidia_smi_without_header_is_not_guessed() {
    // Column order is unknown without the header: nothing is reported rather than wrong numbers.
    for f in ["nvidia-smi-1gpu.csv", "nvidia-smi-2gpu.csv"] {
        let gpus = parse_nvidia_smi_csv(&fixture(f));
        assert!(
            gpus.iter()
                .all(|g| g.vram.is_none() && g.vram_available.is_none()),
            "{f}"
        );
    }
    assert!(parse_nvidia_smi_csv("").is_empty());
}

#[test]
fn rocm_smi_names_and_bytes() {
    let gpus = parse_rocm_smi_csv(&fixture(
        "rocm-smi-productname-meminfo-vram-uniqueid-2gpu.csv",
    ));
    assert_eq!(gpus.len(), 2);
    assert_eq!(gpus[0].name, "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]");
    assert_eq!(gpus[0].vram, Some(17163091968.0));
    assert_eq!(gpus[0].vram_available, Some(17163091968.0 - 692142080.0));
    assert_eq!(gpus[1].name, "Raphael");

    let one = parse_rocm_smi_csv(&fixture("rocm-smi-productname-use-meminfo-vram.csv"));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "Radeon RX 7900 XT");
    assert_eq!(one[0].vram, Some(21458059264.0));

    let names = parse_rocm_smi_csv(&fixture("rocm-smi-productname.csv"));
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].name, "Arcturus GL-XL [AMD Instinct MI100]");
    assert_eq!(names[0].vram, None);
}

#[test]
fn system_profiler_chipsets() {
    assert_eq!(
        parse_system_profiler_chipset(&fixture("system-profiler-m1.txt")).as_deref(),
        Some("Apple M1")
    );
    assert_eq!(
        parse_system_profiler_chipset(&fixture("system-profiler-intel.txt")).as_deref(),
        Some("Intel HD Graphics 530")
    );
    assert_eq!(parse_system_profiler_chipset("nothing here"), None);
}

#[test]
fn lspci_names() {
    assert_eq!(
        parse_lspci_name(&fixture("lspci-intel.txt")).as_deref(),
        Some(
            "Intel Corporation 2nd Generation Core Processor Family Integrated Graphics Controller"
        )
    );
    let display = fixture("lspci-intel-nvidia-display-class.txt");
    assert_eq!(
        parse_lspci_name(display.lines().next().unwrap()).as_deref(),
        Some("Intel Corporation AlderLake-S GT1")
    );
    let nn = fixture("lspci-nn-intel-nvidia.txt");
    assert_eq!(
        parse_lspci_name(nn.lines().next().unwrap()).as_deref(),
        Some("Intel Corporation Device [8086:3e9b]")
    );
}
