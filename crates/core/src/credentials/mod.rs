//! The client-credentials token source (RFC 6749 §4.4): a token from the token endpoint, kept
//! by a [`Refresher`] — one request per token lifetime, refreshed ahead `refreshBefore` early
//! by the first use past that point, single flight, the current token serving while a refresh
//! fails, backoff and `Retry-After` — and never shown: not in errors, events or `Debug`.
//!
//! Files: `options` (what the caller asked for), `assertion` (the signed client assertion of
//! private_key_jwt), `answer` (the endpoint's JSON, and the lifetime it gives a token),
//! `secret` (values that never show themselves).

mod answer;
mod assertion;
mod options;
mod secret;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::{BoxFuture, FutureExt};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Method;

pub use answer::{Answer, DEFAULT_LIFETIME_MS, DEFAULT_REFRESH_BEFORE_MS};
pub use assertion::{SigningKey, ASSERTION_TTL_SECS};
pub use options::{parse, ClientAuth, Endpoint, SourceOptions, RESERVED_PARAMS};
pub use secret::Secret;

use crate::clock::Clock;
use crate::discovery::{self, Discovery, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::events::EventSink;
use crate::fetch::{elapsed_ms, Fetcher, Request};
use crate::http_cache::retry_after;
use crate::key_cache::CachePolicy;
use crate::refresh::{Fresh, Lifetime, RefreshPolicy, Refresher, View};
use crate::store::{self, coordinate, Document, SharedTier, Topic};

/// Longest wait between token requests after failures (the wait starts at 1 s and doubles).
pub const MAX_BACKOFF_MS: u64 = 30_000;

/// The kind of shared-tier entry that holds tokens.
const SHARED_KIND: &str = "token";

/// The `client_assertion_type` of private_key_jwt.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token, as `getToken()` hands it out. `Debug` hides the token itself.
#[derive(Debug, Clone)]
pub struct Token {
    pub access_token: Secret,
    /// `Bearer`, or the scheme the endpoint named.
    pub token_type: String,
    /// Epoch milliseconds (counted from the moment the token was asked for).
    pub expires_at: u64,
    /// The granted scope, when the endpoint named one.
    pub scope: Option<String>,
}

impl Token {
    /// The `Authorization` header value: `Bearer <token>`.
    pub fn authorization(&self) -> String {
        format!("{} {}", self.token_type, self.access_token.expose())
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEventKind {
    /// A token arrived.
    Token,
    /// A token request failed.
    Error,
    /// Something odd that did not fail the request (an answer without `expires_in`).
    Warning,
}

impl TokenEventKind {
    /// The `type` JS sees.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEventKind::Token => "token",
            TokenEventKind::Error => "error",
            TokenEventKind::Warning => "warning",
        }
    }
}

/// One event of a token source. Never holds a secret or a token.
#[derive(Debug, Clone)]
pub struct TokenEvent {
    pub kind: TokenEventKind,
    /// The token endpoint (absent while discovery has not named it).
    pub token_url: Option<String>,
    /// The configured issuer, when the endpoint is discovered.
    pub issuer: Option<String>,
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
    /// When the new token expires (epoch milliseconds).
    pub expires_at: Option<u64>,
    /// The granted scope.
    pub scope: Option<String>,
    /// What a warning is about.
    pub message: Option<String>,
    pub error: Option<Error>,
}

impl TokenEvent {
    fn new(kind: TokenEventKind, token_url: Option<&str>, issuer: Option<&str>) -> TokenEvent {
        TokenEvent {
            kind,
            token_url: token_url.map(str::to_owned),
            issuer: issuer.map(str::to_owned),
            status: None,
            duration_ms: None,
            expires_at: None,
            scope: None,
            message: None,
            error: None,
        }
    }
}

enum Where {
    Url(String),
    Discovered {
        issuer: String,
        discovery: Arc<Discovery>,
    },
}

/// The token endpoint of one source: where it is, how the client authenticates, what it asks
/// for. The [`Refresher`]'s [`crate::refresh::Source`].
pub struct TokenEndpoint {
    place: Where,
    client_id: String,
    auth: ClientAuth,
    /// `grant_type`, `scope`, `audience`, `resource`s and `params`, in that order.
    form: Vec<(String, String)>,
    refresh_before_ms: u64,
    fetcher: Fetcher,
    clock: Clock,
    sink: Option<Arc<dyn EventSink<TokenEvent>>>,
    /// The fleet's shared tier (`shared`): tokens shared encrypted.
    tier: Option<Arc<SharedTier>>,
    /// When the token held arrived (epoch ms), as the fleet shares it.
    last_fetched: AtomicU64,
}

/// A token as the fleet shares it (encrypted in the shared tier).
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedToken {
    access_token: String,
    token_type: String,
    expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

impl TokenEndpoint {
    /// What identifies this source's tokens in the fleet: the token URL, the client and what it
    /// asks for (never its credentials). Only an HMAC of it names the Redis key.
    fn shared_id(&self, url: &str) -> String {
        let form: Vec<String> = self.form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{url}\n{}\n{}", self.client_id, form.join("&"))
    }

    /// A token another process of the fleet got, when it is newer than ours and not yet due
    /// for refresh.
    fn adopt(&self, tier: &SharedTier, id: &str, doc: &Document) -> Option<Fresh<Token>> {
        let now = self.clock.now_ms();
        let due = doc.refresh_at.min(doc.expires_at);
        if due <= now || doc.fetched_at <= self.last_fetched.load(Ordering::Relaxed) {
            return None;
        }
        let plain = tier.decrypt(SHARED_KIND, id.as_bytes(), &doc.body)?;
        let shared: SharedToken = serde_json::from_slice(&plain).ok()?;
        self.last_fetched.store(doc.fetched_at, Ordering::Relaxed);
        let token = Token {
            access_token: Secret::new(shared.access_token),
            token_type: shared.token_type,
            expires_at: shared.expires_at,
            scope: shared.scope,
        };
        Some(Fresh::New(Arc::new(token), doc.lifetime(now)))
    }

    /// Through the fleet: a fresh token another process shared is taken; else one process asks
    /// the token endpoint and shares the token, encrypted.
    async fn fetch_shared(self: Arc<Self>, tier: Arc<SharedTier>) -> Result<Fresh<Token>> {
        let url = self.url().await.map_err(|e| self.scrub(e))?;
        let id = self.shared_id(&url);
        let topic = Topic {
            kind: SHARED_KIND,
            id: id.as_bytes(),
            wait: self.fetcher.options().timeout,
            keep_ms: 0,
        };
        let provider = || async {
            let fresh = Arc::clone(&self).fetch_token().await?;
            let doc = match &fresh {
                Fresh::New(token, lifetime) => self.document(&tier, &id, token, *lifetime),
                Fresh::Same(_) => None,
            };
            Ok((fresh, doc))
        };
        coordinate(&tier, &topic, |doc| self.adopt(&tier, &id, doc), provider).await
    }

    /// The shared, encrypted form of a token that just arrived.
    fn document(
        &self,
        tier: &SharedTier,
        id: &str,
        token: &Token,
        lifetime: Lifetime,
    ) -> Option<Document> {
        let now = self.clock.now_ms();
        self.last_fetched.store(now, Ordering::Relaxed);
        let shared = SharedToken {
            access_token: token.access_token.expose().to_owned(),
            token_type: token.token_type.clone(),
            expires_at: token.expires_at,
            scope: token.scope.clone(),
        };
        let plain = serde_json::to_vec(&shared).ok()?;
        Some(Document {
            body: tier.encrypt(SHARED_KIND, id.as_bytes(), &plain)?,
            etag: None,
            last_modified: None,
            fetched_at: now,
            expires_at: token.expires_at,
            refresh_at: now.saturating_add(lifetime.refresh_after_ms),
        })
    }

    fn issuer(&self) -> Option<&str> {
        match &self.place {
            Where::Url(_) => None,
            Where::Discovered { issuer, .. } => Some(issuer),
        }
    }

    fn emit(&self, event: TokenEvent) {
        if let Some(sink) = &self.sink {
            sink.emit(event);
        }
    }

    /// The token URL: configured, or `token_endpoint` of the issuer's discovery document.
    async fn url(&self) -> Result<String> {
        let (issuer, discovery) = match &self.place {
            Where::Url(url) => return Ok(url.clone()),
            Where::Discovered { issuer, discovery } => (issuer, discovery),
        };
        let metadata = match discovery::resolved(discovery, self.clock.now_ms()) {
            Resolved::Ready(m) => m,
            Resolved::Failing(e) => return Err(e),
            Resolved::Missing => discovery.fresh_or_load().await?,
        };
        metadata.token_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::TokenRequestFailed,
                format!("the discovery document of {issuer} names no usable \"token_endpoint\""),
            )
        })
    }

    /// The form and headers of one request to `url`, with the client's credentials.
    fn request<'a>(&self, url: &'a str, now_ms: u64) -> Result<Request<'a>> {
        let mut form = self.form.clone();
        let mut headers = Vec::new();
        let id = self.client_id.clone();
        match &self.auth {
            ClientAuth::Basic(secret) => {
                // RFC 6749 §2.3.1: both form-encoded before they are joined.
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", encode(&id), encode(secret.expose()));
                let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
                    .map_err(|_| {
                        Error::new(
                            ErrorCode::TokenRequestFailed,
                            "the Basic credentials cannot be sent",
                        )
                    })?;
                value.set_sensitive(true);
                headers.push((AUTHORIZATION, value));
            }
            ClientAuth::Post(secret) => {
                form.push(("client_id".to_owned(), id));
                form.push(("client_secret".to_owned(), secret.expose().to_owned()));
            }
            ClientAuth::PrivateKeyJwt(key) => {
                let assertion = key.assertion(&id, url, now_ms)?;
                form.push(("client_id".to_owned(), id));
                form.push(("client_assertion_type".to_owned(), JWT_BEARER.to_owned()));
                form.push(("client_assertion".to_owned(), assertion));
            }
        }
        Ok(Request {
            method: Method::POST,
            url,
            headers,
            form: Some(form),
            what: "token",
        })
    }

    /// One token request, its events, and the token's lifetime.
    async fn fetch_token(self: Arc<Self>) -> Result<Fresh<Token>> {
        let start = Instant::now();
        let mut url = None;
        let result = async {
            let target = self.url().await?;
            url = Some(target.clone());
            let started = self.clock.now_ms();
            let response = self.fetcher.send(&self.request(&target, started)?).await?;
            let answer = answer::read(
                &target,
                response.status,
                retry_after(&response.headers),
                &response.body,
            )?;
            Ok((answer, response.status, started))
        }
        .await;
        let duration = elapsed_ms(start);
        let (answer, status, started) = match result {
            Ok(ok) => ok,
            Err(err) => {
                let err = self.scrub(err);
                let mut event =
                    TokenEvent::new(TokenEventKind::Error, url.as_deref(), self.issuer());
                event.status = err.status;
                event.duration_ms = Some(duration);
                event.error = Some(err.clone());
                self.emit(event);
                return Err(err);
            }
        };
        let lifetime_ms = match answer.expires_in {
            Some(secs) => secs.saturating_mul(1000),
            None => {
                let mut event =
                    TokenEvent::new(TokenEventKind::Warning, url.as_deref(), self.issuer());
                event.status = Some(status);
                event.message = Some(format!(
                    "the token endpoint answered without \"expires_in\": the token is taken to live {} s",
                    DEFAULT_LIFETIME_MS / 1000
                ));
                self.emit(event);
                DEFAULT_LIFETIME_MS
            }
        };
        let elapsed = self.clock.now_ms().saturating_sub(started);
        let lifetime = answer::lifetime(lifetime_ms, self.refresh_before_ms, elapsed);
        let token = Token {
            access_token: answer.access_token,
            token_type: answer.token_type,
            expires_at: started.saturating_add(lifetime_ms),
            scope: answer.scope,
        };
        let mut event = TokenEvent::new(TokenEventKind::Token, url.as_deref(), self.issuer());
        event.status = Some(status);
        event.duration_ms = Some(duration);
        event.expires_at = Some(token.expires_at);
        event.scope = token.scope.clone();
        self.emit(event);
        Ok(Fresh::New(Arc::new(token), lifetime))
    }

    /// The error as a token source reports it: its code (discovery and transport failures
    /// become ERR_TOKEN_REQUEST_FAILED, rate limits ERR_TOKEN_RATE_LIMITED), and no secret in
    /// its texts, even when the endpoint echoed one.
    fn scrub(&self, mut err: Error) -> Error {
        err.code = match err.code {
            ErrorCode::RateLimited | ErrorCode::TokenRateLimited => ErrorCode::TokenRateLimited,
            ErrorCode::InvalidOptions | ErrorCode::Closed => err.code,
            _ => ErrorCode::TokenRequestFailed,
        };
        if let ClientAuth::Basic(secret) | ClientAuth::Post(secret) = &self.auth {
            err.message = secret.redact(&err.message);
            if let Some(oauth) = &mut err.oauth {
                oauth.description = oauth.description.as_deref().map(|d| secret.redact(d));
            }
        }
        err
    }
}

