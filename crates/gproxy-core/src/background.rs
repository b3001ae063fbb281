//! Where work that outlives its request runs.
//!
//! Under the per-core server every serving thread has a runtime of its own,
//! which ends when that thread stops serving. A task that lives longer than
//! the request that started it (the Redis link's flusher, a response-cache
//! store, the count of a stream the client left) is spawned on the runtime
//! the server was started from instead, which runs until the process has
//! flushed what it owes.

use std::sync::OnceLock;

use tokio::runtime::Handle;

static BACKGROUND: OnceLock<Handle> = OnceLock::new();

/// Makes `handle` the runtime of background work. The first call wins.
pub fn set_runtime(handle: Handle) {
    let _ = BACKGROUND.set(handle);
}

/// The runtime for work outliving a request: the one set with
/// [`set_runtime`], else the current one (`None` outside a runtime).
pub(crate) fn runtime() -> Option<Handle> {
    match BACKGROUND.get() {
        Some(handle) => Some(handle.clone()),
        None => Handle::try_current().ok(),
    }
}
