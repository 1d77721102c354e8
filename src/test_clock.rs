//! The test seam for time: a `TestClock` a test hands to the Verifiers it builds
//! (`testClock` option), then moves forward. It moves only those Verifiers' time (and the
//! caches they made), never another's. Creating one is refused unless the environment says
//! `JWKS_VERIFY_TEST_CLOCK=1`, so production code cannot reach it by accident.

use jwks_verify_core::clock::Clock;
use jwks_verify_core::{Error as CoreError, ErrorCode};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::errors::core_error;

/// The environment variable that allows test clocks.
pub const ENV_FLAG: &str = "JWKS_VERIFY_TEST_CLOCK";

/// A manual clock for tests (see the module documentation). Not part of the documented API.
#[napi]
pub struct TestClock {
    clock: Clock,
}

#[napi]
impl TestClock {
    /// A clock at wall time. Throws `ERR_INVALID_OPTIONS` unless `JWKS_VERIFY_TEST_CLOCK=1`.
    #[napi(constructor)]
    pub fn new(env: Env) -> Result<Self> {
        if std::env::var(ENV_FLAG).as_deref() != Ok("1") {
            return Err(core_error(
                &env,
                &CoreError::new(
                    ErrorCode::InvalidOptions,
                    format!("TestClock is a test aid: set {ENV_FLAG}=1 in the environment of the tests that use it"),
                ),
            ));
        }
        Ok(TestClock {
            clock: Clock::manual(),
        })
    }

    /// Move this clock forward by `ms` milliseconds (it never goes back).
    #[napi]
    pub fn advance(&self, ms: f64) {
        if ms.is_finite() && ms > 0.0 {
            self.clock.advance(ms.min(u64::MAX as f64) as u64);
        }
    }

    /// The time this clock reads, in epoch milliseconds.
    #[napi]
    pub fn now(&self) -> f64 {
        self.clock.now_ms() as f64
    }

    /// How far this clock has been moved, in milliseconds.
    #[napi(getter)]
    pub fn offset_ms(&self) -> f64 {
        self.clock.offset_ms() as f64
    }
}

/// The clock of a `testClock` option value.
pub fn clock_of(value: &Unknown<'_>) -> std::result::Result<Clock, CoreError> {
    let raw = value.value();
    let instance = unsafe { ClassInstance::<TestClock>::from_napi_value(raw.env, raw.value) }
        .map_err(|_| CoreError::options("testClock", "must be a TestClock"))?;
    Ok(instance.clock.clone())
}
