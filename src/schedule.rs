//! Where a verification with cached keys runs: on the JS thread, or on the libuv pool.
//!
//! A hop to the pool and back costs far more than an RS256 or ES256 check when the pool is idle
//! (a thread wake-up each way, a promise settled from the completion callback). So while no
//! verification of this JS thread is on the pool, one is run inline and the promise is settled
//! at once. Three rules keep that from blocking the event loop or idling the other cores:
//!
//! - **A budget per turn of the loop.** At most `INLINE_PER_TURN` verifications of one turn of
//!   the event loop run inline, and no more once they took `INLINE_BUDGET`; later calls of that
//!   turn go to the pool. The turn's end is seen by a `setImmediate` callback, scheduled by the
//!   first verification of a turn (it also hands the turn's pool jobs over, see `pool`). A burst
//!   (`Promise.all` over a thousand tokens) therefore blocks the loop for two checks at most.
//! - **Nothing in flight.** Once a verification is on the pool, the next ones follow it there:
//!   under load the pool's threads do the checks in parallel and the loop stays free to accept
//!   requests.
//!
//! The state is per JS thread (each worker thread has its own loop and its own budget).

use std::cell::{Cell, RefCell};
use std::ptr;
use std::time::{Duration, Instant};

use napi::{sys, Env};

/// Inline verification time one turn of the event loop may spend.
const INLINE_BUDGET: Duration = Duration::from_micros(1000);

/// Inline verifications per turn of the event loop. A turn with more verifications has
/// concurrent requests: the rest go to the pool, where they run in parallel on the other cores
/// (doing them all inline while the pool sits idle measured 10-20% fewer verifications per
/// second at 64 in flight; allowing one instead of two made a loop that awaits each
/// verification in turn 10% slower).
const INLINE_PER_TURN: usize = 2;

thread_local! {
    static STATE: State = const { State {
        spent: Cell::new(Duration::ZERO),
        count: Cell::new(0),
        turn_hook: Cell::new(false),
        refs: RefCell::new(None),
    } };
}

struct State {
    /// Inline time spent in the current turn.
    spent: Cell<Duration>,
    /// Inline verifications in the current turn.
    count: Cell<usize>,
    /// A `setImmediate` is scheduled to end the current turn's budget.
    turn_hook: Cell<bool>,
    /// `setImmediate` and the turn-end callback, for the env they were made in.
    refs: RefCell<Option<Refs>>,
}

struct Refs {
    env: sys::napi_env,
    set_immediate: sys::napi_ref,
    turn_ended: sys::napi_ref,
}

/// Whether the next verification may run inline: nothing of this thread is on the pool, the
/// turn's budget is not spent, and the turn's end can be observed.
pub fn may_run_inline(env: &Env) -> bool {
    STATE.with(|s| {
        if !crate::pool::idle()
            || s.count.get() >= INLINE_PER_TURN
            || s.spent.get() >= INLINE_BUDGET
        {
            return false;
        }
        s.turn_hook.get() || schedule_turn_end(env, s)
    })
}

/// Make sure the current turn's end is observed (it resets the budget and flushes the pool's
/// batch); false when it cannot be.
pub fn watch_turn_end(env: &Env) -> bool {
    STATE.with(|s| s.turn_hook.get() || schedule_turn_end(env, s))
}

/// Run `work` inline, charging its time to the current turn.
pub fn inline<T>(work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = work();
    let took = start.elapsed();
    STATE.with(|s| {
        s.spent.set(s.spent.get() + took);
        s.count.set(s.count.get() + 1);
    });
    out
}

/// The callback `setImmediate` runs: the turn is over, and so is its budget.
unsafe extern "C" fn turn_ended(
    env: sys::napi_env,
    _info: sys::napi_callback_info,
) -> sys::napi_value {
    STATE.with(|s| {
        s.spent.set(Duration::ZERO);
        s.count.set(0);
        s.turn_hook.set(false);
    });
    // napi calls this on the JS thread of `env`, with a handle scope open.
    crate::pool::flush(&Env::from_raw(env));
    ptr::null_mut()
}

/// `setImmediate(turnEnded)`; false when that cannot be done (then nothing runs inline).
fn schedule_turn_end(env: &Env, s: &State) -> bool {
    let raw = env.raw();
    let scheduled = (|| -> Option<()> {
        let mut refs = s.refs.borrow_mut();
        if refs.as_ref().is_none_or(|r| r.env != raw) {
            *refs = Some(make_refs(raw)?);
        }
        let r = refs.as_ref()?;
        let set_immediate = reference_value(raw, r.set_immediate)?;
        let callback = reference_value(raw, r.turn_ended)?;
        let mut global = ptr::null_mut();
        let mut result = ptr::null_mut();
        // SAFETY: called on the JS thread of `raw`, inside a napi callback's handle scope.
        unsafe {
            ok(sys::napi_get_global(raw, &mut global))?;
            ok(sys::napi_call_function(
                raw,
                global,
                set_immediate,
                1,
                [callback].as_ptr(),
                &mut result,
            ))?;
        }
        Some(())
    })()
    .is_some();
    if !scheduled {
        clear_exception(raw);
    }
    s.turn_hook.set(scheduled);
    scheduled
}

fn make_refs(env: sys::napi_env) -> Option<Refs> {
    let mut global = ptr::null_mut();
    let mut set_immediate = ptr::null_mut();
    let mut callback = ptr::null_mut();
    let name = c"setImmediate";
    let mut refs = Refs {
        env,
        set_immediate: ptr::null_mut(),
        turn_ended: ptr::null_mut(),
    };
    // SAFETY: called on the JS thread of `env`, inside a napi callback's handle scope.
    unsafe {
        ok(sys::napi_get_global(env, &mut global))?;
        ok(sys::napi_get_named_property(
            env,
            global,
            name.as_ptr(),
            &mut set_immediate,
        ))?;
        let mut kind = 0;
        ok(sys::napi_typeof(env, set_immediate, &mut kind))?;
        if kind != sys::ValueType::napi_function {
            return None;
        }
        ok(sys::napi_create_function(
            env,
            c"jwksVerifyTurnEnded".as_ptr(),
            "jwksVerifyTurnEnded".len() as isize,
            Some(turn_ended),
            ptr::null_mut(),
            &mut callback,
        ))?;
        ok(sys::napi_create_reference(
            env,
            set_immediate,
            1,
            &mut refs.set_immediate,
        ))?;
        ok(sys::napi_create_reference(
            env,
            callback,
            1,
            &mut refs.turn_ended,
        ))?;
    }
    Some(refs)
}

fn reference_value(env: sys::napi_env, reference: sys::napi_ref) -> Option<sys::napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: `reference` was made in `env` and is never deleted.
    unsafe { ok(sys::napi_get_reference_value(env, reference, &mut value))? };
    (!value.is_null()).then_some(value)
}

/// A failed call may leave a JS exception pending; the verification goes on without it.
fn clear_exception(env: sys::napi_env) {
    let mut pending = false;
    let mut exception = ptr::null_mut();
    // SAFETY: called on the JS thread of `env`.
    unsafe {
        if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending {
            sys::napi_get_and_clear_last_exception(env, &mut exception);
        }
    }
}

fn ok(status: sys::napi_status) -> Option<()> {
    (status == sys::Status::napi_ok).then_some(())
}
