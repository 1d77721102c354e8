//! Verifier options: read from a JSON-like value (what the JS object holds), validated
//! eagerly; every error is ERR_INVALID_OPTIONS naming the option.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::cache::CachePolicy;
use crate::claims::{normalize_typ, ClaimRules};
use crate::duration;
use crate::error::{Error, Result};
use crate::fetch::{check_url, HttpOptions};
use crate::jwk::Origin;
use crate::key::{Key, Material};
use crate::keyset::KeySet;

const TOP_LEVEL: [&str; 17] = [
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
];
const ISSUER_KEYS: [&str; 4] = ["issuer", "jwksUri", "audience", "algorithms"];
const CACHE_KEYS: [&str; 3] = ["maxAge", "cooldown", "maxStale"];
const HTTP_KEYS: [&str; 5] = ["timeout", "headers", "maxBytes", "allowHttp", "ca"];

/// Default `maxTokenLength`.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 16_384;
/// Default `tokenCache` size.
pub const DEFAULT_TOKEN_CACHE: usize = 10_000;

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS URL.
    Remote(String),
    /// Discover `jwks_uri` from this OpenID configuration URL.
    Discovery(String),
    /// The local `keys` set.
    Local,
    /// No asymmetric keys (HS* with `secret` only).
    None,
}

/// One accepted issuer (or the single unnamed one when `iss` is not checked).
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// The exact `iss` accepted; `None` when `iss` is not checked.
    pub issuer: Option<String>,
    /// Where the keys come from.
    pub source: KeySource,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Claim rules (audience is per issuer).
    pub rules: ClaimRules,
}

/// Every option, parsed.
#[derive(Debug, Clone)]
pub struct Options {
    pub issuers: Vec<IssuerOptions>,
    /// The local key set (`keys`), also holding the `secret` as an HMAC key.
    pub local_keys: Option<Arc<KeySet>>,
    /// The HMAC key made from `secret`.
    pub secret: Option<Arc<Key>>,
    pub max_token_length: usize,
    pub cache: CachePolicy,
    pub http: HttpOptions,
    /// Verified tokens remembered; 0 = off.
    pub token_cache: usize,
}

/// The `secret` option when the glue received bytes (a Uint8Array) rather than a string.
pub enum SecretBytes {
    None,
    Bytes(Vec<u8>),
}

