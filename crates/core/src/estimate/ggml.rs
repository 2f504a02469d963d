//! ggml tensor types: elements per block and bytes per block, as ggml.c's `type_traits` lists
//! them (`blck_size`, `type_size`), and the bytes a tensor takes.

use crate::gguf::TensorInfo;

/// (ggml type id, name, elements per block, bytes per block).
pub const GGML_TYPES: [(u32, &str, u64, u64); 32] = [
    (0, "f32", 1, 4),
    (1, "f16", 1, 2),
    (2, "q4_0", 32, 18),
    (3, "q4_1", 32, 20),
    (6, "q5_0", 32, 22),
    (7, "q5_1", 32, 24),
    (8, "q8_0", 32, 34),
    (9, "q8_1", 32, 36),
    (10, "q2_K", 256, 84),
    (11, "q3_K", 256, 110),
    (12, "q4_K", 256, 144),
    (13, "q5_K", 256, 176),
    (14, "q6_K", 256, 210),
    (15, "q8_K", 256, 292),
    (16, "iq2_xxs", 256, 66),
    (17, "iq2_xs", 256, 74),
    (18, "iq3_xxs", 256, 98),
    (19, "iq1_s", 256, 50),
    (20, "iq4_nl", 32, 18),
    (21, "iq3_s", 256, 110),
    (22, "iq2_s", 256, 82),
    (23, "iq4_xs", 256, 136),
    (24, "i8", 1, 1),
    (25, "i16", 1, 2),
    (26, "i32", 1, 4),
    (27, "i64", 1, 8),
    (28, "f64", 1, 8),
    (29, "iq1_m", 256, 56),
    (30, "bf16", 1, 2),
    (34, "tq1_0", 256, 54),
    (35, "tq2_0", 256, 66),
    (39, "mxfp4", 32, 17),
];

fn traits(dtype: u32) -> Option<(u64, u64)> {
    GGML_TYPES
        .iter()
        .find(|(id, ..)| *id == dtype)
        .map(|(_, _, block, bytes)| (*block, *bytes))
}

/// Bytes per element of a type named as llama.cpp's `--cache-type-k/-v` names it (`f16`, `q8_0`, …).
pub fn bytes_per_element(name: &str) -> Option<f64> {
    GGML_TYPES
        .iter()
        .find(|(_, n, ..)| n.eq_ignore_ascii_case(name))
        .map(|(_, _, block, bytes)| *bytes as f64 / *block as f64)
}

/// The bytes of a tensor (`ggml_nbytes` of a contiguous tensor); `None` for an unknown type, a
/// row not a whole number of blocks, or an overflow.
pub fn tensor_bytes(t: &TensorInfo) -> Option<u64> {
    let (block, bytes) = traits(t.dtype)?;
    let (row, rest) = t.shape.split_first().map_or((1, &[][..]), |(r, s)| (*r, s));
    if row % block != 0 {
        return None;
    }
    let rows = rest.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d))?;
    (row / block).checked_mul(bytes)?.checked_mul(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dtype: u32, shape: &[u64]) -> TensorInfo {
        TensorInfo {
            name: "x".into(),
            shape: shape.to_vec(),
            dtype,
            offset: 0,
        }
    }

    #[test]
    fn block_sizes_as_ggml() {
        assert_eq!(tensor_bytes(&t(0, &[576, 10])), Some(576 * 10 * 4));
        assert_eq!(tensor_bytes(&t(1, &[64])), Some(128));
        assert_eq!(tensor_bytes(&t(30, &[64])), Some(128));
        assert_eq!(tensor_bytes(&t(2, &[64, 2])), Some(2 * 2 * 18));
        assert_eq!(tensor_bytes(&t(3, &[576, 1536])), Some(18 * 20 * 1536));
        assert_eq!(tensor_bytes(&t(8, &[32])), Some(34));
        assert_eq!(tensor_bytes(&t(12, &[4096, 4096])), Some(16 * 144 * 4096));
        assert_eq!(tensor_bytes(&t(14, &[256])), Some(210));
        assert_eq!(tensor_bytes(&t(23, &[512])), Some(272));
        assert_eq!(tensor_bytes(&t(39, &[64])), Some(34));
        // A scalar (no dimensions) is one element.
        assert_eq!(tensor_bytes(&t(0, &[])), Some(4));
    }

    #[test]
    fn unknown_types_and_partial_blocks_are_refused() {
        assert_eq!(tensor_bytes(&t(4, &[32])), None); // q4_2, removed from ggml
        assert_eq!(tensor_bytes(&t(999, &[32])), None);
        assert_eq!(tensor_bytes(&t(2, &[48])), None);
        assert_eq!(tensor_bytes(&t(0, &[u64::MAX, 2])), None);
    }

    #[test]
    fn cache_type_names() {
        assert_eq!(bytes_per_element("f16"), Some(2.0));
        assert_eq!(bytes_per_element("q8_0"), Some(34.0 / 32.0));
        assert_eq!(bytes_per_element("Q4_0"), Some(18.0 / 32.0));
        assert_eq!(bytes_per_element("iq4_nl"), Some(18.0 / 32.0));
        assert_eq!(bytes_per_element("nope"), None);
    }
}
