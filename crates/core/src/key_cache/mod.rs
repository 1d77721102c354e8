//! The per-URL key cache, shared by every Verifier of the process that names the URL: a
//! [`Refresher`] of the JWKS (freshness, stale-while-revalidate, single flight, backoff,
//! Retry-After, conditional requests) plus the unknown-kid guard.
//!
//! The hot path ([`KeyCache::usable`] with fresh keys) takes no lock.

mod kid_guard;
mod policy;
mod source;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

pub use kid_guard::MAX_MISSING_KIDS;
pub use policy::{CachePolicy, REFRESH_AT_PERCENT};
pub use source::Counters;

use crate::clock::Clock;
use crate::error::Result;
use crate::events::{Event, EventKind, EventSink};
use crate::fetch::{Fetcher, HttpOptions};
use crate::keyset::{KeySet, SkippedKey};
use crate::refresh::{Refresher, View};
use crate::registry::{client_identity, intern, ClientIdentity, Registry};
use crate::store::SharedTier;
use kid_guard::KidGuard;
use source::JwksSource;

/// What a verification may use now.
#[derive(Debug, Clone)]
pub enum Usable {
    /// Keys to use; `stale` when past their freshness (served while a refresh runs or fails).
    Keys { keys: Arc<KeySet>, stale: bool },
    /// No usable keys and the cache is backing off: fail at once with this error.
    Failing(crate::Error),
    /// No usable keys: a fetch is needed (or in flight).
    Missing,
}

/// The outcome of an unknown-kid refetch request.
#[derive(Debug)]
pub enum Refetch {
    /// A fetch ran (or was joined); its result.
    Fetched(Result<Arc<KeySet>>),
    /// Cooldown, backoff or missing-kid memory: no I/O was made.
    Refused,
}

/// Health of one cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Fresh,
    Stale,
    Failing,
    Empty,
}

impl HealthState {
    /// The string JS sees.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Fresh => "fresh",
            HealthState::Stale => "stale",
            HealthState::Failing => "failing",
            HealthState::Empty => "empty",
        }
    }
}

/// A health report of one cache.
#[derive(Debug, Clone)]
pub struct Health {
    pub state: HealthState,
    pub kids: Vec<String>,
    pub fetched_at: Option<u64>,
    pub expires_at: Option<u64>,
    pub last_error: Option<crate::Error>,
    /// Keys of the JWKS that are not used, and why.
    pub skipped: Vec<SkippedKey>,
}

/// The key cache of one JWKS URL. See the module documentation.
pub struct KeyCache {
    refresher: Arc<Refresher<JwksSource>>,
    guard: KidGuard,
    stale_reported: AtomicBool,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("url", &self.url())
            .field("policy", self.policy())
            .finish()
    }
}

impl KeyCache {
    /// A new, empty cache (use [`shared`] to get the process-wide one). With a `tier`, the
    /// fleet shares its fetches.
    pub fn new(
        url: String,
        fetcher: Fetcher,
        policy: CachePolicy,
        clock: Clock,
        tier: Option<Arc<SharedTier>>,
    ) -> Arc<KeyCache> {
        let source = Arc::new(JwksSource::new(url, fetcher, policy, tier, clock.clone()));
        Arc::new(KeyCache {
            refresher: Refresher::new(source, policy.refresh_policy(), clock),
            guard: KidGuard::default(),
            stale_reported: AtomicBool::new(false),
        })
    }

    fn source(&self) -> &JwksSource {
        self.refresher.source()
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        &self.source().url
    }

    /// The timing this cache was created with.
    pub fn policy(&self) -> &CachePolicy {
        &self.source().policy
    }

    /// The HTTP client (and so the https policy, size limit and timeout) this cache fetches with.
    pub fn fetcher(&self) -> &Fetcher {
        &self.source().fetcher
    }

    /// Fetch counters.
    pub fn counters(&self) -> &Counters {
        &self.source().counters
    }

    /// Keys a verification may use at `now`, starting a background refresh when one is due.
    pub fn usable(self: &Arc<Self>, now: u64) -> Usable {
        match self.refresher.peek(now) {
            View::Fresh(entry) => {
                // A load before the store keeps the hot path free of shared writes.
                if self.stale_reported.load(Ordering::Relaxed) {
                    self.stale_reported.store(false, Ordering::Relaxed);
                }
                Usable::Keys {
                    keys: Arc::clone(&entry.value),
                    stale: false,
                }
            }
            View::Stale(entry) => {
                if !self.stale_reported.swap(true, Ordering::Relaxed) {
                    let mut event = Event::new(EventKind::Stale, self.url());
                    event.kids = Some(entry.value.kids());
                    event.error = self.refresher.status().last_error;
                    self.source().events.emit(event);
                }
                Usable::Keys {
                    keys: Arc::clone(&entry.value),
                    stale: true,
                }
            }
            View::Failing(err) => Usable::Failing(err),
            View::Missing => Usable::Missing,
        }
    }

