//! The per-URL key cache: freshness, stale-while-revalidate, single flight, unknown-kid
//! cooldown, missing-kid memory, conditional requests, backoff and Retry-After.
//!
//! The hot path reads an immutable [`Snapshot`] through `ArcSwap` (no lock). The mutex guards
//! only fetch coordination and is taken when keys are missing, unknown or due for refresh.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::clock;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventKind, EventSink};
use crate::fetch::{elapsed_ms, Fetched, Fetcher, HttpOptions, Validators};
use crate::jwk::Origin;
use crate::keyset::KeySet;
use crate::registry::{client_identity, intern, Registry};
use crate::runtime;

/// Most kids remembered as missing per URL.
const MAX_MISSING_KIDS: usize = 10_000;
/// Shortest wait after a failed fetch.
const MIN_BACKOFF_MS: u64 = 1_000;

/// Cache timing (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Longest time keys are used without a refetch (and the default freshness).
    pub max_age_ms: u64,
    /// Least time between refetches caused by an unknown `kid`; also the longest backoff.
    pub cooldown_ms: u64,
    /// How long the last good keys serve past their freshness while the endpoint fails.
    pub max_stale_ms: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_age_ms: 600_000,
            cooldown_ms: 30_000,
            max_stale_ms: 86_400_000,
        }
    }
}

impl CachePolicy {
    /// Freshness of a response: its own lifetime clamped to `[cooldown, maxAge]`, or `maxAge`.
    pub fn ttl_ms(&self, freshness: Option<Duration>) -> u64 {
        let max = self.max_age_ms;
        match freshness {
            None => max,
            Some(d) => (d.as_millis() as u64).clamp(self.cooldown_ms.min(max), max),
        }
    }

    /// Wait after the `failures`-th consecutive failure `err`: the backoff, or the provider's
    /// Retry-After when longer.
    pub fn wait_after_failure_ms(&self, failures: u32, err: &Error) -> u64 {
        let backoff = self.backoff_ms(failures);
        err.retry_after
            .map_or(backoff, |secs| backoff.max(secs.saturating_mul(1000)))
    }

    /// Wait after the `failures`-th consecutive failure: 1 s doubling, at most the cooldown.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        let doubled = MIN_BACKOFF_MS.saturating_mul(1u64 << failures.saturating_sub(1).min(30));
        doubled.min(self.cooldown_ms.max(MIN_BACKOFF_MS))
    }
}

/// The keys and their times, swapped whole on every successful fetch.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub keys: Option<Arc<KeySet>>,
    /// Epoch ms of the last successful fetch (or 304).
    pub fetched_at: u64,
    /// Epoch ms when the keys stop being fresh.
    pub expires_at: u64,
    /// Epoch ms after which the first verification starts a background refresh (90% of TTL).
    pub refresh_at: u64,
}

/// What a verification may use now.
#[derive(Debug, Clone)]
pub enum Usable {
    /// Keys to use; `stale` when past their freshness (served while a refresh runs or fails).
    Keys { keys: Arc<KeySet>, stale: bool },
    /// No usable keys and the cache is backing off: fail at once with this error.
    Failing(Error),
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
    pub last_error: Option<Error>,
}

/// Fetch counters of one cache.
#[derive(Debug, Default)]
pub struct Counters {
    pub fetches: AtomicU64,
    pub not_modified: AtomicU64,
    pub fetch_errors: AtomicU64,
}

type SharedFetch = Shared<BoxFuture<'static, Result<Arc<KeySet>>>>;

#[derive(Default)]
struct State {
    inflight: Option<SharedFetch>,
    generation: u64,
    validators: Validators,
    next_attempt_at: u64,
    failures: u32,
    cooldown_until: u64,
    missing: HashMap<String, u64>,
    last_error: Option<Error>,
}

/// The key cache of one JWKS URL, shared by every Verifier of the process that names it.
pub struct KeyCache {
    url: String,
    fetcher: Fetcher,
    policy: CachePolicy,
    snapshot: ArcSwap<Snapshot>,
    state: Mutex<State>,
    stale_reported: AtomicBool,
    sinks: Mutex<Vec<(u64, Arc<dyn EventSink>)>>,
    next_sink: AtomicU64,
    /// Fetch counters.
    pub counters: Counters,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("url", &self.url)
            .field("policy", &self.policy)
            .finish()
    }
}

