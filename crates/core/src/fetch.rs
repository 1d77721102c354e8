//! The HTTP client: https policy, redirects, size limit, timeouts, caching headers and
//! Retry-After, turned into engine errors.

use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{redirect, StatusCode};
use url::Url;

use crate::error::{Error, ErrorCode, Result};

/// Longest `Retry-After` we obey.
pub const MAX_RETRY_AFTER_SECS: u64 = 600;
/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 3;

/// HTTP options (after parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Connect plus the whole response.
    pub timeout: Duration,
    /// Extra request headers (e.g. an API key some gateways want).
    pub headers: Vec<(String, String)>,
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Allow plain http to non-loopback hosts.
    pub allow_http: bool,
    /// Extra trusted CA certificates (PEM).
    pub ca: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(5),
            headers: Vec::new(),
            max_bytes: 1 << 20,
            allow_http: false,
            ca: None,
        }
    }
}

/// True for 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Check a URL against the https policy. `Err` holds the reason.
pub fn check_url(text: &str, allow_http: bool) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err(
            "must use https (plain http is allowed for loopback hosts, or with http.allowHttp)"
                .to_owned(),
        ),
        other => Err(format!("has the unsupported scheme {other:?}")),
    }
}

/// What a successful exchange gave.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// A 2xx with a body.
    Body {
        status: u16,
        body: Vec<u8>,
        validators: Validators,
        freshness: Option<Duration>,
    },
    /// A 304 to a conditional request.
    NotModified {
        validators: Validators,
        freshness: Option<Duration>,
    },
}

/// `ETag` and `Last-Modified` of the last response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    /// True when a conditional request can be made.
    pub fn any(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// An HTTP client bound to one set of options.
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    options: HttpOptions,
}

impl Fetcher {
    /// Build a client; fails on bad headers or CA certificates.
    pub fn new(options: HttpOptions) -> Result<Fetcher> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, application/jwk-set+json"),
        );
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("jwks-verify/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in &options.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::options(
                    &format!("http.headers.{name}"),
                    "is not a valid header name",
                )
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::options(
                    &format!("http.headers.{name}"),
                    "is not a valid header value",
                )
            })?;
            headers.insert(name, value);
        }
        let allow_http = options.allow_http;
        let policy = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let from_http = attempt
                .previous()
                .last()
                .is_some_and(|u| u.scheme() == "http");
            let target = attempt.url();
            let allowed = match target.scheme() {
                "https" => true,
                "http" => from_http && (allow_http || is_loopback(target)),
                _ => false,
            };
            if allowed {
                attempt.follow()
            } else {
                let refused = format!(
                    "refused redirect to {target}: only https, or http between loopback hosts"
                );
                attempt.error(refused)
            }
        });
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(policy)
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .no_proxy()
            .pool_max_idle_per_host(2);
        if let Some(pem) = &options.ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|_| Error::options("http.ca", "is not a PEM certificate bundle"))?;
            if certs.is_empty() {
                return Err(Error::options("http.ca", "holds no PEM certificate"));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(|e| {
            Error::new(
                ErrorCode::InvalidOptions,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(Fetcher { client, options })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// GET a URL, conditionally when `validators` has any. `what` names the document in errors.
    pub async fn get(&self, url: &str, validators: &Validators, what: &str) -> Result<Fetched> {
        let limit = self.options.timeout;
        match tokio::time::timeout(limit, self.get_inner(url, validators, what)).await {
            Ok(result) => result,
            Err(_) => Err(timeout_error(url, what, limit)),
        }
    }

    async fn get_inner(&self, url: &str, validators: &Validators, what: &str) -> Result<Fetched> {
        let mut request = self.client.get(url);
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, lm);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(url, what, &e, self.options.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let freshness = freshness(&headers);
        let validators = Validators {
            etag: header_text(&headers, header::ETAG),
            last_modified: header_text(&headers, header::LAST_MODIFIED),
        };
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified {
                validators,
                freshness,
            });
        }
        if !status.is_success() {
            return Err(status_error(url, what, status, &headers));
        }
        let max = self.options.max_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(too_large(url, what, max));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport_error(url, what, &e, self.options.timeout))?;
            if body.len() + chunk.len() > max {
                return Err(too_large(url, what, max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            status: status.as_u16(),
            body,
            validators,
            freshness,
        })
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Lifetime from `Cache-Control` (max-age, no-store/no-cache = 0) or `Expires`.
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cc) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        let mut max_age = None;
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(v) = lower.strip_prefix("max-age=") {
                max_age = v
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
        if max_age.is_some() {
            return max_age;
        }
    }
    let expires = headers.get(header::EXPIRES).and_then(|v| v.to_str().ok())?;
    let at = httpdate::parse_http_date(expires)
        .ok()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let base = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(SystemTime::now);
    Some(at.duration_since(base).unwrap_or(Duration::ZERO))
}

/// Seconds from a `Retry-After` value (delta-seconds or HTTP-date), capped.
pub fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    let secs = match value.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(SystemTime::now())
                .map(|d| d.as_secs_f64().ceil() as u64)
                .unwrap_or(0)
        }
    };
    Some(secs.min(MAX_RETRY_AFTER_SECS))
}

