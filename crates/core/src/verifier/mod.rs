//! The Verifier: token shape -> `alg` -> `crit` -> issuer routing -> key lookup -> signature
//! -> claims, with a token cache in front.
//!
//! The work is split so the addon can keep the JS thread free: [`Verifier::begin`] does the
//! cheap, non-blocking part and says what is left: nothing (token-cache hit), a [`Job`] of
//! pure computation (signature and claims), or I/O ([`Verifier::verify`] finishes those).
//!
//! Files: `route` (checks before the signature, key lookup), `issuer` (one configured issuer
//! and its caches), `token_cache`, `result` (the JSON handed to JS), `report` (stats, health).

mod issuer;
mod liveness;
pub mod metrics;
mod report;
mod result;
mod route;
mod token_cache;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

pub use report::{IssuerHealth, Stats};
pub use result::Verified;
pub use route::no_matching_key;

use crate::algorithm::Algorithm;
use crate::claims;
use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::events::EventSink;
use crate::events::{Event, EventKind};
use crate::key::Key;
use crate::key_cache::{Refetch, Usable};
use crate::keyset::KeySet;
use crate::options::{KeySource, Options};
use crate::refresh;
use crate::revalidate::Slot;
use crate::store::{self, SharedTier};
use crate::token::{Text, Token};
use issuer::{Issuer, Keys};
use liveness::{is_opaque, Now};
use report::Counters;
use route::Lookup;
use token_cache::{CachedToken, TokenCache};

/// What [`Verifier::begin`] leaves to do.
pub enum Step {
    /// Verified from the token cache.
    Done(Verified),
    /// Keys are at hand: signature and claims remain (pure computation, any thread).
    Compute(Box<Job>),
    /// Keys must be fetched first: call [`Verifier::verify`] with the token handed back here.
    NeedsIo(String),
    /// The issuer's validation endpoint must be asked (no answer young enough is cached):
    /// call [`Verifier::verify`] with the token handed back here.
    NeedsLiveness(String),
    /// The keys are loaded but none has the token's `kid`: a refetch (within the cooldown) may
    /// find it. Call [`Verifier::verify`] with the token handed back here.
    UnknownKey(String),
}

/// Signature and claim checks for one token, ready to run on a worker thread.
pub struct Job {
    inner: Arc<Inner>,
    token: String,
    parsed: Token,
    alg: Algorithm,
    issuer: usize,
    candidates: Vec<Arc<Key>>,
}

impl Job {
    /// Verify the signature and the claims.
    pub fn run(self: Box<Self>) -> Result<Verified> {
        let result = self
            .inner
            .finish(
                &self.token,
                &self.parsed,
                self.alg,
                self.issuer,
                &self.candidates,
            )
            .map(|(verified, _)| verified);
        self.inner.counters.count(&result);
        result
    }
}

/// A token-cache hit: the result, its issuer, its `exp`, its liveness answer slot.
type TokenHit = (Verified, usize, Option<f64>, Option<Slot>);

pub(crate) struct Inner {
    issuers: Vec<Issuer>,
    /// Every algorithm some issuer accepts.
    allowed: Vec<Algorithm>,
    options: Options,
    tokens: Option<TokenCache>,
    counters: Counters,
    closed: AtomicBool,
    /// The fleet's shared tier, and this Verifier's subscription to its events.
    tier: Option<Arc<SharedTier>>,
    tier_subscription: Option<u64>,
}

