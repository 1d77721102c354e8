//! Durations in options: a number of seconds, or `<number><ms|s|m|h|d>`. Every duration is
//! range-checked here (finite, not negative, at most [`MAX_MS`]), so no caller can be handed a
//! value that overflows a `std::time::Duration` or a millisecond count.

use std::fmt;
use std::time::Duration;

/// The longest duration accepted: 10 years of 365 days (315 360 000 s, `"3650d"`). Far beyond
/// any sensible cache lifetime, timeout or token age; far below what `Duration` can hold.
pub const MAX_MS: f64 = 3650.0 * 86_400_000.0;

/// Why a duration is refused. The message completes "option \"name\" ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// Neither a number nor a `<number><unit>` string.
    Format,
    /// Infinity or NaN.
    NotFinite,
    /// Below zero.
    Negative,
    /// Above [`MAX_MS`].
    TooLong,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DurationError::Format => {
                "must be a number of seconds or a string like \"500ms\", \"30s\", \"10m\", \"1h\", \"1d\""
            }
            DurationError::NotFinite => "must be a finite number of seconds",
            DurationError::Negative => "must not be negative",
            DurationError::TooLong => {
                "must be at most 10 years (315360000 seconds, \"3650d\")"
            }
        })
    }
}

impl std::error::Error for DurationError {}

/// Parse a duration string (`"500ms"`, `"1.5h"`) into milliseconds, range-checked.
pub fn ms_from_str(text: &str) -> Result<f64, DurationError> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or(DurationError::Format)?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(DurationError::Format);
    }
    let value: f64 = number.parse().map_err(|_| DurationError::Format)?;
    let scale = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(DurationError::Format),
    };
    in_range(value * scale)
}

/// Seconds (a JSON number) into milliseconds, range-checked.
pub fn ms_from_seconds(seconds: f64) -> Result<f64, DurationError> {
    in_range(seconds * 1000.0)
}

/// Milliseconds as a `std::time::Duration`, without the panics of `Duration::from_secs_f64`.
pub fn to_std(ms: f64) -> Result<Duration, DurationError> {
    let ms = in_range(ms)?;
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| DurationError::TooLong)
}

/// [`ms_from_str`] without the reason (`None` when refused).
pub fn parse_ms(text: &str) -> Option<f64> {
    ms_from_str(text).ok()
}

/// [`ms_from_seconds`] without the reason (`None` when refused).
pub fn seconds_to_ms(seconds: f64) -> Option<f64> {
    ms_from_seconds(seconds).ok()
}

fn in_range(ms: f64) -> Result<f64, DurationError> {
    if !ms.is_finite() {
        Err(DurationError::NotFinite)
    } else if ms < 0.0 {
        Err(DurationError::Negative)
    } else if ms > MAX_MS {
        Err(DurationError::TooLong)
    } else {
        Ok(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let cases = [
            ("500ms", Ok(500.0)),
            ("30s", Ok(30_000.0)),
            ("10m", Ok(600_000.0)),
            ("1.5h", Ok(5_400_000.0)),
            ("1d", Ok(86_400_000.0)),
            ("0s", Ok(0.0)),
            (".5s", Ok(500.0)),
            ("10", Err(DurationError::Format)),
            ("s", Err(DurationError::Format)),
            ("-1s", Err(DurationError::Format)),
            ("+1s", Err(DurationError::Format)),
            ("1 s", Err(DurationError::Format)),
            ("1sec", Err(DurationError::Format)),
            ("1S", Err(DurationError::Format)),
            ("1e3s", Err(DurationError::Format)),
            ("1.2.3s", Err(DurationError::Format)),
            (".s", Err(DurationError::Format)),
            ("1ms2", Err(DurationError::Format)),
            ("", Err(DurationError::Format)),
        ];
        for (text, want) in cases {
            assert_eq!(ms_from_str(text), want, "{text:?}");
            assert_eq!(parse_ms(text), want.ok(), "{text:?}");
        }
    }

    #[test]
    fn limits_at_and_around_the_boundary() {
        let cases = [
            ("3650d", Ok(MAX_MS)),
            ("87600h", Ok(MAX_MS)),
            ("315360000s", Ok(MAX_MS)),
            ("315360000000ms", Ok(MAX_MS)),
            ("3650.0001d", Err(DurationError::TooLong)),
            ("315360000001ms", Err(DurationError::TooLong)),
            ("18446744073709551616s", Err(DurationError::TooLong)),
            (
                // 400 digits: parses to infinity.
                &*format!("{}s", "9".repeat(400)),
                Err(DurationError::NotFinite),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(ms_from_str(text), want, "{text:?}");
        }
    }

    #[test]
    fn seconds() {
        let cases = [
            (2.5, Ok(2500.0)),
            (0.0, Ok(0.0)),
            (0.001, Ok(1.0)),
            (315_360_000.0, Ok(MAX_MS)),
            (315_360_000.001, Err(DurationError::TooLong)),
            (1.8e19, Err(DurationError::TooLong)),
            (f64::MAX, Err(DurationError::NotFinite)),
            (-1.0, Err(DurationError::Negative)),
            (-0.001, Err(DurationError::Negative)),
            (f64::INFINITY, Err(DurationError::NotFinite)),
            (f64::NEG_INFINITY, Err(DurationError::NotFinite)),
            (f64::NAN, Err(DurationError::NotFinite)),
        ];
        for (seconds, want) in cases {
            assert_eq!(ms_from_seconds(seconds), want, "{seconds}");
            assert_eq!(seconds_to_ms(seconds), want.ok(), "{seconds}");
        }
    }

    #[test]
    fn std_durations_never_panic() {
        assert_eq!(to_std(1500.0), Ok(Duration::from_millis(1500)));
        assert_eq!(to_std(MAX_MS), Ok(Duration::from_secs(315_360_000)));
        // The audit's value: `Duration::from_secs_f64(1.8e19)` panics.
        for bad in [1.8e22, MAX_MS * 1.000001, f64::MAX] {
            assert_eq!(to_std(bad), Err(DurationError::TooLong), "{bad}");
        }
        assert_eq!(to_std(f64::INFINITY), Err(DurationError::NotFinite));
        assert_eq!(to_std(f64::NAN), Err(DurationError::NotFinite));
        assert_eq!(to_std(-1.0), Err(DurationError::Negative));
    }

    #[test]
    fn messages_name_the_limit() {
        assert_eq!(
            DurationError::TooLong.to_string(),
            "must be at most 10 years (315360000 seconds, \"3650d\")"
        );
        assert!(DurationError::Format.to_string().contains("\"500ms\""));
        assert!(DurationError::Negative.to_string().contains("negative"));
        assert!(DurationError::NotFinite.to_string().contains("finite"));
    }
}