fn status_error(url: &str, what: &str, status: StatusCode, headers: &HeaderMap) -> Error {
    let code = status.as_u16();
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_secs);
    let rate_limited = code == 429 || (code == 503 && retry_after.is_some());
    let mut err = if rate_limited {
        Error::new(
            ErrorCode::RateLimited,
            format!(
                "{what} endpoint {url} answered {code}: rate limited{}",
                match retry_after {
                    Some(s) => format!(", retry after {s} s"),
                    None => String::new(),
                }
            ),
        )
    } else {
        Error::new(
            ErrorCode::FetchFailed,
            format!("{what} endpoint {url} answered HTTP {code}"),
        )
    };
    err.status = Some(code);
    err.retry_after = retry_after;
    err
}

fn too_large(url: &str, what: &str, max: usize) -> Error {
    Error::jwks(format!(
        "{what} response from {url} is larger than http.maxBytes ({max} bytes)"
    ))
}

fn timeout_error(url: &str, what: &str, limit: Duration) -> Error {
    Error::new(
        ErrorCode::Timeout,
        format!(
            "{what} request to {url} timed out after {} ms (http.timeout)",
            limit.as_millis()
        ),
    )
}

fn transport_error(url: &str, what: &str, e: &reqwest::Error, limit: Duration) -> Error {
    if e.is_timeout() {
        return timeout_error(url, what, limit);
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let kind = if e.is_redirect() {
        "redirect refused"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    Error::new(
        ErrorCode::FetchFailed,
        format!("{what} request to {url}: {kind} ({detail})"),
    )
}

/// Milliseconds elapsed since `start`, for events.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        assert!(check_url("https://login.example.com/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://127.3.4.5/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://[::1]/jwks", false).is_ok());
        assert!(check_url("http://example.com/jwks", false)
            .unwrap_err()
            .contains("https"));
        assert!(check_url("http://example.com/jwks", true).is_ok());
        assert!(check_url("ftp://example.com/jwks", true)
            .unwrap_err()
            .contains("scheme"));
        assert!(check_url("not a url", true)
            .unwrap_err()
            .contains("valid URL"));
    }

    #[test]
    fn cache_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(freshness(&h), None);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        assert_eq!(freshness(&h), Some(Duration::from_secs(300)));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        assert_eq!(freshness(&h), Some(Duration::ZERO));
        let mut e = HeaderMap::new();
        e.insert(
            header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        e.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:59:37 GMT"),
        );
        assert_eq!(freshness(&e), Some(Duration::from_secs(600)));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_secs("5"), Some(5));
        assert_eq!(retry_after_secs("99999"), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let got = retry_after_secs(&later).unwrap();
        assert!((119..=121).contains(&got), "{got}");
        assert_eq!(retry_after_secs("soon"), None);
    }
}
