//! napi glue only: JS values <-> core types, core errors -> JS errors. No decisions about
//! tokens or keys are made here.

#![deny(clippy::all)]

/// See Cargo.toml: cross-thread frees are the common case here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod convert;
mod errors;
mod pool;
mod schedule;
mod telemetry;
pub mod test_clock;
pub mod token_source;
pub mod tools;

use jwks_verify_core::options::{self, SecretBytes};
use jwks_verify_core::verifier::{Step, Verifier as CoreVerifier};
use jwks_verify_core::ErrorCode;
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::convert::{options_to_json, verifier_event_sink, JsVerified};
use crate::errors::{core_error, verify_error, verify_reject};

/// Verifies JWTs against an identity provider's JWKS (or local keys), with a process-wide key
/// cache that refreshes in the background, survives outages and respects rate limits.
#[napi]
pub struct Verifier {
    core: CoreVerifier,
}

/// Run a job on the JS thread (see `schedule`); a panic rejects, as on the pool.
fn run_inline<'env>(
    env: &'env Env,
    job: Box<jwks_verify_core::verifier::Job>,
) -> Result<Unknown<'env>> {
    pool::settled(env, schedule::inline(|| pool::run(job)))
}

fn build(env: &Env, options: Unknown<'_>) -> Result<CoreVerifier> {
    let js = options_to_json(options).map_err(|e| core_error(env, &e))?;
    let mut parsed = options::parse(
        &js.value,
        js.secret.map_or(SecretBytes::None, SecretBytes::Bytes),
    )
    .map_err(|e| core_error(env, &e))?;
    if let Some(clock) = js.clock {
        parsed.clock = clock;
    }
    let sink = verifier_event_sink(env, js.on_event, js.logger)?;
    CoreVerifier::new(parsed, Some(sink)).map_err(|e| core_error(env, &e))
}

