//! The process's one tokio runtime (two worker threads), started on first use: the ADX client, the Kubernetes
//! watch, the metrics endpoint and network inputs all run on it. Nothing else builds a runtime.
//!
//! See ARCHITECTURE.md ("telemetry").

use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// A handle to the process's runtime, starting it the first time.
pub fn handle() -> Result<Handle, crate::error::Error> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("hubble-ingest-io")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map(|r| r.handle().clone())
        .map_err(|e| crate::error::Error::runtime("cannot start the async runtime", e))
}
