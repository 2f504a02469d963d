//! The size of a PNG from its header (the image as sd-server made it, which may differ from the
//! size asked for: sd.cpp rounds sizes up to a multiple of 64).

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// `(width, height)` from the IHDR chunk that must follow the signature; `None` when the bytes
/// are not a PNG or a dimension is 0.
pub fn dimensions(png: &[u8]) -> Option<(u32, u32)> {
    let header = png.get(..24)?;
    if header[..8] != SIGNATURE || &header[12..16] != b"IHDR" {
        return None;
    }
    let be = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (width, height) = (be(16), be(20));
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signature, IHDR length 13, `IHDR`, width, height, then the rest of a real header.
    fn header(width: u32, height: u32) -> Vec<u8> {
        let mut png = SIGNATURE.to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        png
    }

    #[test]
    fn reads_width_and_height() {
        assert_eq!(dimensions(&header(64, 128)), Some((64, 128)));
        assert_eq!(
            dimensions(&header(1, 1)[..24]),
            Some((1, 1)),
            "24 bytes are enough"
        );
        assert_eq!(
            dimensions(&header(u32::MAX, 7)),
            Some((u32::MAX, 7)),
            "big-endian, all 32 bits"
        );
    }

    #[test]
    fn refuses_what_is_not_a_png_header() {
        assert_eq!(dimensions(&[]), None);
        assert_eq!(dimensions(&header(64, 64)[..23]), None, "cut header");
        assert_eq!(dimensions(&header(0, 64)), None);
        assert_eq!(dimensions(&header(64, 0)), None);
        let mut bad = header(64, 64);
        bad[1] = b'p';
        assert_eq!(dimensions(&bad), None, "signature");
        let mut bad = header(64, 64);
        bad[12..16].copy_from_slice(b"IDAT");
        assert_eq!(dimensions(&bad), None, "first chunk is not IHDR");
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
        jpeg.resize(64, 0);
        assert_eq!(dimensions(&jpeg), None);
    }

    #[test]
    fn reads_a_real_sd_server_png() {
        // The first image of a real sd-server job (tests/data/sd/sdcpp-job-completed.json).
        let json = include_str!("../../tests/data/sd/sdcpp-job-completed.json");
        let job: serde_json::Value = serde_json::from_str(json).unwrap();
        let b64 = job["result"]["images"][0]["b64_json"].as_str().unwrap();
        use base64::Engine;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(dimensions(&png), Some((64, 64)));
    }
}
