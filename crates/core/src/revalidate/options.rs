//! The `revalidate` option (on the top level and on each `issuers[]` entry): which endpoint
//! says whether a token is still live, and how long an answer is trusted.

use reqwest::Method;

use crate::error::{Error, Result};
use crate::fetch::{check_url, HttpOptions};
use crate::options::durations::{self, DurationOption};
use crate::options::reader::Object;

const KEYS: [&str; 7] = [
    "introspection",
    "endpoint",
    "method",
    "interval",
    "staleIfError",
    "opaque",
    "maxEntries",
];
const INTROSPECTION_KEYS: [&str; 3] = ["endpoint", "clientId", "clientSecret"];

/// Default `interval`: 5 minutes (SCAYLE's "at least once every 5 minutes per token").
pub const DEFAULT_INTERVAL_MS: u64 = durations::REVALIDATE_INTERVAL.default_or_zero_ms();
/// Default `maxEntries`.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Which endpoint answers, and how it is asked.
#[derive(Clone, PartialEq, Eq)]
pub enum Mode {
    /// RFC 7662 introspection with client_secret_basic. `endpoint: None`: the issuer's
    /// discovery document names it (`introspection_endpoint`).
    Introspection {
        endpoint: Option<String>,
        client_id: String,
        client_secret: String,
    },
    /// A bearer validation endpoint: the token as `Authorization: Bearer`.
    Bearer { endpoint: String, method: Method },
}

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Introspection {
                endpoint,
                client_id,
                ..
            } => f
                .debug_struct("Introspection")
                .field("endpoint", endpoint)
                .field("client_id", client_id)
                .field("client_secret", &"(hidden)")
                .finish(),
            Mode::Bearer { endpoint, method } => f
                .debug_struct("Bearer")
                .field("endpoint", endpoint)
                .field("method", method)
                .finish(),
        }
    }
}

/// `revalidate`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevalidateOptions {
    pub mode: Mode,
    /// How long one "active" answer is trusted; 0 = ask on every verification.
    /// Defaults to [`DEFAULT_INTERVAL_MS`].
    pub interval_ms: u64,
    /// How far past `interval` an "active" answer may still serve while the endpoint fails.
    /// Defaults to 0.
    pub stale_if_error_ms: u64,
    /// Accept tokens that are not a JWS, on the endpoint's word alone. Defaults to false.
    pub opaque: bool,
    /// Answers remembered (LRU). Defaults to [`DEFAULT_MAX_ENTRIES`].
    pub max_entries: usize,
}

