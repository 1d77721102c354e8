//! The Verifier: token shape -> `alg` -> `crit` -> issuer routing -> key lookup -> signature
//! -> claims, with a token cache in front.
//!
//! The work is split so the addon can keep the JS thread free: [`Verifier::begin`] does the
//! cheap, non-blocking part and says what is left: nothing (token-cache hit), a [`Job`] of
//! pure computation (signature and claims), or I/O ([`Verifier::verify`] finishes those).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::algorithm::{parse_allowed, Algorithm};
use crate::cache::{self, HealthState, KeyCache, Refetch, Usable};
use crate::claims::{self, ClaimRules, Times};
use crate::clock;
use crate::discovery::{self, Discovery, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventKind, EventSink};
use crate::key::Key;
use crate::keyset::KeySet;
use crate::options::{IssuerOptions, KeySource, Options};
use crate::token::{self, Text, Token};

/// A successful verification, as one JSON text `{"payload":…,"header":…,"issuer":…}`: the
/// addon hands it to a single `JSON.parse`, which gives a fresh result object on every call.
#[derive(Debug, Clone)]
pub struct Verified {
    result_json: Arc<str>,
    payload: std::ops::Range<usize>,
    header: std::ops::Range<usize>,
    issuer: Arc<str>,
}

impl Verified {
    fn new(payload_json: &str, header_json: &str, issuer: Arc<str>) -> Verified {
        let issuer_json = serde_json::to_string(&*issuer).unwrap_or_else(|_| "\"\"".to_owned());
        let mut text =
            String::with_capacity(payload_json.len() + header_json.len() + issuer_json.len() + 32);
        text.push_str("{\"payload\":");
        let payload = text.len()..text.len() + payload_json.len();
        text.push_str(payload_json);
        text.push_str(",\"header\":");
        let header = text.len()..text.len() + header_json.len();
        text.push_str(header_json);
        text.push_str(",\"issuer\":");
        text.push_str(&issuer_json);
        text.push('}');
        Verified {
            result_json: Arc::from(text),
            payload,
            header,
            issuer,
        }
    }

    /// `{"payload":…,"header":…,"issuer":…}`.
    pub fn result_json(&self) -> &str {
        &self.result_json
    }

    /// The payload JSON text, as the token carried it.
    pub fn payload_json(&self) -> &str {
        &self.result_json[self.payload.clone()]
    }

    /// The protected header JSON text, as the token carried it.
    pub fn header_json(&self) -> &str {
        &self.result_json[self.header.clone()]
    }

    /// The issuer matched (the token's `iss` when `iss` is not checked).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// What [`Verifier::begin`] leaves to do.
pub enum Step {
    /// Verified from the token cache.
    Done(Verified),
    /// Keys are at hand: signature and claims remain (pure computation, any thread).
    Compute(Box<Job>),
    /// Keys must be fetched first: call [`Verifier::verify`] with the token handed back here.
    NeedsIo(String),
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
        let result = self.inner.finish(
            &self.token,
            &self.parsed,
            self.alg,
            self.issuer,
            &self.candidates,
        );
        self.inner.count(&result);
        result
    }
}

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
}

struct Issuer {
    options: IssuerOptions,
    name: Arc<str>,
    discovery: Option<Arc<Discovery>>,
    cache: ArcSwapOption<KeyCache>,
}

struct CachedToken {
    verified: Verified,
    times: Times,
    issuer: usize,
    key: u64,
    created: u64,
}

#[derive(Default)]
struct Counters {
    verifications: AtomicU64,
    failures: [AtomicU64; ErrorCode::ALL.len()],
    token_cache_hits: AtomicU64,
    cooldown_refusals: AtomicU64,
    stale_serves: AtomicU64,
}

