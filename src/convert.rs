//! Conversions: JS options -> JSON value for the core; results, health, stats and events -> JS.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use jwks_verify_core::clock::Clock;
use jwks_verify_core::events::{Event, EventSink};
use jwks_verify_core::verifier::{IssuerHealth, Stats, Verified};
use jwks_verify_core::{Error as CoreError, ErrorCode};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, ValueType};
use napi_derive::napi;
use serde_json::{Map, Number, Value};

use crate::errors::settle;

/// Deepest options object accepted (cycles end here too).
const MAX_OPTIONS_DEPTH: usize = 16;

/// Longest array accepted in options (`issuers`, `algorithms`, `audience`, `keys.keys`, ...).
/// A JS array's `length` is not its size in memory: `[]` with `length = 2**32 - 1` is empty.
const MAX_OPTIONS_ARRAY: u32 = 10_000;

/// The token argument: a string, or ERR_JWS_INVALID.
pub fn token_string(value: &Unknown<'_>) -> std::result::Result<String, CoreError> {
    let kind = value.get_type().unwrap_or(ValueType::Unknown);
    if kind != ValueType::String {
        return Err(CoreError::jws(format!(
            "token must be a string, got {}",
            type_name(kind)
        )));
    }
    unsafe { value.cast::<String>() }.map_err(|_| CoreError::jws("token is not a valid string"))
}

fn type_name(kind: ValueType) -> &'static str {
    match kind {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Symbol => "a symbol",
        ValueType::Object => "an object",
        ValueType::Function => "a function",
        ValueType::BigInt => "a bigint",
        _ => "an unknown value",
    }
}

/// The `logger` option as the glue hands it to `lib/events.js`.
pub enum Logger<'env> {
    /// Not given: one `console.warn` line per change.
    Default,
    /// `false`: no log lines.
    Off,
    /// An object with `warn` and `info` functions (console, pino, `fastify.log`).
    Given(Object<'env>),
}

/// The options as the core reads them, plus what JSON cannot carry.
pub struct JsOptions<'env> {
    pub value: Value,
    /// A binary `secret` (a Uint8Array).
    pub secret: Option<Vec<u8>>,
    pub on_event: Option<Function<'env, Unknown<'env>, ()>>,
    pub logger: Logger<'env>,
    /// The `testClock` option's clock.
    pub clock: Option<Clock>,
}

pub fn options_to_json(options: Unknown<'_>) -> std::result::Result<JsOptions<'_>, CoreError> {
    let bad = |what: &str| {
        CoreError::new(
            ErrorCode::InvalidOptions,
            format!("options must be an object, got {what}"),
        )
    };
    let kind = options.get_type().map_err(|_| bad("an unknown value"))?;
    if kind != ValueType::Object || options.is_array().unwrap_or(false) {
        return Err(bad(type_name(kind)));
    }
    let obj: Object = unsafe { options.cast() }.map_err(|_| bad("an unknown value"))?;
    let mut secret = None;
    let mut on_event = None;
    let mut logger = Logger::Default;
    let mut clock = None;
    let mut map = Map::new();
    for key in Object::keys(&obj).map_err(|_| bad("an unreadable object"))? {
        let value: Unknown = obj
            .get_named_property(&key)
            .map_err(|_| CoreError::options(&key, "could not be read"))?;
        let kind = value.get_type().unwrap_or(ValueType::Unknown);
        if key == "secret" && value.is_typedarray().unwrap_or(false) {
            let bytes: Uint8Array = unsafe { value.cast() }
                .map_err(|_| CoreError::options("secret", "must be a Uint8Array"))?;
            secret = Some(bytes.to_vec());
            continue;
        }
        if key == "onEvent" && kind == ValueType::Function {
            on_event = Some(
                unsafe { value.cast() }
                    .map_err(|_| CoreError::options("onEvent", "must be a function"))?,
            );
            continue;
        }
        if key == "logger" {
            // `false`, or an object with warn and info functions; anything else goes on to the
            // core, which refuses it naming the option.
            if kind == ValueType::Boolean && !unsafe { value.cast::<bool>() }.unwrap_or(true) {
                logger = Logger::Off;
                continue;
            }
            if let Some(object) = logger_object(&value, kind) {
                logger = Logger::Given(object);
                continue;
            }
        }
        if key == "testClock" {
            clock = Some(crate::test_clock::clock_of(&value)?);
            continue;
        }
        if let Some(v) = to_json(&value, &key, 0)? {
            map.insert(key, v);
        }
    }
    Ok(JsOptions {
        value: Value::Object(map),
        secret,
        on_event,
        logger,
        clock,
    })
}

/// `value` as a logger: an object (not an array) whose `warn` and `info` are functions.
fn logger_object<'env>(value: &Unknown<'env>, kind: ValueType) -> Option<Object<'env>> {
    if kind != ValueType::Object || value.is_array().unwrap_or(true) {
        return None;
    }
    let object: Object = unsafe { value.cast() }.ok()?;
    let is_function = |name: &str| {
        object
            .get_named_property::<Unknown>(name)
            .ok()
            .and_then(|v| v.get_type().ok())
            == Some(ValueType::Function)
    };
    (is_function("warn") && is_function("info")).then_some(object)
}

