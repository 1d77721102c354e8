//! Core errors -> JS `Error` objects with `code`, `claim`, `reason`, `kid`, `status`, `retryAfter`,
//! `oauthError`, `errorDescription`.

use jwks_verify_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi::{sys, Env};

/// Build the JS error object.
fn error_object<'env>(env: &'env Env, e: &CoreError) -> Result<Object<'env>> {
    let mut obj = env.create_error(Error::new(Status::GenericFailure, e.message.clone()))?;
    obj.set_named_property("code", e.code.as_str())?;
    if let Some(claim) = &e.claim {
        obj.set_named_property("claim", claim.as_str())?;
    }
    if let Some(reason) = &e.reason {
        obj.set_named_property("reason", reason.as_str())?;
    }
    if let Some(kid) = &e.kid {
        obj.set_named_property("kid", &**kid)?;
    }
    if let Some(status) = e.status {
        obj.set_named_property("status", status as u32)?;
    }
    if let Some(retry_after) = e.retry_after {
        obj.set_named_property("retryAfter", retry_after as f64)?;
    }
    if let Some(oauth) = &e.oauth {
        obj.set_named_property("oauthError", oauth.error.as_str())?;
        if let Some(description) = &oauth.description {
            obj.set_named_property("errorDescription", description.as_str())?;
        }
    }
    Ok(obj)
}

/// A napi error that throws (or rejects with) the JS error object itself; sync methods return it
/// as their `Err`, async callbacks as their rejection.
pub fn core_error(env: &Env, e: &CoreError) -> Error {
    match error_object(env, e) {
        Ok(obj) => Error::from(obj.to_unknown()),
        Err(err) => err,
    }
}

/// [`core_error`] for a verification: the refusal is also published on the
/// `jwks-verify:verify` diagnostics channel while it has subscribers.
pub fn verify_error(env: &Env, e: &CoreError) -> Error {
    match error_object(env, e) {
        Ok(obj) => {
            crate::telemetry::publish_failure(env, &obj);
            Error::from(obj.to_unknown())
        }
        Err(err) => err,
    }
}

/// A promise already rejected with the error (no thread hop).
pub fn reject<'env>(env: &'env Env, e: &CoreError) -> Result<Unknown<'env>> {
    let obj = error_object(env, e)?;
    settle(env, obj.raw(), false)
}

/// [`reject`] for a verification, published like [`verify_error`].
pub fn verify_reject<'env>(env: &'env Env, e: &CoreError) -> Result<Unknown<'env>> {
    settle(env, verify_error_value(env, e)?, false)
}

/// [`verify_error`] as the raw error value, to settle a promise with.
pub fn verify_error_value(env: &Env, e: &CoreError) -> Result<sys::napi_value> {
    let obj = error_object(env, e)?;
    crate::telemetry::publish_failure(env, &obj);
    Ok(obj.raw())
}

/// A promise settled at once with a raw value.
pub fn settle<'env>(
    env: &'env Env,
    value: sys::napi_value,
    resolve: bool,
) -> Result<Unknown<'env>> {
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) })?;
    if resolve {
        check_status!(unsafe { sys::napi_resolve_deferred(env.raw(), deferred, value) })?;
    } else {
        check_status!(unsafe { sys::napi_reject_deferred(env.raw(), deferred, value) })?;
    }
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), promise) })
}