struct Inner {
    issuers: Vec<Issuer>,
    allowed: Vec<Algorithm>,
    local: Option<Arc<KeySet>>,
    secret: Option<Arc<Key>>,
    max_token_length: usize,
    options: Options,
    tokens: Option<quick_cache::sync::Cache<String, Arc<CachedToken>>>,
    counters: Counters,
    closed: AtomicBool,
    sink: Option<Arc<dyn EventSink>>,
    subscriptions: Mutex<Vec<(Arc<KeyCache>, u64)>>,
}

/// Adds the issuer to the events of a shared cache before handing them on.
struct IssuerSink {
    issuer: Option<String>,
    sink: Arc<dyn EventSink>,
}

impl EventSink for IssuerSink {
    fn emit(&self, mut event: Event) {
        event.issuer.clone_from(&self.issuer);
        self.sink.emit(event);
    }
}

/// Lookup outcome.
enum Lookup {
    Keys(Vec<Arc<Key>>),
    Discover(Arc<Discovery>),
    Load(Arc<KeyCache>),
    Refetch(Arc<KeyCache>),
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
        let mut issuers = Vec::new();
        let mut subscriptions = Vec::new();
        for opts in &options.issuers {
            let name: Arc<str> = Arc::from(opts.issuer.as_deref().unwrap_or(""));
            let (discovery, cache) = match &opts.source {
                KeySource::Remote(url) => {
                    let (cache, conflict) = cache::shared(url, &options.http, options.cache)?;
                    if conflict {
                        warn_conflict(&sink, &cache, opts.issuer.as_deref());
                    }
                    (None, Some(cache))
                }
                KeySource::Discovery(url) => (
                    Some(discovery::shared(
                        url,
                        opts.issuer.as_deref().unwrap_or(""),
                        &options.http,
                    )?),
                    None,
                ),
                KeySource::Local | KeySource::None => (None, None),
            };
            if let (Some(cache), Some(sink)) = (&cache, &sink) {
                let id = cache.subscribe(Arc::new(IssuerSink {
                    issuer: opts.issuer.clone(),
                    sink: Arc::clone(sink),
                }));
                subscriptions.push((Arc::clone(cache), id));
            }
            issuers.push(Issuer {
                options: opts.clone(),
                name,
                discovery,
                cache: ArcSwapOption::new(cache),
            });
        }
        let tokens =
            (options.token_cache > 0).then(|| quick_cache::sync::Cache::new(options.token_cache));
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                allowed,
                local: options.local_keys.clone(),
                secret: options.secret.clone(),
                max_token_length: options.max_token_length,
                tokens,
                options,
                counters: Counters::default(),
                closed: AtomicBool::new(false),
                sink,
                subscriptions: Mutex::new(subscriptions),
            }),
        })
    }

    /// The non-blocking part of a verification (never does I/O; may start a background refresh).
    /// Takes the token by value so a [`Job`] owns it without a copy.
    pub fn begin(&self, token: String) -> Result<Step> {
        let result = self.inner.begin(token);
        match &result {
            Ok(Step::Done(_)) => self.inner.count(&Ok(())),
            Err(e) => self.inner.count::<()>(&Err(e.clone())),
            _ => {}
        }
        result
    }

    /// A whole verification, fetching keys when needed.
    pub async fn verify(&self, token: String) -> Result<Verified> {
        let result = self.inner.verify_with_io(token).await;
        self.inner.count(&result);
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
            // No usable keys because the endpoint fails: for verifySync that is "not loaded".
            Err(e) if e.code.is_key_source_failure() => Err(Error::new(
                ErrorCode::NotLoaded,
                format!("the keys for this token are not cached: {}", e.message),
            )),
            Err(e) => Err(e),
        };
        self.inner.count(&result);
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
        self.inner.health()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Count a call refused before it reached the engine (e.g. a token that is not a string).
    pub fn count_refusal(&self, error: &Error) {
        self.inner.count::<()>(&Err(error.clone()));
    }

    /// Stop background work of this Verifier; later calls fail with ERR_VERIFIER_CLOSED.
    pub fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::SeqCst) {
            self.inner.unsubscribe_all();
            if let Some(tokens) = &self.inner.tokens {
                tokens.clear();
            }
        }
    }

    /// True after `close()`.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }
}

