//! The engine's own small tokio runtime for network I/O, shared by every Verifier and worker
//! thread of the process. Its threads never keep Node alive.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("jwks-verify-io")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the jwks-verify I/O runtime: {e}"))
    })
}

/// Run a future on the I/O runtime.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(future)
}
