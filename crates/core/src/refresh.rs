//! [`Refresher`]: one cached remote value — a JWKS, a discovery document, a revalidation
//! answer, a client-credentials token — kept fresh by one state machine: single flight,
//! refresh ahead in the background, serve-stale, backoff after failures, `Retry-After`, and a
//! guard so that a fetch that panics leaves a failure behind rather than a stuck cache.
//!
//! What is fetched and how long it lives is the [`Source`]'s business; when to fetch, who
//! waits and what is served meanwhile is decided here, once. The hot path ([`Refresher::peek`]
//! on a fresh value) takes no lock: the value is an immutable [`Entry`] swapped whole.
//!
//! [`changes`] counts, process-wide, every change of a value whose source says
//! [`Source::COUNTED`] (key sets, discovery documents): a copy of something computed from such
//! values, kept outside the engine, stays current only while that number has not moved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwapOption;
use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::runtime;

/// Shortest wait after a failure.
pub const MIN_BACKOFF_MS: u64 = 1_000;

/// See [`changes`].
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// How many times a [`Refresher`] of a [`Source::COUNTED`] source has stored a value, recorded a
/// failure or forgotten its value, in this process. Read it before reading the values it covers:
/// it moves after a change is visible, so an unchanged number means no change was missed.
pub fn changes() -> u64 {
    CHANGES.load(Ordering::SeqCst)
}

/// A change of a `S` value (see [`changes`]).
fn changed<S: Source>() {
    if S::COUNTED {
        CHANGES.fetch_add(1, Ordering::SeqCst);
    }
}

/// How long a freshly fetched value lives, relative to the moment it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Milliseconds the value is fresh.
    pub fresh_ms: u64,
    /// Milliseconds after which the first use starts one background refresh.
    pub refresh_after_ms: u64,
}

impl Lifetime {
    /// Fresh for `fresh_ms`, refreshed ahead once `percent` of it has passed.
    pub fn refresh_at_percent(fresh_ms: u64, percent: u64) -> Lifetime {
        Lifetime {
            fresh_ms,
            refresh_after_ms: fresh_ms / 100 * percent + fresh_ms % 100 * percent / 100,
        }
    }
}

/// What a fetch gave.
#[derive(Debug)]
pub enum Fresh<T> {
    /// A new value.
    New(Arc<T>, Lifetime),
    /// The value held is still current (an HTTP 304): only its lifetime is renewed.
    Same(Lifetime),
}

/// What one cached remote thing is: how to fetch it.
pub trait Source: Send + Sync + 'static {
    /// The value kept.
    type Value: Send + Sync + 'static;

    /// Fetch the value. `previous` is the value held now, if any (for conditional requests and
    /// for reusing parsed parts). Called synchronously when a fetch starts (under the
    /// refresher's lock); the future it returns runs on the I/O runtime. Events and counters of
    /// the fetch are the source's own.
    fn fetch(
        self: Arc<Self>,
        previous: Option<Arc<Self::Value>>,
    ) -> BoxFuture<'static, Result<Fresh<Self::Value>>>;

    /// The error left behind when a fetch task ends without an answer (a panic).
    fn task_failed(&self) -> Error;

    /// True when results are computed from these values (key sets, discovery documents): every
    /// change of the state of such a refresher moves [`changes`]. Defaults to false.
    const COUNTED: bool = false;
}

/// Serving and backoff rules of a [`Refresher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// How long past its freshness a value still serves (while a refresh runs or fails).
    pub max_stale_ms: u64,
    /// Longest wait between attempts after failures (the wait starts at 1 s and doubles).
    pub max_backoff_ms: u64,
}

impl RefreshPolicy {
    /// Wait after the `failures`-th consecutive failure: 1 s doubling, at most `max_backoff_ms`
    /// (never below 1 s).
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        let doubled = MIN_BACKOFF_MS.saturating_mul(1u64 << failures.saturating_sub(1).min(30));
        doubled.min(self.max_backoff_ms.max(MIN_BACKOFF_MS))
    }

    /// Wait after the `failures`-th consecutive failure `err`: the backoff, or the provider's
    /// `Retry-After` when that is longer.
    pub fn wait_after_failure_ms(&self, failures: u32, err: &Error) -> u64 {
        let backoff = self.backoff_ms(failures);
        err.retry_after
            .map_or(backoff, |secs| backoff.max(secs.saturating_mul(1000)))
    }
}