fn warn_conflict(sink: &Option<Arc<dyn EventSink>>, cache: &KeyCache, issuer: Option<&str>) {
    if let Some(sink) = sink {
        let mut event = Event::new(EventKind::Warning, cache.url());
        event.issuer = issuer.map(str::to_owned);
        event.error = Some(Error::new(
            ErrorCode::InvalidOptions,
            format!(
                "the key cache of {} is shared with an earlier Verifier whose cache options differ; its options stay in force",
                cache.url()
            ),
        ));
        sink.emit(event);
    }
}

fn no_matching_key(kid: Option<&str>, alg: Algorithm, detail: &str) -> Error {
    let message = match kid {
        Some(kid) => format!(
            "no key in the JWKS matches kid {kid:?} for {}{detail}",
            alg.name()
        ),
        None => format!(
            "no key in the JWKS fits {} (the token has no kid){detail}",
            alg.name()
        ),
    };
    Error::new(ErrorCode::NoMatchingKey, message).with_kid(kid)
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.unsubscribe_all();
    }
}

impl Inner {
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorCode::Closed,
                "the verifier is closed (close() was called)",
            ));
        }
        Ok(())
    }

    fn unsubscribe_all(&self) {
        let subs =
            std::mem::take(&mut *self.subscriptions.lock().unwrap_or_else(|p| p.into_inner()));
        for (cache, id) in subs {
            cache.unsubscribe(id);
        }
    }

    fn count<T>(&self, result: &Result<T>) {
        self.counters.verifications.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == e.code) {
                self.counters.failures[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn begin(self: &Arc<Self>, token: String) -> Result<Step> {
        self.check_open()?;
        let now = clock::now_ms();
        if let Some(hit) = self.token_cache_hit(&token, now)? {
            return Ok(Step::Done(hit));
        }
        let (parsed, alg, issuer) = self.route(&token)?;
        match self.lookup(issuer, alg, &parsed, now)? {
            Lookup::Keys(candidates) => Ok(Step::Compute(Box::new(Job {
                inner: Arc::clone(self),
                token,
                parsed,
                alg,
                issuer,
                candidates,
            }))),
            _ => Ok(Step::NeedsIo(token)),
        }
    }

    /// Shape, `alg`, `crit`, issuer routing, and the issuer's own `alg` list.
    fn route(&self, token: &str) -> Result<(Token, Algorithm, usize)> {
        let parsed = token::parse(token, self.max_token_length)?;
        let alg = parse_allowed(parsed.header.alg.as_deref(), &self.allowed)?;
        if parsed.header.b64 == Some(false) {
            return Err(Error::new(
                ErrorCode::NotSupported,
                "unencoded payloads (\"b64\": false) are not supported",
            ));
        }
        if let Some(crit) = &parsed.header.crit {
            if let Some(ext) = crit.iter().find(|name| name.as_str() != "b64") {
                return Err(Error::new(
                    ErrorCode::NotSupported,
                    format!("extension header parameter {ext:?} is not supported"),
                ));
            }
        }
        let issuer = self.route_issuer(&parsed)?;
        let alg = parse_allowed(Some(alg.name()), &self.issuers[issuer].options.algorithms)?;
        Ok((parsed, alg, issuer))
    }

    fn route_issuer(&self, parsed: &Token) -> Result<usize> {
        let unchecked = self.issuers.iter().position(|i| i.options.issuer.is_none());
        let configured = || -> String {
            let names: Vec<&str> = self
                .issuers
                .iter()
                .filter_map(|i| i.options.issuer.as_deref())
                .collect();
            names.join(", ")
        };
        match &parsed.claims.iss {
            Text::Value(iss) => {
                if let Some(i) = self
                    .issuers
                    .iter()
                    .position(|i| i.options.issuer.as_deref() == Some(iss.as_str()))
                {
                    return Ok(i);
                }
                unchecked.ok_or_else(|| {
                    Error::claim(
                        ErrorCode::ClaimValidationFailed,
                        "iss",
                        "check_failed",
                        format!(
                            "unexpected \"iss\" claim value {iss:?} (accepted: {})",
                            configured()
                        ),
                    )
                })
            }
            Text::Absent => unchecked.ok_or_else(|| {
                Error::claim(
                    ErrorCode::ClaimValidationFailed,
                    "iss",
                    "missing",
                    "missing required \"iss\" claim",
                )
            }),
            Text::WrongType => unchecked.ok_or_else(|| {
                Error::claim(
                    ErrorCode::ClaimValidationFailed,
                    "iss",
                    "invalid",
                    "\"iss\" claim must be a string",
                )
            }),
        }
    }

    /// The issuer's cache, discovering its URL when needed.
    fn issuer_cache(
        &self,
        issuer: &Issuer,
        now: u64,
    ) -> Result<std::result::Result<Arc<KeyCache>, Arc<Discovery>>> {
        if let Some(cache) = issuer.cache.load_full() {
            if let Some(d) = &issuer.discovery {
                // A re-discovery may have moved the JWKS URL.
                if let Resolved::Ready(uri) = d.resolved(now) {
                    if uri != cache.url() {
                        return Ok(Ok(self.attach_cache(issuer, &uri)?));
                    }
                }
            }
            return Ok(Ok(cache));
        }
        let Some(d) = &issuer.discovery else {
            return Err(Error::new(
                ErrorCode::NoMatchingKey,
                "no JWKS is configured for this issuer",
            ));
        };
        match d.resolved(now) {
            Resolved::Ready(uri) => Ok(Ok(self.attach_cache(issuer, &uri)?)),
            Resolved::Failing(e) => Err(e),
            Resolved::Missing => Ok(Err(Arc::clone(d))),
        }
    }

    fn attach_cache(&self, issuer: &Issuer, uri: &str) -> Result<Arc<KeyCache>> {
        let (cache, conflict) = cache::shared(uri, &self.options.http, self.options.cache)?;
        let previous = issuer.cache.swap(Some(Arc::clone(&cache)));
        let fresh = previous.as_ref().is_none_or(|p| !Arc::ptr_eq(p, &cache));
        if fresh {
            if conflict {
                warn_conflict(&self.sink, &cache, issuer.options.issuer.as_deref());
            }
            if let Some(sink) = &self.sink {
                let id = cache.subscribe(Arc::new(IssuerSink {
                    issuer: issuer.options.issuer.clone(),
                    sink: Arc::clone(sink),
                }));
                self.subscriptions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((Arc::clone(&cache), id));
            }
        }
        Ok(cache)
    }

    fn lookup(&self, index: usize, alg: Algorithm, parsed: &Token, now: u64) -> Result<Lookup> {
        let issuer = &self.issuers[index];
        let kid = parsed.header.kid.as_deref();
        if alg.is_hmac() {
            let mut keys: Vec<Arc<Key>> = self.secret.iter().cloned().collect();
            if let Some(local) = &self.local {
                keys.extend(local.candidates(alg, kid).cloned());
            }
            return if keys.is_empty() {
                Err(no_matching_key(kid, alg, ""))
            } else {
                Ok(Lookup::Keys(keys))
            };
        }
        if let KeySource::Local | KeySource::None = issuer.options.source {
            let found: Vec<Arc<Key>> = self
                .local
                .iter()
                .flat_map(|l| l.candidates(alg, kid))
                .cloned()
                .collect();
            return if found.is_empty() {
                Err(no_matching_key(kid, alg, " (local key set)"))
            } else {
                Ok(Lookup::Keys(found))
            };
        }
        let cache = match self.issuer_cache(issuer, now)? {
            Ok(cache) => cache,
            Err(discovery) => return Ok(Lookup::Discover(discovery)),
        };
        match cache.usable(now) {
            Usable::Keys { keys, stale } => {
                if stale {
                    self.counters.stale_serves.fetch_add(1, Ordering::Relaxed);
                }
                let found: Vec<Arc<Key>> = keys.candidates(alg, kid).cloned().collect();
                if !found.is_empty() {
                    return Ok(Lookup::Keys(found));
                }
                if cache.may_refetch(kid, now) {
                    return Ok(Lookup::Refetch(cache));
                }
                self.counters
                    .cooldown_refusals
                    .fetch_add(1, Ordering::Relaxed);
                Err(no_matching_key(
                    kid,
                    alg,
                    " (the JWKS was refetched recently; next refetch after the cooldown)",
                ))
            }
            Usable::Failing(e) => Err(e),
            Usable::Missing => Ok(Lookup::Load(cache)),
        }
    }

    async fn verify_with_io(self: &Arc<Self>, token: String) -> Result<Verified> {
        self.check_open()?;
        let now = clock::now_ms();
        if let Some(hit) = self.token_cache_hit(&token, now)? {
            return Ok(hit);
        }
        let (parsed, alg, issuer) = self.route(&token)?;
        let kid = parsed.header.kid.clone();
        for _ in 0..4 {
            let now = clock::now_ms();
            match self.lookup(issuer, alg, &parsed, now)? {
                Lookup::Keys(candidates) => {
                    return self.finish(&token, &parsed, alg, issuer, &candidates)
                }
                Lookup::Discover(d) => {
                    d.resolve().await?;
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
                            self.counters
                                .cooldown_refusals
                                .fetch_add(1, Ordering::Relaxed);
                            None
                        }
                    };
                    let found: Vec<Arc<Key>> = match &keys {
                        Some(keys) => keys.candidates(alg, kid.as_deref()).cloned().collect(),
                        None => match cache.usable(clock::now_ms()) {
                            Usable::Keys { keys, .. } => {
                                keys.candidates(alg, kid.as_deref()).cloned().collect()
                            }
                            _ => Vec::new(),
                        },
                    };
                    if found.is_empty() {
                        if let Some(kid) = &kid {
                            cache.remember_missing(kid, clock::now_ms());
                        }
                        return Err(no_matching_key(
                            kid.as_deref(),
                            alg,
                            " after refetching the JWKS",
                        ));
                    }
                    return self.finish(&token, &parsed, alg, issuer, &found);
                }
            }
        }
        Err(Error::new(
            ErrorCode::FetchFailed,
            "keys could not be loaded",
        ))
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

    fn finish(
        &self,
        token: &str,
        parsed: &Token,
        alg: Algorithm,
        index: usize,
        candidates: &[Arc<Key>],
    ) -> Result<Verified> {
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
        let now = clock::now_ms();
        let times = claims::check(
            &parsed.header.typ,
            &parsed.claims,
            &issuer.options.rules,
            now as f64 / 1000.0,
        )?;
        let issuer_name = match (&issuer.options.issuer, &parsed.claims.iss) {
            (None, Text::Value(iss)) => Arc::from(iss.as_str()),
            _ => Arc::clone(&issuer.name),
        };
        let verified = Verified::new(&parsed.payload_json, &parsed.header_json, issuer_name);
        if let Some(tokens) = &self.tokens {
            let entry = CachedToken {
                verified: verified.clone(),
                times,
                issuer: index,
                key: key.fingerprint,
                created: now,
            };
            tokens.insert(token.to_owned(), Arc::new(entry));
        }
        Ok(verified)
    }

    fn token_cache_hit(&self, token: &str, now: u64) -> Result<Option<Verified>> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        let Some(entry) = tokens.get(token) else {
            return Ok(None);
        };
        if now >= entry.created.saturating_add(self.options.cache.max_age_ms) {
            tokens.remove(token);
            return Ok(None);
        }
        let issuer = &self.issuers[entry.issuer];
        let rules: &ClaimRules = &issuer.options.rules;
        claims::check_times(&entry.times, rules, now as f64 / 1000.0)?;
        if let Some(cache) = issuer.cache.load_full() {
            let still_there = match cache.usable(now) {
                Usable::Keys { keys, .. } => keys.contains(entry.key),
                _ => false,
            };
            if !still_there {
                tokens.remove(token);
                return Ok(None);
            }
        }
        self.counters
            .token_cache_hits
            .fetch_add(1, Ordering::Relaxed);
        Ok(Some(entry.verified.clone()))
    }

    async fn load_issuer(self: &Arc<Self>, index: usize) -> Result<()> {
        let issuer = &self.issuers[index];
        for _ in 0..3 {
            let now = clock::now_ms();
            match self.issuer_cache(issuer, now) {
                Err(e) if e.code == ErrorCode::NoMatchingKey => return Ok(()),
                Err(e) => return Err(e),
                Ok(Err(discovery)) => {
                    discovery.resolve().await?;
                }
                Ok(Ok(cache)) => {
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

    fn health(&self) -> Vec<IssuerHealth> {
        let now = clock::now_ms();
        self.issuers
            .iter()
            .map(|issuer| {
                let name = issuer.name.to_string();
                if let Some(cache) = issuer.cache.load_full() {
                    let h = cache.health(now);
                    return IssuerHealth {
                        issuer: name,
                        jwks_uri: Some(cache.url().to_owned()),
                        state: h.state,
                        kids: h.kids,
                        fetched_at: h.fetched_at,
                        expires_at: h.expires_at,
                        last_error: h.last_error,
                    };
                }
                let (state, last_error) = match &issuer.discovery {
                    Some(d) => match d.resolved(now) {
                        Resolved::Failing(e) => (HealthState::Failing, Some(e)),
                        _ => (HealthState::Empty, None),
                    },
                    None => (HealthState::Fresh, None),
                };
                let kids = match (&issuer.discovery, &self.local) {
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
                }
            })
            .collect()
    }

    fn stats(&self) -> Stats {
        let c = &self.counters;
        let mut stats = Stats {
            verifications: c.verifications.load(Ordering::Relaxed),
            failures: ErrorCode::ALL
                .iter()
                .zip(c.failures.iter())
                .map(|(code, n)| (code.as_str(), n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            token_cache_hits: c.token_cache_hits.load(Ordering::Relaxed),
            cooldown_refusals: c.cooldown_refusals.load(Ordering::Relaxed),
            stale_serves: c.stale_serves.load(Ordering::Relaxed),
            ..Stats::default()
        };
        let mut seen: Vec<*const KeyCache> = Vec::new();
        for issuer in &self.issuers {
            if let Some(cache) = issuer.cache.load_full() {
                if seen.contains(&Arc::as_ptr(&cache)) {
                    continue;
                }
                seen.push(Arc::as_ptr(&cache));
                stats.fetches += cache.counters.fetches.load(Ordering::Relaxed);
                stats.not_modified += cache.counters.not_modified.load(Ordering::Relaxed);
                stats.fetch_errors += cache.counters.fetch_errors.load(Ordering::Relaxed);
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_json_is_one_document_with_the_parts_in_place() {
        let v = Verified::new(
            r#"{"sub":"u","n":[1,2]}"#,
            r#"{"alg":"ES256"}"#,
            Arc::from("https://i/\"q\""),
        );
        let doc: serde_json::Value = serde_json::from_str(v.result_json()).expect("valid JSON");
        assert_eq!(doc["payload"]["n"][1], 2);
        assert_eq!(doc["header"]["alg"], "ES256");
        assert_eq!(doc["issuer"], "https://i/\"q\"");
        assert_eq!(v.payload_json(), r#"{"sub":"u","n":[1,2]}"#);
        assert_eq!(v.header_json(), r#"{"alg":"ES256"}"#);
        assert_eq!(v.issuer(), "https://i/\"q\"");
    }
}
