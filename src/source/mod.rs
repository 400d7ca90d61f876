//! Where bytes come from.

pub mod forward;
pub mod http_input;
pub mod input;
pub mod network;
pub mod tls;
