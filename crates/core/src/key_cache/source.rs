//! Fetching one JWKS: the conditional GET, parsing into a [`KeySet`] (reusing keys already
//! parsed), and the events and counters of each fetch (`fetch`, `rotate`, `error`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt};

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventHub, EventKind};
use crate::fetch::{elapsed_ms, Fetched, Fetcher};
use crate::http_cache::Validators;
use crate::jwk::Origin;
use crate::key::Key;
use crate::key_cache::policy::CachePolicy;
use crate::keyset::KeySet;
use crate::refresh::{Fresh, Lifetime, Source};
use crate::store::{coordinate, Document, SharedTier, Topic};

/// Fetch counters of one cache.
#[derive(Debug, Default)]
pub struct Counters {
    pub fetches: AtomicU64,
    pub not_modified: AtomicU64,
    pub fetch_errors: AtomicU64,
}

/// The JWKS endpoint of one cache.
pub struct JwksSource {
    pub url: String,
    pub fetcher: Fetcher,
    pub policy: CachePolicy,
    pub events: EventHub,
    pub counters: Counters,
    validators: Mutex<Validators>,
    /// The fleet's shared tier, when `shared` is set.
    pub tier: Option<Arc<SharedTier>>,
    clock: Clock,
    /// The body and arrival time (epoch ms) of the keys held, as the fleet shares them.
    held: Mutex<(Option<Arc<str>>, u64)>,
}