/// Parse options. `secret_bytes` carries a binary `secret` (absent from `value` then).
pub fn parse(value: &Value, secret_bytes: SecretBytes) -> Result<Options> {
    let Value::Object(o) = value else {
        return Err(Error::new(
            crate::ErrorCode::InvalidOptions,
            "options must be an object",
        ));
    };
    check_keys(o, &TOP_LEVEL, "")?;
    if let Some(v) = o.get("onEvent") {
        return Err(Error::options(
            "onEvent",
            format!("must be a function, got {}", kind(v)),
        ));
    }
    let secret = match (secret_bytes, o.get("secret")) {
        (SecretBytes::Bytes(b), _) => Some(b),
        (SecretBytes::None, None) => None,
        (SecretBytes::None, Some(Value::String(s))) => Some(s.as_bytes().to_vec()),
        (SecretBytes::None, Some(v)) => {
            return Err(Error::options(
                "secret",
                format!("must be a string or a Uint8Array, got {}", kind(v)),
            ))
        }
    };
    let http = parse_http(o.get("http"))?;
    let cache = parse_cache(o.get("cache"))?;
    let local_keys = match o.get("keys") {
        None => None,
        Some(v) => Some(Arc::new(parse_keys(v)?)),
    };
    let has_local_oct = local_keys
        .as_ref()
        .is_some_and(|k| k.candidates(Algorithm::HS256, None).next().is_some());

    let shared_rules = ClaimRules {
        audience: None,
        subject: opt_string(o, "subject")?,
        typ: opt_string(o, "typ")?.map(|t| normalize_typ(&t)),
        required: match o.get("requiredClaims") {
            None => vec!["exp".to_owned()],
            Some(v) => string_list(v, "requiredClaims", true)?,
        },
        clock_tolerance: opt_duration(o, "clockTolerance", true)?.unwrap_or(0.0) / 1000.0,
        max_token_age: opt_duration(o, "maxTokenAge", false)?.map(|ms| ms / 1000.0),
    };
    if shared_rules.typ.as_deref() == Some("") {
        return Err(Error::options("typ", "must not be empty"));
    }

    let uses_issuers = o.contains_key("issuers");
    if uses_issuers {
        if let Some(name) = ISSUER_KEYS.iter().find(|k| o.contains_key(**k)) {
            return Err(Error::options(
                name,
                "cannot be combined with \"issuers\": put it inside each entry of \"issuers\"",
            ));
        }
    }
    let entries: Vec<(String, &Map<String, Value>)> = if uses_issuers {
        let Some(list) = o.get("issuers").and_then(Value::as_array) else {
            return Err(Error::options(
                "issuers",
                "must be an array of issuer options",
            ));
        };
        if list.is_empty() {
            return Err(Error::options("issuers", "must not be empty"));
        }
        let mut entries = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            let prefix = format!("issuers[{i}]");
            let Value::Object(entry) = entry else {
                return Err(Error::options(&prefix, "must be an object"));
            };
            check_keys(entry, &ISSUER_KEYS, &prefix)?;
            if !entry.contains_key("issuer") {
                return Err(Error::options(&format!("{prefix}.issuer"), "is required"));
            }
            entries.push((format!("{prefix}."), entry));
        }
        entries
    } else {
        vec![(String::new(), o)]
    };

    let mut issuers = Vec::new();
    for (prefix, entry) in entries {
        let name = |k: &str| format!("{prefix}{k}");
        let issuer =
            opt_string(entry, "issuer").map_err(|e| rename(e, "issuer", &name("issuer")))?;
        if issuer.as_deref() == Some("") {
            return Err(Error::options(&name("issuer"), "must not be empty"));
        }
        if let Some(iss) = &issuer {
            if issuers
                .iter()
                .any(|i: &IssuerOptions| i.issuer.as_deref() == Some(iss))
            {
                return Err(Error::options(
                    &name("issuer"),
                    format!("repeats the issuer {iss:?}"),
                ));
            }
        }
        let algorithms = match entry.get("algorithms") {
            None => Algorithm::ASYMMETRIC.to_vec(),
            Some(v) => parse_algorithms(v, &name("algorithms"))?,
        };
        let wants_hmac = algorithms.iter().any(|a| a.is_hmac());
        if wants_hmac && secret.is_none() && !has_local_oct {
            return Err(Error::options(
                &name("algorithms"),
                "names an HS* algorithm but no \"secret\" (or local \"oct\" key) is given",
            ));
        }
        if let Some(secret) = &secret {
            for alg in algorithms.iter().filter(|a| a.is_hmac()) {
                if secret.len() < alg.min_secret_len() {
                    return Err(Error::options(
                        "secret",
                        format!(
                            "is {} bytes; {} needs at least {} bytes",
                            secret.len(),
                            alg.name(),
                            alg.min_secret_len()
                        ),
                    ));
                }
            }
        }
        let source = match entry.get("jwksUri") {
            Some(Value::String(uri)) => {
                check_url(uri, http.allow_http)
                    .map_err(|why| Error::options(&name("jwksUri"), why))?;
                KeySource::Remote(uri.clone())
            }
            Some(v) => {
                return Err(Error::options(
                    &name("jwksUri"),
                    format!("must be a string, got {}", kind(v)),
                ))
            }
            None if local_keys.is_some() => KeySource::Local,
            None => {
                match &issuer {
                    Some(iss) if algorithms.iter().any(|a| !a.is_hmac()) => {
                        let url = format!(
                            "{}/.well-known/openid-configuration",
                            iss.trim_end_matches('/')
                        );
                        check_url(&url, http.allow_http).map_err(|why| {
                        Error::options(&name("issuer"), format!("cannot be used for discovery: {url} {why}; or give \"jwksUri\""))
                    })?;
                        KeySource::Discovery(url)
                    }
                    _ => KeySource::None,
                }
            }
        };
        let audience = match entry.get("audience") {
            None => None,
            Some(Value::String(a)) => Some(vec![a.clone()]),
            Some(v) => Some(string_list(v, &name("audience"), false)?),
        };
        issuers.push(IssuerOptions {
            issuer,
            source,
            algorithms,
            rules: ClaimRules {
                audience,
                ..shared_rules.clone()
            },
        });
    }

    let only = &issuers[0];
    if !uses_issuers
        && only.issuer.is_none()
        && matches!(only.source, KeySource::None)
        && secret.is_none()
    {
        return Err(Error::new(
            crate::ErrorCode::InvalidOptions,
            "options need a key source: \"issuer\" (discovery), \"jwksUri\", \"issuers\", \"keys\" or \"secret\"",
        ));
    }
    if secret.is_some()
        && !issuers
            .iter()
            .any(|i| i.algorithms.iter().any(|a| a.is_hmac()))
    {
        return Err(Error::options(
            "secret",
            "is given but \"algorithms\" names no HS* algorithm (HS256, HS384, HS512)",
        ));
    }
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
        Some(v) => positive_integer(v, "maxTokenLength")?,
    };
    let token_cache = match o.get("tokenCache") {
        None => DEFAULT_TOKEN_CACHE,
        Some(Value::Bool(false)) => 0,
        Some(v) => v.as_u64().map(|n| n as usize).ok_or_else(|| {
            Error::options(
                "tokenCache",
                format!("must be a non-negative integer or false, got {}", kind(v)),
            )
        })?,
    };
    Ok(Options {
        issuers,
        local_keys,
        secret,
        max_token_length,
        cache,
        http,
        token_cache,
    })
}

