//! TokenSource options: read once from a JSON-like value, validated eagerly; every refusal is
//! ERR_INVALID_OPTIONS naming the option, and never quotes a secret or a key.

use serde_json::Value;

use crate::clock::Clock;
use crate::credentials::answer::DEFAULT_REFRESH_BEFORE_MS;
use crate::credentials::assertion::SigningKey;
use crate::credentials::secret::Secret;
use crate::discovery;
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::{check_url, HttpOptions};
use crate::options::parse_http_section;
use crate::options::reader::{kind, Field, Object};

const KEYS: [&str; 13] = [
    "tokenUrl",
    "issuer",
    "clientId",
    "clientSecret",
    "privateKey",
    "authMethod",
    "scope",
    "audience",
    "resource",
    "params",
    "refreshBefore",
    "http",
    "onEvent",
];

/// Form parameters the source sets itself; `params` may not name them.
pub const RESERVED_PARAMS: [&str; 8] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "scope",
    "audience",
    "resource",
];

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tokenUrl`.
    Url(String),
    /// `issuer`: `token_endpoint` of its discovery document (at `discovery_url`).
    Discovered {
        issuer: String,
        discovery_url: String,
    },
}

/// How the client authenticates (RFC 6749 §2.3, OpenID Connect Core §9).
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic(Secret),
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    Post(Secret),
    /// `private_key_jwt`: a client assertion signed with this key.
    PrivateKeyJwt(SigningKey),
}

impl ClientAuth {
    /// The `authMethod` name.
    pub fn name(&self) -> &'static str {
        match self {
            ClientAuth::Basic(_) => "client_secret_basic",
            ClientAuth::Post(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::PrivateKeyJwt(key) => f
                .debug_tuple("PrivateKeyJwt")
                .field(&key.alg().name())
                .finish(),
            other => f.debug_tuple(other.name()).field(&"[redacted]").finish(),
        }
    }
}

/// Every option, parsed. `Debug` shows no secret.
#[derive(Debug)]
pub struct SourceOptions {
    pub endpoint: Endpoint,
    /// `clientId`.
    pub client_id: String,
    /// `authMethod` with its credential. Defaults to `client_secret_basic` with `clientSecret`,
    /// `private_key_jwt` with `privateKey`.
    pub auth: ClientAuth,
    /// `scope`, an array joined by spaces. Defaults to none.
    pub scope: Option<String>,
    /// `audience` (Auth0 and others). Defaults to none.
    pub audience: Option<String>,
    /// `resource` (RFC 8707), one form parameter each. Defaults to none.
    pub resource: Vec<String>,
    /// `params`: further form parameters. Defaults to none.
    pub params: Vec<(String, String)>,
    /// `refreshBefore`, at most half a token's lifetime. Defaults to 60 s.
    pub refresh_before_ms: u64,
    /// `http.*`. Defaults to [`HttpOptions::default`] (5 s, 1 MiB, https only).
    pub http: HttpOptions,
    /// The clock; only the addon's test seam sets another than the system clock.
    pub clock: Clock,
}

impl SourceOptions {
    /// The form parameters every request sends, before the client's credentials: `grant_type`,
    /// `scope`, `audience`, one `resource` each, then `params`.
    pub fn form(&self) -> Vec<(String, String)> {
        let pair = |name: &str, value: &String| (name.to_owned(), value.clone());
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        form.extend(self.scope.iter().map(|s| pair("scope", s)));
        form.extend(self.audience.iter().map(|a| pair("audience", a)));
        form.extend(self.resource.iter().map(|r| pair("resource", r)));
        form.extend(self.params.iter().cloned());
        form
    }
}

/// Parse TokenSource options.
pub fn parse(value: &Value) -> Result<SourceOptions> {
    let o = Object::root(value)?;
    o.check_keys(&KEYS)?;
    if let Some(f) = o.get("onEvent") {
        return Err(f.error(format!("must be a function, got {}", kind(f.value))));
    }
    let http = parse_http_section(&o)?;
    let endpoint = match (o.get("tokenUrl"), o.get("issuer")) {
        (Some(_), Some(_)) => {
            return Err(Error::options(
                "issuer",
                "cannot be combined with \"tokenUrl\": give one of them",
            ))
        }
        (None, None) => {
            return Err(Error::new(
                ErrorCode::InvalidOptions,
                "options need \"tokenUrl\", or \"issuer\" to discover its token_endpoint",
            ))
        }
        (Some(f), None) => {
            let url = non_empty(&f)?;
            check_url(&url, http.allow_http).map_err(|why| f.error(why))?;
            Endpoint::Url(url)
        }
        (None, Some(f)) => {
            let issuer = non_empty(&f)?;
            let discovery_url = discovery::url_of(&issuer);
            check_url(&discovery_url, http.allow_http).map_err(|why| {
                f.error(format!(
                    "cannot be used for discovery: {discovery_url} {why}; or give \"tokenUrl\""
                ))
            })?;
            Endpoint::Discovered {
                issuer,
                discovery_url,
            }
        }
    };
    let client_id = match o.get("clientId") {
        Some(f) => non_empty(&f)?,
        None => return Err(Error::options("clientId", "is required")),
    };
    let auth = parse_auth(&o)?;
    let scope = match o.get("scope") {
        None => None,
        Some(f) => Some(
            f.string_or_list()
                .map_err(|_| f.error("must be a string or an array of strings"))?
                .join(" "),
        ),
    };
    let audience = o.get("audience").map(|f| non_empty(&f)).transpose()?;
    let resource = match o.get("resource") {
        None => Vec::new(),
        Some(f) => {
            let list = f
                .string_or_list()
                .map_err(|_| f.error("must be a string or an array of strings"))?;
            for r in &list {
                let ok = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none());
                if !ok {
                    return Err(f.error(format!(
                        "must be absolute URIs without a fragment (RFC 8707), got {r:?}"
                    )));
                }
            }
            list
        }
    };
    let params = match o.get("params") {
        None => Vec::new(),
        Some(f) => {
            let map = f.object().map_err(|_| {
                f.error(format!(
                    "must be an object of strings, got {}",
                    kind(f.value)
                ))
            })?;
            let mut params = Vec::new();
            for (name, value) in map.members() {
                if RESERVED_PARAMS.contains(&name.as_str()) {
                    return Err(
                        value.error("is set by the token source itself; use its own option")
                    );
                }
                params.push((name.clone(), value.string()?));
            }
            params
        }
    };
    let refresh_before_ms = o
        .duration_ms("refreshBefore", true)?
        .map_or(DEFAULT_REFRESH_BEFORE_MS, |ms| {
            ms.ceil().min(u64::MAX as f64) as u64
        });
    Ok(SourceOptions {
        endpoint,
        client_id,
        auth,
        scope,
        audience,
        resource,
        params,
        refresh_before_ms,
        http,
        clock: Clock::system(),
    })
}

/// `authMethod` with `clientSecret` or `privateKey`.
fn parse_auth(o: &Object<'_>) -> Result<ClientAuth> {
    let secret = o.get("clientSecret");
    let key = o.get("privateKey");
    let method = o.string("authMethod")?;
    let wants_key = match method.as_deref() {
        None => key.is_some(),
        Some("client_secret_basic" | "client_secret_post") => false,
        Some("private_key_jwt") => true,
        Some(other) => {
            return Err(Error::options(
                "authMethod",
                format!(
                    "must be \"client_secret_basic\", \"client_secret_post\" or \"private_key_jwt\", got {other:?}"
                ),
            ))
        }
    };
    if wants_key {
        if let Some(f) = secret {
            return Err(f.error(
                "cannot be combined with \"privateKey\" (private_key_jwt keeps no shared secret)",
            ));
        }
        let Some(f) = key else {
            return Err(Error::options(
                "privateKey",
                "is required by private_key_jwt",
            ));
        };
        let parsed = match f.value {
            Value::Object(jwk) => SigningKey::from_jwk(jwk),
            Value::String(pem) => SigningKey::from_pem(pem),
            v => {
                return Err(f.error(format!(
                    "must be a private JWK object or a PEM string, got {}",
                    kind(v)
                )))
            }
        };
        return parsed
            .map(ClientAuth::PrivateKeyJwt)
            .map_err(|why| f.error(why));
    }
    if let Some(f) = key {
        return Err(f.error(format!(
            "cannot be combined with authMethod {:?}",
            method.as_deref().unwrap_or("client_secret_basic")
        )));
    }
    let Some(f) = secret else {
        return Err(Error::new(
            ErrorCode::InvalidOptions,
            "options need \"clientSecret\" (client_secret_basic, client_secret_post) or \"privateKey\" (private_key_jwt)",
        ));
    };
    let secret = match f.value {
        Value::String(s) if !s.is_empty() => Secret::new(s.as_str()),
        Value::String(_) => return Err(f.error("must not be empty")),
        v => return Err(f.error(format!("must be a string, got {}", kind(v)))),
    };
    Ok(match method.as_deref() {
        Some("client_secret_post") => ClientAuth::Post(secret),
        _ => ClientAuth::Basic(secret),
    })
}

fn non_empty(f: &Field<'_>) -> Result<String> {
    let s = f.string()?;
    if s.is_empty() {
        return Err(f.error("must not be empty"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "s3cret-value-0123456789";

    fn err(v: Value) -> String {
        let e = parse(&v).expect_err(&v.to_string());
        assert_eq!(e.code, ErrorCode::InvalidOptions);
        assert!(
            !e.message.contains(SECRET),
            "{}: quotes the secret",
            e.message
        );
        e.message
    }

    #[test]
    fn refusals_name_the_option() {
        let base = |extra: Value| {
            let mut v = json!({"tokenUrl":"https://login.example.com/oauth/token","clientId":"c","clientSecret":SECRET});
            for (k, x) in extra.as_object().unwrap() {
                if x.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = x.clone();
                }
            }
            v
        };
        let cases = [
            (
                "typo",
                base(json!({"clientSecrett":"x"})),
                "did you mean \"clientSecret\"",
            ),
            (
                "no endpoint",
                base(json!({"tokenUrl":null})),
                "need \"tokenUrl\"",
            ),
            (
                "both endpoints",
                base(json!({"issuer":"https://login.example.com"})),
                "\"issuer\" cannot be combined",
            ),
            (
                "http token url",
                base(json!({"tokenUrl":"http://example.com/token"})),
                "\"tokenUrl\" must use https",
            ),
            (
                "http issuer",
                base(json!({"tokenUrl":null,"issuer":"http://example.com"})),
                "\"issuer\" cannot be used for discovery",
            ),
            (
                "no client id",
                base(json!({"clientId":null})),
                "\"clientId\" is required",
            ),
            (
                "empty client id",
                base(json!({"clientId":""})),
                "\"clientId\" must not be empty",
            ),
            (
                "no credential",
                base(json!({"clientSecret":null})),
                "need \"clientSecret\"",
            ),
            (
                "numeric secret",
                base(json!({"clientSecret":5})),
                "\"clientSecret\" must be a string",
            ),
            (
                "empty secret",
                base(json!({"clientSecret":""})),
                "\"clientSecret\" must not be empty",
            ),
            (
                "unknown method",
                base(json!({"authMethod":"tls_client_auth"})),
                "\"authMethod\" must be",
            ),
            (
                "jwt without key",
                base(json!({"authMethod":"private_key_jwt","clientSecret":null})),
                "\"privateKey\" is required",
            ),
            (
                "jwt with secret",
                base(json!({"authMethod":"private_key_jwt"})),
                "\"clientSecret\" cannot be combined",
            ),
            (
                "key with post",
                base(json!({"authMethod":"client_secret_post","privateKey":"x"})),
                "\"privateKey\" cannot be combined",
            ),
            (
                "key of wrong type",
                base(json!({"clientSecret":null,"privateKey":5})),
                "\"privateKey\" must be a private JWK",
            ),
            (
                "public JWK",
                base(
                    json!({"clientSecret":null,"privateKey":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}),
                ),
                "a private key (with \"d\") is needed",
            ),
            (
                "scope number",
                base(json!({"scope":5})),
                "\"scope\" must be a string or an array",
            ),
            (
                "resource fragment",
                base(json!({"resource":"https://api.example.com/#x"})),
                "RFC 8707",
            ),
            (
                "resource relative",
                base(json!({"resource":["/api"]})),
                "RFC 8707",
            ),
            (
                "params array",
                base(json!({"params":["a"]})),
                "\"params\" must be an object of strings",
            ),
            (
                "params reserved",
                base(json!({"params":{"grant_type":"password"}})),
                "\"params.grant_type\" is set by the token source",
            ),
            (
                "params number",
                base(json!({"params":{"x":1}})),
                "\"params.x\" must be a string",
            ),
            (
                "refreshBefore",
                base(json!({"refreshBefore":"soon"})),
                "\"refreshBefore\" must be a number of seconds",
            ),
            (
                "http",
                base(json!({"http":{"timeout":0}})),
                "\"http.timeout\" must be greater than 0",
            ),
            (
                "onEvent",
                base(json!({"onEvent":"f"})),
                "\"onEvent\" must be a function",
            ),
        ];
        for (label, value, fragment) in cases {
            let message = err(value);
            assert!(
                message.contains(fragment),
                "{label}: {message:?} lacks {fragment:?}"
            );
        }
        assert!(err(
            json!({"tokenUrl":"https://x/t","clientId":"c","clientSecret":SECRET,"audience":null})
        )
        .contains("must not be null"));
        assert!(err(json!([1])).contains("must be an object"));
    }

    #[test]
    fn defaults_and_forms() {
        let o = parse(&json!({"tokenUrl":"https://login.mypurecloud.com/oauth/token","clientId":"c","clientSecret":SECRET})).unwrap();
        assert_eq!(
            o.endpoint,
            Endpoint::Url("https://login.mypurecloud.com/oauth/token".to_owned())
        );
        assert_eq!(o.auth.name(), "client_secret_basic");
        assert_eq!(o.refresh_before_ms, DEFAULT_REFRESH_BEFORE_MS);
        assert_eq!(
            (o.scope, o.audience, o.resource.len(), o.params.len()),
            (None, None, 0, 0)
        );
        assert!(
            !format!(
                "{:?}",
                parse(&json!({"tokenUrl":"https://x/t","clientId":"c","clientSecret":SECRET}))
                    .unwrap()
            )
            .contains(SECRET),
            "Debug hides the secret"
        );

        let o = parse(&json!({
            "issuer":"http://127.0.0.1:9/","clientId":"c","clientSecret":SECRET,"authMethod":"client_secret_post",
            "scope":["a","b"],"audience":"https://api","resource":["https://r1","urn:r2"],"params":{"organization":"org_1"},
            "refreshBefore":"2m"
        })).unwrap();
        assert_eq!(
            o.endpoint,
            Endpoint::Discovered {
                issuer: "http://127.0.0.1:9/".to_owned(),
                discovery_url: "http://127.0.0.1:9/.well-known/openid-configuration".to_owned()
            }
        );
        assert_eq!(o.auth.name(), "client_secret_post");
        assert_eq!(o.scope.as_deref(), Some("a b"));
        assert_eq!(o.audience.as_deref(), Some("https://api"));
        assert_eq!(o.resource, ["https://r1", "urn:r2"]);
        assert_eq!(o.params, [("organization".to_owned(), "org_1".to_owned())]);
        assert_eq!(o.refresh_before_ms, 120_000);
        let form = o.form();
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("grant_type", "client_credentials"),
                ("scope", "a b"),
                ("audience", "https://api"),
                ("resource", "https://r1"),
                ("resource", "urn:r2"),
                ("organization", "org_1"),
            ]
        );
        assert_eq!(parse(&json!({"tokenUrl":"https://x/t","clientId":"c","clientSecret":SECRET,"refreshBefore":0})).unwrap().refresh_before_ms, 0);
    }
}
