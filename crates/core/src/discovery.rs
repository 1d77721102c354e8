//! OpenID Connect discovery: `jwks_uri` from `{issuer}/.well-known/openid-configuration`,
//! cached (24 h), single flight, backing off on failure, `issuer` checked exactly.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde_json::Value;

use crate::cache::{with_retry_after, CachePolicy};
use crate::clock;
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::{check_url, Fetched, Fetcher, HttpOptions, Validators};
use crate::registry::{client_identity, intern, Registry};
use crate::runtime;

/// How long a discovery document is used.
pub const DISCOVERY_TTL_MS: u64 = 86_400_000;

type SharedResolve = Shared<BoxFuture<'static, Result<String>>>;

#[derive(Default)]
struct State {
    jwks_uri: Option<String>,
    expires_at: u64,
    inflight: Option<SharedResolve>,
    next_attempt_at: u64,
    failures: u32,
    last_error: Option<Error>,
}

/// The discovery document of one issuer.
pub struct Discovery {
    url: String,
    issuer: String,
    fetcher: Fetcher,
    state: Mutex<State>,
}

/// What discovery knows now.
pub enum Resolved {
    /// The JWKS URL.
    Ready(String),
    /// Backing off after a failure.
    Failing(Error),
    /// Not discovered yet: call [`Discovery::resolve`].
    Missing,
}

impl Discovery {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The discovery URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JWKS URL if known (refreshing it in the background after 24 h).
    pub fn resolved(self: &Arc<Self>, now: u64) -> Resolved {
        let mut st = self.lock();
        if let Some(uri) = st.jwks_uri.clone() {
            if now >= st.expires_at && st.inflight.is_none() && now >= st.next_attempt_at {
                drop(self.start(&mut st));
            }
            return Resolved::Ready(uri);
        }
        if st.inflight.is_none() && now < st.next_attempt_at {
            if let Some(err) = &st.last_error {
                return Resolved::Failing(with_retry_after(err, st.next_attempt_at - now));
            }
        }
        Resolved::Missing
    }

    /// Discover the JWKS URL (joining a discovery in flight).
    pub async fn resolve(self: &Arc<Self>) -> Result<String> {
        let fut = {
            let mut st = self.lock();
            if let Some(f) = &st.inflight {
                f.clone()
            } else {
                let now = clock::now_ms();
                if st.jwks_uri.is_none() && now < st.next_attempt_at {
                    if let Some(err) = &st.last_error {
                        return Err(with_retry_after(err, st.next_attempt_at - now));
                    }
                }
                self.start(&mut st)
            }
        };
        fut.await
    }

    fn start(self: &Arc<Self>, st: &mut State) -> SharedResolve {
        let this = Arc::clone(self);
        let handle = runtime::spawn(async move { this.fetch().await });
        let fut = async move {
            handle.await.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorCode::FetchFailed,
                    "the discovery task failed",
                ))
            })
        }
        .boxed()
        .shared();
        st.inflight = Some(fut.clone());
        fut
    }

    async fn fetch(self: Arc<Self>) -> Result<String> {
        let result = match self
            .fetcher
            .get(&self.url, &Validators::default(), "discovery")
            .await
        {
            Ok(Fetched::Body { body, .. }) => self.parse(&body),
            Ok(Fetched::NotModified { .. }) => Err(Error::jwks(format!(
                "discovery endpoint {} answered 304",
                self.url
            ))),
            Err(e) => Err(e),
        };
        let now = clock::now_ms();
        let mut st = self.lock();
        st.inflight = None;
        match &result {
            Ok(uri) => {
                st.jwks_uri = Some(uri.clone());
                st.expires_at = now.saturating_add(DISCOVERY_TTL_MS);
                st.failures = 0;
                st.last_error = None;
            }
            Err(err) => {
                st.failures = st.failures.saturating_add(1);
                st.next_attempt_at = now
                    .saturating_add(CachePolicy::default().wait_after_failure_ms(st.failures, err));
                st.last_error = Some(err.clone());
                if let Some(uri) = &st.jwks_uri {
                    // Keep the known JWKS URL; a later attempt may refresh it.
                    return Ok(uri.clone());
                }
            }
        }
        result
    }

    fn parse(&self, body: &[u8]) -> Result<String> {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|_| Error::jwks(format!("discovery document at {} is not JSON", self.url)))?;
        let issuer = doc.get("issuer").and_then(Value::as_str);
        if issuer != Some(self.issuer.as_str()) {
            return Err(Error::jwks(format!(
                "discovery document at {} names issuer {:?}, expected {:?} exactly",
                self.url,
                issuer.unwrap_or("(none)"),
                self.issuer
            )));
        }
        let uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| {
            Error::jwks(format!(
                "discovery document at {} has no \"jwks_uri\"",
                self.url
            ))
        })?;
        check_url(uri, self.fetcher.options().allow_http)
            .map_err(|why| Error::jwks(format!("discovered jwks_uri {uri} {why}")))?;
        Ok(uri.to_owned())
    }
}

type DiscoveryId = (String, String, Vec<(String, String)>, Option<String>);
static REGISTRY: Registry<DiscoveryId, Discovery> = OnceLock::new();

/// The process-wide discovery state of (discovery URL, issuer, headers, CA).
pub fn shared(url: &str, issuer: &str, http: &HttpOptions) -> Result<Arc<Discovery>> {
    let (headers, ca) = client_identity(http);
    let id = (url.to_owned(), issuer.to_owned(), headers, ca);
    let (discovery, _) = intern(&REGISTRY, id, || {
        Ok(Arc::new(Discovery {
            url: url.to_owned(),
            issuer: issuer.to_owned(),
            fetcher: Fetcher::new(http.clone())?,
            state: Mutex::new(State::default()),
        }))
    })?;
    Ok(discovery)
}