impl KeyCache {
    /// A new, empty cache (use [`shared`] to get the process-wide one).
    pub fn new(url: String, fetcher: Fetcher, policy: CachePolicy) -> Arc<KeyCache> {
        Arc::new(KeyCache {
            url,
            fetcher,
            policy,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            state: Mutex::new(State::default()),
            stale_reported: AtomicBool::new(false),
            sinks: Mutex::new(Vec::new()),
            next_sink: AtomicU64::new(1),
            counters: Counters::default(),
        })
    }

    /// The JWKS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The timing this cache was created with.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// The current keys and times.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keys a verification may use at `now`, starting a background refresh when one is due.
    pub fn usable(self: &Arc<Self>, now: u64) -> Usable {
        let snap = self.snapshot.load();
        if let Some(keys) = &snap.keys {
            if now < snap.expires_at.saturating_add(self.policy.max_stale_ms) {
                if now >= snap.refresh_at {
                    self.refresh_in_background(now);
                }
                let stale = now >= snap.expires_at;
                if stale && !self.stale_reported.swap(true, Ordering::Relaxed) {
                    let mut event = Event::new(EventKind::Stale, &self.url);
                    event.kids = Some(keys.kids());
                    event.error = self.lock().last_error.clone();
                    self.emit(event);
                }
                return Usable::Keys {
                    keys: Arc::clone(keys),
                    stale,
                };
            }
        }
        let st = self.lock();
        if st.inflight.is_none() && now < st.next_attempt_at {
            if let Some(err) = &st.last_error {
                return Usable::Failing(with_retry_after(err, st.next_attempt_at - now));
            }
        }
        Usable::Missing
    }

    /// Load keys when none are usable: join the fetch in flight or start one (unless backing off).
    pub async fn load(self: &Arc<Self>) -> Result<Arc<KeySet>> {
        let fetch = {
            let mut st = self.lock();
            match &st.inflight {
                Some(f) => f.clone(),
                None => {
                    let now = clock::now_ms();
                    if now < st.next_attempt_at {
                        if let Some(err) = &st.last_error {
                            return Err(with_retry_after(err, st.next_attempt_at - now));
                        }
                    }
                    self.start_fetch(&mut st)
                }
            }
        };
        fetch.await
    }

