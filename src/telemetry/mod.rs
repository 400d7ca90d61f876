//! Telemetry: the process's metrics and the `/metrics`, `/healthz`, `/readyz` endpoints. See ARCHITECTURE.md.

pub mod http;
pub mod metrics;
