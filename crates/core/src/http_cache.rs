//! HTTP caching semantics, as pure functions of response headers: freshness
//! (`Cache-Control: max-age`, `no-store`/`no-cache`, `Expires`), validators (`ETag`,
//! `Last-Modified`) and `Retry-After` (also Genesys' `inin-ratelimit-reset`).

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderName};

/// Longest `Retry-After` we obey.
pub const MAX_RETRY_AFTER_SECS: u64 = 600;

/// `ETag` and `Last-Modified` of the last response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    /// The validators a response carries.
    pub fn of(headers: &HeaderMap) -> Validators {
        Validators {
            etag: header_text(headers, header::ETAG),
            last_modified: header_text(headers, header::LAST_MODIFIED),
        }
    }

    /// True when a conditional request can be made.
    pub fn any(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// A header's value as text, when it is text.
pub fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Lifetime from `Cache-Control` (max-age, no-store/no-cache = 0) or `Expires`.
pub fn freshness(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cc) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        let mut max_age = None;
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(v) = lower.strip_prefix("max-age=") {
                max_age = v
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
        if max_age.is_some() {
            return max_age;
        }
    }
    let expires = headers.get(header::EXPIRES).and_then(|v| v.to_str().ok())?;
    let at = httpdate::parse_http_date(expires)
        .ok()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let base = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(SystemTime::now);
    Some(at.duration_since(base).unwrap_or(Duration::ZERO))
}

/// Seconds from a `Retry-After` value (delta-seconds or HTTP-date), capped.
pub fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    let secs = match value.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(SystemTime::now())
                .map(|d| d.as_secs_f64().ceil() as u64)
                .unwrap_or(0)
        }
    };
    Some(secs.min(MAX_RETRY_AFTER_SECS))
}

/// The wait a response asks for: `Retry-After`, or else Genesys Cloud's
/// `inin-ratelimit-reset` (seconds until the limit resets), capped.
pub fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("retry-after").and_then(retry_after_secs).or_else(|| {
        text("inin-ratelimit-reset")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.min(MAX_RETRY_AFTER_SECS))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn cache_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(freshness(&h), None);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        assert_eq!(freshness(&h), Some(Duration::from_secs(300)));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert_eq!(freshness(&h), Some(Duration::ZERO));
        let mut e = HeaderMap::new();
        e.insert(
            header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        e.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:59:37 GMT"),
        );
        assert_eq!(freshness(&e), Some(Duration::from_secs(600)));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_secs("5"), Some(5));
        assert_eq!(retry_after_secs("99999"), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let got = retry_after_secs(&later).unwrap();
        assert!((119..=121).contains(&got), "{got}");
        assert_eq!(retry_after_secs("soon"), None);
    }

    #[test]
    fn retry_after_falls_back_to_the_genesys_header() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("inin-ratelimit-reset", HeaderValue::from_static("42"));
        assert_eq!(retry_after(&h), Some(42));
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(3), "Retry-After wins");
        let mut g = HeaderMap::new();
        g.insert("inin-ratelimit-reset", HeaderValue::from_static("86400"));
        assert_eq!(retry_after(&g), Some(MAX_RETRY_AFTER_SECS), "capped");
    }

    #[test]
    fn validators_are_read_from_the_response() {
        let mut h = HeaderMap::new();
        assert!(!Validators::of(&h).any());
        h.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        let v = Validators::of(&h);
        assert_eq!(v.etag.as_deref(), Some("\"v1\""));
        assert!(v.any());
    }
}