/// Any plain JS value (not the Verifier options) as JSON for the core; `undefined` is null.
pub fn plain_json(value: &Unknown<'_>, path: &str) -> std::result::Result<Value, CoreError> {
    Ok(to_json(value, path, 0)?.unwrap_or(Value::Null))
}

fn to_json(
    value: &Unknown<'_>,
    path: &str,
    depth: usize,
) -> std::result::Result<Option<Value>, CoreError> {
    if depth > MAX_OPTIONS_DEPTH {
        return Err(CoreError::options(path, "nests too deep"));
    }
    let unreadable = || CoreError::options(path, "could not be read");
    let kind = value.get_type().map_err(|_| unreadable())?;
    Ok(Some(match kind {
        ValueType::Undefined => return Ok(None),
        ValueType::Null => Value::Null,
        ValueType::Boolean => {
            Value::Bool(unsafe { value.cast::<bool>() }.map_err(|_| unreadable())?)
        }
        ValueType::Number => {
            let n = unsafe { value.cast::<f64>() }.map_err(|_| unreadable())?;
            // JS numbers are doubles; hand whole numbers over as integers.
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                return Ok(Some(Value::Number(Number::from(n as i64))));
            }
            match Number::from_f64(n) {
                Some(n) => Value::Number(n),
                None => return Err(CoreError::options(path, "must be a finite number")),
            }
        }
        ValueType::String => {
            Value::String(unsafe { value.cast::<String>() }.map_err(|_| unreadable())?)
        }
        ValueType::Object => {
            if value.is_typedarray().unwrap_or(false) || value.is_arraybuffer().unwrap_or(false) {
                // A binary `shared.secret` goes to the core as `{ "$bytes": base64 }`.
                if path == "shared.secret" && value.is_typedarray().unwrap_or(false) {
                    let bytes: Uint8Array = unsafe { value.cast() }.map_err(|_| {
                        CoreError::options(path, "must be a string or a Uint8Array")
                    })?;
                    let mut map = Map::new();
                    map.insert(
                        "$bytes".to_owned(),
                        Value::String(
                            base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()),
                        ),
                    );
                    return Ok(Some(Value::Object(map)));
                }
                return Err(CoreError::options(path, "must not be binary data here"));
            }
            let obj: Object = unsafe { value.cast() }.map_err(|_| unreadable())?;
            if value.is_array().unwrap_or(false) {
                let len = obj.get_array_length().map_err(|_| unreadable())?;
                if len > MAX_OPTIONS_ARRAY {
                    return Err(CoreError::options(
                        path,
                        format!("has {len} elements, more than the {MAX_OPTIONS_ARRAY} accepted"),
                    ));
                }
                // Grown by what is read, never sized by the `length` JS reports.
                let mut list = Vec::new();
                for i in 0..len {
                    let item: Unknown = obj.get_element(i).map_err(|_| unreadable())?;
                    list.push(
                        to_json(&item, &format!("{path}[{i}]"), depth + 1)?.unwrap_or(Value::Null),
                    );
                }
                Value::Array(list)
            } else {
                let mut map = Map::new();
                for key in Object::keys(&obj).map_err(|_| unreadable())? {
                    let item: Unknown = obj.get_named_property(&key).map_err(|_| unreadable())?;
                    if let Some(v) = to_json(&item, &format!("{path}.{key}"), depth + 1)? {
                        map.insert(key, v);
                    }
                }
                Value::Object(map)
            }
        }
        // Functions, symbols, bigints: the core refuses them by type, naming the option.
        other => Value::String(format!("<{}>", type_name(other))),
    }))
}