    /// True when an unknown `kid` may cause a refetch now (or join one in flight).
    pub fn may_refetch(&self, kid: Option<&str>, now: u64) -> bool {
        let st = self.lock();
        st.inflight.is_some()
            || (!is_missing(&st, kid, now) && now >= st.cooldown_until && now >= st.next_attempt_at)
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
        let mut joined_result = None;
        for _ in 0..2 {
            let (fetch, ours) = {
                let mut st = self.lock();
                let now = clock::now_ms();
                match &st.inflight {
                    Some(f) => (f.clone(), false),
                    None => {
                        if is_missing(&st, kid, now)
                            || now < st.cooldown_until
                            || now < st.next_attempt_at
                        {
                            return joined_result.map_or(Refetch::Refused, Refetch::Fetched);
                        }
                        st.cooldown_until = now.saturating_add(self.policy.cooldown_ms);
                        (self.start_fetch(&mut st), true)
                    }
                }
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
        let mut st = self.lock();
        if st.missing.len() >= MAX_MISSING_KIDS {
            st.missing.retain(|_, until| *until > now);
            if st.missing.len() >= MAX_MISSING_KIDS {
                st.missing.clear();
            }
        }
        let until = now.saturating_add(self.policy.cooldown_ms);
        st.missing.insert(kid.to_owned(), until);
    }

    /// Start a background refresh if none runs and the backoff allows one.
    pub fn refresh_in_background(self: &Arc<Self>, now: u64) {
        if let Ok(mut st) = self.state.try_lock() {
            if st.inflight.is_none() && now >= st.next_attempt_at {
                drop(self.start_fetch(&mut st));
            }
        }
    }

    fn start_fetch(self: &Arc<Self>, st: &mut State) -> SharedFetch {
        st.generation += 1;
        let generation = st.generation;
        let validators = if self.snapshot.load().keys.is_some() {
            st.validators.clone()
        } else {
            Validators::default()
        };
        let this = Arc::clone(self);
        let handle =
            runtime::spawn(async move { this.fetch_and_apply(validators, generation).await });
        let fetch = async move {
            match handle.await {
                Ok(result) => result,
                Err(_) => Err(Error::new(
                    ErrorCode::FetchFailed,
                    "the JWKS fetch task failed",
                )),
            }
        }
        .boxed()
        .shared();
        st.inflight = Some(fetch.clone());
        fetch
    }

    async fn fetch_and_apply(
        self: Arc<Self>,
        validators: Validators,
        generation: u64,
    ) -> Result<Arc<KeySet>> {
        let _clear = ClearInflight {
            cache: &self,
            generation,
        };
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let result = self.fetcher.get(&self.url, &validators, "JWKS").await;
        let duration = elapsed_ms(start);
        let now = clock::now_ms();
        let previous = self.snapshot.load().keys.clone();
        match result {
            Ok(Fetched::Body {
                status,
                body,
                validators,
                freshness,
            }) => match KeySet::parse(&body, Origin::Remote, previous.as_deref()) {
                Ok(set) => self.apply_keys(
                    Arc::new(set),
                    previous,
                    validators,
                    freshness,
                    now,
                    (status, duration),
                ),
                Err(err) => self.apply_failure(err, now, duration),
            },
            Ok(Fetched::NotModified {
                validators: fresh,
                freshness,
            }) => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                match previous.clone() {
                    Some(keys) => {
                        let validators = if fresh.any() { fresh } else { validators };
                        self.apply_keys(keys, previous, validators, freshness, now, (304, duration))
                    }
                    None => self.apply_failure(
                        Error::new(
                            ErrorCode::FetchFailed,
                            format!(
                                "JWKS endpoint {} answered 304 to an unconditional request",
                                self.url
                            ),
                        )
                        .with_status(304),
                        now,
                        duration,
                    ),
                }
            }
            Err(err) => self.apply_failure(err, now, duration),
        }
    }

    fn apply_keys(
        &self,
        keys: Arc<KeySet>,
        previous: Option<Arc<KeySet>>,
        validators: Validators,
        freshness: Option<Duration>,
        now: u64,
        (status, duration): (u16, f64),
    ) -> Result<Arc<KeySet>> {
        let ttl = self.policy.ttl_ms(freshness);
        {
            let mut st = self.lock();
            self.snapshot.store(Arc::new(Snapshot {
                keys: Some(Arc::clone(&keys)),
                fetched_at: now,
                expires_at: now.saturating_add(ttl),
                refresh_at: now.saturating_add(ttl / 10 * 9),
            }));
            st.validators = validators;
            st.failures = 0;
            st.next_attempt_at = 0;
            st.last_error = None;
            self.stale_reported.store(false, Ordering::Relaxed);
        }
        let mut event = Event::new(EventKind::Fetch, &self.url);
        event.status = Some(status);
        event.duration_ms = Some(duration);
        event.kids = Some(keys.kids());
        self.emit(event);
        if let Some(previous) = previous.filter(|p| !Arc::ptr_eq(p, &keys)) {
            let old: HashSet<u64> = previous.keys().iter().map(|k| k.fingerprint).collect();
            let new: HashSet<u64> = keys.keys().iter().map(|k| k.fingerprint).collect();
            if old != new {
                let label = |k: &crate::key::Key| {
                    k.kid
                        .clone()
                        .unwrap_or_else(|| format!("(no kid) {}", k.material.describe()))
                };
                let mut event = Event::new(EventKind::Rotate, &self.url);
                event.kids = Some(keys.kids());
                event.added = Some(
                    keys.keys()
                        .iter()
                        .filter(|k| !old.contains(&k.fingerprint))
                        .map(|k| label(k))
                        .collect(),
                );
                event.removed = Some(
                    previous
                        .keys()
                        .iter()
                        .filter(|k| !new.contains(&k.fingerprint))
                        .map(|k| label(k))
                        .collect(),
                );
                self.emit(event);
            }
        }
        Ok(keys)
    }

    fn apply_failure(&self, err: Error, now: u64, duration: f64) -> Result<Arc<KeySet>> {
        self.counters.fetch_errors.fetch_add(1, Ordering::Relaxed);
        {
            let mut st = self.lock();
            st.failures = st.failures.saturating_add(1);
            st.next_attempt_at =
                now.saturating_add(self.policy.wait_after_failure_ms(st.failures, &err));
            st.last_error = Some(err.clone());
        }
        let mut event = Event::new(EventKind::Error, &self.url);
        event.status = err.status;
        event.duration_ms = Some(duration);
        event.error = Some(err.clone());
        self.emit(event);
        Err(err)
    }

    /// Health at `now`.
    pub fn health(&self, now: u64) -> Health {
        let snap = self.snapshot.load();
        let last_error = self.lock().last_error.clone();
        let (state, kids) = match &snap.keys {
            Some(keys) if now < snap.expires_at => (HealthState::Fresh, keys.kids()),
            Some(keys) if now < snap.expires_at.saturating_add(self.policy.max_stale_ms) => {
                (HealthState::Stale, keys.kids())
            }
            _ if last_error.is_some() => (HealthState::Failing, Vec::new()),
            _ => (HealthState::Empty, Vec::new()),
        };
        let known = snap.keys.is_some();
        Health {
            state,
            kids,
            fetched_at: known.then_some(snap.fetched_at),
            expires_at: known.then_some(snap.expires_at),
            last_error,
        }
    }

    /// Receive this cache's events until [`KeyCache::unsubscribe`].
    pub fn subscribe(&self, sink: Arc<dyn EventSink>) -> u64 {
        let id = self.next_sink.fetch_add(1, Ordering::Relaxed);
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, sink));
        id
    }

    /// Stop receiving events.
    pub fn unsubscribe(&self, id: u64) {
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(i, _)| *i != id);
    }

    fn emit(&self, event: Event) {
        let sinks: Vec<Arc<dyn EventSink>> = self
            .sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, s)| Arc::clone(s))
            .collect();
        for sink in sinks {
            sink.emit(event.clone());
        }
    }
}

