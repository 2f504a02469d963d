//! Platform names as Node spells them (`process.platform`, `process.arch`).

/// `process.platform` for the platform this library was built for.
pub fn platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other, // linux, freebsd, openbsd, android… are spelled the same
    }
}

/// `process.arch` for the architecture this library was built for.
pub fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        "arm" => "arm",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The platform keys genai-electron ships binaries for.
pub const SUPPORTED_PLATFORM_KEYS: [&str; 4] =
    ["darwin-arm64", "darwin-x64", "win32-x64", "linux-x64"];

/// `getPlatformKey()`: `<platform>-<arch>`, or genai-electron's "Unsupported platform" message.
pub fn platform_key_for(platform: &str, arch: &str) -> Result<String, String> {
    let key = format!("{platform}-{arch}");
    if SUPPORTED_PLATFORM_KEYS.contains(&key.as_str()) {
        Ok(key)
    } else {
        Err(format!(
            "Unsupported platform: {key}. Supported platforms: {}",
            SUPPORTED_PLATFORM_KEYS.join(", ")
        ))
    }
}

pub fn platform_key() -> Result<String, String> {
    platform_key_for(platform(), architecture())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(platform_key_for("linux", "x64").as_deref(), Ok("linux-x64"));
        let err = platform_key_for("linux", "arm64").unwrap_err();
        assert_eq!(
            err,
            "Unsupported platform: linux-arm64. Supported platforms: darwin-arm64, darwin-x64, win32-x64, linux-x64"
        );
    }

    #[test]
    fn node_spelling() {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert_eq!((platform(), architecture()), ("linux", "x64"));
        assert!(!platform().is_empty());
    }
}
