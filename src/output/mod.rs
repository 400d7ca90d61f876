//! Turning kept flows into output bytes.

pub mod encode;
pub mod spool;
