//! What a validation endpoint's answer means: status -> form of endpoint -> body.
//!
//! A pure function of the response, in the style of `claims.rs`. An endpoint failure is never
//! read as "inactive" and never as "active": it is an error (ERR_REVALIDATION_FAILED) that the
//! answer cache may cover with an answer it still holds (`staleIfError`).

use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorCode, Result};
use crate::http_cache::retry_after;

/// Which kind of endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// RFC 7662 introspection: 200 with `{"active": true|false, ...}`.
    Introspection,
    /// A bearer validation endpoint (SCAYLE, Genesys `tokens/me`): 2xx active, 401/403 inactive.
    Bearer,
}

/// What the endpoint said of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Liveness {
    pub active: bool,
    /// The answer's JSON object (introspection answer, or the bearer endpoint's JSON object body),
    /// the payload of an opaque token's result.
    pub payload: Option<Map<String, Value>>,
    /// The answer's own `exp` (seconds), when it has a numeric one.
    pub exp: Option<f64>,
}

/// Read an endpoint's response. `endpoint` names it in messages (never the token).
pub fn read(
    form: Form,
    endpoint: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Liveness> {
    let object = || -> Option<Map<String, Value>> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    };
    match form {
        Form::Bearer => match status {
            200..=299 => {
                let payload = object();
                let exp = payload
                    .as_ref()
                    .and_then(|p| p.get("exp"))
                    .and_then(Value::as_f64);
                Ok(Liveness {
                    active: true,
                    payload,
                    exp,
                })
            }
            401 | 403 => Ok(Liveness {
                active: false,
                payload: None,
                exp: None,
            }),
            _ => Err(failure(endpoint, status, headers)),
        },
        Form::Introspection => {
            if status != 200 {
                return Err(failure(endpoint, status, headers));
            }
            let Some(map) = object() else {
                return Err(Error::new(
                    ErrorCode::RevalidationFailed,
                    format!("introspection endpoint {endpoint} answered 200 with a body that is not a JSON object"),
                )
                .with_status(status));
            };
            let Some(active) = map.get("active").and_then(Value::as_bool) else {
                return Err(Error::new(
                    ErrorCode::RevalidationFailed,
                    format!(
                        "introspection endpoint {endpoint} answered without a boolean \"active\""
                    ),
                )
                .with_status(status));
            };
            let exp = map.get("exp").and_then(Value::as_f64);
            Ok(Liveness {
                active,
                payload: active.then_some(map),
                exp,
            })
        }
    }
}

/// ERR_REVALIDATION_FAILED for a status that is neither an answer nor a refusal.
pub fn failure(endpoint: &str, status: u16, headers: &HeaderMap) -> Error {
    let retry = retry_after(headers).filter(|_| status == 429 || status == 503);
    let hint = match status {
        401 | 403 => " (for introspection: check revalidate.introspection.clientId / clientSecret)",
        429 => ": rate limited",
        _ => "",
    };
    let mut err = Error::new(
        ErrorCode::RevalidationFailed,
        format!(
            "validation endpoint {endpoint} answered HTTP {status}{hint}{}",
            retry.map_or(String::new(), |s| format!(", retry after {s} s"))
        ),
    )
    .with_status(status);
    err.retry_after = retry;
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn answers_by_form_and_status() {
        use Form::*;
        let none = HeaderMap::new();
        // (form, status, body, Ok(active) or Err(status on the error))
        let cases: [(Form, u16, &str, std::result::Result<bool, u16>); 13] = [
            (Bearer, 200, "", Ok(true)),
            (Bearer, 204, "", Ok(true)),
            (Bearer, 200, "not json", Ok(true)),
            (Bearer, 401, "", Ok(false)),
            (Bearer, 403, "{}", Ok(false)),
            (Bearer, 500, "", Err(500)),
            (Bearer, 404, "", Err(404)),
            (Introspection, 200, r#"{"active":true,"sub":"a"}"#, Ok(true)),
            (Introspection, 200, r#"{"active":false}"#, Ok(false)),
            (Introspection, 200, r#"{"active":"true"}"#, Err(200)),
            (Introspection, 200, "[]", Err(200)),
            (
                Introspection,
                401,
                r#"{"error":"invalid_client"}"#,
                Err(401),
            ),
            (Introspection, 502, "", Err(502)),
        ];
        for (form, status, body, want) in cases {
            let got = read(form, "https://e/", status, &none, body.as_bytes());
            match (got, want) {
                (Ok(l), Ok(active)) => assert_eq!(l.active, active, "{form:?} {status} {body}"),
                (Err(e), Err(s)) => {
                    assert_eq!(e.code, ErrorCode::RevalidationFailed);
                    assert_eq!(e.status, Some(s), "{form:?} {status} {body}");
                }
                (got, want) => panic!("{form:?} {status} {body}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn payload_and_exp_come_from_the_answer() {
        let none = HeaderMap::new();
        let l = read(
            Form::Introspection,
            "e",
            200,
            &none,
            br#"{"active":true,"exp":1700000000,"client_id":"c"}"#,
        )
        .unwrap();
        assert_eq!(l.exp, Some(1_700_000_000.0));
        assert_eq!(l.payload.unwrap()["client_id"], "c");
        let inactive = read(
            Form::Introspection,
            "e",
            200,
            &none,
            br#"{"active":false,"exp":5}"#,
        )
        .unwrap();
        assert_eq!(
            inactive.payload, None,
            "an inactive answer carries nothing to hand on"
        );
        let bearer = read(Form::Bearer, "e", 200, &none, br#"{"id":"me"}"#).unwrap();
        assert_eq!(bearer.payload.unwrap()["id"], "me");
        assert_eq!(
            read(Form::Bearer, "e", 200, &none, b"").unwrap().payload,
            None
        );
    }

    #[test]
    fn rate_limits_carry_retry_after_only_for_429_and_503() {
        let e = read(Form::Bearer, "e", 429, &h(&[("retry-after", "7")]), b"").unwrap_err();
        assert_eq!(e.retry_after, Some(7));
        let g = read(
            Form::Bearer,
            "e",
            429,
            &h(&[("inin-ratelimit-reset", "12")]),
            b"",
        )
        .unwrap_err();
        assert_eq!(
            g.retry_after,
            Some(12),
            "Genesys' header when there is no Retry-After"
        );
        let e = read(Form::Bearer, "e", 503, &h(&[("retry-after", "3")]), b"").unwrap_err();
        assert_eq!(e.retry_after, Some(3));
        let e = read(Form::Bearer, "e", 500, &h(&[("retry-after", "3")]), b"").unwrap_err();
        assert_eq!(e.retry_after, None);
        assert!(!e.message.contains("Bearer "));
    }
}