/// Parse the `revalidate` member of `o`, if present. `issuer` is the issuer of the entry (an
/// introspection endpoint can be discovered only through it).
pub fn parse(
    o: &Object<'_>,
    issuer: Option<&str>,
    http: &HttpOptions,
) -> Result<Option<RevalidateOptions>> {
    let Some(r) = o.object("revalidate", &KEYS)? else {
        return Ok(None);
    };
    let url = |f: &crate::options::reader::Field<'_>| -> Result<String> {
        let text = f.string()?;
        check_url(&text, http.allow_http).map_err(|why| f.error(why))?;
        Ok(text)
    };
    let mode = match (r.get("introspection"), r.get("endpoint")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(Error::options(
                &r.path("introspection"),
                "or \"endpoint\": give exactly one of the two (RFC 7662 introspection, or a bearer validation endpoint)",
            ))
        }
        (Some(_), None) => {
            let i = r
                .object("introspection", &INTROSPECTION_KEYS)?
                .ok_or_else(|| Error::options(&r.path("introspection"), "must be an object"))?;
            if r.has("method") {
                return Err(Error::options(
                    &r.path("method"),
                    "applies to \"endpoint\" only (introspection always POSTs)",
                ));
            }
            let endpoint = i.get("endpoint").map(|f| url(&f)).transpose()?;
            if endpoint.is_none() && issuer.is_none() {
                return Err(Error::options(
                    &i.path("endpoint"),
                    "is required without \"issuer\" (otherwise it is read from the issuer's discovery document)",
                ));
            }
            let required = |key: &str| -> Result<String> {
                let value = i
                    .string(key)?
                    .ok_or_else(|| Error::options(&i.path(key), "is required"))?;
                if value.is_empty() {
                    return Err(Error::options(&i.path(key), "must not be empty"));
                }
                Ok(value)
            };
            Mode::Introspection {
                endpoint,
                client_id: required("clientId")?,
                client_secret: required("clientSecret")?,
            }
        }
        (None, Some(f)) => {
            let endpoint = url(&f)?;
            let method = match r.string("method")?.as_deref() {
                None | Some("GET") => Method::GET,
                Some("HEAD") => Method::HEAD,
                Some("POST") => Method::POST,
                Some(other) => {
                    return Err(Error::options(
                        &r.path("method"),
                        format!("must be \"GET\", \"HEAD\" or \"POST\", got {other:?}"),
                    ))
                }
            };
            Mode::Bearer { endpoint, method }
        }
    };
    let ms = |key: &str, option: &DurationOption| -> Result<u64> {
        Ok(r.duration(key, option)?
            .map_or(option.default_or_zero_ms(), |ms| ms.ceil() as u64))
    };
    Ok(Some(RevalidateOptions {
        mode,
        interval_ms: ms("interval", &durations::REVALIDATE_INTERVAL)?,
        stale_if_error_ms: ms("staleIfError", &durations::REVALIDATE_STALE_IF_ERROR)?,
        opaque: r.boolean("opaque")?.unwrap_or(false),
        max_entries: match r.get("maxEntries") {
            None => DEFAULT_MAX_ENTRIES,
            Some(f) => f.positive_integer()?,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse_at(v: Value, issuer: Option<&str>) -> Result<Option<RevalidateOptions>> {
        parse(&Object::root(&v)?, issuer, &HttpOptions::default())
    }

    #[test]
    fn forms_and_defaults() {
        let o = parse_at(
            json!({"revalidate":{"endpoint":"https://t.example/validate"}}),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.interval_ms, 300_000);
        assert_eq!(o.stale_if_error_ms, 0);
        assert!(!o.opaque);
        assert_eq!(o.max_entries, 100_000);
        assert!(matches!(o.mode, Mode::Bearer { ref method, .. } if *method == Method::GET));
        let o = parse_at(
            json!({"revalidate":{"introspection":{"clientId":"c","clientSecret":"s3cret"},"interval":0,"opaque":true}}),
            Some("https://id.example"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.interval_ms, 0, "0 = ask every time");
        assert!(o.opaque);
        assert!(
            !format!("{o:?}").contains("s3cret"),
            "Debug hides the secret"
        );
        assert_eq!(parse_at(json!({}), None).unwrap(), None);
    }

    #[test]
    fn refusals_name_the_option() {
        let cases = [
            (
                json!({"revalidate":{}}),
                "\"revalidate.introspection\" or \"endpoint\"",
            ),
            (
                json!({"revalidate":{"endpoint":"https://a/","introspection":{}}}),
                "exactly one",
            ),
            (
                json!({"revalidate":{"endpoint":"http://example.com/v"}}),
                "\"revalidate.endpoint\" must use https",
            ),
            (
                json!({"revalidate":{"endpoint":"https://a/","method":"PUT"}}),
                "\"revalidate.method\"",
            ),
            (
                json!({"revalidate":{"endpoint":"https://a/","interval":"5 min"}}),
                "\"revalidate.interval\"",
            ),
            (
                json!({"revalidate":{"endpoint":"https://a/","intervall":5}}),
                "did you mean \"interval\"",
            ),
            (
                json!({"revalidate":{"introspection":{"clientId":"c","clientSecret":"s"}}}),
                "\"revalidate.introspection.endpoint\" is required",
            ),
            (
                json!({"revalidate":{"introspection":{"endpoint":"https://a/i","clientId":"c"}}}),
                "\"revalidate.introspection.clientSecret\" is required",
            ),
            (
                json!({"revalidate":{"introspection":{"endpoint":"https://a/i","clientId":"c","clientSecret":"s"},"method":"GET"}}),
                "applies to \"endpoint\" only",
            ),
            (
                json!({"revalidate":{"endpoint":"https://a/","maxEntries":0}}),
                "\"revalidate.maxEntries\"",
            ),
        ];
        for (v, fragment) in cases {
            let e = parse_at(v.clone(), None).expect_err(&v.to_string());
            assert!(
                e.message.contains(fragment),
                "{v}: {:?} lacks {fragment:?}",
                e.message
            );
        }
    }
}