/// A value and its times (epoch milliseconds), swapped whole on every successful fetch.
#[derive(Debug)]
pub struct Entry<T> {
    pub value: Arc<T>,
    /// When the last successful fetch (or 304) arrived.
    pub fetched_at: u64,
    /// When the value stops being fresh.
    pub expires_at: u64,
    /// After this, the first use starts one background refresh.
    pub refresh_at: u64,
}

/// What a caller may use now.
#[derive(Debug)]
pub enum View<T> {
    /// A fresh value.
    Fresh(Arc<Entry<T>>),
    /// Past its freshness but within `max_stale_ms`: whether to serve it is the caller's rule
    /// (the key cache serves it while refreshing; revalidation only when the endpoint fails).
    Stale(Arc<Entry<T>>),
    /// Nothing usable and backing off after a failure: fail at once with this error
    /// (`retry_after` = seconds left).
    Failing(Error),
    /// Nothing usable: call [`Refresher::load`].
    Missing,
}

/// A fetch in flight, which any number of callers may await.
pub type SharedFetch<T> = Shared<BoxFuture<'static, Result<Arc<T>>>>;

struct State<T> {
    inflight: Option<SharedFetch<T>>,
    generation: u64,
    failures: u32,
    next_attempt_at: u64,
    last_error: Option<Error>,
}

/// A report of the state, for `health()`.
#[derive(Debug)]
pub struct Status<T> {
    pub entry: Option<Arc<Entry<T>>>,
    pub last_error: Option<Error>,
    pub failures: u32,
}

/// One cached remote value. See the module documentation.
pub struct Refresher<S: Source> {
    source: Arc<S>,
    policy: RefreshPolicy,
    clock: Clock,
    current: ArcSwapOption<Entry<S::Value>>,
    state: Mutex<State<S::Value>>,
}

impl<S: Source> std::fmt::Debug for Refresher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S: Source> Refresher<S> {
    /// An empty refresher.
    pub fn new(source: Arc<S>, policy: RefreshPolicy, clock: Clock) -> Arc<Self> {
        Arc::new(Refresher {
            source,
            policy,
            clock,
            current: ArcSwapOption::empty(),
            state: Mutex::new(State {
                inflight: None,
                generation: 0,
                failures: 0,
                next_attempt_at: 0,
                last_error: None,
            }),
        })
    }

    /// The source.
    pub fn source(&self) -> &Arc<S> {
        &self.source
    }

    /// The serving and backoff rules.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// The clock all times here are read from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, State<S::Value>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value held, whatever its age.
    pub fn entry(&self) -> Option<Arc<Entry<S::Value>>> {
        self.current.load_full()
    }

    /// What may be used at `now`. Starts one background refresh when the value is due (and the
    /// backoff allows). Takes no lock while a value is held.
    pub fn peek(self: &Arc<Self>, now: u64) -> View<S::Value> {
        if let Some(entry) = self.current.load_full() {
            if now < entry.expires_at.saturating_add(self.policy.max_stale_ms) {
                if now >= entry.refresh_at {
                    self.refresh_in_background(now);
                }
                return if now < entry.expires_at {
                    View::Fresh(entry)
                } else {
                    View::Stale(entry)
                };
            }
        }
        let st = self.lock();
        if st.inflight.is_none() && now < st.next_attempt_at {
            if let Some(err) = &st.last_error {
                return View::Failing(with_retry_after(err, st.next_attempt_at - now));
            }
        }
        View::Missing
    }

    /// Fetch now, joining a fetch in flight; while backing off after a failure, fail at once
    /// with the last error (no I/O).
    pub async fn load(self: &Arc<Self>) -> Result<Arc<S::Value>> {
        self.load_unless_fresh(false).await
    }

    /// The fresh value held, else [`Refresher::load`]. The check and the start happen under one
    /// lock, so a caller that saw nothing just before a fetch ended never starts a second one
    /// (1000 callers racing a cold cache make one fetch).
    pub async fn fresh_or_load(self: &Arc<Self>) -> Result<Arc<S::Value>> {
        self.load_unless_fresh(true).await
    }

