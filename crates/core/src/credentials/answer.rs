//! The token endpoint's answer (RFC 6749 §5.1, §5.2), checked in this order: status (429, or
//! 503 with `Retry-After` -> rate limited; any other non-2xx -> refused, with the OAuth `error`
//! and `error_description` when the body has them) -> a JSON object -> no `error` member ->
//! `access_token` -> `token_type` -> `expires_in` -> `scope`. Then the lifetime the cache gives
//! the token: fresh until it expires, refreshed ahead `refreshBefore` earlier (at most half
//! its lifetime).
//!
//! Messages name the endpoint and the member, never the token.

use serde_json::{Map, Value};

use crate::credentials::secret::Secret;
use crate::error::{Error, ErrorCode, OAuthError, Result};
use crate::refresh::Lifetime;

/// Without `expires_in`, a token is taken to live this long (with a `warning` event).
pub const DEFAULT_LIFETIME_MS: u64 = 300_000;
/// Default `refreshBefore`.
pub const DEFAULT_REFRESH_BEFORE_MS: u64 = 60_000;
/// Longest `error_description` kept.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub access_token: Secret,
    /// `Bearer` (any spelling of it, or none given, becomes `Bearer`), or the scheme named.
    pub token_type: String,
    /// Seconds; `None` when the answer has no `expires_in`.
    pub expires_in: Option<u64>,
    /// The granted scope, when the answer names one.
    pub scope: Option<String>,
}

/// Read an answer of `url` with this status, `Retry-After` (seconds) and body.
pub fn read(url: &str, status: u16, retry_after: Option<u64>, body: &[u8]) -> Result<Answer> {
    let json = serde_json::from_slice::<Value>(body).ok();
    let object = json.as_ref().and_then(Value::as_object);
    if !(200..300).contains(&status) {
        return Err(refused(url, status, retry_after, object));
    }
    let Some(object) = object else {
        return Err(failed(
            status,
            format!("token endpoint {url} answered {status} with a body that is not a JSON object"),
        ));
    };
    if object.contains_key("error") {
        return Err(refused(url, status, None, Some(object)));
    }
    let access_token = match object.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => t,
        Some(Value::String(_)) => return Err(member(url, status, "access_token", "is empty")),
        Some(_) => return Err(member(url, status, "access_token", "is not a string")),
        None => {
            return Err(failed(
                status,
                format!("token endpoint {url} answered {status} without \"access_token\""),
            ))
        }
    };
    if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(member(
            url,
            status,
            "access_token",
            "holds characters an Authorization header cannot carry",
        ));
    }
    let token_type = match object.get("token_type") {
        None => "Bearer".to_owned(),
        Some(Value::String(t)) if t.is_empty() || t.eq_ignore_ascii_case("bearer") => {
            "Bearer".to_owned()
        }
        Some(Value::String(t))
            if t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            t.clone()
        }
        Some(_) => return Err(member(url, status, "token_type", "is not a token type")),
    };
    let expires_in = match object.get("expires_in") {
        None => None,
        Some(v) => Some(
            seconds(v)
                .ok_or_else(|| member(url, status, "expires_in", "is not a number of seconds"))?,
        ),
    };
    let scope = match object.get("scope") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(member(url, status, "scope", "is not a string")),
    };
    Ok(Answer {
        access_token: Secret::new(access_token.as_str()),
        token_type,
        expires_in,
        scope,
    })
}

/// The cache lifetime of a token that lives `lifetime_ms` from the moment it was asked for,
/// `elapsed_ms` ago: fresh until it expires, refreshed ahead `refresh_before_ms` earlier, but
/// never before half its lifetime.
pub fn lifetime(lifetime_ms: u64, refresh_before_ms: u64, elapsed_ms: u64) -> Lifetime {
    let before = refresh_before_ms.min(lifetime_ms / 2);
    Lifetime {
        fresh_ms: lifetime_ms.saturating_sub(elapsed_ms),
        refresh_after_ms: (lifetime_ms - before).saturating_sub(elapsed_ms),
    }
}

/// `expires_in` as whole seconds: a non-negative JSON number, or a string of digits (some
/// providers send one).
fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.min(u64::MAX as f64) as u64)
        }),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

fn failed(status: u16, message: String) -> Error {
    Error::new(ErrorCode::TokenRequestFailed, message).with_status(status)
}

fn member(url: &str, status: u16, name: &str, why: &str) -> Error {
    failed(
        status,
        format!("token endpoint {url} answered {status}: \"{name}\" {why}"),
    )
}