fn rename(mut e: Error, from: &str, to: &str) -> Error {
    if from != to {
        e.message = e
            .message
            .replacen(&format!("\"{from}\""), &format!("\"{to}\""), 1);
    }
    e
}

fn check_keys(o: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<()> {
    for (key, value) in o {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if !allowed.contains(&key.as_str()) {
            let hint = allowed
                .iter()
                .map(|a| {
                    (
                        edit_distance(&a.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                        a,
                    )
                })
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, a)| format!(" (did you mean \"{a}\"?)"))
                .unwrap_or_default();
            return Err(Error::new(
                crate::ErrorCode::InvalidOptions,
                format!("unknown option \"{full}\"{hint}"),
            ));
        }
        if value.is_null() {
            return Err(Error::options(
                &full,
                "must not be null (leave it out to get the default)",
            ));
        }
    }
    Ok(())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = if ca == b[j] {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn opt_string(o: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(Error::options(
            key,
            format!("must be a string, got {}", kind(v)),
        )),
    }
}

fn string_list(v: &Value, name: &str, allow_empty: bool) -> Result<Vec<String>> {
    let list = v.as_array().ok_or_else(|| {
        Error::options(
            name,
            format!("must be an array of strings, got {}", kind(v)),
        )
    })?;
    if list.is_empty() && !allow_empty {
        return Err(Error::options(name, "must not be empty"));
    }
    list.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::options(name, "must contain only strings"))
        })
        .collect()
}