impl JwksSource {
    /// A source for `url`.
    pub fn new(
        url: String,
        fetcher: Fetcher,
        policy: CachePolicy,
        tier: Option<Arc<SharedTier>>,
        clock: Clock,
    ) -> JwksSource {
        JwksSource {
            url,
            fetcher,
            policy,
            events: EventHub::default(),
            counters: Counters::default(),
            validators: Mutex::new(Validators::default()),
            tier,
            clock,
            held: Mutex::new((None, 0)),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, (Option<Arc<str>>, u64)> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetch through the fleet when there is one: a newer JWKS another process shared is taken
    /// (after the same parsing and rules as a provider answer); else one process of the fleet
    /// asks the provider.
    async fn fetch_keys(self: Arc<Self>, previous: Option<Arc<KeySet>>) -> Result<Fresh<KeySet>> {
        let Some(tier) = self.tier.clone() else {
            return self
                .fetch_from_provider(previous)
                .await
                .map(|(fresh, _)| fresh);
        };
        let topic = Topic {
            kind: "jwks",
            id: self.url.as_bytes(),
            wait: self.fetcher.options().timeout,
            keep_ms: self.policy.max_stale_ms,
        };
        let accept = |doc: &Document| self.adopt(doc, previous.as_deref());
        let provider = || Arc::clone(&self).fetch_from_provider(previous.clone());
        coordinate(&tier, &topic, accept, provider).await
    }

    /// A JWKS the fleet shared, when it is newer than the keys held and still fresh.
    fn adopt(&self, doc: &Document, previous: Option<&KeySet>) -> Option<Fresh<KeySet>> {
        let now = self.clock.now_ms();
        if doc.expires_at <= now || doc.fetched_at <= self.held().1 {
            return None;
        }
        let set = Arc::new(KeySet::parse(doc.body.as_bytes(), Origin::Remote, previous).ok()?);
        *self.validators() = Validators {
            etag: doc.etag.clone(),
            last_modified: doc.last_modified.clone(),
        };
        *self.held() = (Some(Arc::from(doc.body.as_str())), doc.fetched_at);
        if let Some(previous) = previous {
            self.report_rotation(&set, previous);
        }
        self.report_skipped(&set, previous);
        Some(Fresh::New(set, doc.lifetime(now)))
    }

    /// What the fleet should see of keys that just arrived.
    fn document(&self, body: Arc<str>, lifetime: Lifetime) -> Document {
        let now = self.clock.now_ms();
        let validators = self.validators().clone();
        *self.held() = (Some(Arc::clone(&body)), now);
        Document {
            body: body.to_string(),
            etag: validators.etag,
            last_modified: validators.last_modified,
            fetched_at: now,
            expires_at: now.saturating_add(lifetime.fresh_ms),
            refresh_at: now.saturating_add(lifetime.refresh_after_ms),
        }
    }

    async fn fetch_from_provider(
        self: Arc<Self>,
        previous: Option<Arc<KeySet>>,
    ) -> Result<(Fresh<KeySet>, Option<Document>)> {
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        // Validators only make sense while we hold the keys they describe.
        let validators = match &previous {
            Some(_) => self.validators().clone(),
            None => Validators::default(),
        };
        let start = Instant::now();
        let result = self.fetcher.get(&self.url, &validators, "JWKS").await;
        let duration = elapsed_ms(start);
        let outcome = match result {
            Ok(Fetched::Body {
                status,
                body,
                validators,
                freshness,
            }) => KeySet::parse(&body, Origin::Remote, previous.as_deref()).map(|set| {
                let set = Arc::new(set);
                *self.validators() = validators;
                self.report_keys(&set, previous.as_deref(), status, duration);
                self.report_skipped(&set, previous.as_deref());
                let lifetime = self.policy.lifetime(freshness);
                let text: Arc<str> = Arc::from(String::from_utf8_lossy(&body).as_ref());
                let doc = self.document(text, lifetime);
                (Fresh::New(set, lifetime), Some(doc))
            }),
            Ok(Fetched::NotModified {
                validators: fresh,
                freshness,
            }) => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                match &previous {
                    Some(keys) => {
                        if fresh.any() {
                            *self.validators() = fresh;
                        }
                        self.report_keys(keys, None, 304, duration);
                        let lifetime = self.policy.lifetime(freshness);
                        let body = self.held().0.clone();
                        let doc = body.map(|b| self.document(b, lifetime));
                        Ok((Fresh::Same(lifetime), doc))
                    }
                    None => Err(Error::new(
                        ErrorCode::FetchFailed,
                        format!(
                            "JWKS endpoint {} answered 304 to an unconditional request",
                            self.url
                        ),
                    )
                    .with_status(304)),
                }
            }
            Err(err) => Err(err),
        };
        if let Err(err) = &outcome {
            self.counters.fetch_errors.fetch_add(1, Ordering::Relaxed);
            let mut event = Event::new(EventKind::Error, &self.url);
            event.status = err.status;
            event.duration_ms = Some(duration);
            event.error = Some(err.clone());
            self.events.emit(event);
        }
        outcome
    }

    fn validators(&self) -> std::sync::MutexGuard<'_, Validators> {
        self.validators.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A `warning` event naming the keys the set skips, when they differ from `previous`'s.
    fn report_skipped(&self, keys: &KeySet, previous: Option<&KeySet>) {
        if keys.skipped.is_empty() || previous.is_some_and(|p| p.skipped == keys.skipped) {
            return;
        }
        let reasons: Vec<String> = keys
            .skipped
            .iter()
            .map(|k| format!("{}: {}", k.kid.as_deref().unwrap_or("(no kid)"), k.reason))
            .collect();
        let mut event = Event::new(EventKind::Warning, &self.url);
        event.kids = Some(
            keys.skipped
                .iter()
                .map(|k| k.kid.clone().unwrap_or_default())
                .collect(),
        );
        event.error = Some(Error::new(
            ErrorCode::JwksInvalid,
            format!(
                "the JWKS at {} has {} key(s) that cannot be used ({}); tokens signed with them are refused",
                self.url,
                keys.skipped.len(),
                reasons.join("; ")
            ),
        ));
        self.events.emit(event);
    }

    /// A `fetch` event, and a `rotate` event when the keys differ from `previous`.
    fn report_keys(&self, keys: &KeySet, previous: Option<&KeySet>, status: u16, duration: f64) {
        let mut event = Event::new(EventKind::Fetch, &self.url);
        event.status = Some(status);
        event.duration_ms = Some(duration);
        event.kids = Some(keys.kids());
        self.events.emit(event);
        if let Some(previous) = previous {
            self.report_rotation(keys, previous);
        }
    }

    /// A `rotate` event when the keys differ from `previous`.
    fn report_rotation(&self, keys: &KeySet, previous: &KeySet) {
        let old: HashSet<u64> = previous.keys().iter().map(|k| k.fingerprint).collect();
        let new: HashSet<u64> = keys.keys().iter().map(|k| k.fingerprint).collect();
        if old == new {
            return;
        }
        let label = |k: &Key| {
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
        self.events.emit(event);
    }
}

impl Source for JwksSource {
    type Value = KeySet;

    /// Results are verified with these keys: copies of them must not outlive a change.
    const COUNTED: bool = true;

    fn fetch(
        self: Arc<Self>,
        previous: Option<Arc<KeySet>>,
    ) -> BoxFuture<'static, Result<Fresh<KeySet>>> {
        self.fetch_keys(previous).boxed()
    }

    fn task_failed(&self) -> Error {
        Error::new(ErrorCode::FetchFailed, "the JWKS fetch task failed")
    }
}
