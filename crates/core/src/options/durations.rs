//! Every duration option in one table: its documented default, whether 0 is allowed, and the
//! largest number of seconds accepted as a bare number.
//!
//! Numbers are seconds. A bare number above its option's bound is refused as a likely unit
//! mistake (milliseconds, the habit of jose's `Date` arithmetic and of fast-jwt): `cache:
//! { maxAge: 600000 }` would otherwise be 6.9 days. A string with an explicit unit (`"30d"`)
//! may go up to [`duration::MAX_MS`](crate::duration::MAX_MS). This module holds constants
//! only and imports nothing, so the modules that apply the defaults (`key_cache`, `fetch`,
//! `store`, `revalidate`) read them from here.

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// One duration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationOption {
    /// The option's documented name (`cache.maxAge`); messages name the value's full path
    /// (`issuers[1].revalidate.interval`).
    pub name: &'static str,
    /// The documented default, in milliseconds; `None`: not applied unless set.
    pub default_ms: Option<u64>,
    /// Whether 0 is accepted.
    pub allow_zero: bool,
    /// The largest number of seconds accepted as a bare number.
    pub max_number_s: u64,
}

impl DurationOption {
    /// The default, in milliseconds (0 when there is none).
    pub const fn default_or_zero_ms(&self) -> u64 {
        match self.default_ms {
            Some(ms) => ms,
            None => 0,
        }
    }
}

/// `cache.maxAge`: longest time keys are used without a refetch. Default 600 s; a number up to
/// 1 day (600000, the milliseconds of 10 minutes, is 6.9 days).
pub const CACHE_MAX_AGE: DurationOption = DurationOption {
    name: "cache.maxAge",
    default_ms: Some(600_000),
    allow_zero: false,
    max_number_s: DAY,
};

/// `cache.cooldown`: least time between refetches caused by an unknown `kid`. Default 30 s;
/// a number up to 1 hour. Never longer than `cache.maxAge`.
pub const CACHE_COOLDOWN: DurationOption = DurationOption {
    name: "cache.cooldown",
    default_ms: Some(30_000),
    allow_zero: false,
    max_number_s: HOUR,
};

/// `cache.maxStale`: how long the last good keys serve while the endpoint fails. Default 24 h;
/// a number up to 7 days.
pub const CACHE_MAX_STALE: DurationOption = DurationOption {
    name: "cache.maxStale",
    default_ms: Some(86_400_000),
    allow_zero: false,
    max_number_s: 7 * DAY,
};

/// `clockTolerance`: leeway for `exp`, `nbf`, `iat`. Default 0; a number up to 1 hour (fast-jwt
/// takes milliseconds here: its 5000 would be 83 minutes).
pub const CLOCK_TOLERANCE: DurationOption = DurationOption {
    name: "clockTolerance",
    default_ms: Some(0),
    allow_zero: true,
    max_number_s: HOUR,
};

/// `maxTokenAge`: oldest accepted `iat`. No default; a number up to 31 days.
pub const MAX_TOKEN_AGE: DurationOption = DurationOption {
    name: "maxTokenAge",
    default_ms: None,
    allow_zero: false,
    max_number_s: 31 * DAY,
};

/// `http.timeout`: connect plus the whole response. Default 5 s; a number up to 5 minutes.
pub const HTTP_TIMEOUT: DurationOption = DurationOption {
    name: "http.timeout",
    default_ms: Some(5_000),
    allow_zero: false,
    max_number_s: 5 * MINUTE,
};

/// `revalidate.interval`: how long one "active" answer is trusted. Default 5 minutes (SCAYLE's
/// "at least once every 5 minutes per token"); 0 asks every time; a number up to 1 hour.
pub const REVALIDATE_INTERVAL: DurationOption = DurationOption {
    name: "revalidate.interval",
    default_ms: Some(300_000),
    allow_zero: true,
    max_number_s: HOUR,
};

/// `revalidate.staleIfError`: how far past `interval` an "active" answer serves while the
/// endpoint fails. Default 0; a number up to 1 day.
pub const REVALIDATE_STALE_IF_ERROR: DurationOption = DurationOption {
    name: "revalidate.staleIfError",
    default_ms: Some(0),
    allow_zero: true,
    max_number_s: DAY,
};

/// `shared.timeout`: each Redis call on a verification path. Default 50 ms; a number up to
/// 5 s (50 meant as milliseconds would be 50 s).
pub const SHARED_TIMEOUT: DurationOption = DurationOption {
    name: "shared.timeout",
    default_ms: Some(50),
    allow_zero: false,
    max_number_s: 5,
};

/// Every row, for tests and documentation.
pub const ALL: [DurationOption; 9] = [
    CACHE_MAX_AGE,
    CACHE_COOLDOWN,
    CACHE_MAX_STALE,
    CLOCK_TOLERANCE,
    MAX_TOKEN_AGE,
    HTTP_TIMEOUT,
    REVALIDATE_INTERVAL,
    REVALIDATE_STALE_IF_ERROR,
    SHARED_TIMEOUT,
];

