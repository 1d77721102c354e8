//! What a Verifier reports about itself: counters (`stats()`) and per-issuer health
//! (`health()`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::discovery::{self, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::key_cache::{HealthState, KeyCache};
use crate::keyset::{KeySet, SkippedKey};
use crate::store::SharedTier;
use crate::verifier::issuer::Issuer;

/// Counters of one Verifier.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub verifications: u64,
    pub failures: Vec<(&'static str, u64)>,
    pub token_cache_hits: u64,
    pub fetches: u64,
    pub not_modified: u64,
    pub fetch_errors: u64,
    pub cooldown_refusals: u64,
    pub stale_serves: u64,
    /// Validation endpoint calls.
    pub revalidations: u64,
    /// Verifications answered from a cached liveness answer.
    pub revalidation_hits: u64,
    /// Tokens found inactive.
    pub inactive: u64,
    /// Validation endpoint failures.
    pub revalidation_errors: u64,
    /// Shared-tier entries found and accepted (`shared`).
    pub shared_hits: u64,
    /// Shared-tier lookups that found nothing.
    pub shared_misses: u64,
    /// Redis calls that failed or timed out, and entries refused.
    pub shared_errors: u64,
    /// Waits for another process's provider call.
    pub lock_waits: u64,
}

/// Health of one issuer.
#[derive(Debug, Clone)]
pub struct IssuerHealth {
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub state: HealthState,
    pub kids: Vec<String>,
    pub fetched_at: Option<u64>,
    pub expires_at: Option<u64>,
    pub last_error: Option<Error>,
    /// The shared tier: `Some(true)` up, `Some(false)` down, `None` without `shared`.
    pub shared_up: Option<bool>,
    /// Keys of the JWKS that are not used, and why.
    pub skipped: Vec<SkippedKey>,
}

/// The live counters behind [`Stats`].
#[derive(Default)]
pub struct Counters {
    pub verifications: AtomicU64,
    pub failures: [AtomicU64; ErrorCode::ALL.len()],
    pub token_cache_hits: AtomicU64,
    pub cooldown_refusals: AtomicU64,
    pub stale_serves: AtomicU64,
}

impl Counters {
    /// Count one verification and, when it failed, its code.
    pub fn count<T>(&self, result: &Result<T>) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == e.code) {
                self.failures[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Add one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters, plus the fetch counters of each distinct key cache of `issuers` and the
    /// shared tier's.
    pub fn stats(&self, issuers: &[Issuer], tier: Option<&SharedTier>) -> Stats {
        let mut stats = Stats {
            verifications: self.verifications.load(Ordering::Relaxed),
            failures: ErrorCode::ALL
                .iter()
                .zip(self.failures.iter())
                .map(|(code, n)| (code.as_str(), n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            token_cache_hits: self.token_cache_hits.load(Ordering::Relaxed),
            cooldown_refusals: self.cooldown_refusals.load(Ordering::Relaxed),
            stale_serves: self.stale_serves.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for r in issuers.iter().filter_map(|i| i.revalidator.as_ref()) {
            let c = r.counters();
            stats.revalidations += c.revalidations.load(Ordering::Relaxed);
            stats.revalidation_hits += c.hits.load(Ordering::Relaxed);
            stats.inactive += c.inactive.load(Ordering::Relaxed);
            stats.revalidation_errors += c.errors.load(Ordering::Relaxed);
        }
        if let Some(t) = tier {
            let c = t.counters();
            stats.shared_hits = c.hits.load(Ordering::Relaxed);
            stats.shared_misses = c.misses.load(Ordering::Relaxed);
            stats.shared_errors = c.errors.load(Ordering::Relaxed);
            stats.lock_waits = c.lock_waits.load(Ordering::Relaxed);
        }
        let mut seen: Vec<*const KeyCache> = Vec::new();
        for cache in issuers.iter().filter_map(Issuer::cache) {
            if seen.contains(&Arc::as_ptr(&cache)) {
                continue;
            }
            seen.push(Arc::as_ptr(&cache));
            let c = cache.counters();
            stats.fetches += c.fetches.load(Ordering::Relaxed);
            stats.not_modified += c.not_modified.load(Ordering::Relaxed);
            stats.fetch_errors += c.fetch_errors.load(Ordering::Relaxed);
        }
        stats
    }
}

/// Health of each issuer at `now`.
pub fn health(
    issuers: &[Issuer],
    local: Option<&KeySet>,
    tier: Option<&SharedTier>,
    now: u64,
) -> Vec<IssuerHealth> {
    let shared_up = tier.map(|t| !t.is_down());
    issuers
        .iter()
        .map(|issuer| {
            let name = issuer.name.to_string();
            if let Some(cache) = issuer.cache() {
                let h = cache.health(now);
                return IssuerHealth {
                    issuer: name,
                    jwks_uri: Some(cache.url().to_owned()),
                    state: h.state,
                    kids: h.kids,
                    fetched_at: h.fetched_at,
                    expires_at: h.expires_at,
                    last_error: h.last_error,
                    shared_up,
                    skipped: h.skipped,
                };
            }
            let (state, last_error) = match &issuer.discovery {
                Some(d) => match discovery::resolved(d, now) {
                    Resolved::Failing(e) => (HealthState::Failing, Some(e)),
                    _ => (HealthState::Empty, None),
                },
                None => (HealthState::Fresh, None),
            };
            let kids = match (&issuer.discovery, local) {
                (None, Some(local)) => local.kids(),
                _ => Vec::new(),
            };
            IssuerHealth {
                issuer: name,
                jwks_uri: None,
                state,
                kids,
                fetched_at: None,
                expires_at: None,
                last_error,
                shared_up,
                skipped: match (&issuer.discovery, local) {
                    (None, Some(local)) => local.skipped.clone(),
                    _ => Vec::new(),
                },
            }
        })
        .collect()
}
