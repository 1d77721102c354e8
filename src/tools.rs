//! Tools for the CLI and for curious users, with the engine's own rules: fetch a JSON document
//! under the key cache's HTTP policy, judge the keys of a JWKS, check a URL, read a duration.

use jwks_verify_core::inspect::{self, Document, KeyVerdict};
use jwks_verify_core::jwk::Origin;
use jwks_verify_core::{duration, fetch, options, Algorithm, Error as CoreError, ErrorCode};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use serde_json::Value;

use crate::errors::core_error;

/// A fetched JSON document.
#[napi(object)]
pub struct FetchedDocument {
    pub url: String,
    pub status: u32,
    /// `cache-control`, `etag`, `last-modified`, `retry-after` when the answer had them.
    pub headers: std::collections::HashMap<String, String>,
    /// The JSON body.
    pub body: Value,
}

impl From<Document> for FetchedDocument {
    fn from(d: Document) -> Self {
        FetchedDocument {
            url: d.url,
            status: d.status as u32,
            headers: d
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            body: d.body,
        }
    }
}

/// GET a JSON document (a JWKS, a discovery document) under the rules the key cache follows:
/// https only (loopback excepted, or `http.allowHttp`), at most 3 redirects, `http.maxBytes`,
/// `http.timeout`, `http.headers` only to the URL's origin. Rejects with the key cache's codes
/// (`ERR_JWKS_FETCH_FAILED`, `ERR_JWKS_TIMEOUT`, `ERR_JWKS_RATE_LIMITED`, `ERR_JWKS_INVALID`;
/// `ERR_INVALID_OPTIONS` for a URL or option the policy refuses).
#[napi(
    catch_unwind,
    ts_args_type = "url: string, http?: VerifierOptions['http']",
    ts_return_type = "Promise<FetchedDocument>"
)]
pub fn fetch_json<'env>(env: &'env Env, url: String, http: Option<Value>) -> Result<Unknown<'env>> {
    let http = options::parse_http_options(&http.unwrap_or(Value::Object(Default::default())))
        .map_err(|e| core_error(env, &e))?;
    let promise = env.spawn_future_with_callback(
        async move {
            let handle = jwks_verify_core::runtime::spawn(async move {
                inspect::fetch_json(&url, http, "document").await
            });
            Ok(handle.await.unwrap_or_else(|_| {
                Err(CoreError::new(
                    ErrorCode::FetchFailed,
                    "the fetch task failed",
                ))
            }))
        },
        |env, r| {
            r.map(FetchedDocument::from)
                .map_err(|e| core_error(env, &e))
        },
    )?;
    Ok(promise.to_unknown())
}

/// The verdict on one JWK.
#[napi(object, js_name = "KeyVerdict")]
pub struct KeyVerdictJs {
    pub index: u32,
    pub kid: Option<String>,
    pub usable: bool,
    /// Why the key is not used (absent when usable).
    pub reason: Option<String>,
}

impl From<KeyVerdict> for KeyVerdictJs {
    fn from(v: KeyVerdict) -> Self {
        KeyVerdictJs {
            index: v.index as u32,
            kid: v.kid,
            usable: v.refused.is_none(),
            reason: v.refused,
        }
    }
}

/// Judge each key of a JWKS as the Verifier does: usable, or why not. `local: true` judges a
/// `keys` option (where `oct` keys are allowed) rather than a published JWKS.
#[napi(
    catch_unwind,
    ts_args_type = "jwks: { keys: unknown[] }, options?: { local?: boolean }",
    ts_return_type = "KeyVerdict[]"
)]
pub fn explain_keys(env: Env, jwks: Value, options: Option<Value>) -> Result<Vec<KeyVerdictJs>> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Err(core_error(
            &env,
            &CoreError::jwks("not a JWKS: no \"keys\" array"),
        ));
    };
    let local = options
        .as_ref()
        .and_then(|o| o.get("local"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let origin = if local { Origin::Local } else { Origin::Remote };
    Ok(inspect::explain_keys(keys, origin)
        .into_iter()
        .map(KeyVerdictJs::from)
        .collect())
}

/// Why the Verifier would refuse to fetch `url` (`null` when it may): https only, plain http
/// for loopback hosts or with `allowHttp`.
#[napi(catch_unwind)]
pub fn url_refusal(url: String, allow_http: Option<bool>) -> Option<String> {
    fetch::check_url(&url, allow_http.unwrap_or(false)).err()
}

/// Milliseconds of a duration as options take it: seconds, or `<number><ms|s|m|h|d>`. Throws
/// `ERR_INVALID_OPTIONS` naming `name` (default `duration`).
#[napi(catch_unwind, ts_args_type = "value: number | string, name?: string")]
pub fn parse_duration(env: Env, value: Value, name: Option<String>) -> Result<f64> {
    let name = name.unwrap_or_else(|| "duration".to_owned());
    let ms = match &value {
        Value::Number(n) => n.as_f64().and_then(duration::seconds_to_ms),
        Value::String(s) => duration::parse_ms(s),
        _ => None,
    };
    ms.ok_or_else(|| {
        core_error(
            &env,
            &CoreError::options(
                &name,
                "must be a number of seconds or a string like \"500ms\", \"30s\", \"10m\", \"1h\", \"1d\"",
            ),
        )
    })
}

/// The algorithms a Verifier accepts by default (every asymmetric one), then the HS* ones.
#[napi(ts_return_type = "{ asymmetric: Algorithm[]; symmetric: Algorithm[] }")]
pub fn algorithms() -> serde_json::Value {
    let names = |hmac: bool| -> Vec<&'static str> {
        Algorithm::ALL
            .iter()
            .filter(|a| a.is_hmac() == hmac)
            .map(|a| a.name())
            .collect()
    };
    serde_json::json!({ "asymmetric": names(false), "symmetric": names(true) })
}