/// A verification result, built on the JS thread as `{ payload, header, issuer }`.
pub struct JsVerified(pub Verified);

impl TypeName for JsVerified {
    fn type_name() -> &'static str {
        "VerifyResult"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsVerified {
    unsafe fn to_napi_value(raw_env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let text = val.0.result_json();
        let mut string = std::ptr::null_mut();
        check_status!(sys::napi_create_string_utf8(
            raw_env,
            text.as_ptr().cast(),
            text.len() as isize,
            &mut string
        ))?;
        let parse = json_parse(raw_env)?;
        let mut undefined = std::ptr::null_mut();
        check_status!(sys::napi_get_undefined(raw_env, &mut undefined))?;
        let mut result = std::ptr::null_mut();
        check_status!(sys::napi_call_function(
            raw_env,
            undefined,
            parse,
            1,
            &string,
            &mut result
        ))?;
        Ok(result)
    }
}

thread_local! {
    /// `JSON.parse` of the env that runs on this thread (one env per JS thread), looked up once.
    /// The reference is never deleted: one per thread, and deleting it at thread exit, after the
    /// env is gone, would be unsound.
    static JSON_PARSE: std::cell::Cell<(sys::napi_env, sys::napi_ref)> =
        const { std::cell::Cell::new((std::ptr::null_mut(), std::ptr::null_mut())) };
}

unsafe fn json_parse(env: sys::napi_env) -> Result<sys::napi_value> {
    let (cached_env, reference) = JSON_PARSE.get();
    let mut parse = std::ptr::null_mut();
    if cached_env == env && !reference.is_null() {
        check_status!(sys::napi_get_reference_value(env, reference, &mut parse))?;
        if !parse.is_null() {
            return Ok(parse);
        }
    }
    let e = Env::from_raw(env);
    let json: Object = e.get_global()?.get_named_property("JSON")?;
    let function: Unknown = json.get_named_property("parse")?;
    parse = function.raw();
    let mut reference = std::ptr::null_mut();
    check_status!(sys::napi_create_reference(env, parse, 1, &mut reference))?;
    JSON_PARSE.set((env, reference));
    Ok(parse)
}

/// A promise resolved at once (token-cache hit: no thread hop).
pub fn resolved<'env>(env: &'env Env, value: JsVerified) -> Result<Unknown<'env>> {
    let raw = unsafe { JsVerified::to_napi_value(env.raw(), value)? };
    settle(env, raw, true)
}

/// `{ code, message }` of an error, for health and events.
#[napi(object)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

impl From<&CoreError> for ErrorInfo {
    fn from(e: &CoreError) -> Self {
        ErrorInfo {
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
        }
    }
}

/// Health of one issuer's keys.
#[napi(object, js_name = "IssuerHealth")]
pub struct IssuerHealthJs {
    pub issuer: String,
    #[napi(ts_type = "string | null")]
    pub jwks_uri: Either<String, Null>,
    #[napi(ts_type = "'fresh' | 'stale' | 'failing' | 'empty'")]
    pub state: String,
    pub kids: Vec<String>,
    #[napi(ts_type = "number | null")]
    pub fetched_at: Either<f64, Null>,
    #[napi(ts_type = "number | null")]
    pub expires_at: Either<f64, Null>,
    #[napi(ts_type = "{ code: ErrorCode; message: string } | null")]
    pub last_error: Either<ErrorInfo, Null>,
    /// The shared tier (`shared`): 'up', 'down' (Redis skipped after failures), or null without it.
    #[napi(ts_type = "'up' | 'down' | null")]
    pub shared: Either<String, Null>,
    /// Keys of the JWKS that are not used, and why (the reasons `explainKeys` gives).
    #[napi(ts_type = "SkippedKey[]")]
    pub skipped: Vec<SkippedKeyJs>,
}

