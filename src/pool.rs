//! Verifications on the libuv pool, gathered per turn of the event loop.
//!
//! One napi async work per verification costs more than the parse it hands off: creating the
//! work and its async resource, queueing it, waking a pool thread (a futex and, on a VM, an
//! interrupt), a callback scope per completion, and allocations freed on another thread. Here a
//! job goes to the pool at once only while fewer works of this thread than there are cores are
//! on the pool; otherwise the jobs of the turn are gathered and handed over when the turn ends
//! (the same `setImmediate` that ends the inline budget, see `schedule`), split into as few works
//! as keep the cores busy: at least one per core while there are jobs for them, at most
//! [`MAX_BATCH`] jobs per work. A pool thread verifies each job of its work (a panic rejects
//! only that job's promise) and the completion callback settles every promise of the work.

use std::cell::{Cell, RefCell};

use jwks_verify_core::verifier::{Job, Verified};
use jwks_verify_core::Error as CoreError;
use napi::bindgen_prelude::*;
use napi::{sys, Env, Task};

use crate::convert::JsVerified;
use crate::schedule;

/// Jobs one pool work takes at most: enough to pay for its hand-off, few enough that results
/// come back while more are verified.
const MAX_BATCH: usize = 16;

thread_local! {
    /// This JS thread's jobs waiting for the turn's end.
    static WAITING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
    /// This JS thread's works queued on or running on the pool.
    static WORKS: Cell<usize> = const { Cell::new(0) };
    /// This JS thread's jobs waiting, queued on or running on the pool.
    static JOBS: Cell<usize> = const { Cell::new(0) };
}

/// A promise's resolver, moved to a pool thread and back; it is only used on the JS thread.
struct Deferred(sys::napi_deferred);

// SAFETY: the pointer is never dereferenced off the JS thread: pool threads only carry it.
unsafe impl Send for Deferred {}

struct Pending {
    deferred: Deferred,
    job: Box<Job>,
}

/// What one job came to: its result, or a panic.
type Outcome = Option<std::result::Result<Verified, CoreError>>;

struct BatchTask {
    jobs: Vec<Pending>,
}

impl Task for BatchTask {
    type Output = Vec<(Deferred, Outcome)>;
    type JsValue = ();

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(std::mem::take(&mut self.jobs)
            .into_iter()
            .map(|Pending { deferred, job }| (deferred, run(job)))
            .collect())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
        WORKS.with(|w| w.set(w.get().saturating_sub(1)));
        for (deferred, outcome) in output {
            JOBS.with(|j| j.set(j.get().saturating_sub(1)));
            // A promise that cannot be settled (the env is going away) is left alone: the
            // others of the batch are still settled.
            let _ = settle(&env, deferred, outcome);
        }
        Ok(())
    }
}

/// Verify one job; a panic is caught (napi-rs does not catch panics in `compute`, and on the JS
/// thread one must reject its own promise, not abort Node).
pub fn run(job: Box<Job>) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run())).ok()
}

/// The value to settle a job's promise with, and whether it resolves.
fn settlement(env: &Env, outcome: Outcome) -> Result<(sys::napi_value, bool)> {
    Ok(match outcome {
        Some(Ok(verified)) => (
            unsafe { JsVerified::to_napi_value(env.raw(), JsVerified(verified))? },
            true,
        ),
        Some(Err(e)) => (crate::errors::verify_error_value(env, &e)?, false),
        None => (
            env.create_error(Error::new(
                Status::GenericFailure,
                "jwks-verify: internal error during verification",
            ))?
            .raw(),
            false,
        ),
    })
}

fn settle(env: &Env, deferred: Deferred, outcome: Outcome) -> Result<()> {
    let (value, resolve) = settlement(env, outcome)?;
    // SAFETY: `deferred` came from napi_create_promise on this env and is settled once.
    check_status!(unsafe {
        if resolve {
            sys::napi_resolve_deferred(env.raw(), deferred.0, value)
        } else {
            sys::napi_reject_deferred(env.raw(), deferred.0, value)
        }
    })
}

/// A promise already settled with `outcome` (a job run on the JS thread).
pub fn settled<'env>(env: &'env Env, outcome: Outcome) -> Result<Unknown<'env>> {
    let (value, resolve) = settlement(env, outcome)?;
    crate::errors::settle(env, value, resolve)
}

/// No job of this JS thread is waiting for or on the pool.
pub fn idle() -> bool {
    JOBS.with(|j| j.get()) == 0
}

/// Queue `job` for the pool; its promise.
pub fn submit<'env>(env: &'env Env, job: Box<Job>) -> Result<Unknown<'env>> {
    let raw = env.raw();
    let mut deferred = std::ptr::null_mut();
    let mut promise = std::ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) })?;
    WAITING.with(|w| {
        w.borrow_mut().push(Pending {
            deferred: Deferred(deferred),
            job,
        })
    });
    JOBS.with(|j| j.set(j.get() + 1));
    // While a core has no work of ours, the job goes now; otherwise it waits for the turn's
    // end with the others (and goes now when that end cannot be seen).
    let idle_core = WORKS.with(|w| w.get()) < cores();
    if idle_core || !schedule::watch_turn_end(env) {
        flush(env);
    }
    Ok(unsafe { Unknown::from_raw_unchecked(raw, promise) })
}

/// Hand the waiting jobs to the pool.
pub fn flush(env: &Env) {
    let jobs = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
    if jobs.is_empty() {
        return;
    }
    let works = jobs.len().div_ceil(MAX_BATCH).max(jobs.len().min(cores()));
    let per_work = jobs.len().div_ceil(works);
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let chunk: Vec<Pending> = jobs.by_ref().take(per_work).collect();
        // napi refuses a work only while the env shuts down; its promises then die with it.
        if env.spawn(BatchTask { jobs: chunk }).is_ok() {
            WORKS.with(|w| w.set(w.get() + 1));
        }
    }
}

/// Cores to keep busy.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}