fn is_missing(st: &State, kid: Option<&str>, now: u64) -> bool {
    kid.and_then(|k| st.missing.get(k))
        .is_some_and(|until| *until > now)
}

/// The last error, with `retryAfter` set to the seconds left until the next attempt.
pub(crate) fn with_retry_after(err: &Error, wait_ms: u64) -> Error {
    let mut err = err.clone();
    err.retry_after = Some(wait_ms.div_ceil(1000));
    err
}

/// Clears the in-flight marker when a fetch task ends, also by panic.
struct ClearInflight<'a> {
    cache: &'a KeyCache,
    generation: u64,
}

impl Drop for ClearInflight<'_> {
    fn drop(&mut self) {
        let mut st = self.cache.lock();
        if st.generation == self.generation {
            st.inflight = None;
        }
    }
}

type CacheId = (String, Vec<(String, String)>, Option<String>);

static REGISTRY: Registry<CacheId, KeyCache> = OnceLock::new();

/// The process-wide cache for (URL, `http.headers`, `http.ca`). The second value is true when
/// the cache already existed with another policy (the first Verifier's policy wins).
pub fn shared(url: &str, http: &HttpOptions, policy: CachePolicy) -> Result<(Arc<KeyCache>, bool)> {
    let (headers, ca) = client_identity(http);
    let (cache, existed) = intern(&REGISTRY, (url.to_owned(), headers, ca), || {
        Ok(KeyCache::new(
            url.to_owned(),
            Fetcher::new(http.clone())?,
            policy,
        ))
    })?;
    let conflict = existed && cache.policy != policy;
    Ok((cache, conflict))
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
    fn retry_after_lengthens_the_wait_never_shortens_it() {
        let p = CachePolicy::default();
        let mut err = Error::new(ErrorCode::RateLimited, "429");
        assert_eq!(
            p.wait_after_failure_ms(1, &err),
            1_000,
            "no Retry-After: the backoff"
        );
        err.retry_after = Some(7);
        assert_eq!(p.wait_after_failure_ms(1, &err), 7_000);
        err.retry_after = Some(0);
        assert_eq!(p.wait_after_failure_ms(3, &err), 4_000);
        err.retry_after = Some(u64::MAX);
        assert_eq!(p.wait_after_failure_ms(1, &err), u64::MAX, "saturates");
    }

    #[test]
    fn backoff_doubles_up_to_cooldown() {
        let p = CachePolicy::default();
        let waits: Vec<u64> = (1..=7).map(|n| p.backoff_ms(n)).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(p.backoff_ms(1000), 30_000);
    }
}
