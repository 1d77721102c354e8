//! Fetching one JWKS: the conditional GET, parsing into a [`KeySet`] (reusing keys already
//! parsed), and the events and counters of each fetch (`fetch`, `rotate`, `error`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt};

use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventHub, EventKind};
use crate::fetch::{elapsed_ms, Fetched, Fetcher};
use crate::http_cache::Validators;
use crate::jwk::Origin;
use crate::key::Key;
use crate::key_cache::policy::CachePolicy;
use crate::keyset::KeySet;
use crate::refresh::{Fresh, Source};

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
}

impl JwksSource {
    /// A source for `url`.
    pub fn new(url: String, fetcher: Fetcher, policy: CachePolicy) -> JwksSource {
        JwksSource {
            url,
            fetcher,
            policy,
            events: EventHub::default(),
            counters: Counters::default(),
            validators: Mutex::new(Validators::default()),
        }
    }

    async fn fetch_keys(self: Arc<Self>, previous: Option<Arc<KeySet>>) -> Result<Fresh<KeySet>> {
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
                Fresh::New(set, self.policy.lifetime(freshness))
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
                        Ok(Fresh::Same(self.policy.lifetime(freshness)))
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

    /// A `fetch` event, and a `rotate` event when the keys differ from `previous`.
    fn report_keys(&self, keys: &KeySet, previous: Option<&KeySet>, status: u16, duration: f64) {
        let mut event = Event::new(EventKind::Fetch, &self.url);
        event.status = Some(status);
        event.duration_ms = Some(duration);
        event.kids = Some(keys.kids());
        self.events.emit(event);
        let Some(previous) = previous else { return };
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
