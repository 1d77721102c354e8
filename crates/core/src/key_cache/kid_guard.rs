//! The unknown-kid guard of one key cache: refetches for kids the set lacks happen at most
//! once per cooldown, and a kid still missing after a refetch is remembered (as a hash, in
//! bounded memory) and answered without I/O until the cooldown ends.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

/// Most kids remembered as missing per URL.
pub const MAX_MISSING_KIDS: usize = 10_000;

#[derive(Default)]
struct State {
    cooldown_until: u64,
    /// Hash of the kid -> until when it is known to be missing.
    missing: HashMap<u64, u64>,
}

/// See the module documentation.
#[derive(Default)]
pub struct KidGuard {
    hasher: RandomState,
    state: Mutex<State>,
}

impl KidGuard {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hash(&self, kid: &str) -> u64 {
        self.hasher.hash_one(kid)
    }

    /// True when `kid` was missing after a refetch less than a cooldown ago.
    pub fn is_missing(&self, kid: Option<&str>, now: u64) -> bool {
        let Some(kid) = kid else { return false };
        let h = self.hash(kid);
        self.lock()
            .missing
            .get(&h)
            .is_some_and(|until| *until > now)
    }

    /// True when an unknown-kid refetch may start now (not in cooldown, kid not known missing).
    pub fn allows(&self, kid: Option<&str>, now: u64) -> bool {
        !self.is_missing(kid, now) && now >= self.lock().cooldown_until
    }

    /// Start the cooldown, if a refetch for `kid` may start now: true when it did.
    pub fn take(&self, kid: Option<&str>, now: u64, cooldown_ms: u64) -> bool {
        if self.is_missing(kid, now) {
            return false;
        }
        let mut st = self.lock();
        if now < st.cooldown_until {
            return false;
        }
        st.cooldown_until = now.saturating_add(cooldown_ms);
        true
    }

    /// Remember that `kid` was still missing after a refetch, for `cooldown_ms`.
    pub fn remember_missing(&self, kid: &str, now: u64, cooldown_ms: u64) {
        let h = self.hash(kid);
        let mut st = self.lock();
        if st.missing.len() >= MAX_MISSING_KIDS {
            st.missing.retain(|_, until| *until > now);
            if st.missing.len() >= MAX_MISSING_KIDS {
                st.missing.clear();
            }
        }
        st.missing.insert(h, now.saturating_add(cooldown_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_refetch_per_cooldown_and_missing_kids_are_remembered() {
        let g = KidGuard::default();
        assert!(g.allows(Some("a"), 0));
        assert!(g.take(Some("a"), 0, 30_000));
        assert!(!g.take(Some("b"), 29_999, 30_000), "in cooldown");
        assert!(g.allows(Some("b"), 30_000));
        g.remember_missing("a", 30_000, 30_000);
        assert!(g.is_missing(Some("a"), 59_999));
        assert!(!g.allows(Some("a"), 40_000));
        assert!(!g.take(Some("a"), 40_000, 30_000));
        assert!(
            !g.is_missing(Some("a"), 60_000),
            "forgotten after the cooldown"
        );
        assert!(!g.is_missing(None, 0));
    }

    #[test]
    fn memory_is_bounded() {
        let g = KidGuard::default();
        for i in 0..(MAX_MISSING_KIDS + 5) {
            g.remember_missing(&format!("kid-{i}-{}", "x".repeat(100)), 0, 1_000);
        }
        assert!(g.lock().missing.len() <= MAX_MISSING_KIDS);
    }
}