    /// The keys held and the instant (epoch ms) until which a verification may use them
    /// without asking this cache again: while they are fresh and their refresh is not yet due
    /// (past that point each use may start the refresh ahead, or its retries). `None` when
    /// that point has passed or no keys are held. Starts nothing.
    pub fn fresh_until(&self, now: u64) -> Option<(Arc<KeySet>, u64)> {
        let entry = self.refresher.entry()?;
        let until = entry.refresh_at.min(entry.expires_at);
        (now < until).then(|| (Arc::clone(&entry.value), until))
    }

    /// Load keys when none are usable: join the fetch in flight or start one (unless backing off).
    pub async fn load(self: &Arc<Self>) -> Result<Arc<KeySet>> {
        self.refresher.fresh_or_load().await
    }

    /// True when an unknown `kid` may cause a refetch now (or join one in flight).
    pub fn may_refetch(&self, kid: Option<&str>, now: u64) -> bool {
        self.refresher.in_flight() || (self.guard.allows(kid, now) && self.refresher.may_fetch(now))
    }

    /// Refetch because a token names a key the set lacks (`found` says whether a set has it).
    /// At most once per cooldown. A fetch already in flight is joined first; when that fetch
    /// (started for another reason, perhaps before the key was published) still lacks the key,
    /// one fetch of our own follows if the cooldown allows.
    pub async fn refetch(
        self: &Arc<Self>,
        kid: Option<&str>,
        found: impl Fn(&KeySet) -> bool,
    ) -> Refetch {
        let cooldown = self.policy().cooldown_ms;
        let mut joined_result = None;
        for _ in 0..2 {
            let Some((fetch, ours)) = self
                .refresher
                .join_or_start(|now| self.guard.take(kid, now, cooldown))
            else {
                break;
            };
            let result = fetch.await;
            let has_key = result.as_ref().is_ok_and(|keys| found(keys));
            if ours || has_key {
                return Refetch::Fetched(result);
            }
            joined_result = Some(result);
        }
        joined_result.map_or(Refetch::Refused, Refetch::Fetched)
    }

    /// Remember that `kid` was still missing after a refetch, for the cooldown.
    pub fn remember_missing(&self, kid: &str, now: u64) {
        self.guard
            .remember_missing(kid, now, self.policy().cooldown_ms);
    }

    /// Health at `now`.
    pub fn health(&self, now: u64) -> Health {
        let status = self.refresher.status();
        let max_stale = self.policy().max_stale_ms;
        let (state, kids) = match &status.entry {
            Some(e) if now < e.expires_at => (HealthState::Fresh, e.value.kids()),
            Some(e) if now < e.expires_at.saturating_add(max_stale) => {
                (HealthState::Stale, e.value.kids())
            }
            _ if status.last_error.is_some() => (HealthState::Failing, Vec::new()),
            _ => (HealthState::Empty, Vec::new()),
        };
        Health {
            state,
            kids,
            fetched_at: status.entry.as_ref().map(|e| e.fetched_at),
            expires_at: status.entry.as_ref().map(|e| e.expires_at),
            last_error: status.last_error,
            skipped: status
                .entry
                .as_ref()
                .map(|e| e.value.skipped.clone())
                .unwrap_or_default(),
        }
    }

    /// Receive this cache's events until [`KeyCache::unsubscribe`].
    pub fn subscribe(&self, sink: Arc<dyn EventSink>) -> u64 {
        self.source().events.subscribe(sink)
    }

    /// Stop receiving events.
    pub fn unsubscribe(&self, id: u64) {
        self.source().events.unsubscribe(id);
    }
}

/// What makes two users of a JWKS URL interchangeable: the URL, the HTTP client's identity
/// and policy, the clock (state made under a test clock is never shared) and the shared tier.
type CacheId = (String, ClientIdentity, usize, usize);

static REGISTRY: Registry<CacheId, KeyCache> = OnceLock::new();

/// The process-wide cache for (URL, `http.headers`, `http.ca`, clock). The second value is
/// true when the cache already existed with another policy (the first Verifier's policy wins).
pub fn shared(
    url: &str,
    http: &HttpOptions,
    policy: CachePolicy,
    clock: &Clock,
    tier: Option<&Arc<SharedTier>>,
) -> Result<(Arc<KeyCache>, bool)> {
    let tier_id = tier.map_or(0, |t| Arc::as_ptr(t) as usize);
    let id = (url.to_owned(), client_identity(http), clock.id(), tier_id);
    let (cache, existed) = intern(&REGISTRY, id, || {
        Ok(KeyCache::new(
            url.to_owned(),
            Fetcher::new(http.clone())?,
            policy,
            clock.clone(),
            tier.cloned(),
        ))
    })?;
    let conflict = existed && *cache.policy() != policy;
    Ok((cache, conflict))
}
