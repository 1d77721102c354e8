//! Verifier options: read once from a JSON-like value (what the JS object holds), validated
//! eagerly; every error is ERR_INVALID_OPTIONS naming the option by its path.
//!
//! Files: `reader` (values with their paths), `durations` (every duration option's default
//! and bounds, in one table), `issuers` (issuer entries, key sources, algorithms, audiences),
//! `http` (the `http` and `cache` sections), `shared`. Every default is documented on the
//! field it fills.

pub mod durations;
mod http;
mod issuers;
pub mod reader;
pub mod shared;

use std::sync::Arc;

use serde_json::Value;

use crate::claims::{normalize_typ, ClaimRules};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::fetch::HttpOptions;
use crate::jwk::Origin;
use crate::key::{Key, Material};
use crate::key_cache::CachePolicy;
use crate::keyset::KeySet;
use crate::store::SharedOptions;
use reader::{kind, Field, Object};

pub(crate) use http::parse_http as parse_http_section;
pub use issuers::{IssuerOptions, KeySource};

const TOP_LEVEL: [&str; 21] = [
    "issuer",
    "jwksUri",
    "audience",
    "algorithms",
    "issuers",
    "keys",
    "secret",
    "clockTolerance",
    "maxTokenAge",
    "requiredClaims",
    "subject",
    "typ",
    "maxTokenLength",
    "cache",
    "http",
    "tokenCache",
    "onEvent",
    "logger",
    "revalidate",
    "shared",
    "results",
];

/// Default `maxTokenLength`.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 16_384;
/// Default `tokenCache` size.
pub const DEFAULT_TOKEN_CACHE: usize = 10_000;
/// Default `requiredClaims`.
pub const DEFAULT_REQUIRED_CLAIMS: [&str; 1] = ["exp"];

/// What `verify` hands back (`results`). The engine's results are always fresh; the JS face
/// (`lib/verifier.js`) freezes them and keeps them for `Frozen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Results {
    /// `'fresh'`: a new, unfrozen object on every call. The default.
    #[default]
    Fresh,
    /// `'frozen'`: deeply frozen objects; a repeated token gets the same object back.
    Frozen,
}

/// Every option, parsed.
#[derive(Debug, Clone)]
pub struct Options {
    /// The accepted issuers (one unnamed entry when `iss` is not checked).
    pub issuers: Vec<IssuerOptions>,
    /// The local key set (`keys`). Defaults to none.
    pub local_keys: Option<Arc<KeySet>>,
    /// The HMAC key made from `secret`. Defaults to none.
    pub secret: Option<Arc<Key>>,
    /// Longest token accepted, in characters. Defaults to [`DEFAULT_MAX_TOKEN_LENGTH`].
    pub max_token_length: usize,
    /// `cache.*`. Defaults to [`CachePolicy::default`] (600 s, 30 s, 24 h).
    pub cache: CachePolicy,
    /// `http.*`. Defaults to [`HttpOptions::default`] (5 s, 1 MiB, https only).
    pub http: HttpOptions,
    /// Verified tokens remembered; 0 = off. Defaults to [`DEFAULT_TOKEN_CACHE`].
    pub token_cache: usize,
    /// The clock every time rule reads. Defaults to the system clock; only the addon's test
    /// seam sets another.
    pub clock: Clock,
    /// The fleet's shared tier on Redis (`shared`). Defaults to none.
    pub shared: Option<SharedOptions>,
    /// `results`. Defaults to [`Results::Fresh`].
    pub results: Results,
}

/// The `secret` option when the glue received bytes (a Uint8Array) rather than a string.
pub enum SecretBytes {
    None,
    Bytes(Vec<u8>),
}

