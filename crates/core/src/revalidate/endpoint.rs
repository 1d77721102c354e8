//! One validation endpoint: how a token is put to it (introspection POST with client
//! authentication, or the token as `Authorization: Bearer`), its `Retry-After` gate (obeyed for
//! every token), its events and counters. The token is never put in a message or an event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use reqwest::header::{self, HeaderValue};
use reqwest::Method;

use crate::clock::Clock;
use crate::discovery::{self, Discovery, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Event, EventKind, EventSink};
use crate::fetch::{elapsed_ms, Fetcher, HttpOptions, Request};
use crate::refresh::with_retry_after;
use crate::revalidate::answer::{self, Form, Liveness};
use crate::revalidate::options::Mode;

/// Counters of one issuer's revalidation.
#[derive(Debug, Default)]
pub struct Counters {
    /// Endpoint calls.
    pub revalidations: AtomicU64,
    /// Verifications answered from a cached answer.
    pub hits: AtomicU64,
    /// Tokens found inactive (by the endpoint or from a cached answer).
    pub inactive: AtomicU64,
    /// Endpoint failures.
    pub errors: AtomicU64,
}

/// Where the endpoint's URL comes from.
enum Target {
    Fixed(String),
    /// The issuer's discovery document (`introspection_endpoint`).
    Discovered(Arc<Discovery>),
}

/// See the module documentation.
pub struct Endpoint {
    form: Form,
    method: Method,
    target: Target,
    /// `Basic …` for introspection (marked sensitive).
    client_auth: Option<HeaderValue>,
    fetcher: Fetcher,
    clock: Clock,
    /// No call before this time (clock ms): the endpoint's last `Retry-After`.
    gate: AtomicU64,
    pub counters: Counters,
    sink: Option<Arc<dyn EventSink>>,
    issuer: Option<String>,
}

impl Endpoint {
    /// An endpoint for `mode`. `discovery` is the issuer's (needed when the introspection
    /// endpoint is not given).
    pub fn new(
        mode: &Mode,
        http: &HttpOptions,
        discovery: Option<Arc<Discovery>>,
        clock: Clock,
        sink: Option<Arc<dyn EventSink>>,
        issuer: Option<String>,
    ) -> Result<Endpoint> {
        let (form, method, target, client_auth) = match mode {
            Mode::Bearer { endpoint, method } => (
                Form::Bearer,
                method.clone(),
                Target::Fixed(endpoint.clone()),
                None,
            ),
            Mode::Introspection {
                endpoint,
                client_id,
                client_secret,
            } => {
                let target = match (endpoint, discovery) {
                    (Some(url), _) => Target::Fixed(url.clone()),
                    (None, Some(d)) => Target::Discovered(d),
                    (None, None) => {
                        return Err(Error::options(
                            "revalidate.introspection.endpoint",
                            "is required without discovery",
                        ))
                    }
                };
                (
                    Form::Introspection,
                    Method::POST,
                    target,
                    Some(basic_auth(client_id, client_secret)?),
                )
            }
        };
        Ok(Endpoint {
            form,
            method,
            target,
            client_auth,
            fetcher: Fetcher::new(http.clone())?,
            clock,
            gate: AtomicU64::new(0),
            counters: Counters::default(),
            sink,
            issuer,
        })
    }

    /// How long one call may take (`http.timeout`).
    pub fn timeout(&self) -> std::time::Duration {
        self.fetcher.options().timeout
    }

    /// The endpoint URL (discovering it when needed).
    async fn url(&self) -> Result<String> {
        let d = match &self.target {
            Target::Fixed(url) => return Ok(url.clone()),
            Target::Discovered(d) => d,
        };
        let meta = match discovery::resolved(d, self.clock.now_ms()) {
            Resolved::Ready(meta) => meta,
            Resolved::Failing(e) => return Err(as_failure(e)),
            Resolved::Missing => d.load().await.map_err(as_failure)?,
        };
        meta.introspection_endpoint.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::RevalidationFailed,
                format!(
                    "the discovery document at {} names no usable introspection_endpoint: set revalidate.introspection.endpoint",
                    d.source().url()
                ),
            )
        })
    }

    /// Ask the endpoint about `token`.
    pub async fn call(&self, token: &str) -> Result<Liveness> {
        let now = self.clock.now_ms();
        let gate = self.gate.load(Ordering::Relaxed);
        if now < gate {
            let err = Error::new(
                ErrorCode::RevalidationFailed,
                "the validation endpoint asked us to wait (Retry-After)",
            );
            return Err(with_retry_after(&err, gate - now));
        }
        let url = self.url().await?;
        let mut request = Request {
            method: self.method.clone(),
            url: &url,
            headers: Vec::new(),
            form: None,
            what: match self.form {
                Form::Introspection => "introspection",
                Form::Bearer => "validation",
            },
        };
        match self.form {
            Form::Introspection => {
                if let Some(auth) = &self.client_auth {
                    request.headers.push((header::AUTHORIZATION, auth.clone()));
                }
                request.form = Some(vec![
                    ("token".to_owned(), token.to_owned()),
                    ("token_type_hint".to_owned(), "access_token".to_owned()),
                ]);
            }
            Form::Bearer => {
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        Error::jws(
                            "the token holds characters that cannot be sent in an HTTP header",
                        )
                    })?;
                value.set_sensitive(true);
                request.headers.push((header::AUTHORIZATION, value));
            }
        }
        self.counters.revalidations.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let result = match self.fetcher.send(&request).await {
            Ok(r) => {
                answer::read(self.form, &url, r.status, &r.headers, &r.body).map(|l| (l, r.status))
            }
            Err(e) => Err(as_failure(e)),
        };
        let mut event = Event::new(EventKind::Revalidate, "");
        event.endpoint = Some(url.clone());
        event.issuer.clone_from(&self.issuer);
        event.duration_ms = Some(elapsed_ms(start));
        match &result {
            Ok((liveness, status)) => {
                event.status = Some(*status);
                event.active = Some(liveness.active);
                if !liveness.active {
                    self.counters.inactive.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(err) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                event.status = err.status;
                event.error = Some(err.clone());
                if let Some(secs) = err.retry_after {
                    let until = self
                        .clock
                        .now_ms()
                        .saturating_add(secs.saturating_mul(1000));
                    self.gate.fetch_max(until, Ordering::Relaxed);
                }
            }
        }
        if let Some(sink) = &self.sink {
            sink.emit(event);
        }
        result.map(|(liveness, _)| liveness)
    }
}

/// Any failure to get an answer is ERR_REVALIDATION_FAILED (keeping status and retryAfter).
fn as_failure(mut e: Error) -> Error {
    if e.code != ErrorCode::RevalidationFailed {
        e.code = ErrorCode::RevalidationFailed;
    }
    e
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1), marked sensitive.
fn basic_auth(client_id: &str, client_secret: &str) -> Result<HeaderValue> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(client_id), enc(client_secret));
    let mut value = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
    .map_err(|_| {
        Error::options(
            "revalidate.introspection",
            "client credentials cannot be sent in a header",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_the_pair_form_style() {
        let v = basic_auth("my client", "p@ss:word").unwrap();
        let text = v.to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my+client:p%40ss%3Aword"
        );
        assert!(v.is_sensitive());
    }
}
