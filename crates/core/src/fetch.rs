//! The HTTP client: https policy, redirects (followed here, not by reqwest, so that headers
//! meant for the configured origin never reach another), size limit, timeouts; responses
//! turned into engine errors. Caching semantics of the headers live in `http_cache`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{redirect, Method, StatusCode};
use url::Url;

use crate::error::{Error, ErrorCode, Result};
use crate::http_cache::{freshness, retry_after, Validators};

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
            timeout: Duration::from_millis(
                crate::options::durations::HTTP_TIMEOUT.default_or_zero_ms(),
            ),
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

/// What a successful JWKS-style GET gave.
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

/// One request: method, URL, the headers of this request alone (e.g. `Authorization`), and a
/// form body. `what` names the endpoint in error messages ("JWKS", "introspection", ...).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub form: Option<Vec<(String, String)>>,
    pub what: &'a str,
}

impl<'a> Request<'a> {
    /// A GET of `url`.
    pub fn get(url: &'a str, what: &'a str) -> Request<'a> {
        Request {
            method: Method::GET,
            url,
            headers: Vec::new(),
            form: None,
            what,
        }
    }
}

/// A whole response, of any status. The body is capped at `http.maxBytes`.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// An HTTP client bound to one set of options.
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    options: HttpOptions,
    /// `http.headers`, sent only to the origin of the URL a request starts at.
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Fetcher {
    /// Build a client; fails on bad headers or CA certificates.
    pub fn new(options: HttpOptions) -> Result<Fetcher> {
        let mut defaults = HeaderMap::new();
        defaults.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, application/jwk-set+json"),
        );
        defaults.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("jwks-verify/", env!("CARGO_PKG_VERSION"))),
        );
        let mut headers = Vec::new();
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
            headers.push((name, value));
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(defaults)
            .redirect(redirect::Policy::none())
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
        Ok(Fetcher {
            client,
            options,
            headers,
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// GET a URL, conditionally when `validators` has any; a non-2xx (other than 304) is an
    /// error. `what` names the document in errors.
    pub async fn get(&self, url: &str, validators: &Validators, what: &str) -> Result<Fetched> {
        let mut request = Request::get(url, what);
        if let Some(etag) = validators.etag.as_deref().and_then(|v| v.parse().ok()) {
            request.headers.push((header::IF_NONE_MATCH, etag));
        }
        if let Some(lm) = validators
            .last_modified
            .as_deref()
            .and_then(|v| v.parse().ok())
        {
            request.headers.push((header::IF_MODIFIED_SINCE, lm));
        }
        let response = self.send(&request).await?;
        let freshness = freshness(&response.headers);
        let validators = Validators::of(&response.headers);
        if response.status == 304 {
            return Ok(Fetched::NotModified {
                validators,
                freshness,
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(status_error(url, what, response.status, &response.headers));
        }
        Ok(Fetched::Body {
            status: response.status,
            body: response.body,
            validators,
            freshness,
        })
    }

    /// Send a request and read the whole answer (of any status) within `http.timeout`.
    /// Redirects of GET and HEAD requests are followed (at most 3; https, or http between
    /// loopback hosts); headers of the request and `http.headers` go only to the origin the
    /// request started at.
    pub async fn send(&self, request: &Request<'_>) -> Result<Response> {
        let limit = self.options.timeout;
        match tokio::time::timeout(limit, self.send_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(timeout_error(request.url, request.what, limit)),
        }
    }

    async fn send_inner(&self, request: &Request<'_>) -> Result<Response> {
        let (url, what) = (request.url, request.what);
        let first = Url::parse(url).map_err(|e| {
            Error::new(
                ErrorCode::FetchFailed,
                format!("{what} URL {url} is not valid ({e})"),
            )
        })?;
        let origin = first.origin();
        let mut current = first;
        let mut redirects = 0;
        loop {
            let mut builder = self.client.request(request.method.clone(), current.clone());
            if current.origin() == origin {
                for (name, value) in self.headers.iter().chain(&request.headers) {
                    builder = builder.header(name, value);
                }
            }
            if let Some(form) = &request.form {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish();
                builder = builder
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(url, what, &e, self.options.timeout))?;
            let status = response.status();
            let follow = status.is_redirection()
                && status != StatusCode::NOT_MODIFIED
                && (request.method == Method::GET || request.method == Method::HEAD);
            if follow {
                if let Some(location) = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                {
                    let target = current.join(location).map_err(|_| {
                        redirect_error(url, what, "the Location header is not a valid URL")
                    })?;
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(redirect_error(
                            url,
                            what,
                            &format!("more than {MAX_REDIRECTS} redirects"),
                        ));
                    }
                    let allowed = match target.scheme() {
                        "https" => true,
                        "http" => {
                            current.scheme() == "http"
                                && (self.options.allow_http || is_loopback(&target))
                        }
                        _ => false,
                    };
                    if !allowed {
                        return Err(redirect_error(
                            url,
                            what,
                            &format!("refused redirect to {target}: only https, or http between loopback hosts"),
                        ));
                    }
                    current = target;
                    continue;
                }
            }
            return self.read(response, url, what).await;
        }
    }

    async fn read(&self, response: reqwest::Response, url: &str, what: &str) -> Result<Response> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
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
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// The error for a non-2xx answer: ERR_JWKS_RATE_LIMITED for 429 (and 503 with
/// `Retry-After`), else ERR_JWKS_FETCH_FAILED, with `status` and `retryAfter`.
pub fn status_error(url: &str, what: &str, code: u16, headers: &HeaderMap) -> Error {
    let retry_after = retry_after(headers);
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

fn redirect_error(url: &str, what: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::FetchFailed,
        format!("{what} request to {url}: redirect refused ({why})"),
    )
}

fn transport_error(url: &str, what: &str, e: &reqwest::Error, limit: Duration) -> Error {
    if e.is_timeout() {
        return timeout_error(url, what, limit);
    }
    // The URL of the failing request (a redirect target, perhaps), else the one asked for.
    let target = e
        .url()
        .cloned()
        .or_else(|| Url::parse(url).ok())
        .map(|u| Target::of(&u))
        .unwrap_or_default();
    Error::new(
        ErrorCode::FetchFailed,
        format!(
            "{what} request to {url}: {}",
            plain_cause(e, &target, e.is_connect())
        ),
    )
}

/// Where a request went, for messages: the host alone, and `host:port`.
#[derive(Debug, Default)]
struct Target {
    host: String,
    address: String,
}

impl Target {
    fn of(url: &Url) -> Target {
        let host = url.host_str().unwrap_or("?").to_owned();
        let address = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        Target { host, address }
    }
}

/// What went wrong with a request, in plain words: the OS's and TLS library's reasons where
/// they help the user fix it, never the HTTP stack's type names (`client error (Connect)`).
fn plain_cause(e: &(dyn std::error::Error + 'static), target: &Target, connect: bool) -> String {
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut current = Some(e);
    while let Some(err) = current {
        chain.push(err);
        current = err.source();
    }
    let texts: Vec<String> = chain.iter().map(|err| err.to_string()).collect();
    let address = &target.address;
    if let Some(tls) = chain.iter().find_map(|err| tls_error(*err)) {
        return format!(
            "TLS handshake with {address} failed: {}",
            tls_words(tls, &target.host)
        );
    }
    if texts
        .iter()
        .any(|t| t.starts_with("dns error") || t.contains("error resolving DNS"))
    {
        let why = texts.last().map_or("", |t| {
            t.strip_prefix("failed to lookup address information: ")
                .unwrap_or(t)
        });
        return format!("DNS lookup failed for {} ({})", target.host, os_words(why));
    }
    let io = chain
        .iter()
        .find_map(|err| err.downcast_ref::<std::io::Error>());
    let closed_early = format!("{address} closed the connection before the response was complete");
    if io.is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof) && !connect {
        return closed_early;
    }
    if let Some(words) = io.and_then(io_words) {
        return if connect {
            format!("could not connect to {address} ({words})")
        } else {
            format!("the connection to {address} failed ({words})")
        };
    }
    if texts.iter().any(|t| {
        t.contains("before message completed") || t.contains("end of file before message length")
    }) {
        return closed_early;
    }
    let innermost = os_words(texts.last().map_or("", String::as_str));
    if connect {
        format!("could not connect to {address} ({innermost})")
    } else {
        format!("the request to {address} failed ({innermost})")
    }
}

/// A TLS error, held directly or inside (nested) `io::Error`s, as the TLS stream reports it.
fn tls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = err;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = current.downcast_ref::<std::io::Error>()?.get_ref()?;
        current = inner;
    }
}

/// A TLS failure in words, with the fix where there is an obvious one.
fn tls_words(e: &rustls::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => "the server's certificate is not signed by a trusted CA (for a private CA, pass its certificate as http.ca)".to_owned(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for {host}")
            }
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired".to_owned()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (is this machine's clock right?)"
                    .to_owned()
            }
            C::Revoked => "the server's certificate is revoked".to_owned(),
            C::Other(other) => format!("the server's certificate was refused ({other})"),
            other => format!("the server's certificate was refused ({other})"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server did not answer in TLS (is it a plain http:// endpoint?)".to_owned()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake (TLS alert {alert:?})")
        }
        rustls::Error::PeerIncompatible(_) => {
            "the server offers no TLS version or cipher suite we accept (TLS 1.2 or 1.3)".to_owned()
        }
        other => other.to_string(),
    }
}

