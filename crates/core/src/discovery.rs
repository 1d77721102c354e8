//! OpenID Connect discovery: the issuer's metadata from `{issuer}/.well-known/openid-configuration`,
//! kept by a [`Refresher`] (24 h, single flight, backing off on failure up to the cooldown),
//! its `issuer` checked exactly. The known document keeps serving while a re-discovery fails.

use std::sync::{Arc, OnceLock};

use futures_util::future::{BoxFuture, FutureExt};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::{check_url, Fetched, Fetcher, HttpOptions};
use crate::http_cache::Validators;
use crate::key_cache::CachePolicy;
use crate::refresh::{Fresh, Lifetime, RefreshPolicy, Refresher, Source, View};
use crate::registry::{client_identity, intern, ClientIdentity, Registry};
use crate::store::{coordinate, Document, SharedTier, Topic};

/// How long a discovery document is used before it is refreshed (in the background).
pub const DISCOVERY_TTL_MS: u64 = 86_400_000;

/// The endpoints a discovery document names (only those we use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub jwks_uri: String,
    pub introspection_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
}

/// The discovery endpoint of one issuer.
pub struct DiscoverySource {
    url: String,
    issuer: String,
    fetcher: Fetcher,
    /// The fleet's shared tier, when `shared` is set.
    tier: Option<Arc<SharedTier>>,
    clock: Clock,
}

impl Source for DiscoverySource {
    type Value = Metadata;

    /// A new document may move the JWKS URL: copies of results must not outlive it.
    const COUNTED: bool = true;

    fn fetch(
        self: Arc<Self>,
        previous: Option<Arc<Metadata>>,
    ) -> BoxFuture<'static, Result<Fresh<Metadata>>> {
        async move {
            let Some(tier) = self.tier.clone() else {
                return self.fetch_provider().await.map(|(fresh, _)| fresh);
            };
            let topic = Topic {
                kind: "discovery",
                id: self.url.as_bytes(),
                wait: self.fetcher.options().timeout,
                keep_ms: 0,
            };
            // A document the fleet shared is taken when it is fresh and says something new.
            let accept = |doc: &Document| {
                let now = self.clock.now_ms();
                let meta = self.parse(doc.body.as_bytes()).ok()?;
                let changed = previous.as_deref() != Some(&meta);
                (doc.expires_at > now && (changed || doc.refresh_at > now))
                    .then(|| Fresh::New(Arc::new(meta), doc.lifetime(now)))
            };
            coordinate(&tier, &topic, accept, || self.fetch_provider()).await
        }
        .boxed()
    }

    fn task_failed(&self) -> Error {
        Error::new(ErrorCode::FetchFailed, "the discovery task failed")
    }
}

impl DiscoverySource {
    async fn fetch_provider(&self) -> Result<(Fresh<Metadata>, Option<Document>)> {
        let lifetime = Lifetime {
            fresh_ms: DISCOVERY_TTL_MS,
            refresh_after_ms: DISCOVERY_TTL_MS,
        };
        match self
            .fetcher
            .get(&self.url, &Validators::default(), "discovery")
            .await?
        {
            Fetched::Body { body, .. } => {
                let meta = self.parse(&body)?;
                let now = self.clock.now_ms();
                let doc = Document {
                    body: String::from_utf8_lossy(&body).into_owned(),
                    etag: None,
                    last_modified: None,
                    fetched_at: now,
                    expires_at: now.saturating_add(DISCOVERY_TTL_MS),
                    refresh_at: now.saturating_add(DISCOVERY_TTL_MS),
                };
                Ok((Fresh::New(Arc::new(meta), lifetime), Some(doc)))
            }
            Fetched::NotModified { .. } => Err(Error::jwks(format!(
                "discovery endpoint {} answered 304",
                self.url
            ))),
        }
    }

    /// The discovery document's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn parse(&self, body: &[u8]) -> Result<Metadata> {
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
        let endpoint = |name: &str, required: bool| -> Result<Option<String>> {
            let Some(uri) = doc.get(name).and_then(Value::as_str) else {
                return if required {
                    Err(Error::jwks(format!(
                        "discovery document at {} has no \"{name}\"",
                        self.url
                    )))
                } else {
                    Ok(None)
                };
            };
            match check_url(uri, self.fetcher.options().allow_http) {
                Ok(_) => Ok(Some(uri.to_owned())),
                Err(why) if required => Err(Error::jwks(format!("discovered {name} {uri} {why}"))),
                // An optional endpoint we may not use is as good as absent.
                Err(_) => Ok(None),
            }
        };
        Ok(Metadata {
            jwks_uri: endpoint("jwks_uri", true)?.unwrap_or_default(),
            introspection_endpoint: endpoint("introspection_endpoint", false)?,
            token_endpoint: endpoint("token_endpoint", false)?,
        })
    }
}

