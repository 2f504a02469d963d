//! `generateId()`: `gen_<ms since epoch>_<9 base-36 characters>`, as genai-electron.

pub fn generate_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut bytes = [0u8; 9];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness (never seen in practice): fall back to the clock's nanoseconds.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        bytes
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (nanos >> (i % 4 * 8)) as u8 ^ i as u8);
    }
    let suffix: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % 36] as char)
        .collect();
    format!("gen_{ms}_{suffix}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape_and_uniqueness() {
        let a = super::generate_id();
        let b = super::generate_id();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('_').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "gen");
        assert!(parts[1].parse::<u64>().is_ok());
        assert_eq!(parts[2].len(), 9);
        assert!(parts[2]
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
    }
}
