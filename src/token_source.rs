//! The TokenSource class: JS options -> the core's client-credentials source; tokens, events and
//! errors -> JS. Nothing here decides when to ask for a token.

use jwks_verify_core::credentials::{self, Token, TokenEvent, TokenSource as CoreTokenSource};
use jwks_verify_core::{Error as CoreError, ErrorCode};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::convert::{event_sink, options_to_json, ErrorInfo, Logger};
use crate::errors::{core_error, reject, settle};

/// A token from the token endpoint, as `getToken()` resolves it.
#[napi(object)]
pub struct AccessToken {
    /// The token itself: send it, never log it.
    pub access_token: String,
    /// `'Bearer'` (however the endpoint spelled it), or the scheme it named.
    pub token_type: String,
    /// When the token expires, in epoch milliseconds.
    pub expires_at: f64,
    /// The granted scope, when the endpoint named one.
    pub scope: Option<String>,
}

impl From<&Token> for AccessToken {
    fn from(t: &Token) -> Self {
        AccessToken {
            access_token: t.access_token.expose().to_owned(),
            token_type: t.token_type.clone(),
            expires_at: t.expires_at as f64,
            scope: t.scope.clone(),
        }
    }
}

/// Obtains access tokens with the OAuth 2 client-credentials grant, for calling APIs: one
/// request per token lifetime, refreshed ahead of expiry, one request however many callers wait,
/// backing off (and obeying `Retry-After`) when the endpoint fails. The client secret, the
/// private key and the tokens never appear in errors, events or `util.inspect` output.
#[napi]
pub struct TokenSource {
    core: CoreTokenSource,
}

fn event_object<'env>(env: &'env Env, e: &TokenEvent) -> Result<Object<'env>> {
    let mut obj = Object::new(env)?;
    obj.set_named_property("type", e.kind.as_str())?;
    for (name, value) in [
        ("tokenUrl", &e.token_url),
        ("issuer", &e.issuer),
        ("scope", &e.scope),
        ("message", &e.message),
    ] {
        if let Some(v) = value {
            obj.set_named_property(name, v.as_str())?;
        }
    }
    if let Some(v) = e.status {
        obj.set_named_property("status", v as u32)?;
    }
    if let Some(v) = e.duration_ms {
        obj.set_named_property("durationMs", v)?;
    }
    if let Some(v) = e.expires_at {
        obj.set_named_property("expiresAt", v as f64)?;
    }
    if let Some(err) = &e.error {
        obj.set_named_property("error", ErrorInfo::from(err))?;
    }
    Ok(obj)
}

fn build(env: &Env, options: Unknown<'_>) -> Result<CoreTokenSource> {
    let js = options_to_json(options).map_err(|e| core_error(env, &e))?;
    if js.secret.is_some() {
        let e = CoreError::new(ErrorCode::InvalidOptions, "unknown option \"secret\"");
        return Err(core_error(env, &e));
    }
    if !matches!(js.logger, Logger::Default) {
        let e = CoreError::new(
            ErrorCode::InvalidOptions,
            "unknown option \"logger\" (a TokenSource reports through onEvent)",
        );
        return Err(core_error(env, &e));
    }
    let mut parsed = credentials::parse(&js.value).map_err(|e| core_error(env, &e))?;
    if let Some(clock) = js.clock {
        parsed.clock = clock;
    }
    let sink = match js.on_event {
        Some(f) => Some(event_sink(env, f, event_object)?),
        None => None,
    };
    CoreTokenSource::new(parsed, sink).map_err(|e| core_error(env, &e))
}

impl TokenSource {
    /// A promise of `make(token)`: settled at once from the cached token (or a fail-fast error),
    /// else after the request.
    fn answer<'env, T>(&self, env: &'env Env, make: fn(&Token) -> T) -> Result<Unknown<'env>>
    where
        T: ToNapiValue + Send + 'static,
    {
        match self.core.cached() {
            Err(e) => reject(env, &e),
            Ok(Some(token)) => {
                let raw = unsafe { T::to_napi_value(env.raw(), make(&token))? };
                settle(env, raw, true)
            }
            Ok(None) => {
                let core = self.core.clone();
                let promise = env.spawn_future_with_callback(
                    async move { Ok(core.token().await) },
                    move |env, r| r.map(|t| make(&t)).map_err(|e| core_error(env, &e)),
                )?;
                Ok(promise.to_unknown())
            }
        }
    }
}

#[napi]
impl TokenSource {
    /// Create a source; makes no request until a token is asked for. Throws
    /// `ERR_INVALID_OPTIONS` (naming the option) when an option is wrong.
    #[napi(
        constructor,
        catch_unwind,
        ts_args_type = "options: TokenSourceOptions"
    )]
    pub fn new(env: Env, options: Unknown<'_>) -> Result<Self> {
        Ok(TokenSource {
            core: build(&env, options)?,
        })
    }

    /// A valid token: the cached one, or one requested now (one request however many callers
    /// wait). Rejects with `ERR_TOKEN_REQUEST_FAILED` or `ERR_TOKEN_RATE_LIMITED`.
    #[napi(catch_unwind, ts_return_type = "Promise<AccessToken>")]
    pub fn get_token<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        self.answer(env, |t| AccessToken::from(t))
    }

    /// The `Authorization` header value for the current token: `'Bearer <token>'`.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn authorization_header<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        self.answer(env, Token::authorization)
    }

    /// Forget the cached token (call it when the API answered 401): the next call requests a
    /// new one.
    #[napi(catch_unwind)]
    pub fn invalidate(&self) {
        self.core.invalidate();
    }

    /// Drop the cached token; later calls reject with `ERR_VERIFIER_CLOSED`. Idempotent.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.core.close();
    }
}

/// Same as `new TokenSource(options)`.
#[napi(catch_unwind, ts_args_type = "options: TokenSourceOptions")]
pub fn create_token_source(env: Env, options: Unknown<'_>) -> Result<TokenSource> {
    Ok(TokenSource {
        core: build(&env, options)?,
    })
}
