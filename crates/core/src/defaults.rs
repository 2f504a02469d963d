//! genai-electron's public default constants (`DEFAULT_PORTS`, `DEFAULT_TIMEOUTS`) and the
//! defaults of its small helpers, written once: the binding exports them to the JS facade,
//! which freezes them rather than copying the numbers.

use std::time::Duration;

/// `DEFAULT_PORTS`: the port each server uses when its config names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPorts {
    pub llama: u16,
    pub diffusion: u16,
}

pub const DEFAULT_PORTS: DefaultPorts = DefaultPorts {
    llama: crate::llama_server::DEFAULT_PORT,
    diffusion: 8081,
};

/// `DEFAULT_TIMEOUTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTimeouts {
    pub download: Duration,
    /// How long `start()` waits for the server to become healthy (`startupTimeout` overrides it).
    pub server_start: Duration,
    /// SIGTERM → SIGKILL grace when a server is stopped.
    pub server_stop: Duration,
    /// One health probe.
    pub health_check: Duration,
}

pub const DEFAULT_TIMEOUTS: DefaultTimeouts = DefaultTimeouts {
    download: Duration::from_secs(300),
    server_start: Duration::from_secs(120),
    server_stop: crate::llama_server::STOP_GRACE,
    health_check: Duration::from_secs(5),
};

/// The host health probes and port checks use when none is given.
pub const LOOPBACK_HOST: &str = "127.0.0.1";

/// `waitForHealthy(port, timeout = 120000, initialDelay = 100, maxDelay = 2000)`: the backoff.
pub const HEALTH_WAIT_INITIAL_DELAY: Duration = Duration::from_millis(100);
pub const HEALTH_WAIT_MAX_DELAY: Duration = Duration::from_millis(2000);

/// `isServerResponding(port, timeout = 2000)`.
pub const RESPONDING_TIMEOUT: Duration = Duration::from_millis(2000);

/// `formatBytes(bytes, decimals = 2)`.
pub const FORMAT_BYTES_DECIMALS: i32 = 2;

/// `LogManager.getRecent(lines = 100)`.
pub const RECENT_LOG_LINES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    /// genai-electron 0.26's `config/defaults.js`.
    #[test]
    fn match_genai_electron() {
        assert_eq!(
            DEFAULT_PORTS,
            DefaultPorts {
                llama: 8080,
                diffusion: 8081
            }
        );
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(DEFAULT_TIMEOUTS.download), 300_000);
        assert_eq!(ms(DEFAULT_TIMEOUTS.server_start), 120_000);
        assert_eq!(ms(DEFAULT_TIMEOUTS.server_stop), 10_000);
        assert_eq!(ms(DEFAULT_TIMEOUTS.health_check), 5_000);
    }
}