/// The discovery state of one issuer, shared by every user of the same (URL, issuer, HTTP
/// identity, clock).
pub type Discovery = Refresher<DiscoverySource>;

/// What discovery knows now.
pub enum Resolved {
    /// The metadata (possibly older than 24 h while a re-discovery runs or fails).
    Ready(Arc<Metadata>),
    /// Backing off after a failure.
    Failing(Error),
    /// Not discovered yet: call [`Refresher::load`].
    Missing,
}

/// What `discovery` knows at `now` (takes no lock once the document is known).
pub fn resolved(discovery: &Arc<Discovery>, now: u64) -> Resolved {
    match discovery.peek(now) {
        View::Fresh(e) | View::Stale(e) => Resolved::Ready(Arc::clone(&e.value)),
        View::Failing(e) => Resolved::Failing(e),
        View::Missing => Resolved::Missing,
    }
}

/// The discovery URL of an issuer: without a trailing `/`, plus the well-known path.
pub fn url_of(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

type DiscoveryId = (String, String, ClientIdentity, usize, usize);
static REGISTRY: Registry<DiscoveryId, Discovery> = OnceLock::new();

/// The process-wide discovery state of (discovery URL, issuer, headers, CA, clock). Failures
/// back off up to `policy.cooldown_ms`; the known document serves indefinitely while a
/// re-discovery fails.
pub fn shared(
    url: &str,
    issuer: &str,
    http: &HttpOptions,
    policy: &CachePolicy,
    clock: &Clock,
    tier: Option<&Arc<SharedTier>>,
) -> Result<Arc<Discovery>> {
    let tier_id = tier.map_or(0, |t| Arc::as_ptr(t) as usize);
    let id = (
        url.to_owned(),
        issuer.to_owned(),
        client_identity(http),
        clock.id(),
        tier_id,
    );
    let (discovery, _) = intern(&REGISTRY, id, || {
        let source = Arc::new(DiscoverySource {
            url: url.to_owned(),
            issuer: issuer.to_owned(),
            fetcher: Fetcher::new(http.clone())?,
            tier: tier.cloned(),
            clock: clock.clone(),
        });
        let refresh = RefreshPolicy {
            max_stale_ms: u64::MAX,
            max_backoff_ms: policy.cooldown_ms,
        };
        Ok(Refresher::new(source, refresh, clock.clone()))
    })?;
    Ok(discovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(issuer: &str) -> DiscoverySource {
        DiscoverySource {
            url: url_of(issuer),
            issuer: issuer.to_owned(),
            fetcher: Fetcher::new(HttpOptions::default()).expect("client"),
            tier: None,
            clock: Clock::system(),
        }
    }

    #[test]
    fn the_issuer_must_match_exactly_and_endpoints_follow_the_url_policy() {
        let s = source("https://id.example.com/");
        let ok = br#"{"issuer":"https://id.example.com/","jwks_uri":"https://id.example.com/jwks","introspection_endpoint":"https://id.example.com/introspect"}"#;
        let m = s.parse(ok).expect("valid");
        assert_eq!(m.jwks_uri, "https://id.example.com/jwks");
        assert_eq!(
            m.introspection_endpoint.as_deref(),
            Some("https://id.example.com/introspect")
        );
        assert_eq!(m.token_endpoint, None);
        let cases: [&[u8]; 4] = [
            br#"{"issuer":"https://id.example.com","jwks_uri":"https://id.example.com/jwks"}"#,
            br#"{"issuer":"https://id.example.com/"}"#,
            br#"{"issuer":"https://id.example.com/","jwks_uri":"http://evil.example.com/jwks"}"#,
            b"not json",
        ];
        for body in cases {
            let e = s.parse(body).expect_err("refused");
            assert_eq!(e.code, ErrorCode::JwksInvalid, "{}", e.message);
        }
        assert_eq!(
            url_of("https://a/"),
            "https://a/.well-known/openid-configuration"
        );
    }
}