/// Parse options. `secret_bytes` carries a binary `secret` (absent from `value` then).
pub fn parse(value: &Value, secret_bytes: SecretBytes) -> Result<Options> {
    let o = Object::root(value)?;
    o.check_keys(&TOP_LEVEL)?;
    if let Some(f) = o.get("onEvent") {
        return Err(f.error(format!("must be a function, got {}", kind(f.value))));
    }
    // The glue takes a usable `logger` (or `false`) before the options reach here.
    if let Some(f) = o.get("logger") {
        let got = match f.value {
            Value::Object(_) => "an object without them".to_owned(),
            v => kind(v).to_owned(),
        };
        return Err(f.error(format!(
            "must be an object with warn and info functions (console, a pino logger, fastify.log) or false, got {got}"
        )));
    }
    let secret = match (secret_bytes, o.get("secret")) {
        (SecretBytes::Bytes(b), _) => Some(b),
        (SecretBytes::None, None) => None,
        (SecretBytes::None, Some(f)) => match f.value {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            v => return Err(f.error(format!("must be a string or a Uint8Array, got {}", kind(v)))),
        },
    };
    let http = http::parse_http(&o)?;
    let shared = shared::parse(&o)?;
    let cache = http::parse_cache(&o)?;
    let local_keys = o
        .get("keys")
        .map(|f| parse_keys(&f))
        .transpose()?
        .map(Arc::new);

    let typ = o.string("typ")?.map(|t| normalize_typ(&t));
    if typ.as_deref() == Some("") {
        return Err(Error::options("typ", "must not be empty"));
    }
    let shared_rules = ClaimRules {
        audience: None,
        subject: o.string("subject")?,
        typ,
        required: match o.get("requiredClaims") {
            None => DEFAULT_REQUIRED_CLAIMS.map(str::to_owned).to_vec(),
            Some(f) => f.string_list(true)?,
        },
        clock_tolerance: o
            .duration("clockTolerance", &durations::CLOCK_TOLERANCE)?
            .unwrap_or(durations::CLOCK_TOLERANCE.default_or_zero_ms() as f64)
            / 1000.0,
        max_token_age: o
            .duration("maxTokenAge", &durations::MAX_TOKEN_AGE)?
            .map(|ms| ms / 1000.0),
    };

    let issuers = issuers::parse(
        &o,
        &shared_rules,
        &http,
        secret.as_deref(),
        local_keys.as_deref(),
    )?;
    let secret = match secret {
        None => None,
        Some(k) => {
            let key = Key::new(None, None, Material::Secret { k })
                .map_err(|why| Error::options("secret", format!("is not usable: {why}")))?;
            Some(Arc::new(key))
        }
    };
    let max_token_length = match o.get("maxTokenLength") {
        None => DEFAULT_MAX_TOKEN_LENGTH,
        Some(f) => f.positive_integer()?,
    };
    let token_cache = match o.get("tokenCache") {
        None => DEFAULT_TOKEN_CACHE,
        Some(Field {
            value: Value::Bool(false),
            ..
        }) => 0,
        Some(f) => f.value.as_u64().map(|n| n as usize).ok_or_else(|| {
            f.error(format!(
                "must be a non-negative integer or false, got {}",
                kind(f.value)
            ))
        })?,
    };
    let results = match o.get("results") {
        None => Results::Fresh,
        Some(f) => match f.value.as_str() {
            Some("fresh") => Results::Fresh,
            Some("frozen") => Results::Frozen,
            _ => {
                return Err(f.error(format!(
                    "must be \"fresh\" or \"frozen\", got {}",
                    match f.value {
                        Value::String(s) => format!("{s:?}"),
                        v => kind(v).to_owned(),
                    }
                )))
            }
        },
    };
    Ok(Options {
        issuers,
        local_keys,
        secret,
        max_token_length,
        cache,
        http,
        token_cache,
        clock: Clock::system(),
        shared,
        results,
    })
}

/// `http` options alone (for tools that fetch without a Verifier), named `http.*` in messages.
pub fn parse_http_options(value: &Value) -> Result<HttpOptions> {
    let wrapped = serde_json::json!({ "http": value });
    http::parse_http(&Object::root(&wrapped)?)
}

