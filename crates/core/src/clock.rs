//! The process-wide clock: wall time plus an offset that tests move forward.
//!
//! Every time rule (claims, cache freshness, cooldown, backoff, Retry-After, maxStale) reads
//! this clock, so tests can skip minutes without sleeping. Real timeouts of HTTP requests
//! still use real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static OFFSET_MS: AtomicU64 = AtomicU64::new(0);

/// Milliseconds since the Unix epoch, as this library sees them.
pub fn now_ms() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    wall.saturating_add(OFFSET_MS.load(Ordering::Relaxed))
}

/// Move the clock forward by `ms` (tests only; it never goes back).
pub fn advance(ms: u64) {
    OFFSET_MS.fetch_add(ms, Ordering::Relaxed);
}
