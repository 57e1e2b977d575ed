//! The private tokio runtime a store drives `object_store` with, and a way to wait for a
//! future from any thread.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use athar_core::StoreError;

/// A multi-threaded runtime of two workers, shut down in the background when dropped (so a
/// store may be dropped in async code).
pub(crate) struct Runtime {
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Runtime {
    pub(crate) fn new() -> Result<Runtime, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("athar-s3")
            .enable_all()
            .build()
            .map_err(|e| StoreError::io("S3 client runtime", e))?;
        Ok(Runtime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Runs `fut` on the runtime and parks the calling thread until it is done.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match wait(self.handle.spawn(fut)) {
            Ok(r) => r,
            Err(e) => Err(StoreError::io(
                "S3 client runtime",
                std::io::Error::other(format!("S3 request task failed: {e}")),
            )),
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Wakes a parked thread.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread, parking between polls: for futures driven elsewhere (a task's
/// join handle, a channel's receiver). Works in any context, a runtime's included (outside
/// tokio's cooperative budget, which would otherwise keep a task's thread spinning).
pub(crate) fn wait<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(tokio::task::unconstrained(fut));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
