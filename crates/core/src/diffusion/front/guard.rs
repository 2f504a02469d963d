//! Who may talk to the front: upstream's loopback Host guard (against DNS rebinding) and its CORS
//! origin list.

/// `isLoopbackBindAddress`: the guard applies when the front listens on a loopback address.
pub fn is_loopback_bind_address(host: &str) -> bool {
    let h = host.trim().to_ascii_lowercase();
    let h = h.strip_prefix('[').unwrap_or(&h);
    let h = h.strip_suffix(']').unwrap_or(h);
    h == "localhost" || h == "::1" || h.starts_with("127.") || h.starts_with("::ffff:127.")
}

/// `isLoopbackHostHeader`: no Host header, or one naming localhost (any subdomain, a trailing
/// dot) or an IP literal, with an optional port of 1–5 digits. Upstream's regular expression
/// `^(?:(?:[a-z0-9-]+\.)*localhost\.?|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d{1,5})?$`
/// (case-insensitive, on the trimmed value), written out.
pub fn is_loopback_host_header(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return true;
    };
    let host = host.trim();
    if host.is_empty() {
        return true; // `!hostHeader`
    }
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, port)) => {
                let ok = !inside.is_empty()
                    && inside
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
                if !ok {
                    return false;
                }
                (None, port)
            }
            None => return false,
        },
        None => match host.find(':') {
            Some(at) => (Some(&host[..at]), &host[at..]),
            None => (Some(host), ""),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && name.is_none_or(|n| is_localhost_name(n) || is_dotted_quad(n))
}

/// `(?:[a-z0-9-]+\.)*localhost\.?`
fn is_localhost_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    let Some(prefix) = name.strip_suffix("localhost") else {
        return false;
    };
    if prefix.is_empty() {
        return true;
    }
    prefix.strip_suffix('.').is_some_and(|labels| {
        labels
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    })
}

/// `\d{1,3}(?:\.\d{1,3}){3}` (any four groups of 1–3 digits, as upstream: an IP literal).
fn is_dotted_quad(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `resolveAllowedOrigin`: `*` in the list allows every origin (and answers `*` even without an
/// Origin header, as upstream); otherwise the origin itself when listed.
pub fn resolve_allowed_origin(allowed: &[String], origin: Option<&str>) -> Option<String> {
    if allowed.iter().any(|o| o == "*") {
        return Some("*".into());
    }
    origin
        .filter(|o| allowed.iter().any(|a| a == o))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_bind_addresses() {
        for h in [
            "127.0.0.1",
            "127.1.2.3",
            " LOCALHOST ",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_bind_address(h), "{h}");
        }
        for h in [
            "0.0.0.0",
            "::",
            "192.168.1.2",
            "localhost.example",
            "128.0.0.1",
        ] {
            assert!(!is_loopback_bind_address(h), "{h}");
        }
    }

    #[test]
    fn host_headers_as_upstreams_pattern() {
        let ok = [
            None,
            Some(""),
            Some("localhost"),
            Some("LocalHost:8081"),
            Some("localhost."),
            Some("app.localhost:1"),
            Some("a-b.c.localhost.:65535"),
            Some("127.0.0.1"),
            Some("127.0.0.1:8081"),
            Some("999.1.1.1"),
            Some("[::1]"),
            Some("[::1]:8081"),
            Some("[::ffff:127.0.0.1]:1"),
            Some(" localhost:1234 "),
        ];
        for h in ok {
            assert!(is_loopback_host_header(h), "{h:?}");
        }
        let bad = [
            "evil.com",
            "localhost.evil.com",
            "evillocalhost",
            ".localhost",
            "a..localhost",
            "localhost:",
            "localhost:123456",
            "localhost:80:80",
            "1.2.3",
            "1.2.3.4.5",
            "1234.1.1.1",
            "[]",
            "[::1",
            "[::1]x",
            "[g::1]",
            "::1",
            "local_host",
        ];
        for h in bad {
            assert!(!is_loopback_host_header(Some(h)), "{h}");
        }
    }

    #[test]
    fn allowed_origins() {
        let list = vec!["http://app.test".to_string()];
        assert_eq!(
            resolve_allowed_origin(&list, Some("http://app.test")).as_deref(),
            Some("http://app.test")
        );
        assert_eq!(
            resolve_allowed_origin(&list, Some("http://evil.test")),
            None
        );
        assert_eq!(resolve_allowed_origin(&list, None), None);
        assert_eq!(resolve_allowed_origin(&[], Some("http://app.test")), None);
        let any = vec!["*".to_string()];
        assert_eq!(resolve_allowed_origin(&any, None).as_deref(), Some("*"));
        assert_eq!(
            resolve_allowed_origin(&any, Some("x")).as_deref(),
            Some("*")
        );
    }
}
