//! Time as one Verifier (or token source) sees it: wall time, plus an offset that only a
//! manual test clock moves.
//!
//! Every time rule (claims, cache freshness, cooldown, backoff, Retry-After, maxStale,
//! revalidation intervals) reads the clock of the object it serves, never a global, so a test
//! can skip minutes for its own Verifier without touching any other. Real timeouts of HTTP
//! requests still use real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A clock. Cheap to clone; clones of a manual clock move together.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None` for the system clock; the offset of a manual clock otherwise.
    offset: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { offset: None }
    }

    /// A clock that starts at wall time and that [`Clock::advance`] moves forward.
    pub fn manual() -> Clock {
        Clock {
            offset: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Milliseconds since the Unix epoch, as this clock sees them.
    pub fn now_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        wall.saturating_add(self.offset_ms())
    }

    /// How far a manual clock has been moved (0 for the system clock).
    pub fn offset_ms(&self) -> u64 {
        self.offset
            .as_ref()
            .map_or(0, |o| o.load(Ordering::Relaxed))
    }

    /// Move a manual clock forward by `ms` (saturating; it never goes back). The system clock
    /// does not move: the call returns false.
    pub fn advance(&self, ms: u64) -> bool {
        match &self.offset {
            Some(offset) => {
                let _ = offset.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                    Some(o.saturating_add(ms))
                });
                true
            }
            None => false,
        }
    }

    /// True for a manual (test) clock: its time is not the wall time other code reads.
    pub fn is_manual(&self) -> bool {
        self.offset.is_some()
    }

    /// Identity for registries: 0 for the system clock, a distinct number per manual clock,
    /// so state made under a test clock is never shared with state made under another.
    pub fn id(&self) -> usize {
        self.offset.as_ref().map_or(0, |o| Arc::as_ptr(o) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clocks_move_alone() {
        let a = Clock::manual();
        let b = Clock::manual();
        let before = Clock::system().now_ms();
        assert!(a.advance(60_000));
        assert!(a.now_ms() >= before + 60_000);
        assert!(b.now_ms() < before + 60_000, "another manual clock stays");
        assert!(!Clock::system().advance(1), "the system clock never moves");
        assert_eq!(a.clone().offset_ms(), 60_000, "clones share the offset");
        a.advance(u64::MAX);
        assert_eq!(a.offset_ms(), u64::MAX, "saturates instead of wrapping");
        assert_ne!(a.id(), b.id());
        assert_eq!(Clock::system().id(), 0);
        assert!(a.is_manual() && !Clock::system().is_manual());
    }
}
