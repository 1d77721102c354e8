//! `Retry-After` values (`fetch::retry_after_secs`: delta-seconds or an HTTP-date, capped).
//! `Cache-Control` parsing (`freshness`) is private to fetch.rs on this branch, so not here.
#![no_main]

use jwks_verify_core::fetch::retry_after_secs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(secs) = retry_after_secs(text) {
        assert!(secs <= 600, "{text:?} -> {secs}");
    }
});