/// A JWT verifier. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl Verifier {
    /// Build from parsed options. `sink` receives cache events.
    pub fn new(options: Options, sink: Option<Arc<dyn EventSink>>) -> Result<Verifier> {
        let mut allowed: Vec<Algorithm> = Vec::new();
        for alg in options.issuers.iter().flat_map(|i| i.algorithms.iter()) {
            if !allowed.contains(alg) {
                allowed.push(*alg);
            }
        }
        let tier = options
            .shared
            .as_ref()
            .map(|s| store::shared(s, &options.clock))
            .transpose()?;
        let issuers = options
            .issuers
            .iter()
            .map(|opts| Issuer::new(opts, &options, sink.clone(), tier.clone()))
            .collect::<Result<Vec<Issuer>>>()?;
        if let Some(sink) = &sink {
            for opts in options.issuers.iter().filter(|i| i.issuer.is_none()) {
                if let KeySource::Remote(url) = &opts.source {
                    sink.emit(unchecked_issuer_warning(url));
                }
            }
        }
        let tier_subscription = match (&tier, &sink) {
            (Some(t), Some(sink)) => Some(t.subscribe(Arc::clone(sink))),
            _ => None,
        };
        let tokens = (options.token_cache > 0)
            .then(|| TokenCache::new(options.token_cache, options.cache.max_age_ms));
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                allowed,
                tokens,
                options,
                counters: Counters::default(),
                closed: AtomicBool::new(false),
                tier,
                tier_subscription,
            }),
        })
    }

    /// The non-blocking part of a verification (never does I/O; may start a background refresh).
    /// Takes the token by value so a [`Job`] owns it without a copy.
    pub fn begin(&self, token: String) -> Result<Step> {
        let result = self.inner.begin(token);
        match &result {
            Ok(Step::Done(_)) => self.inner.counters.count(&Ok(())),
            Err(e) => self.inner.counters.count::<()>(&Err(e.clone())),
            _ => {}
        }
        result
    }

    /// A whole verification, fetching keys when needed.
    pub async fn verify(&self, token: String) -> Result<Verified> {
        let result = self.inner.verify_with_io(token).await;
        self.inner.counters.count(&result);
        result
    }

    /// Verify with cached keys only. Without keys: ERR_JWKS_NOT_LOADED, and a background load starts.
    pub fn verify_sync(&self, token: impl Into<String>) -> Result<Verified> {
        let result = match self.inner.begin(token.into()) {
            Ok(Step::Done(v)) => Ok(v),
            Ok(Step::Compute(job)) => {
                return job.run();
            }
            Ok(Step::NeedsIo(token)) => Err(self.inner.background_io(token)),
            // The keys are there; the token's is not: that is the answer now, and a refetch
            // (as the cooldown allows) runs in the background for the next call.
            Ok(Step::UnknownKey(token)) => {
                let err = self.inner.unknown_key(&token);
                self.inner.background_io(token);
                Err(err)
            }
            Ok(Step::NeedsLiveness(token)) => Err(self.inner.pending_liveness(token)),
            // No usable keys because the endpoint fails: for verifySync that is "not loaded".
            Err(e) if e.code.is_key_source_failure() => Err(Error::new(
                ErrorCode::NotLoaded,
                format!("the keys for this token are not cached: {}", e.message),
            )),
            Err(e) => Err(e),
        };
        self.inner.counters.count(&result);
        result
    }

    /// Fetch every issuer's keys now. Rejects with the first failure (the others stay loaded).
    pub async fn ready(&self) -> Result<()> {
        self.inner.check_open()?;
        let loads = (0..self.inner.issuers.len()).map(|i| {
            let inner = Arc::clone(&self.inner);
            async move { inner.load_issuer(i).await }
        });
        let results = futures_util::future::join_all(loads).await;
        results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
    }

    /// Health of each issuer.
    pub fn health(&self) -> Vec<IssuerHealth> {
        let inner = &self.inner;
        report::health(
            &inner.issuers,
            inner.options.local_keys.as_deref(),
            inner.tier.as_deref(),
            inner.now(),
        )
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.inner
            .counters
            .stats(&self.inner.issuers, self.inner.tier.as_deref())
    }

    /// `stats()` and `health()` in the Prometheus text format; `options` is `{ labels }` (or
    /// null): constant labels added to every sample.
    pub fn metrics(&self, options: &serde_json::Value) -> Result<String> {
        let labels = metrics::labels(options)?;
        Ok(metrics::prometheus(&self.stats(), &self.health(), &labels))
    }

    /// Count a call refused before it reached the engine (e.g. a token that is not a string).
    pub fn count_refusal(&self, error: &Error) {
        self.inner.counters.count::<()>(&Err(error.clone()));
    }

    /// Stop background work of this Verifier; later calls fail with ERR_VERIFIER_CLOSED.
    pub fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::SeqCst) {
            for issuer in &self.inner.issuers {
                issuer.unsubscribe();
            }
            self.inner.unsubscribe_tier();
            if let Some(tokens) = &self.inner.tokens {
                tokens.clear();
            }
        }
    }

    /// For a copy of results kept outside the engine (the JS face's `results: 'frozen'` cache):
    /// `(until, generation)`. `until` is the epoch ms until which the result of `token` may be
    /// served from such a copy without asking the engine again, 0 when it must not be (see
    /// `Inner::result_cache_until`); `generation` is [`refresh::changes`] as it was before
    /// `until` was worked out: pass it to [`Verifier::reuse`] at every use of the copy.
    pub fn result_cache_until(&self, token: &str) -> (u64, u64) {
        let generation = refresh::changes();
        (self.inner.result_cache_until(token), generation)
    }

    /// A use of a copy made under `generation` (see [`Verifier::result_cache_until`]): true
    /// while no key set or discovery document of the process has changed since and the
    /// Verifier is open. Then it counts as a token-cache hit does (a verification and a hit),
    /// so `stats()` and `metrics()` stay exact.
    pub fn reuse(&self, generation: u64) -> bool {
        if generation != refresh::changes() || self.is_closed() {
            return false;
        }
        Counters::bump(&self.inner.counters.token_cache_hits);
        self.inner.counters.count(&Ok(()));
        true
    }

    /// True after `close()`.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// The clock this Verifier reads.
    pub fn clock(&self) -> &Clock {
        &self.inner.options.clock
    }
}

