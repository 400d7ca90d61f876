//! Operating the daemon: metrics and health endpoints.

pub mod http;
pub mod metrics;
