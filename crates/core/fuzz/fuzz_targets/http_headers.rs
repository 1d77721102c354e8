//! HTTP caching headers (`http_cache`): the input is split at NUL bytes into the values of
//! `Cache-Control`, `Expires`, `Date`, `Retry-After` and `inin-ratelimit-reset`; a value
//! that is not a valid header value is left out.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use jwks_verify_core::http_cache::{
    freshness, retry_after, retry_after_secs, Validators, MAX_RETRY_AFTER_SECS,
};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [
    "cache-control",
    "expires",
    "date",
    "retry-after",
    "inin-ratelimit-reset",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (name, value) in NAMES.iter().zip(data.split(|b| *b == 0)) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let _ = freshness(&headers);
    let _ = Validators::of(&headers);
    if let Some(secs) = retry_after(&headers) {
        assert!(secs <= MAX_RETRY_AFTER_SECS);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(secs) = retry_after_secs(text) {
            assert!(secs <= MAX_RETRY_AFTER_SECS, "{text:?} -> {secs}");
        }
    }
});