/// The warning for a JWKS configured without `issuer`: `iss` is not checked.
fn unchecked_issuer_warning(url: &str) -> Event {
    let mut event = Event::new(EventKind::Warning, url);
    event.error = Some(Error::new(
        ErrorCode::InvalidOptions,
        format!(
            "jwksUri {url} is configured without \"issuer\": the tokens' \"iss\" is not checked, so a JWKS shared by several tenants accepts every tenant's tokens; set \"issuer\" unless that is intended"
        ),
    ));
    event
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.unsubscribe_tier();
    }
}

impl Inner {
    fn unsubscribe_tier(&self) {
        if let (Some(tier), Some(id)) = (&self.tier, self.tier_subscription) {
            tier.unsubscribe(id);
        }
    }

    fn now(&self) -> u64 {
        self.options.clock.now_ms()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorCode::Closed,
                "the verifier is closed (close() was called)",
            ));
        }
        Ok(())
    }

    fn begin(self: &Arc<Self>, token: String) -> Result<Step> {
        self.check_open()?;
        let now = self.now();
        if let Some((hit, issuer, _, slot)) = self.token_cache_hit(&token, now)? {
            return Ok(match self.live_now(issuer, &token, now, slot.as_ref())? {
                Now::Live(_) => Step::Done(hit),
                Now::Pending => Step::NeedsLiveness(token),
            });
        }
        if let Some(index) = self.opaque_issuer().filter(|_| is_opaque(&token)) {
            self.check_opaque_shape(&token)?;
            return Ok(match self.live_now(index, &token, now, None)? {
                Now::Live(answer) => Step::Done(self.opaque_result(index, answer)),
                Now::Pending => Step::NeedsLiveness(token),
            });
        }
        let (parsed, alg, issuer) = self.route(&token)?;
        match self.lookup(issuer, alg, &parsed, now)? {
            Lookup::Keys(candidates) => {
                // A token never verified has no answer cached: it is verified, and only then
                // revalidated, on the I/O path.
                if let Now::Pending = self.live_now(issuer, &token, now, None)? {
                    return Ok(Step::NeedsLiveness(token));
                }
                Ok(Step::Compute(Box::new(Job {
                    inner: Arc::clone(self),
                    token,
                    parsed,
                    alg,
                    issuer,
                    candidates,
                })))
            }
            // Keys are loaded but lack the token's kid: a refetch may find it.
            Lookup::Refetch(_) => Ok(Step::UnknownKey(token)),
            _ => Ok(Step::NeedsIo(token)),
        }
    }

    /// A whole verification with I/O: keys (discovery, load, refetch), signature, claims,
    /// then liveness.
    async fn verify_with_io(self: &Arc<Self>, token: String) -> Result<Verified> {
        self.check_open()?;
        if let Some((hit, issuer, exp, _)) = self.token_cache_hit(&token, self.now())? {
            self.live_and_remembered(issuer, &token, exp).await?;
            return Ok(hit);
        }
        if let Some(index) = self.opaque_issuer().filter(|_| is_opaque(&token)) {
            self.check_opaque_shape(&token)?;
            let answer = self.live(index, &token, None).await?.map(|(a, _)| a);
            return Ok(self.opaque_result(index, answer));
        }
        let (verified, issuer, exp) = self.verify_signature_with_io(&token).await?;
        self.live_and_remembered(issuer, &token, exp).await?;
        Ok(verified)
    }

    /// Liveness of a verified JWS token; its answer slot is kept in its token-cache entry.
    async fn live_and_remembered(
        &self,
        issuer: usize,
        token: &str,
        exp: Option<f64>,
    ) -> Result<()> {
        if let Some((_, slot)) = self.live(issuer, token, exp).await? {
            if let Some(entry) = self.tokens.as_ref().and_then(|t| t.peek(token)) {
                let _ = entry.live.set(slot);
            }
        }
        Ok(())
    }

    /// For `verifySync` when the endpoint must be asked: a JWS token's signature and claims are
    /// checked now (a failure is the answer); then ERR_REVALIDATION_PENDING, and the call runs
    /// in the background.
    fn pending_liveness(self: &Arc<Self>, token: String) -> Error {
        if !is_opaque(&token)
            && self
                .token_cache_hit(&token, self.now())
                .ok()
                .flatten()
                .is_none()
        {
            let checked = self.route(&token).and_then(|(parsed, alg, issuer)| {
                match self.lookup(issuer, alg, &parsed, self.now())? {
                    Lookup::Keys(candidates) => self
                        .finish(&token, &parsed, alg, issuer, &candidates)
                        .map(|_| ()),
                    _ => Ok(()),
                }
            });
            if let Err(e) = checked {
                return e;
            }
        }
        let inner = Arc::clone(self);
        crate::runtime::spawn(async move {
            let _ = inner.verify_with_io(token).await;
        });
        Error::new(
            ErrorCode::RevalidationPending,
            "no answer of the validation endpoint is cached for this token yet: it is being asked now; use verify(), or retry",
        )
    }

    /// Keys (with I/O as needed), signature and claims: the result, the issuer, and `exp`.
    async fn verify_signature_with_io(
        self: &Arc<Self>,
        token: &str,
    ) -> Result<(Verified, usize, Option<f64>)> {
        let (parsed, alg, issuer) = self.route(token)?;
        let kid = parsed.header.kid.clone();
        for _ in 0..4 {
            match self.lookup(issuer, alg, &parsed, self.now())? {
                Lookup::Keys(candidates) => {
                    let (verified, exp) = self.finish(token, &parsed, alg, issuer, &candidates)?;
                    return Ok((verified, issuer, exp));
                }
                Lookup::Discover(d) => {
                    d.fresh_or_load().await?;
                }
                Lookup::Load(cache) => {
                    cache.load().await?;
                }
                Lookup::Refetch(cache) => {
                    let has_key =
                        |keys: &KeySet| keys.candidates(alg, kid.as_deref()).next().is_some();
                    let keys = match cache.refetch(kid.as_deref(), has_key).await {
                        Refetch::Fetched(Ok(keys)) => Some(keys),
                        Refetch::Fetched(Err(_)) => None,
                        Refetch::Refused => {
                            Counters::bump(&self.counters.cooldown_refusals);
                            None
                        }
                    };
                    let keys = keys.or_else(|| match cache.usable(self.now()) {
                        Usable::Keys { keys, .. } => Some(keys),
                        _ => None,
                    });
                    let found: Vec<Arc<Key>> = keys
                        .iter()
                        .flat_map(|keys| keys.candidates(alg, kid.as_deref()))
                        .cloned()
                        .collect();
                    if found.is_empty() {
                        if let Some(kid) = &kid {
                            cache.remember_missing(kid, self.now());
                        }
                        return Err(no_matching_key(
                            kid.as_deref(),
                            alg,
                            " after refetching the JWKS",
                        ));
                    }
                    let (verified, exp) = self.finish(token, &parsed, alg, issuer, &found)?;
                    return Ok((verified, issuer, exp));
                }
            }
        }
        Err(Error::new(
            ErrorCode::FetchFailed,
            "keys could not be loaded",
        ))
    }

    /// ERR_JWKS_NO_MATCHING_KEY for a token whose kid the loaded keys lack.
    fn unknown_key(&self, token: &str) -> Error {
        match self.route(token) {
            Ok((parsed, alg, _)) => no_matching_key(
                parsed.header.kid.as_deref(),
                alg,
                " (a refetch of the JWKS has started; verify() waits for it)",
            ),
            Err(e) => e,
        }
    }

    /// For `verifySync` without keys: start the I/O in the background and say what is missing.
    fn background_io(self: &Arc<Self>, token: String) -> Error {
        let inner = Arc::clone(self);
        crate::runtime::spawn(async move {
            let _ = inner.verify_with_io(token).await;
        });
        Error::new(
            ErrorCode::NotLoaded,
            "the keys for this token are not cached yet: call ready() or verify() first",
        )
    }

    /// Signature, then claims; a success is remembered in the token cache. Gives the token's
    /// `exp` too.
    fn finish(
        &self,
        token: &str,
        parsed: &Token,
        alg: Algorithm,
        index: usize,
        candidates: &[Arc<Key>],
    ) -> Result<(Verified, Option<f64>)> {
        let message = &token.as_bytes()[..parsed.signing_len];
        let Some(key) = candidates
            .iter()
            .find(|k| k.verify(alg, message, &parsed.signature))
        else {
            return Err(Error::new(
                ErrorCode::SignatureVerificationFailed,
                "signature verification failed",
            )
            .with_kid(parsed.header.kid.as_deref()));
        };
        let issuer = &self.issuers[index];
        let now = self.now();
        let times = claims::check(
            &parsed.header.typ,
            &parsed.claims,
            &issuer.options.rules,
            claims::seconds(now),
        )?;
        let issuer_name = match (&issuer.options.issuer, &parsed.claims.iss) {
            (None, Text::Value(iss)) => Arc::from(iss.as_str()),
            _ => Arc::clone(&issuer.name),
        };
        let verified = Verified::new(&parsed.payload_json, &parsed.header_json, issuer_name);
        let exp = times.exp;
        if let Some(tokens) = &self.tokens {
            let entry = CachedToken {
                verified: verified.clone(),
                times,
                issuer: index,
                key: key.fingerprint,
                created: now,
                live: OnceLock::new(),
            };
            tokens.insert(token, entry);
        }
        Ok((verified, exp))
    }

    /// Until when (epoch ms) a copy of the result of `token` answers exactly as a token-cache
    /// hit would, with no need to ask the engine: the least of the entry's own end (`created +
    /// cache.maxAge`), the instant `exp` / `maxTokenAge` stop passing
    /// ([`claims::times_fail_at_ms`]) and the keys' refresh-ahead point (past it, every use must
    /// reach the key cache, which starts the refresh ahead and its retries). 0 when a copy must
    /// not be used: no entry, a closed Verifier, `revalidate` (the endpoint decides liveness at
    /// each use), a test clock (the copy's holder reads wall time), or the verifying key not in
    /// the current, fresh key set.
    fn result_cache_until(&self, token: &str) -> u64 {
        if self.closed.load(Ordering::SeqCst) || self.options.clock.is_manual() {
            return 0;
        }
        let Some(tokens) = &self.tokens else {
            return 0;
        };
        let now = self.now();
        let Some(entry) = tokens.get(token, now) else {
            return 0;
        };
        let issuer = &self.issuers[entry.issuer];
        if issuer.revalidator.is_some() {
            return 0;
        }
        let rules = &issuer.options.rules;
        if claims::check_times(&entry.times, rules, claims::seconds(now)).is_err() {
            return 0;
        }
        let mut until = tokens.expires_at(&entry);
        if let Some(end) = claims::times_fail_at_ms(&entry.times, rules) {
            until = until.min(end);
        }
        if let Some(cache) = issuer.cache() {
            match cache.fresh_until(now) {
                Some((keys, end)) if keys.contains(entry.key) => until = until.min(end),
                _ => return 0,
            }
        }
        if until > now {
            until
        } else {
            0
        }
    }

    /// A verified token from the token cache.
    fn token_cache_hit(&self, token: &str, now: u64) -> Result<Option<TokenHit>> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        let Some(entry) = tokens.get(token, now) else {
            return Ok(None);
        };
        let issuer = &self.issuers[entry.issuer];
        claims::check_times(&entry.times, &issuer.options.rules, claims::seconds(now))?;
        if let Some(cache) = issuer.cache() {
            let still_there = match cache.usable(now) {
                Usable::Keys { keys, .. } => keys.contains(entry.key),
                _ => false,
            };
            if !still_there {
                tokens.remove(token);
                return Ok(None);
            }
        }
        Counters::bump(&self.counters.token_cache_hits);
        Ok(Some((
            entry.verified.clone(),
            entry.issuer,
            entry.times.exp,
            entry.live.get().cloned(),
        )))
    }

    async fn load_issuer(self: &Arc<Self>, index: usize) -> Result<()> {
        let issuer = &self.issuers[index];
        for _ in 0..3 {
            let now = self.now();
            match issuer.keys(&self.options, now) {
                Err(e) if e.code == ErrorCode::NoMatchingKey => return Ok(()),
                Err(e) => return Err(e),
                Ok(Keys::Discover(discovery)) => {
                    discovery.fresh_or_load().await?;
                }
                Ok(Keys::Cache(cache)) => {
                    return match cache.usable(now) {
                        Usable::Keys { .. } => Ok(()),
                        Usable::Failing(e) => Err(e),
                        Usable::Missing => cache.load().await.map(|_| ()),
                    };
                }
            }
        }
        Ok(())
    }
}