/// A refusal: the OAuth `error` / `error_description` of the body, rate limited for 429 (and
/// 503 with `Retry-After`).
fn refused(
    url: &str,
    status: u16,
    retry_after: Option<u64>,
    body: Option<&Map<String, Value>>,
) -> Error {
    let text = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
    let oauth_error = text("error").map(str::to_owned);
    let description = text("error_description")
        .map(|d| d.chars().take(MAX_DESCRIPTION_CHARS).collect::<String>());
    let rate_limited = status == 429 || (status == 503 && retry_after.is_some());
    let mut message = format!("token endpoint {url} answered {status}");
    if let Some(e) = &oauth_error {
        message.push_str(&format!(": {e}"));
        if let Some(d) = &description {
            message.push_str(&format!(" ({d})"));
        }
    } else if rate_limited {
        message.push_str(": rate limited");
    }
    if let Some(s) = retry_after.filter(|_| rate_limited) {
        message.push_str(&format!(", retry after {s} s"));
    }
    let code = if rate_limited {
        ErrorCode::TokenRateLimited
    } else {
        ErrorCode::TokenRequestFailed
    };
    let mut err = Error::new(code, message).with_status(status);
    err.retry_after = retry_after.filter(|_| rate_limited);
    err.oauth = oauth_error.map(|error| Box::new(OAuthError { error, description }));
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://login.example.com/oauth/token";

    fn ok(token_type: &str, expires_in: Option<u64>, scope: Option<&str>) -> Answer {
        Answer {
            access_token: Secret::new("tok-123"),
            token_type: token_type.to_owned(),
            expires_in,
            scope: scope.map(str::to_owned),
        }
    }

    #[test]
    fn answers_in_check_order() {
        // (label, status, Retry-After, body, expected: Ok(answer) or Err((code, oauth error, message part)))
        type Want = std::result::Result<Answer, (ErrorCode, Option<&'static str>, &'static str)>;
        let rate = ErrorCode::TokenRateLimited;
        let failed = ErrorCode::TokenRequestFailed;
        let cases: Vec<(&str, u16, Option<u64>, &str, Want)> = vec![
            (
                "genesys",
                200,
                None,
                r#"{"access_token":"tok-123","token_type":"bearer","expires_in":86399}"#,
                Ok(ok("Bearer", Some(86_399), None)),
            ),
            (
                "with scope",
                200,
                None,
                r#"{"access_token":"tok-123","token_type":"Bearer","expires_in":3600,"scope":"a b"}"#,
                Ok(ok("Bearer", Some(3600), Some("a b"))),
            ),
            (
                "no token_type",
                200,
                None,
                r#"{"access_token":"tok-123","expires_in":60}"#,
                Ok(ok("Bearer", Some(60), None)),
            ),
            (
                "DPoP kept",
                200,
                None,
                r#"{"access_token":"tok-123","token_type":"DPoP","expires_in":60}"#,
                Ok(ok("DPoP", Some(60), None)),
            ),
            (
                "expires_in string",
                200,
                None,
                r#"{"access_token":"tok-123","expires_in":"3599"}"#,
                Ok(ok("Bearer", Some(3599), None)),
            ),
            (
                "expires_in decimal",
                200,
                None,
                r#"{"access_token":"tok-123","expires_in":59.9}"#,
                Ok(ok("Bearer", Some(59), None)),
            ),
            (
                "no expires_in",
                200,
                None,
                r#"{"access_token":"tok-123"}"#,
                Ok(ok("Bearer", None, None)),
            ),
            (
                "429",
                429,
                Some(7),
                r#"{"message":"slow down"}"#,
                Err((rate, None, "answered 429: rate limited, retry after 7 s")),
            ),
            (
                "429 without Retry-After",
                429,
                None,
                "",
                Err((rate, None, "answered 429: rate limited")),
            ),
            (
                "503 + Retry-After",
                503,
                Some(3),
                "",
                Err((rate, None, "retry after 3 s")),
            ),
            (
                "503 alone",
                503,
                None,
                "down",
                Err((failed, None, "answered 503")),
            ),
            (
                "401 invalid_client",
                401,
                None,
                r#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
                Err((
                    failed,
                    Some("invalid_client"),
                    "answered 401: invalid_client (client authentication failed)",
                )),
            ),
            (
                "400 invalid_scope",
                400,
                None,
                r#"{"error":"invalid_scope"}"#,
                Err((failed, Some("invalid_scope"), "answered 400: invalid_scope")),
            ),
            (
                "500 html",
                500,
                None,
                "<html>oops</html>",
                Err((failed, None, "answered 500")),
            ),
            (
                "200 not json",
                200,
                None,
                "<html>",
                Err((failed, None, "not a JSON object")),
            ),
            (
                "200 array",
                200,
                None,
                "[]",
                Err((failed, None, "not a JSON object")),
            ),
            (
                "200 error",
                200,
                None,
                r#"{"error":"unauthorized_client"}"#,
                Err((
                    failed,
                    Some("unauthorized_client"),
                    "answered 200: unauthorized_client",
                )),
            ),
            (
                "no access_token",
                200,
                None,
                r#"{"token_type":"Bearer","expires_in":60}"#,
                Err((failed, None, "without \"access_token\"")),
            ),
            (
                "empty access_token",
                200,
                None,
                r#"{"access_token":""}"#,
                Err((failed, None, "\"access_token\" is empty")),
            ),
            (
                "numeric access_token",
                200,
                None,
                r#"{"access_token":5}"#,
                Err((failed, None, "\"access_token\" is not a string")),
            ),
            (
                "header injection",
                200,
                None,
                r#"{"access_token":"a\r\nX-Evil: 1"}"#,
                Err((failed, None, "Authorization header cannot carry")),
            ),
            (
                "odd token_type",
                200,
                None,
                r#"{"access_token":"t0k","token_type":"Bearer x"}"#,
                Err((failed, None, "\"token_type\" is not a token type")),
            ),
            (
                "negative expires_in",
                200,
                None,
                r#"{"access_token":"t0k","expires_in":-1}"#,
                Err((failed, None, "\"expires_in\" is not a number")),
            ),
            (
                "object expires_in",
                200,
                None,
                r#"{"access_token":"t0k","expires_in":{}}"#,
                Err((failed, None, "\"expires_in\" is not a number")),
            ),
            (
                "numeric scope",
                200,
                None,
                r#"{"access_token":"t0k","expires_in":1,"scope":1}"#,
                Err((failed, None, "\"scope\" is not a string")),
            ),
        ];
        for (label, status, retry_after, body, want) in cases {
            let got = read(URL, status, retry_after, body.as_bytes());
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{label}"),
                (Err(e), Err((code, oauth, part))) => {
                    assert_eq!(e.code, code, "{label}: {}", e.message);
                    assert_eq!(e.oauth.as_ref().map(|o| o.error.as_str()), oauth, "{label}");
                    assert!(
                        e.message.contains(part),
                        "{label}: {:?} lacks {part:?}",
                        e.message
                    );
                    assert!(e.message.contains(URL), "{label}: names the endpoint");
                    assert_eq!(e.status, Some(status), "{label}: status");
                    if code == rate {
                        assert_eq!(e.retry_after, retry_after, "{label}: retryAfter");
                    }
                }
                (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn descriptions_are_kept_short_and_tokens_out_of_messages() {
        let long = format!(
            r#"{{"error":"invalid_request","error_description":"{}"}}"#,
            "x".repeat(1000)
        );
        let e = read(URL, 400, None, long.as_bytes()).unwrap_err();
        assert_eq!(
            e.oauth.and_then(|o| o.description).map(|d| d.len()),
            Some(MAX_DESCRIPTION_CHARS)
        );
        let e = read(
            URL,
            200,
            None,
            br#"{"access_token":"secret tok","expires_in":1}"#,
        )
        .unwrap_err();
        assert!(!e.message.contains("secret tok"), "{}", e.message);
        let a = read(URL, 200, None, br#"{"access_token":"tok-secret"}"#).unwrap();
        assert!(
            !format!("{a:?}").contains("tok-secret"),
            "Debug hides the token"
        );
    }

    #[test]
    fn lifetimes_refresh_ahead_at_most_half_way() {
        // (label, lifetime ms, refreshBefore ms, elapsed ms, fresh ms, refresh after ms)
        let cases = [
            (
                "genesys day, default",
                86_399_000,
                DEFAULT_REFRESH_BEFORE_MS,
                0,
                86_399_000,
                86_339_000,
            ),
            (
                "5 min, default",
                300_000,
                DEFAULT_REFRESH_BEFORE_MS,
                0,
                300_000,
                240_000,
            ),
            (
                "1 min: half",
                60_000,
                DEFAULT_REFRESH_BEFORE_MS,
                0,
                60_000,
                30_000,
            ),
            ("refreshBefore 0", 60_000, 0, 0, 60_000, 60_000),
            (
                "counted from the request",
                300_000,
                DEFAULT_REFRESH_BEFORE_MS,
                2_000,
                298_000,
                238_000,
            ),
            ("answer slower than the token", 1_000, 0, 5_000, 0, 0),
            ("expires at once", 0, DEFAULT_REFRESH_BEFORE_MS, 0, 0, 0),
            (
                "huge",
                u64::MAX,
                DEFAULT_REFRESH_BEFORE_MS,
                0,
                u64::MAX,
                u64::MAX - 60_000,
            ),
        ];
        for (label, life, before, elapsed, fresh, after) in cases {
            let l = lifetime(life, before, elapsed);
            assert_eq!(l.fresh_ms, fresh, "{label}");
            assert_eq!(l.refresh_after_ms, after, "{label}");
        }
    }
}