fn parse_algorithms(v: &Value, name: &str) -> Result<Vec<Algorithm>> {
    let names = string_list(v, name, true)?;
    if names.is_empty() {
        return Err(Error::options(name, "must name at least one algorithm"));
    }
    let mut algs = Vec::new();
    for n in names {
        let alg = Algorithm::from_name(&n).ok_or_else(|| {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            Error::options(
                name,
                format!("names {n:?}, which is not one of {}", known.join(", ")),
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}

/// A duration option in milliseconds. `allow_zero` for `clockTolerance`.
fn duration_ms(v: &Value, name: &str, allow_zero: bool) -> Result<f64> {
    let ms = match v {
        Value::Number(n) => n.as_f64().and_then(duration::seconds_to_ms),
        Value::String(s) => duration::parse_ms(s),
        _ => None,
    }
    .ok_or_else(|| {
        Error::options(name, "must be a number of seconds or a string like \"500ms\", \"30s\", \"10m\", \"1h\", \"1d\"")
    })?;
    if ms < 0.0 || (!allow_zero && ms == 0.0) {
        return Err(Error::options(
            name,
            if allow_zero {
                "must not be negative"
            } else {
                "must be greater than 0"
            },
        ));
    }
    Ok(ms)
}

fn opt_duration(o: &Map<String, Value>, key: &str, allow_zero: bool) -> Result<Option<f64>> {
    o.get(key)
        .map(|v| duration_ms(v, key, allow_zero))
        .transpose()
}

fn positive_integer(v: &Value, name: &str) -> Result<usize> {
    match v.as_u64() {
        Some(n) if n > 0 => Ok(n as usize),
        _ => Err(Error::options(
            name,
            format!("must be a positive integer, got {v}"),
        )),
    }
}

fn sub_object<'a>(
    v: Option<&'a Value>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<&'a Map<String, Value>>> {
    match v {
        None => Ok(None),
        Some(Value::Object(o)) => {
            check_keys(o, allowed, name)?;
            Ok(Some(o))
        }
        Some(v) => Err(Error::options(
            name,
            format!("must be an object, got {}", kind(v)),
        )),
    }
}

fn parse_cache(v: Option<&Value>) -> Result<CachePolicy> {
    let mut policy = CachePolicy::default();
    let Some(o) = sub_object(v, "cache", &CACHE_KEYS)? else {
        return Ok(policy);
    };
    let ms = |key: &str| -> Result<Option<u64>> {
        o.get(key)
            .map(|v| duration_ms(v, &format!("cache.{key}"), false).map(|ms| ms.ceil() as u64))
            .transpose()
    };
    if let Some(v) = ms("maxAge")? {
        policy.max_age_ms = v;
    }
    if let Some(v) = ms("cooldown")? {
        policy.cooldown_ms = v;
    }
    if let Some(v) = ms("maxStale")? {
        policy.max_stale_ms = v;
    }
    Ok(policy)
}

fn parse_http(v: Option<&Value>) -> Result<HttpOptions> {
    let mut http = HttpOptions::default();
    let Some(o) = sub_object(v, "http", &HTTP_KEYS)? else {
        return Ok(http);
    };
    if let Some(v) = o.get("timeout") {
        http.timeout = Duration::from_secs_f64(duration_ms(v, "http.timeout", false)? / 1000.0);
    }
    if let Some(v) = o.get("maxBytes") {
        http.max_bytes = positive_integer(v, "http.maxBytes")?;
    }
    match o.get("allowHttp") {
        None => {}
        Some(Value::Bool(b)) => http.allow_http = *b,
        Some(v) => {
            return Err(Error::options(
                "http.allowHttp",
                format!("must be a boolean, got {}", kind(v)),
            ))
        }
    }
    match o.get("ca") {
        None => {}
        Some(Value::String(pem)) => http.ca = Some(pem.clone()),
        Some(v) => {
            return Err(Error::options(
                "http.ca",
                format!("must be a PEM string, got {}", kind(v)),
            ))
        }
    }
    if let Some(v) = o.get("headers") {
        let Value::Object(h) = v else {
            return Err(Error::options(
                "http.headers",
                format!("must be an object of strings, got {}", kind(v)),
            ));
        };
        for (name, value) in h {
            let Value::String(value) = value else {
                return Err(Error::options(
                    &format!("http.headers.{name}"),
                    "must be a string",
                ));
            };
            http.headers.push((name.clone(), value.clone()));
        }
    }
    // Validate headers and CA now, so the constructor throws rather than the first fetch.
    crate::fetch::Fetcher::new(http.clone())?;
    Ok(http)
}

fn parse_keys(v: &Value) -> Result<KeySet> {
    let list = v
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| Error::options("keys", "must be a JWKS object: { keys: [ ...JWK ] }"))?;
    let set = KeySet::from_values(list, Origin::Local, None);
    if set.is_empty() {
        let reasons: Vec<String> = set.skipped.iter().map(|s| s.reason.clone()).collect();
        return Err(Error::options(
            "keys",
            format!(
                "holds no usable key{}",
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", reasons.join("; "))
                }
            ),
        ));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
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

        let o = parse(
            &json!({"algorithms":["HS256"]}),
            SecretBytes::Bytes(vec![1; 32]),
        )
        .unwrap();
        assert!(o.secret.is_some());
        assert!(o.issuers[0].issuer.is_none());
    }
}
