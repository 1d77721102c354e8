//! One configured issuer of a Verifier: its options, its discovery state, the key cache it
//! uses now (discovery may move the JWKS URL), and its subscriptions to the shared caches'
//! events.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::discovery::{self, Discovery, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventKind, EventSink};
use crate::key_cache::{self, KeyCache};
use crate::options::{IssuerOptions, KeySource, Options};
use crate::revalidate::{Context, Mode, Revalidator};
use crate::store::SharedTier;

/// Where an issuer's keys are now.
pub enum Keys {
    /// The key cache to use.
    Cache(Arc<KeyCache>),
    /// Discovery must run first.
    Discover(Arc<Discovery>),
}

/// See the module documentation.
pub struct Issuer {
    pub options: IssuerOptions,
    /// The `iss` value (empty when `iss` is not checked).
    pub name: Arc<str>,
    pub discovery: Option<Arc<Discovery>>,
    /// Token liveness, when `revalidate` is set.
    pub revalidator: Option<Revalidator>,
    cache: ArcSwapOption<KeyCache>,
    sink: Option<Arc<dyn EventSink>>,
    subscriptions: Mutex<Vec<(Arc<KeyCache>, u64)>>,
    tier: Option<Arc<SharedTier>>,
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

impl Issuer {
    /// Set up an issuer: its discovery state or key cache (shared with the process).
    pub fn new(
        opts: &IssuerOptions,
        options: &Options,
        sink: Option<Arc<dyn EventSink>>,
        tier: Option<Arc<SharedTier>>,
    ) -> Result<Issuer> {
        let discover = |url: &str| {
            discovery::shared(
                url,
                opts.issuer.as_deref().unwrap_or(""),
                &options.http,
                &options.cache,
                &options.clock,
                tier.as_ref(),
            )
        };
        let discovery = match &opts.source {
            KeySource::Discovery(url) => Some(discover(url)?),
            _ => None,
        };
        let revalidator = match &opts.revalidate {
            None => None,
            Some(r) => {
                // An introspection endpoint left out is read from the issuer's discovery document.
                let needs_discovery = matches!(r.mode, Mode::Introspection { endpoint: None, .. });
                let discovery = match (&discovery, &opts.issuer) {
                    (Some(d), _) => Some(Arc::clone(d)),
                    (None, Some(iss)) if needs_discovery => {
                        Some(discover(&discovery::url_of(iss))?)
                    }
                    _ => None,
                };
                Some(Revalidator::new(
                    r.clone(),
                    Context {
                        http: &options.http,
                        discovery,
                        clock: options.clock.clone(),
                        max_backoff_ms: options.cache.cooldown_ms,
                        sink: sink.clone(),
                        issuer: opts.issuer.clone(),
                        tier: tier.clone(),
                    },
                )?)
            }
        };
        let issuer = Issuer {
            options: opts.clone(),
            name: Arc::from(opts.issuer.as_deref().unwrap_or("")),
            discovery,
            revalidator,
            cache: ArcSwapOption::empty(),
            sink,
            subscriptions: Mutex::new(Vec::new()),
            tier,
        };
        if let KeySource::Remote(url) = &opts.source {
            issuer.attach(url, options)?;
        }
        Ok(issuer)
    }

    /// The key cache in use, if any.
    pub fn cache(&self) -> Option<Arc<KeyCache>> {
        self.cache.load_full()
    }

    /// The issuer's key cache, discovering its URL when needed.
    pub fn keys(&self, options: &Options, now: u64) -> Result<Keys> {
        if let Some(cache) = self.cache.load_full() {
            if let Some(d) = &self.discovery {
                // A re-discovery may have moved the JWKS URL.
                if let Resolved::Ready(meta) = discovery::resolved(d, now) {
                    if meta.jwks_uri != cache.url() {
                        return Ok(Keys::Cache(self.attach(&meta.jwks_uri, options)?));
                    }
                }
            }
            return Ok(Keys::Cache(cache));
        }
        let Some(d) = &self.discovery else {
            return Err(Error::new(
                ErrorCode::NoMatchingKey,
                "no JWKS is configured for this issuer",
            ));
        };
        match discovery::resolved(d, now) {
            Resolved::Ready(meta) => Ok(Keys::Cache(self.attach(&meta.jwks_uri, options)?)),
            Resolved::Failing(e) => Err(e),
            Resolved::Missing => Ok(Keys::Discover(Arc::clone(d))),
        }
    }

    /// Use the process-wide cache of `uri` from now on (subscribing to its events).
    fn attach(&self, uri: &str, options: &Options) -> Result<Arc<KeyCache>> {
        let (cache, conflict) = key_cache::shared(
            uri,
            &options.http,
            options.cache,
            &options.clock,
            self.tier.as_ref(),
        )?;
        let previous = self.cache.swap(Some(Arc::clone(&cache)));
        if previous.is_some_and(|p| Arc::ptr_eq(&p, &cache)) {
            return Ok(cache);
        }
        if let Some(sink) = &self.sink {
            if conflict {
                sink.emit(conflict_warning(&cache, self.options.issuer.as_deref()));
            }
            let id = cache.subscribe(Arc::new(IssuerSink {
                issuer: self.options.issuer.clone(),
                sink: Arc::clone(sink),
            }));
            self.subscriptions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Arc::clone(&cache), id));
        }
        Ok(cache)
    }

    /// Stop receiving the shared caches' events.
    pub fn unsubscribe(&self) {
        let subs =
            std::mem::take(&mut *self.subscriptions.lock().unwrap_or_else(|p| p.into_inner()));
        for (cache, id) in subs {
            cache.unsubscribe(id);
        }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

fn conflict_warning(cache: &KeyCache, issuer: Option<&str>) -> Event {
    let mut event = Event::new(EventKind::Warning, cache.url());
    event.issuer = issuer.map(str::to_owned);
    event.error = Some(Error::new(
        ErrorCode::InvalidOptions,
        format!(
            "the key cache of {} is shared with an earlier Verifier whose cache options differ; its options stay in force",
            cache.url()
        ),
    ));
    event
}
