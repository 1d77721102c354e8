//! The token cache of one Verifier: verified tokens by their whole text. An entry lives until
//! `cache.maxAge` after it was made (the claims' own times are rechecked on every hit), and a
//! hit counts only while the key that verified it is still in the issuer's current key set.

use std::sync::{Arc, OnceLock};

use quick_cache::sync::Cache;

use crate::claims::Times;
use crate::revalidate::Slot;
use crate::verifier::result::Verified;

/// One verified token.
pub struct CachedToken {
    pub verified: Verified,
    pub times: Times,
    /// Index of the issuer that verified it.
    pub issuer: usize,
    /// Fingerprint of the key that verified it.
    pub key: u64,
    /// When it was verified (epoch ms).
    pub created: u64,
    /// Its liveness answer slot (`revalidate`), once the endpoint was asked.
    pub live: OnceLock<Slot>,
}

/// See the module documentation.
pub struct TokenCache {
    entries: Cache<String, Arc<CachedToken>>,
    max_age_ms: u64,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens, each kept at most `max_age_ms`.
    pub fn new(capacity: usize, max_age_ms: u64) -> TokenCache {
        TokenCache {
            entries: Cache::new(capacity),
            max_age_ms,
        }
    }

    /// The entry for `token`, if it is younger than `cache.maxAge` at `now` (an older one is
    /// dropped).
    pub fn get(&self, token: &str, now: u64) -> Option<Arc<CachedToken>> {
        let entry = self.entries.get(token)?;
        if now >= self.expires_at(&entry) {
            self.entries.remove(token);
            return None;
        }
        Some(entry)
    }

    /// When `entry` stops being served (epoch ms): `cache.maxAge` after it was made.
    pub fn expires_at(&self, entry: &CachedToken) -> u64 {
        entry.created.saturating_add(self.max_age_ms)
    }

    /// Drop the entry for `token`.
    pub fn remove(&self, token: &str) {
        self.entries.remove(token);
    }

    /// The entry of `token`, whatever its age (to attach its liveness slot).
    pub fn peek(&self, token: &str) -> Option<Arc<CachedToken>> {
        self.entries.get(token)
    }

    /// Remember a verified token.
    pub fn insert(&self, token: &str, entry: CachedToken) {
        self.entries.insert(token.to_owned(), Arc::new(entry));
    }

    /// Forget everything.
    pub fn clear(&self) {
        self.entries.clear();
    }
}