#[napi]
impl Verifier {
    /// Create a verifier. Throws `ERR_INVALID_OPTIONS` (naming the option) when an option is wrong.
    #[napi(constructor, catch_unwind, ts_args_type = "options: VerifierOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> Result<Self> {
        Ok(Verifier {
            core: build(&env, options)?,
        })
    }

    /// Verify a compact JWS. Resolves `{ payload, header, issuer }`; rejects with an `Error`
    /// whose `code` says why (see `ErrorCode`). With the keys cached, a check runs on the JS thread
    /// while nothing else of this thread is on the libuv pool (at most two per event-loop turn,
    /// at most 1 ms per turn), otherwise on the pool; key fetches never run on the JS thread.
    #[napi(
        catch_unwind,
        ts_generic_types = "T = JwtPayload",
        ts_args_type = "token: string",
        ts_return_type = "Promise<VerifyResult<T>>"
    )]
    pub fn verify<'env>(&self, env: &'env Env, token: Unknown<'env>) -> Result<Unknown<'env>> {
        let token = match convert::token_string(&token) {
            Ok(t) => t,
            Err(e) => {
                self.core.count_refusal(&e);
                return verify_reject(env, &e);
            }
        };
        match self.core.begin(token) {
            Err(e) => verify_reject(env, &e),
            Ok(Step::Done(v)) => convert::resolved(env, JsVerified(v)),
            Ok(Step::Compute(job)) if schedule::may_run_inline(env) => run_inline(env, job),
            Ok(Step::Compute(job)) => pool::submit(env, job),
            Ok(Step::NeedsIo(token) | Step::NeedsLiveness(token) | Step::UnknownKey(token)) => {
                let core = self.core.clone();
                let promise = env.spawn_future_with_callback(
                    async move { Ok(core.verify(token).await) },
                    |env, r| r.map(JsVerified).map_err(|e| verify_error(env, &e)),
                )?;
                Ok(promise.to_unknown())
            }
        }
    }

    /// Verify with cached keys only; never does I/O. Throws `ERR_JWKS_NOT_LOADED` when the keys
    /// are not cached yet (and starts loading them in the background).
    #[napi(
        catch_unwind,
        ts_generic_types = "T = JwtPayload",
        ts_args_type = "token: string",
        ts_return_type = "VerifyResult<T>"
    )]
    pub fn verify_sync(&self, env: Env, token: Unknown<'_>) -> Result<JsVerified> {
        let token = convert::token_string(&token).map_err(|e| {
            self.core.count_refusal(&e);
            verify_error(&env, &e)
        })?;
        self.core
            .verify_sync(token)
            .map(JsVerified)
            .map_err(|e| verify_error(&env, &e))
    }

    /// Fetch every issuer's keys now. Resolves at once for local keys; with several issuers,
    /// rejects with the first failure (the others stay loaded).
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn ready<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let core = self.core.clone();
        let promise = env
            .spawn_future_with_callback(async move { Ok(core.ready().await) }, |env, r| {
                r.map_err(|e| core_error(env, &e))
            })?;
        Ok(promise.to_unknown())
    }

    /// Per issuer: state `'fresh' | 'stale' | 'failing' | 'empty'`, kids, fetchedAt, expiresAt
    /// (epoch ms or null) and the last error.
    #[napi(catch_unwind, ts_return_type = "IssuerHealth[]")]
    pub fn health(&self) -> Vec<convert::IssuerHealthJs> {
        self.core
            .health()
            .into_iter()
            .map(convert::IssuerHealthJs::from)
            .collect()
    }

    /// Counters: verifications, failures by code, token-cache hits, fetches, 304s, fetch
    /// errors, cooldown refusals, stale serves.
    #[napi(catch_unwind, ts_return_type = "VerifierStats")]
    pub fn stats(&self) -> convert::StatsJs {
        convert::StatsJs::from(self.core.stats())
    }

    /// `stats()` and `health()` in the Prometheus text exposition format, for a `/metrics` route
    /// (or an OpenTelemetry Collector's prometheus receiver): counters `jwks_verify_*_total`,
    /// failures by `code`, and per issuer the keys, their state, fetch and expiry times.
    /// `labels` are added to every sample (e.g. `{ service: 'orders-api' }`).
    #[napi(
        catch_unwind,
        ts_args_type = "options?: { labels?: Record<string, string> }"
    )]
    pub fn metrics(&self, env: Env, options: Option<Unknown<'_>>) -> Result<String> {
        let value = match options {
            Some(v) => convert::plain_json(&v, "metrics").map_err(|e| core_error(&env, &e))?,
            None => serde_json::Value::Null,
        };
        self.core.metrics(&value).map_err(|e| core_error(&env, &e))
    }

    /// Stop this verifier's background work. Idempotent; later calls reject with
    /// `ERR_VERIFIER_CLOSED`. Other verifiers sharing a key cache are not affected.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.core.close();
    }

    /// Internal (`lib/verifier.js`, `results: 'frozen'`): `[until, generation]` for a result of
    /// `token` just verified: until when (epoch ms) a copy may be served without asking the
    /// engine, 0 when it must not be; `generation` goes to `_reuse` at every use of the copy.
    #[napi(js_name = "_resultCacheUntil", skip_typescript, catch_unwind)]
    pub fn result_cache_until(&self, token: String) -> Vec<f64> {
        let (until, generation) = self.core.result_cache_until(&token);
        vec![until as f64, generation as f64]
    }

    /// Internal (`lib/verifier.js`): true while a copy made under `generation` may serve (no key
    /// set has changed since, the verifier is open); then the use is counted as a token-cache hit.
    #[napi(js_name = "_reuse", skip_typescript, catch_unwind)]
    pub fn reuse(&self, generation: f64) -> bool {
        generation >= 0.0 && self.core.reuse(generation as u64)
    }
}

/// Same as `new Verifier(options)`.
#[napi(catch_unwind, ts_args_type = "options: VerifierOptions")]
pub fn create_verifier(env: Env, options: Unknown<'_>) -> Result<Verifier> {
    Ok(Verifier {
        core: build(&env, options)?,
    })
}

/// Every `code` an error of this library can carry (the `ErrorCode` type lists the same).
#[napi(ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}