/// An OS-level failure in words, `None` for an error without a useful kind.
fn io_words(e: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind as K;
    Some(
        match e.kind() {
            K::ConnectionRefused => "connection refused",
            K::ConnectionReset => "connection reset by the server",
            K::ConnectionAborted => "connection aborted",
            K::NotConnected | K::BrokenPipe => "the connection was closed",
            K::AddrNotAvailable => "address not available",
            K::HostUnreachable => "host unreachable",
            K::NetworkUnreachable => "network unreachable",
            K::NetworkDown => "network down",
            K::PermissionDenied => "permission denied",
            K::UnexpectedEof => "the connection closed early",
            _ => return e.raw_os_error().map(|_| os_words(&e.to_string())),
        }
        .to_owned(),
    )
}

/// An OS message without its `(os error 111)` suffix.
fn os_words(text: &str) -> String {
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text.to_owned(),
    }
}

/// Milliseconds elapsed since `start`, for events.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and a source, like the layers of the HTTP stack.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn std::error::Error + 'static>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref()
        }
    }

    fn stack(innermost: Box<dyn std::error::Error + 'static>, layers: &[&'static str]) -> Layer {
        let mut err = innermost;
        for text in layers.iter().rev().skip(1) {
            err = Box::new(Layer(text, Some(err)));
        }
        Layer(layers[0], Some(err))
    }

    fn cause(err: &Layer, connect: bool) -> String {
        let target = Target::of(&Url::parse("https://keys.example.com/jwks").unwrap());
        plain_cause(err, &target, connect)
    }

    const REQUEST: [&str; 3] = [
        "error sending request for url (https://keys.example.com/jwks)",
        "client error (Connect)",
        "tcp connect error",
    ];

    #[test]
    fn transport_failures_in_plain_words() {
        let io = |kind, text: &str| -> Box<dyn std::error::Error> {
            Box::new(std::io::Error::new(kind, text.to_owned()))
        };
        // As the TLS stream reports it: an io::Error around an io::Error around the TLS error.
        let tls = |e: rustls::Error| -> Box<dyn std::error::Error> {
            let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
            Box::new(std::io::Error::other(inner))
        };
        let cases: Vec<(Layer, bool, &str)> = vec![
            (
                stack(
                    Box::new(std::io::Error::from_raw_os_error(111)),
                    &REQUEST,
                ),
                true,
                "could not connect to keys.example.com:443 (connection refused)",
            ),
            (
                stack(
                    io(std::io::ErrorKind::Other, "failed to lookup address information: Name or service not known"),
                    &[REQUEST[0], REQUEST[1], "dns error", "error resolving DNS"],
                ),
                true,
                "DNS lookup failed for keys.example.com (Name or service not known)",
            ),
            (
                stack(
                    tls(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
                    &REQUEST[..2],
                ),
                true,
                "TLS handshake with keys.example.com:443 failed: the server's certificate is not signed by a trusted CA (for a private CA, pass its certificate as http.ca)",
            ),
            (
                stack(
                    tls(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)),
                    &REQUEST[..2],
                ),
                true,
                "TLS handshake with keys.example.com:443 failed: the server's certificate is not valid for keys.example.com",
            ),
            (
                stack(
                    tls(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)),
                    &REQUEST[..2],
                ),
                true,
                "TLS handshake with keys.example.com:443 failed: the server's certificate has expired",
            ),
            (
                stack(
                    tls(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)),
                    &REQUEST[..2],
                ),
                true,
                "TLS handshake with keys.example.com:443 failed: the server did not answer in TLS (is it a plain http:// endpoint?)",
            ),
            (
                stack(
                    Box::new(Layer("connection closed before message completed", None)),
                    &[REQUEST[0], "client error (SendRequest)"],
                ),
                false,
                "keys.example.com:443 closed the connection before the response was complete",
            ),
            (
                stack(
                    Box::new(std::io::Error::from_raw_os_error(104)),
                    &["error decoding response body", "request or response body error"],
                ),
                false,
                "the connection to keys.example.com:443 failed (connection reset by the server)",
            ),
            (
                stack(Box::new(Layer("something new", None)), &REQUEST),
                true,
                "could not connect to keys.example.com:443 (something new)",
            ),
        ];
        for (err, connect, want) in cases {
            let got = cause(&err, connect);
            assert_eq!(got, want);
            for internal in [
                "client error",
                "tcp connect",
                "os error",
                "Connect)",
                "error sending",
            ] {
                assert!(!got.contains(internal), "{got}");
            }
        }
        assert_eq!(
            os_words("Connection refused (os error 111)"),
            "Connection refused"
        );
        assert_eq!(os_words("no suffix"), "no suffix");
    }

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
}
