//! The timing of a key cache: freshness clamped from the provider's caching headers, and the
//! serving and backoff rules it hands to the [`Refresher`](crate::refresh::Refresher).

use std::time::Duration;

use crate::options::durations;
use crate::refresh::{Lifetime, RefreshPolicy};

/// Percentage of the lifetime after which the first verification starts a background refresh.
pub const REFRESH_AT_PERCENT: u64 = 90;

/// Cache timing (milliseconds): `cache.*` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Longest time keys are used without a refetch (and the default freshness).
    /// Defaults to 600 s.
    pub max_age_ms: u64,
    /// Least time between refetches caused by an unknown `kid`; also the longest backoff.
    /// Defaults to 30 s.
    pub cooldown_ms: u64,
    /// How long the last good keys serve past their freshness while the endpoint fails.
    /// Defaults to 24 h.
    pub max_stale_ms: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_age_ms: durations::CACHE_MAX_AGE.default_or_zero_ms(),
            cooldown_ms: durations::CACHE_COOLDOWN.default_or_zero_ms(),
            max_stale_ms: durations::CACHE_MAX_STALE.default_or_zero_ms(),
        }
    }
}

impl CachePolicy {
    /// Freshness of a response: its own lifetime clamped to `[cooldown, maxAge]`, or `maxAge`.
    pub fn ttl_ms(&self, freshness: Option<Duration>) -> u64 {
        let max = self.max_age_ms;
        match freshness {
            None => max,
            Some(d) => u64::try_from(d.as_millis())
                .unwrap_or(u64::MAX)
                .clamp(self.cooldown_ms.min(max), max),
        }
    }

    /// The lifetime of a response with these caching headers.
    pub fn lifetime(&self, freshness: Option<Duration>) -> Lifetime {
        Lifetime::refresh_at_percent(self.ttl_ms(freshness), REFRESH_AT_PERCENT)
    }

    /// Serving and backoff for the refresher: stale up to `maxStale`, backoff up to `cooldown`.
    pub fn refresh_policy(&self) -> RefreshPolicy {
        RefreshPolicy {
            max_stale_ms: self.max_stale_ms,
            max_backoff_ms: self.cooldown_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_clamped() {
        let p = CachePolicy {
            max_age_ms: 600_000,
            cooldown_ms: 30_000,
            max_stale_ms: 1,
        };
        assert_eq!(p.ttl_ms(None), 600_000);
        assert_eq!(p.ttl_ms(Some(Duration::ZERO)), 30_000);
        assert_eq!(p.ttl_ms(Some(Duration::from_secs(60))), 60_000);
        assert_eq!(p.ttl_ms(Some(Duration::from_secs(86_400))), 600_000);
        assert_eq!(p.ttl_ms(Some(Duration::MAX)), 600_000, "no wrap-around");
        let odd = CachePolicy {
            max_age_ms: 10_000,
            cooldown_ms: 30_000,
            max_stale_ms: 1,
        };
        assert_eq!(
            odd.ttl_ms(Some(Duration::ZERO)),
            10_000,
            "cooldown above maxAge: maxAge wins"
        );
    }

    #[test]
    fn refresh_ahead_at_ninety_percent_and_backoff_up_to_the_cooldown() {
        let p = CachePolicy::default();
        assert_eq!(p.lifetime(None).refresh_after_ms, 540_000);
        assert_eq!(p.refresh_policy().backoff_ms(10), 30_000);
        assert_eq!(p.refresh_policy().max_stale_ms, 86_400_000);
    }
}