    async fn load_unless_fresh(self: &Arc<Self>, accept_fresh: bool) -> Result<Arc<S::Value>> {
        let fetch = {
            let mut st = self.lock();
            match &st.inflight {
                Some(f) => f.clone(),
                None => {
                    let now = self.clock.now_ms();
                    // `apply` stores a value under this lock, so it cannot arrive unseen here.
                    if let Some(entry) = self.current.load_full().filter(|_| accept_fresh) {
                        if now < entry.expires_at {
                            return Ok(Arc::clone(&entry.value));
                        }
                    }
                    if now < st.next_attempt_at {
                        if let Some(err) = &st.last_error {
                            return Err(with_retry_after(err, st.next_attempt_at - now));
                        }
                    }
                    self.start(&mut st)
                }
            }
        };
        fetch.await
    }

    /// The fetch in flight to join, or a new one when `may_start` agrees (called under this
    /// refresher's lock; it must not call back into the refresher). `None`: no fetch in
    /// flight, and backing off or refused. The flag is true when this call started the fetch.
    pub fn join_or_start(
        self: &Arc<Self>,
        may_start: impl FnOnce(u64) -> bool,
    ) -> Option<(SharedFetch<S::Value>, bool)> {
        let mut st = self.lock();
        if let Some(f) = &st.inflight {
            return Some((f.clone(), false));
        }
        let now = self.clock.now_ms();
        if now < st.next_attempt_at || !may_start(now) {
            return None;
        }
        Some((self.start(&mut st), true))
    }

    /// True when a fetch is in flight or may start now (not backing off).
    pub fn may_fetch(&self, now: u64) -> bool {
        let st = self.lock();
        st.inflight.is_some() || now >= st.next_attempt_at
    }

    /// True when a fetch is in flight.
    pub fn in_flight(&self) -> bool {
        self.lock().inflight.is_some()
    }

    /// Start a background refresh if none runs and the backoff allows one (never blocks).
    pub fn refresh_in_background(self: &Arc<Self>, now: u64) {
        if let Ok(mut st) = self.state.try_lock() {
            if st.inflight.is_none() && now >= st.next_attempt_at {
                drop(self.start(&mut st));
            }
        }
    }

    /// Forget the value held (e.g. a token the API refused); the next use fetches again.
    pub fn invalidate(&self) {
        self.store(None);
    }

    /// Replace the value held: the one place it changes.
    fn store(&self, entry: Option<Arc<Entry<S::Value>>>) {
        self.current.store(entry);
        changed::<S>();
    }

    /// State for health reports.
    pub fn status(&self) -> Status<S::Value> {
        let st = self.lock();
        Status {
            entry: self.current.load_full(),
            last_error: st.last_error.clone(),
            failures: st.failures,
        }
    }

    fn start(self: &Arc<Self>, st: &mut State<S::Value>) -> SharedFetch<S::Value> {
        st.generation = st.generation.wrapping_add(1);
        let generation = st.generation;
        let previous = self.current.load_full().map(|e| Arc::clone(&e.value));
        // The fetch future is made here, under the lock, so it captures what the source holds
        // for this attempt (e.g. the token a revalidation is about) before anyone else runs.
        let fetching = Arc::clone(&self.source).fetch(previous);
        let this = Arc::clone(self);
        let handle = runtime::spawn(async move {
            let mut guard = TaskGuard {
                refresher: Arc::clone(&this),
                generation,
                finished: false,
            };
            let result = fetching.await;
            guard.finished = true;
            this.apply(result, generation)
        });
        let source = Arc::clone(&self.source);
        let fetch = async move {
            match handle.await {
                Ok(result) => result,
                Err(_) => Err(source.task_failed()),
            }
        }
        .boxed()
        .shared();
        st.inflight = Some(fetch.clone());
        fetch
    }

    fn apply(&self, result: Result<Fresh<S::Value>>, generation: u64) -> Result<Arc<S::Value>> {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        if st.generation == generation {
            st.inflight = None;
        }
        let fresh = match result {
            Ok(Fresh::New(value, lifetime)) => Ok((value, lifetime)),
            Ok(Fresh::Same(lifetime)) => match self.current.load_full() {
                Some(entry) => Ok((Arc::clone(&entry.value), lifetime)),
                None => Err(self.source.task_failed()),
            },
            Err(err) => Err(err),
        };
        match fresh {
            Ok((value, lifetime)) => {
                self.store(Some(Arc::new(Entry {
                    value: Arc::clone(&value),
                    fetched_at: now,
                    expires_at: now.saturating_add(lifetime.fresh_ms),
                    refresh_at: now.saturating_add(lifetime.refresh_after_ms),
                })));
                st.failures = 0;
                st.next_attempt_at = 0;
                st.last_error = None;
                Ok(value)
            }
            Err(err) => {
                record_failure::<S>(&mut st, &self.policy, now, err.clone());
                Err(err)
            }
        }
    }
}