/// A duration in words, for messages: `45 s`, `10 min`, `6.9 days`, `1 h`.
pub fn human(seconds: f64) -> String {
    let (value, unit) = if seconds >= 365.0 * DAY as f64 {
        (seconds / (365.0 * DAY as f64), "years")
    } else if seconds >= DAY as f64 {
        (seconds / DAY as f64, "days")
    } else if seconds >= HOUR as f64 {
        (seconds / HOUR as f64, "h")
    } else if seconds >= MINUTE as f64 {
        (seconds / MINUTE as f64, "min")
    } else if seconds >= 1.0 || seconds == 0.0 {
        (seconds, "s")
    } else {
        (seconds * 1000.0, "ms")
    };
    let rounded = (value * 10.0).round() / 10.0;
    match (rounded == 1.0, unit) {
        (true, "days") => "1 day".to_owned(),
        (true, "years") => "1 year".to_owned(),
        _ => format!("{} {unit}", number(rounded)),
    }
}

/// A number without a trailing `.0`.
pub fn number(n: f64) -> String {
    if n.abs() >= 1e15 {
        format!("{n:e}")
    } else if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A whole number of seconds as an option string in its largest exact unit: `"2d"`, `"10m"`.
fn with_unit(seconds: u64) -> String {
    match seconds {
        s if s % DAY == 0 => format!("{}d", s / DAY),
        s if s % HOUR == 0 => format!("{}h", s / HOUR),
        s if s % MINUTE == 0 => format!("{}m", s / MINUTE),
        s => format!("{s}s"),
    }
}

/// Why a bare number is refused, or `None` when it is within the option's bound. The text
/// completes `option "path" ...`.
pub fn unit_mistake(option: &DurationOption, seconds: f64) -> Option<String> {
    if !seconds.is_finite() || seconds <= option.max_number_s as f64 {
        return None;
    }
    let bound = option.max_number_s as f64;
    let head = format!(
        "is {} seconds ({}): numbers are seconds",
        number(seconds),
        human(seconds)
    );
    let as_ms = seconds / 1000.0;
    let meant_ms = as_ms <= bound && (as_ms > 0.0 || option.allow_zero);
    Some(if meant_ms {
        let text = if as_ms < 1.0 {
            format!("\"{}ms\"", number(seconds))
        } else {
            format!("\"{}s\"", number(as_ms))
        };
        format!("{head}; did you mean {text} (or {})?", number(as_ms))
    } else {
        format!(
            "{head}, and a number above {} ({}) is taken for a unit mistake; write a longer time with its unit (e.g. \"{}\")",
            number(bound),
            human(bound),
            with_unit(2 * option.max_number_s)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_values() {
        for o in ALL {
            if let Some(ms) = o.default_ms {
                assert!(ms > 0 || o.allow_zero, "{}: default 0", o.name);
                let seconds = ms as f64 / 1000.0;
                assert_eq!(
                    unit_mistake(&o, seconds),
                    None,
                    "{}: the default as a number",
                    o.name
                );
                assert!(
                    (ms as f64) <= crate::duration::MAX_MS,
                    "{}: default within the cap",
                    o.name
                );
            }
            assert!(o.max_number_s > 0, "{}", o.name);
        }
        // A default of milliseconds given as a bare number is caught (the habit this targets).
        for o in ALL {
            if let Some(ms) = o.default_ms.filter(|ms| *ms >= 1000) {
                assert!(
                    unit_mistake(&o, ms as f64).is_some(),
                    "{}: {ms} as seconds is refused",
                    o.name
                );
            }
        }
    }

    #[test]
    fn messages() {
        assert_eq!(
            unit_mistake(&CACHE_MAX_AGE, 600_000.0).as_deref(),
            Some("is 600000 seconds (6.9 days): numbers are seconds; did you mean \"600s\" (or 600)?")
        );
        assert_eq!(
            unit_mistake(&HTTP_TIMEOUT, 1500.0).as_deref(),
            Some("is 1500 seconds (25 min): numbers are seconds; did you mean \"1.5s\" (or 1.5)?")
        );
        assert_eq!(
            unit_mistake(&SHARED_TIMEOUT, 50.0).as_deref(),
            Some("is 50 seconds (50 s): numbers are seconds; did you mean \"50ms\" (or 0.05)?")
        );
        assert_eq!(
            unit_mistake(&CACHE_MAX_AGE, 2_000_000_000.0).as_deref(),
            Some("is 2000000000 seconds (63.4 years): numbers are seconds, and a number above 86400 (1 day) is taken for a unit mistake; write a longer time with its unit (e.g. \"2d\")")
        );
        assert!(unit_mistake(&HTTP_TIMEOUT, 1e9).is_some_and(|m| m.ends_with("(e.g. \"10m\")")));
        assert!(unit_mistake(&CACHE_MAX_AGE, 1e300)
            .is_some_and(|m| m.starts_with("is 1e300 seconds (")));
        assert_eq!(unit_mistake(&CACHE_MAX_AGE, 86_400.0), None, "the bound");
        assert!(unit_mistake(&CACHE_MAX_AGE, 86_400.5).is_some());
        for (s, want) in [
            (0.0, "0 s"),
            (0.05, "50 ms"),
            (45.0, "45 s"),
            (600.0, "10 min"),
            (3600.0, "1 h"),
            (86_400.0, "1 day"),
            (600_000.0, "6.9 days"),
        ] {
            assert_eq!(human(s), want, "{s}");
        }
    }
}
