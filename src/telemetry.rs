//! The `jwks-verify:verify` diagnostics channel: refused verifications are published there as
//! `{ error }` (the very Error the caller gets) while the channel has subscribers. Successes are
//! not published: the check alone would cost the token-cache hit path (see docs/telemetry.md).

use napi::bindgen_prelude::*;
use napi::{sys, Env};

/// The channel, or null where `process.getBuiltinModule` is missing (Node before 20.16).
const CHANNEL_JS: &str = "(() => { try { return process.getBuiltinModule('node:diagnostics_channel').channel('jwks-verify:verify') } catch { return null } })()";

thread_local! {
    /// The channel of the env that runs on this thread (one env per JS thread), looked up once;
    /// a null reference when there is none. Never deleted (see `convert::JSON_PARSE`).
    static CHANNEL: std::cell::Cell<(sys::napi_env, sys::napi_ref, bool)> =
        const { std::cell::Cell::new((std::ptr::null_mut(), std::ptr::null_mut(), false)) };
}

/// The channel object, when this Node has one.
fn channel(env: &Env) -> Option<Object<'_>> {
    let (cached_env, _, looked_up) = CHANNEL.get();
    if !(looked_up && cached_env == env.raw()) {
        let value: Unknown = env.run_script(CHANNEL_JS).ok()?;
        let mut reference = std::ptr::null_mut();
        if value.get_type().ok()? == ValueType::Object {
            let status =
                unsafe { sys::napi_create_reference(env.raw(), value.raw(), 1, &mut reference) };
            if status != sys::Status::napi_ok {
                reference = std::ptr::null_mut();
            }
        }
        CHANNEL.set((env.raw(), reference, true));
    }
    let (_, reference, _) = CHANNEL.get();
    if reference.is_null() {
        return None;
    }
    let mut value = std::ptr::null_mut();
    let status = unsafe { sys::napi_get_reference_value(env.raw(), reference, &mut value) };
    if status != sys::Status::napi_ok || value.is_null() {
        return None;
    }
    Some(Object::from_raw(env.raw(), value))
}

/// The channel when it has subscribers.
pub fn subscribed(env: &Env) -> Option<Object<'_>> {
    let channel = channel(env)?;
    let has: bool = channel.get_named_property("hasSubscribers").ok()?;
    has.then_some(channel)
}

/// Publish `{ error }` for a refused verification (a subscriber's throw is Node's to report).
pub fn publish_failure(env: &Env, error: &Object<'_>) {
    let Some(channel) = subscribed(env) else {
        return;
    };
    let publish = || -> Result<()> {
        let mut message = Object::new(env)?;
        message.set_named_property("error", error)?;
        let publish: Function<Object, Unknown> = channel.get_named_property("publish")?;
        publish.apply(channel, message)?;
        Ok(())
    };
    let _ = publish();
}