/// Record a failed fetch: the one place the failure state changes.
fn record_failure<S: Source>(
    st: &mut State<S::Value>,
    policy: &RefreshPolicy,
    now: u64,
    err: Error,
) {
    st.failures = st.failures.saturating_add(1);
    st.next_attempt_at = now.saturating_add(policy.wait_after_failure_ms(st.failures, &err));
    st.last_error = Some(err);
    changed::<S>();
}

/// The last error, with `retryAfter` set to the seconds left until the next attempt.
pub fn with_retry_after(err: &Error, wait_ms: u64) -> Error {
    let mut err = err.clone();
    err.retry_after = Some(wait_ms.div_ceil(1000));
    err
}

/// Ends a fetch task's turn: when the task unwinds (a panic) before it applied its result, the
/// in-flight marker is cleared and a failure recorded, so the next use retries after the
/// backoff instead of waiting on a fetch that will never finish.
struct TaskGuard<S: Source> {
    refresher: Arc<Refresher<S>>,
    generation: u64,
    finished: bool,
}

impl<S: Source> Drop for TaskGuard<S> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let r = &self.refresher;
        let now = r.clock.now_ms();
        let mut st = r.lock();
        if st.generation == self.generation {
            st.inflight = None;
        }
        record_failure::<S>(&mut st, &r.policy, now, r.source.task_failed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// A source whose answers the test scripts: `Ok(n)` values, errors, panics, delays.
    struct Scripted {
        calls: AtomicU32,
        script: Mutex<Vec<Step>>,
    }

    #[derive(Clone)]
    enum Step {
        Value(u32, Lifetime),
        Same(Lifetime),
        Fail(Option<u64>),
        Panic,
        Slow(u32, Lifetime, u64),
    }

    impl Scripted {
        fn new(script: Vec<Step>) -> Arc<Scripted> {
            Arc::new(Scripted {
                calls: AtomicU32::new(0),
                script: Mutex::new(script),
            })
        }
        fn calls(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl Source for Scripted {
        type Value = u32;
        fn fetch(self: Arc<Self>, _: Option<Arc<u32>>) -> BoxFuture<'static, Result<Fresh<u32>>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let step = {
                let mut s = self.script.lock().unwrap();
                if s.len() > 1 {
                    s.remove(0)
                } else {
                    s[0].clone()
                }
            };
            async move {
                match step {
                    Step::Value(v, l) => Ok(Fresh::New(Arc::new(v), l)),
                    Step::Same(l) => Ok(Fresh::Same(l)),
                    Step::Fail(retry_after) => {
                        let mut e = Error::new(ErrorCode::FetchFailed, "down");
                        e.retry_after = retry_after;
                        Err(e)
                    }
                    Step::Panic => panic!("scripted panic"),
                    Step::Slow(v, l, ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        Ok(Fresh::New(Arc::new(v), l))
                    }
                }
            }
            .boxed()
        }
        fn task_failed(&self) -> Error {
            Error::new(ErrorCode::FetchFailed, "the task failed")
        }
    }

    const POLICY: RefreshPolicy = RefreshPolicy {
        max_stale_ms: 10_000,
        max_backoff_ms: 30_000,
    };
    const MINUTE: Lifetime = Lifetime {
        fresh_ms: 60_000,
        refresh_after_ms: 54_000,
    };

    /// Run `f` on the I/O runtime and wait for it.
    fn block<T>(f: impl std::future::Future<Output = T> + Send + 'static) -> T
    where
        T: Send + 'static,
    {
        wait(runtime::spawn(f))
    }

    fn wait<T>(handle: tokio::task::JoinHandle<T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(handle)
            .expect("task")
    }

    fn value(view: View<u32>) -> Option<(u32, bool)> {
        match view {
            View::Fresh(e) => Some((*e.value, false)),
            View::Stale(e) => Some((*e.value, true)),
            _ => None,
        }
    }

    #[test]
    fn single_flight_then_fresh_stale_and_gone() {
        let source = Scripted::new(vec![Step::Slow(1, MINUTE, 50)]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        assert!(matches!(r.peek(clock.now_ms()), View::Missing));
        let loads: Vec<_> = (0..100)
            .map(|_| {
                let r = Arc::clone(&r);
                runtime::spawn(async move { r.load().await })
            })
            .collect();
        for l in loads {
            assert_eq!(*wait(l).unwrap(), 1);
        }
        assert_eq!(source.calls(), 1, "100 concurrent loads make one fetch");
        assert_eq!(value(r.peek(clock.now_ms())), Some((1, false)));
        clock.advance(60_000);
        assert_eq!(value(r.peek(clock.now_ms())), Some((1, true)), "stale");
        clock.advance(10_000);
        let now = clock.now_ms();
        assert!(matches!(r.peek(now), View::Missing), "past max_stale");
    }

    #[test]
    fn refresh_ahead_starts_once_and_serves_meanwhile() {
        let source = Scripted::new(vec![Step::Value(1, MINUTE), Step::Slow(2, MINUTE, 100)]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        let rr = Arc::clone(&r);
        block(async move { rr.load().await }).unwrap();
        clock.advance(55_000);
        for _ in 0..10 {
            assert_eq!(value(r.peek(clock.now_ms())), Some((1, false)));
        }
        assert!(r.in_flight());
        let rr = Arc::clone(&r);
        assert_eq!(*block(async move { rr.load().await }).unwrap(), 2);
        assert_eq!(source.calls(), 2, "ten uses past 90% start one refresh");
    }

    #[test]
    fn failures_back_off_and_keep_the_value() {
        let source = Scripted::new(vec![
            Step::Value(1, MINUTE),
            Step::Fail(None),
            Step::Fail(Some(7)),
            Step::Same(MINUTE),
        ]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        let load = |r: &Arc<Refresher<Scripted>>| {
            let r = Arc::clone(r);
            block(async move { r.load().await })
        };
        load(&r).unwrap();
        assert!(load(&r).is_err());
        let err = load(&r).unwrap_err();
        assert_eq!(
            err.retry_after,
            Some(1),
            "backing off: no I/O, seconds left"
        );
        assert_eq!(source.calls(), 2);
        assert_eq!(value(r.peek(clock.now_ms())), Some((1, false)), "kept");
        clock.advance(1_000);
        assert!(load(&r).is_err(), "second failure, with Retry-After 7");
        clock.advance(6_999);
        assert!(
            !r.may_fetch(clock.now_ms()),
            "Retry-After outlasts the 2 s backoff"
        );
        clock.advance(1);
        assert_eq!(*load(&r).unwrap(), 1, "a 304 renews the value held");
        assert_eq!(r.status().failures, 0);
        assert_eq!(source.calls(), 4);
    }

    #[test]
    fn failing_without_a_value_fails_fast() {
        let source = Scripted::new(vec![Step::Fail(Some(30))]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        let rr = Arc::clone(&r);
        assert!(block(async move { rr.load().await }).is_err());
        match r.peek(clock.now_ms()) {
            View::Failing(e) => assert_eq!(e.retry_after, Some(30)),
            other => panic!("{other:?}"),
        }
        clock.advance(30_000);
        assert!(matches!(r.peek(clock.now_ms()), View::Missing));
        assert_eq!(source.calls(), 1);
    }

    #[test]
    fn a_panicking_fetch_is_a_failure_not_a_stuck_cache() {
        let source = Scripted::new(vec![Step::Panic, Step::Value(3, MINUTE)]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        let rr = Arc::clone(&r);
        let err = block(async move { rr.load().await }).unwrap_err();
        assert_eq!(err.message, "the task failed");
        assert!(!r.in_flight(), "the guard cleared the fetch in flight");
        assert!(matches!(r.peek(clock.now_ms()), View::Failing(_)));
        clock.advance(1_000);
        let rr = Arc::clone(&r);
        assert_eq!(*block(async move { rr.load().await }).unwrap(), 3);
    }

    #[test]
    fn fresh_or_load_fetches_only_without_a_fresh_value() {
        let source = Scripted::new(vec![Step::Value(1, MINUTE), Step::Value(2, MINUTE)]);
        let clock = Clock::manual();
        let r = Refresher::new(Arc::clone(&source), POLICY, clock.clone());
        let get = |r: &Arc<Refresher<Scripted>>| {
            let r = Arc::clone(r);
            block(async move { r.fresh_or_load().await })
        };
        assert_eq!(*get(&r).unwrap(), 1, "cold: fetched");
        assert_eq!(*get(&r).unwrap(), 1, "fresh: no fetch");
        assert_eq!(source.calls(), 1);
        clock.advance(60_000);
        assert_eq!(*get(&r).unwrap(), 2, "expired: fetched");
        r.invalidate();
        assert_eq!(*get(&r).unwrap(), 2, "invalidated: fetched");
        assert_eq!(source.calls(), 3);
        let rr = Arc::clone(&r);
        assert_eq!(*block(async move { rr.load().await }).unwrap(), 2);
        assert_eq!(source.calls(), 4, "load always fetches");
    }

    #[test]
    fn join_or_start_asks_the_gate_only_when_it_would_start() {
        let source = Scripted::new(vec![Step::Slow(1, MINUTE, 50)]);
        let r = Refresher::new(Arc::clone(&source), POLICY, Clock::manual());
        assert!(r.join_or_start(|_| false).is_none());
        let (first, started) = r.join_or_start(|_| true).unwrap();
        assert!(started);
        let (_, started) = r.join_or_start(|_| panic!("not asked")).unwrap();
        assert!(!started, "joined");
        assert_eq!(*block(first).unwrap(), 1);
        r.invalidate();
        assert!(r.entry().is_none());
    }

    /// `Scripted`, counted as key sets are ([`Source::COUNTED`]).
    struct Counted(Arc<Scripted>);

    impl Source for Counted {
        type Value = u32;
        const COUNTED: bool = true;
        fn fetch(self: Arc<Self>, p: Option<Arc<u32>>) -> BoxFuture<'static, Result<Fresh<u32>>> {
            Arc::clone(&self.0).fetch(p)
        }
        fn task_failed(&self) -> Error {
            self.0.task_failed()
        }
    }

    #[test]
    fn changes_move_with_every_store_failure_and_invalidation_of_a_counted_source() {
        let source = Arc::new(Counted(Scripted::new(vec![
            Step::Value(1, MINUTE),
            Step::Fail(None),
            Step::Same(MINUTE),
            Step::Panic,
        ])));
        let clock = Clock::manual();
        let r = Refresher::new(source, POLICY, clock.clone());
        let load = |r: &Arc<Refresher<Counted>>| {
            let r = Arc::clone(r);
            block(async move { r.load().await })
        };
        // Other tests run beside this one: the number only ever grows, so each step checks growth.
        let mut seen = changes();
        let mut moved = |label: &str| {
            let now = changes();
            assert!(now > seen, "{label}: changes() moved ({seen} -> {now})");
            seen = now;
        };
        load(&r).unwrap();
        moved("a new value");
        assert!(load(&r).is_err());
        moved("a failure");
        clock.advance(1_000);
        load(&r).unwrap();
        moved("a 304 renewing the value");
        clock.advance(1_000);
        assert!(load(&r).is_err());
        moved("a fetch that panicked");
        r.invalidate();
        moved("invalidate");
    }

    #[test]
    fn backoff_doubles_up_to_the_max_and_retry_after_lengthens_it() {
        let p = RefreshPolicy {
            max_stale_ms: 0,
            max_backoff_ms: 30_000,
        };
        let waits: Vec<u64> = (1..=7).map(|n| p.backoff_ms(n)).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(p.backoff_ms(1000), 30_000);
        let tiny = RefreshPolicy {
            max_stale_ms: 0,
            max_backoff_ms: 10,
        };
        assert_eq!(
            tiny.backoff_ms(5),
            1_000,
            "never more often than once a second"
        );
        let mut err = Error::new(ErrorCode::RateLimited, "429");
        assert_eq!(p.wait_after_failure_ms(1, &err), 1_000);
        err.retry_after = Some(7);
        assert_eq!(p.wait_after_failure_ms(1, &err), 7_000);
        err.retry_after = Some(0);
        assert_eq!(p.wait_after_failure_ms(3, &err), 4_000);
        err.retry_after = Some(u64::MAX);
        assert_eq!(p.wait_after_failure_ms(1, &err), u64::MAX, "saturates");
    }

    #[test]
    fn lifetimes_refresh_at_a_percentage() {
        assert_eq!(
            Lifetime::refresh_at_percent(600_000, 90).refresh_after_ms,
            540_000
        );
        assert_eq!(
            Lifetime::refresh_at_percent(300_000, 80).refresh_after_ms,
            240_000
        );
        assert_eq!(Lifetime::refresh_at_percent(99, 90).refresh_after_ms, 89);
        let huge = Lifetime::refresh_at_percent(u64::MAX, 90);
        assert!(huge.refresh_after_ms < u64::MAX, "no overflow");
    }
}
