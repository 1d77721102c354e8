//! What the CLI (and a curious user) asks the engine: fetch a JSON document under the same
//! rules as the key cache (https policy, redirects, size limit, timeout), and say of each JWK
//! of a set whether it is usable and why not, by the same import the key cache runs.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fetch::{check_url, status_error, Fetcher, HttpOptions, Request};
use crate::http_cache::header_text;
use crate::jwk::{import, Origin};

/// A JSON document fetched by [`fetch_json`].
#[derive(Debug, Clone)]
pub struct Document {
    pub url: String,
    pub status: u16,
    /// `Cache-Control`, `ETag`, `Last-Modified`, `Retry-After` when present.
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

/// GET `url` as the key cache would (the URL policy of `http` first); a non-2xx is the key
/// cache's error (ERR_JWKS_FETCH_FAILED / ERR_JWKS_RATE_LIMITED), a body that is not JSON is
/// ERR_JWKS_INVALID. `what` names the document in messages.
pub async fn fetch_json(url: &str, http: HttpOptions, what: &str) -> Result<Document> {
    check_url(url, http.allow_http).map_err(|why| Error::options("url", format!("{url} {why}")))?;
    let fetcher = Fetcher::new(http)?;
    let response = fetcher.send(&Request::get(url, what)).await?;
    if !(200..300).contains(&response.status) {
        return Err(status_error(url, what, response.status, &response.headers));
    }
    let body = serde_json::from_slice(&response.body)
        .map_err(|_| Error::jwks(format!("{what} at {url} is not JSON")))?;
    let headers = ["cache-control", "etag", "last-modified", "retry-after"]
        .into_iter()
        .filter_map(|name| {
            header_text(
                &response.headers,
                reqwest::header::HeaderName::from_static(name),
            )
            .map(|v| (name, v))
        })
        .collect();
    Ok(Document {
        url: url.to_owned(),
        status: response.status,
        headers,
        body,
    })
}

/// The verdict on one JWK of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVerdict {
    /// Position in the `keys` array.
    pub index: usize,
    pub kid: Option<String>,
    /// Why the key is not used; `None` when it is usable.
    pub refused: Option<String>,
}

/// Each JWK of `keys` judged as the key cache judges it (`Origin::Remote`: a published JWKS;
/// `Origin::Local`: a `keys` option).
pub fn explain_keys(keys: &[Value], origin: Origin) -> Vec<KeyVerdict> {
    keys.iter()
        .enumerate()
        .map(|(index, jwk)| KeyVerdict {
            index,
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            refused: import(jwk, origin).err(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdicts_follow_the_import_rules() {
        let keys = [
            json!({"kty":"OKP","crv":"Ed25519","kid":"good","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            json!({"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            json!({"kty":"oct","kid":"secret","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw"}),
            json!("not an object"),
        ];
        let v = explain_keys(&keys, Origin::Remote);
        assert_eq!(v[0].refused, None);
        assert_eq!(v[0].kid.as_deref(), Some("good"));
        assert!(
            v[1].refused.as_deref().is_some_and(|r| r.contains("use")),
            "{v:?}"
        );
        assert!(
            v[2].refused.is_some(),
            "oct keys are ignored in a published JWKS"
        );
        assert!(v[3].refused.is_some());
        assert_eq!(v[3].index, 3);
    }
}
