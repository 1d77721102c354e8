//! Events the caches report to the Verifiers that use them (and the sink trait a token source's
//! events go through too).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::Error;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A fetch completed (200 or 304).
    Fetch,
    /// The key set changed.
    Rotate,
    /// Keys past their freshness were used while the endpoint fails or refreshes.
    Stale,
    /// A fetch failed.
    Error,
    /// A configuration conflict (e.g. different cache options for a shared cache).
    Warning,
    /// A validation endpoint answered (or failed) for a token.
    Revalidate,
    /// Something recovered (e.g. the shared tier is back).
    Info,
}

impl EventKind {
    /// The `type` JS sees.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Fetch => "fetch",
            EventKind::Rotate => "rotate",
            EventKind::Stale => "stale",
            EventKind::Error => "error",
            EventKind::Warning => "warning",
            EventKind::Revalidate => "revalidate",
            EventKind::Info => "info",
        }
    }
}

/// One event.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub jwks_uri: String,
    pub issuer: Option<String>,
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
    pub kids: Option<Vec<String>>,
    pub added: Option<Vec<String>>,
    pub removed: Option<Vec<String>>,
    pub error: Option<Error>,
    /// The validation endpoint (revalidate events; `jwks_uri` is empty then).
    pub endpoint: Option<String>,
    /// The endpoint's verdict (revalidate events that got one).
    pub active: Option<bool>,
    /// An event of the shared tier (`endpoint` is the Redis URL without credentials).
    pub shared: bool,
}

impl Event {
    /// An event with only its kind and URL.
    pub fn new(kind: EventKind, jwks_uri: &str) -> Event {
        Event {
            kind,
            jwks_uri: jwks_uri.to_owned(),
            issuer: None,
            status: None,
            duration_ms: None,
            kids: None,
            added: None,
            removed: None,
            error: None,
            endpoint: None,
            active: None,
            shared: false,
        }
    }
}

/// Receives events (of a Verifier's caches by default; a token source's are
/// `credentials::TokenEvent`); implementations must not block (the glue queues them to the JS
/// thread).
pub trait EventSink<E = Event>: Send + Sync {
    fn emit(&self, event: E);
}

/// The subscribers of one shared cache: every Verifier that uses it receives its events.
#[derive(Default)]
pub struct EventHub {
    sinks: Mutex<Vec<(u64, Arc<dyn EventSink>)>>,
    next: AtomicU64,
}

impl EventHub {
    /// Receive events until [`EventHub::unsubscribe`] with the id returned.
    pub fn subscribe(&self, sink: Arc<dyn EventSink>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
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

    /// Hand an event to every subscriber (outside the lock).
    pub fn emit(&self, event: Event) {
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