/// A key of a JWKS that is not used.
#[napi(object, js_name = "SkippedKey")]
pub struct SkippedKeyJs {
    #[napi(ts_type = "string | null")]
    pub kid: Either<String, Null>,
    pub reason: String,
}

fn or_null<T>(v: Option<T>) -> Either<T, Null> {
    match v {
        Some(v) => Either::A(v),
        None => Either::B(Null),
    }
}

impl From<IssuerHealth> for IssuerHealthJs {
    fn from(h: IssuerHealth) -> Self {
        IssuerHealthJs {
            issuer: h.issuer,
            jwks_uri: or_null(h.jwks_uri),
            state: h.state.as_str().to_owned(),
            kids: h.kids,
            fetched_at: or_null(h.fetched_at.map(|t| t as f64)),
            expires_at: or_null(h.expires_at.map(|t| t as f64)),
            last_error: or_null(h.last_error.as_ref().map(ErrorInfo::from)),
            shared: or_null(
                h.shared_up
                    .map(|up| if up { "up" } else { "down" }.to_owned()),
            ),
            skipped: h
                .skipped
                .into_iter()
                .map(|k| SkippedKeyJs {
                    kid: or_null(k.kid),
                    reason: k.reason,
                })
                .collect(),
        }
    }
}

/// Counters of one verifier.
#[napi(object, js_name = "VerifierStats")]
pub struct StatsJs {
    pub verifications: f64,
    #[napi(ts_type = "Partial<Record<ErrorCode, number>>")]
    pub failures: HashMap<String, f64>,
    pub token_cache_hits: f64,
    pub fetches: f64,
    pub not_modified: f64,
    pub fetch_errors: f64,
    pub cooldown_refusals: f64,
    pub stale_serves: f64,
    /// Validation endpoint calls (`revalidate`).
    pub revalidations: f64,
    /// Verifications answered from a cached liveness answer.
    pub revalidation_hits: f64,
    /// Tokens found inactive.
    pub inactive: f64,
    /// Validation endpoint failures.
    pub revalidation_errors: f64,
    /// Shared-tier entries found and accepted (`shared`).
    pub shared_hits: f64,
    /// Shared-tier lookups that found nothing.
    pub shared_misses: f64,
    /// Redis calls that failed or timed out, and shared entries refused.
    pub shared_errors: f64,
    /// Waits for another process's provider call.
    pub lock_waits: f64,
}

impl From<Stats> for StatsJs {
    fn from(s: Stats) -> Self {
        StatsJs {
            verifications: s.verifications as f64,
            failures: s
                .failures
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v as f64))
                .collect(),
            token_cache_hits: s.token_cache_hits as f64,
            fetches: s.fetches as f64,
            not_modified: s.not_modified as f64,
            fetch_errors: s.fetch_errors as f64,
            cooldown_refusals: s.cooldown_refusals as f64,
            stale_serves: s.stale_serves as f64,
            revalidations: s.revalidations as f64,
            revalidation_hits: s.revalidation_hits as f64,
            inactive: s.inactive as f64,
            revalidation_errors: s.revalidation_errors as f64,
            shared_hits: s.shared_hits as f64,
            shared_misses: s.shared_misses as f64,
            shared_errors: s.shared_errors as f64,
            lock_waits: s.lock_waits as f64,
        }
    }
}

type EventTsfn<E> = ThreadsafeFunction<E, (), Object<'static>, Status, false, true>;

struct JsSink<E: 'static> {
    tsfn: EventTsfn<E>,
}

