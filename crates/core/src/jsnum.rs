//! JavaScript number semantics that genai-electron's formulas and messages rely on.

/// `Math.round`: nearest integer, ties toward +∞.
pub fn round(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// `Number.prototype.toFixed(d)`: the exact binary value rounded half away from zero (Rust's
/// `{:.d}` rounds exact ties to even, so it is done on the exact decimal expansion here).
pub fn to_fixed(x: f64, d: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let exact = format!("{:.*}", d + 1100, x.abs()); // long enough for any f64's exact expansion
    let (int_part, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut digits: Vec<u8> = format!("{int_part}{}", &frac[..d]).into_bytes();
    if frac.as_bytes().get(d).is_some_and(|&c| c >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let s = String::from_utf8_lossy(&digits).into_owned();
    let (ip, fp) = s.split_at(s.len() - d);
    let sign = if x < 0.0 && s.bytes().any(|b| b != b'0') {
        "-"
    } else {
        ""
    };
    if d == 0 {
        format!("{sign}{ip}")
    } else {
        format!("{sign}{ip}.{fp}")
    }
}

/// `String(x)` for finite numbers below 1e21 (JS prints integers without a fraction).
pub fn to_string(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if x.fract() == 0.0 && x.abs() < 1e21 {
        format!("{}", x as i128)
    } else {
        format!("{x}")
    }
}

/// `Number.isSafeInteger(x) && x > 0`.
pub fn is_positive_safe_integer(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && x > 0.0 && x <= 9_007_199_254_740_991.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_round() {
        assert_eq!(round(2.5), 3.0);
        assert_eq!(round(-2.5), -2.0);
        assert_eq!(round(2.4999), 2.0);
    }

    #[test]
    fn fixed() {
        assert_eq!(to_fixed(1.125, 2), "1.13");
        assert_eq!(to_fixed(1.005, 2), "1.00"); // 1.005 is below the tie in binary
        assert_eq!(to_fixed(2.0, 1), "2.0");
        assert_eq!(to_fixed(9.99, 1), "10.0");
        assert_eq!(to_fixed(0.04, 1), "0.0");
        assert_eq!(to_fixed(-1.25, 1), "-1.3");
        assert_eq!(to_fixed(7.0, 0), "7");
    }

    #[test]
    fn strings() {
        assert_eq!(to_string(1.0), "1");
        assert_eq!(to_string(1.5), "1.5");
        assert_eq!(to_string(f64::NAN), "NaN");
    }
}
