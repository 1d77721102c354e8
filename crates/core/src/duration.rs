//! Durations in options: a number of seconds, or `<number><ms|s|m|h|d>`.

/// Parse a duration string into milliseconds. `None` when it is not of the accepted form.
pub fn parse_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = value * scale;
    ms.is_finite().then_some(ms)
}

/// Seconds (a JSON number) into milliseconds. `None` for negatives and non-finite numbers.
pub fn seconds_to_ms(seconds: f64) -> Option<f64> {
    let ms = seconds * 1000.0;
    (ms.is_finite() && ms >= 0.0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let cases = [
            ("500ms", Some(500.0)),
            ("30s", Some(30_000.0)),
            ("10m", Some(600_000.0)),
            ("1.5h", Some(5_400_000.0)),
            ("1d", Some(86_400_000.0)),
            ("0s", Some(0.0)),
            ("10", None),
            ("s", None),
            ("-1s", None),
            ("1 s", None),
            ("1sec", None),
            ("1e3s", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_ms(text), want, "{text:?}");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(seconds_to_ms(2.5), Some(2500.0));
        assert_eq!(seconds_to_ms(-1.0), None);
        assert_eq!(seconds_to_ms(f64::INFINITY), None);
    }
}