fn parse_keys(f: &Field<'_>) -> Result<KeySet> {
    let list = f
        .value
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| f.error("must be a JWKS object: { keys: [ ...JWK ] }"))?;
    let set = KeySet::from_values(list, Origin::Local, None);
    if set.is_empty() {
        let reasons: Vec<String> = set.skipped.iter().map(|s| s.reason.clone()).collect();
        return Err(f.error(format!(
            "holds no usable key{}",
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join("; "))
            }
        )));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::ErrorCode;
    use serde_json::json;

    fn err(v: Value) -> String {
        let e = parse(&v, SecretBytes::None).expect_err(&v.to_string());
        assert_eq!(e.code, ErrorCode::InvalidOptions);
        e.message
    }

    #[test]
    fn refusals_name_the_option() {
        let s32 = "s".repeat(32);
        let cases = [
            (
                json!({"issuer":"https://i/","audiance":"a"}),
                "did you mean \"audience\"",
            ),
            (
                json!({"issuer":"https://i/","audience":null}),
                "\"audience\" must not be null",
            ),
            (
                json!({"issuer":"https://i/","algorithms":[]}),
                "at least one",
            ),
            (
                json!({"issuer":"https://i/","algorithms":["RS1"]}),
                "\"RS1\"",
            ),
            (json!({"issuer":"https://i/","secret":s32}), "names no HS*"),
            (
                json!({"issuer":"https://i/","algorithms":["HS256"]}),
                "no \"secret\"",
            ),
            (
                json!({"algorithms":["HS512"],"secret":s32}),
                "HS512 needs at least 64",
            ),
            (
                json!({"issuer":"https://i/","issuers":[]}),
                "\"issuer\" cannot be combined",
            ),
            (
                json!({"issuers":[{"jwksUri":"https://x/j"}]}),
                "issuers[0].issuer\" is required",
            ),
            (
                json!({"issuers":[{"issuer":"a","aud":"x"}]}),
                "unknown option \"issuers[0].aud\"",
            ),
            (
                json!({"issuer":"https://i/","clockTolerance":"5 minutes"}),
                "\"clockTolerance\" must be a number of seconds",
            ),
            (
                json!({"issuer":"https://i/","cache":{"maxAge":0}}),
                "\"cache.maxAge\" must be greater than 0",
            ),
            (
                json!({"issuer":"https://i/","cache":{"maxage":1}}),
                "did you mean \"maxAge\"",
            ),
            (
                json!({"issuer":"https://i/","http":{"timeout":"-1s"}}),
                "\"http.timeout\"",
            ),
            (
                json!({"issuer":"https://i/","jwksUri":"http://example.com/jwks"}),
                "\"jwksUri\" must use https",
            ),
            (
                json!({"issuer":"http://example.com"}),
                "\"issuer\" cannot be used for discovery",
            ),
            (
                json!({"issuer":"https://i/","http":{"headers":{"x y":"1"}}}),
                "http.headers.x y",
            ),
            (
                json!({"issuer":"https://i/","http":{"ca":"nope"}}),
                "http.ca",
            ),
            (
                json!({"issuer":"https://i/","tokenCache":true}),
                "tokenCache",
            ),
            (
                json!({"issuer":"https://i/","keys":{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}}),
                "no usable key",
            ),
            (json!({"audience":"a"}), "key source"),
            (
                json!({"issuer":"https://i/","keys":{"keys":[]},"loger":false}),
                "unknown option \"loger\" (did you mean \"logger\"?)",
            ),
            (
                json!({"issuer":"https://i/","logger":{"warn":"<a function>"}}),
                "option \"logger\" must be an object with warn and info functions (console, a pino logger, fastify.log) or false, got an object without them",
            ),
            (
                json!({"issuer":"https://i/","logger":true}),
                "or false, got a boolean",
            ),
            (
                json!({"issuer":"https://i/","audience":123}),
                "\"audience\" must be a string or an array of strings, got a number",
            ),
            (
                json!({"issuer":"https://i/","cache":{"maxAge":600000}}),
                "option \"cache.maxAge\" is 600000 seconds (6.9 days): numbers are seconds; did you mean \"600s\" (or 600)?",
            ),
            (
                json!({"issuer":"https://i/","cache":{"cooldown":30000}}),
                "\"cache.cooldown\" is 30000 seconds (8.3 h)",
            ),
            (
                json!({"issuer":"https://i/","cache":{"maxStale":86400000}}),
                "\"cache.maxStale\" is 86400000 seconds",
            ),
            (
                json!({"issuer":"https://i/","clockTolerance":5000}),
                "\"clockTolerance\" is 5000 seconds (1.4 h): numbers are seconds; did you mean \"5s\" (or 5)?",
            ),
            (
                json!({"issuer":"https://i/","maxTokenAge":3600000}),
                "\"maxTokenAge\" is 3600000 seconds",
            ),
            (
                json!({"issuer":"https://i/","http":{"timeout":5000}}),
                "\"http.timeout\" is 5000 seconds",
            ),
            (
                json!({"issuer":"https://i/","revalidate":{"endpoint":"https://a/","interval":300000}}),
                "\"revalidate.interval\" is 300000 seconds",
            ),
            (
                json!({"issuers":[{"issuer":"https://i/","revalidate":{"endpoint":"https://a/","staleIfError":600000}}]}),
                "\"issuers[0].revalidate.staleIfError\" is 600000 seconds",
            ),
            (
                json!({"issuer":"https://i/","shared":{"redis":"redis://x","secret":s32,"timeout":50}}),
                "\"shared.timeout\" is 50 seconds (50 s): numbers are seconds; did you mean \"50ms\" (or 0.05)?",
            ),
            (
                json!({"issuer":"https://i/","cache":{"cooldown":900}}),
                "option \"cache.cooldown\" (15 min) is longer than \"cache.maxAge\" (10 min, the default)",
            ),
            (
                json!({"issuer":"https://i/","cache":{"maxAge":"1m","cooldown":"2m"}}),
                "option \"cache.cooldown\" (2 min) is longer than \"cache.maxAge\" (1 min)",
            ),
            (
                json!({"issuer":"https://i/","results":"maybe"}),
                "option \"results\" must be \"fresh\" or \"frozen\", got \"maybe\"",
            ),
            (
                json!({"issuer":"https://i/","results":true}),
                "\"results\" must be \"fresh\" or \"frozen\", got a boolean",
            ),
            (
                json!({"issuer":"https://i/","result":"frozen"}),
                "unknown option \"result\" (did you mean \"results\"?)",
            ),
            (json!(5), "must be an object"),
        ];
        for (value, fragment) in cases {
            let message = err(value.clone());
            assert!(
                message.contains(fragment),
                "{value}: {message:?} lacks {fragment:?}"
            );
        }
    }

    #[test]
    fn a_local_oct_key_serves_the_hs_algorithm_its_length_allows() {
        let k48 = "a".repeat(64); // 48 bytes of base64url
        let keys = json!({"keys":[{"kty":"oct","alg":"HS384","k":k48,"kid":"o"}]});
        let o = parse(
            &json!({"keys":keys.clone(),"algorithms":["HS384"]}),
            SecretBytes::None,
        );
        assert!(o.is_ok(), "{:?}", o.err());
        let e = parse(
            &json!({"keys":keys,"algorithms":["HS512"]}),
            SecretBytes::None,
        )
        .unwrap_err();
        assert!(e.message.contains("no \"secret\""), "{}", e.message);
    }

    #[test]
    fn defaults_and_forms() {
        let o = parse(
            &json!({"issuer":"https://login.example.com/"}),
            SecretBytes::None,
        )
        .unwrap();
        assert_eq!(o.issuers.len(), 1);
        assert!(
            matches!(&o.issuers[0].source, KeySource::Discovery(u) if u == "https://login.example.com/.well-known/openid-configuration")
        );
        assert_eq!(o.issuers[0].algorithms, Algorithm::ASYMMETRIC);
        assert_eq!(o.issuers[0].rules.required, ["exp"]);
        assert_eq!(o.cache, CachePolicy::default());
        assert_eq!(o.token_cache, DEFAULT_TOKEN_CACHE);
        assert_eq!(o.max_token_length, DEFAULT_MAX_TOKEN_LENGTH);
        assert_eq!(o.results, Results::Fresh);
        for (value, want) in [("fresh", Results::Fresh), ("frozen", Results::Frozen)] {
            let o = parse(
                &json!({"issuer":"https://i/","results":value}),
                SecretBytes::None,
            )
            .unwrap();
            assert_eq!(o.results, want, "{value}");
        }

        let o = parse(
            &json!({"issuer":"i","jwksUri":"http://127.0.0.1:1/j","audience":["a","b"],"clockTolerance":"1.5s","cache":{"maxAge":"10m","cooldown":5},"tokenCache":false}),
            SecretBytes::None,
        )
        .unwrap();
        assert!(matches!(&o.issuers[0].source, KeySource::Remote(_)));
        assert_eq!(
            o.issuers[0].rules.audience.as_deref(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(o.issuers[0].rules.clock_tolerance, 1.5);
        assert_eq!(o.cache.max_age_ms, 600_000);
        assert_eq!(o.cache.cooldown_ms, 5_000);
        assert_eq!(o.token_cache, 0);

        // Strings with a unit go beyond the bare-number bounds, up to 10 years; a number at
        // its bound is accepted.
        let o = parse(
            &json!({"issuer":"https://i/","cache":{"maxAge":"30d","cooldown":"2h","maxStale":"365d"},"clockTolerance":3600,"http":{"timeout":300}}),
            SecretBytes::None,
        )
        .unwrap();
        assert_eq!(o.cache.max_age_ms, 30 * 86_400_000);
        assert_eq!(o.cache.cooldown_ms, 7_200_000);
        assert_eq!(o.http.timeout, std::time::Duration::from_secs(300));
        assert_eq!(o.issuers[0].rules.clock_tolerance, 3600.0);

        let o = parse(
            &json!({"algorithms":["HS256"]}),
            SecretBytes::Bytes(vec![1; 32]),
        )
        .unwrap();
        assert!(o.secret.is_some());
        assert!(o.issuers[0].issuer.is_none());
    }
}