impl crate::refresh::Source for TokenEndpoint {
    type Value = Token;

    fn fetch(self: Arc<Self>, _: Option<Arc<Token>>) -> BoxFuture<'static, Result<Fresh<Token>>> {
        match self.tier.clone() {
            Some(tier) => self.fetch_shared(tier).boxed(),
            None => self.fetch_token().boxed(),
        }
    }

    fn task_failed(&self) -> Error {
        Error::new(
            ErrorCode::TokenRequestFailed,
            "the token request task failed",
        )
    }
}

/// A client-credentials token source. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    refresher: Arc<Refresher<TokenEndpoint>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = self.inner.refresher.source();
        f.debug_struct("TokenSource")
            .field("client_id", &endpoint.client_id)
            .field("auth", &endpoint.auth)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source for these options; `sink` receives its events. Makes no request yet.
    pub fn new(
        options: SourceOptions,
        sink: Option<Arc<dyn EventSink<TokenEvent>>>,
    ) -> Result<TokenSource> {
        let form = options.form();
        let (http, clock) = (options.http, options.clock);
        let tier = options
            .shared
            .as_ref()
            .map(|s| store::shared(s, &clock))
            .transpose()?;
        let place = match options.endpoint {
            Endpoint::Url(url) => Where::Url(url),
            Endpoint::Discovered {
                issuer,
                discovery_url,
            } => Where::Discovered {
                discovery: discovery::shared(
                    &discovery_url,
                    &issuer,
                    &http,
                    &CachePolicy::default(),
                    &clock,
                    tier.as_ref(),
                )?,
                issuer,
            },
        };
        let source = Arc::new(TokenEndpoint {
            place,
            client_id: options.client_id,
            auth: options.auth,
            form,
            refresh_before_ms: options.refresh_before_ms,
            fetcher: Fetcher::new(http)?,
            clock: clock.clone(),
            sink,
            tier,
            last_fetched: AtomicU64::new(0),
        });
        let policy = RefreshPolicy {
            max_stale_ms: 0,
            max_backoff_ms: MAX_BACKOFF_MS,
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                refresher: Refresher::new(source, policy, clock),
                closed: AtomicBool::new(false),
            }),
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorCode::Closed, "the token source is closed"));
        }
        Ok(())
    }

    /// The token at hand, without I/O: `Some` while it is valid (past `refreshBefore`, one
    /// background refresh starts); `None` when a request is needed ([`TokenSource::token`]);
    /// an error when closed, or backing off after a failure with no valid token.
    pub fn cached(&self) -> Result<Option<Arc<Token>>> {
        self.check_open()?;
        let r = &self.inner.refresher;
        match r.peek(r.clock().now_ms()) {
            View::Fresh(entry) => Ok(Some(Arc::clone(&entry.value))),
            View::Failing(err) => Err(err),
            View::Stale(_) | View::Missing => Ok(None),
        }
    }

    /// A valid token: the cached one, or one requested now (joining a request in flight).
    pub async fn token(&self) -> Result<Arc<Token>> {
        if let Some(token) = self.cached()? {
            return Ok(token);
        }
        let result = self.inner.refresher.fresh_or_load().await;
        if let Err(closed) = self.check_open() {
            // Closed while the request ran: its answer is not handed out, nor its token kept.
            self.inner.refresher.invalidate();
            return Err(closed);
        }
        result
    }

    /// Forget the cached token (the API refused it): the next call requests a new one.
    pub fn invalidate(&self) {
        self.inner.refresher.invalidate();
    }

    /// Stop: the cached token is dropped and later calls fail with ERR_VERIFIER_CLOSED.
    /// Idempotent.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.refresher.invalidate();
    }
}