impl<E: Send + 'static> EventSink<E> for JsSink<E> {
    fn emit(&self, event: E) {
        self.tsfn
            .call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

pub fn event_object<'env>(env: &'env Env, e: &Event) -> Result<Object<'env>> {
    let mut obj = Object::new(env)?;
    obj.set_named_property("type", e.kind.as_str())?;
    if !e.jwks_uri.is_empty() {
        obj.set_named_property("jwksUri", e.jwks_uri.as_str())?;
    }
    if let Some(v) = &e.endpoint {
        obj.set_named_property("endpoint", v.as_str())?;
    }
    if let Some(v) = e.active {
        obj.set_named_property("active", v)?;
    }
    if e.shared {
        obj.set_named_property("shared", true)?;
    }
    if let Some(v) = &e.issuer {
        obj.set_named_property("issuer", v.as_str())?;
    }
    if let Some(v) = e.status {
        obj.set_named_property("status", v as u32)?;
    }
    if let Some(v) = e.duration_ms {
        obj.set_named_property("durationMs", v)?;
    }
    for (name, list) in [
        ("kids", &e.kids),
        ("added", &e.added),
        ("removed", &e.removed),
    ] {
        if let Some(list) = list {
            obj.set_named_property(name, list.clone())?;
        }
    }
    if let Some(err) = &e.error {
        obj.set_named_property("error", ErrorInfo::from(err))?;
    }
    Ok(obj)
}

/// The JavaScript end of a Verifier's events (`onEvent`, diagnostics_channel, the logger's
/// state machine): a script whose value is its factory.
const EVENTS_JS: &str = include_str!("../lib/events.js");

type EventFactory<'env> = Function<
    'env,
    FnArgs<(
        Either<Function<'env, Unknown<'env>, ()>, Null>,
        Either3<Object<'env>, bool, Null>,
    )>,
    Function<'env, Unknown<'static>, ()>,
>;

/// A Verifier's sink: one JS function (`lib/events.js`: `onEvent` with throws swallowed,
/// diagnostics_channel, the logger) receives every event.
pub fn verifier_event_sink(
    env: &Env,
    on_event: Option<Function<'_, Unknown<'_>, ()>>,
    logger: Logger<'_>,
) -> Result<Arc<dyn EventSink<Event>>> {
    let factory: EventFactory = env.run_script(EVENTS_JS)?;
    let on_event = match on_event {
        Some(f) => Either::A(f),
        None => Either::B(Null),
    };
    let logger = match logger {
        Logger::Default => Either3::C(Null),
        Logger::Off => Either3::B(false),
        Logger::Given(object) => Either3::A(object),
    };
    let handler = factory.call((on_event, logger).into())?;
    threadsafe_sink(handler, event_object)
}

/// Wrap `onEvent` so a throw inside it is swallowed, and queue events to the JS thread
/// without keeping the process alive; `build` makes the JS object of an event there.
pub fn event_sink<E: Send + 'static>(
    env: &Env,
    on_event: Function<'_, Unknown<'_>, ()>,
    build: for<'env> fn(&'env Env, &E) -> Result<Object<'env>>,
) -> Result<Arc<dyn EventSink<E>>> {
    let wrap: Function<Function<Unknown, ()>, Function<Unknown, ()>> =
        env.run_script("(f) => function onEvent(e) { try { f(e) } catch (_) {} }")?;
    threadsafe_sink(wrap.call(on_event)?, build)
}

/// Events queued to `handler` on the JS thread, without keeping the process alive.
fn threadsafe_sink<E: Send + 'static>(
    handler: Function<'_, Unknown<'static>, ()>,
    build: for<'env> fn(&'env Env, &E) -> Result<Object<'env>>,
) -> Result<Arc<dyn EventSink<E>>> {
    let tsfn: EventTsfn<E> = handler
        .build_threadsafe_function::<E>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |ctx| {
            let obj = build(&ctx.env, &ctx.value)?;
            // The object lives in the callback's handle scope; napi reads it before it closes.
            Ok(unsafe { std::mem::transmute::<Object<'_>, Object<'static>>(obj) })
        })?;
    Ok(Arc::new(JsSink { tsfn }))
}
