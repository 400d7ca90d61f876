//! Hubble flow records and Cilium's flow-filter semantics.
//!
//! - [`record`]: classify a logical line (exporter record, bare flow, agent log, bad input) and decode it by
//!   borrowing from the line.
//! - [`flow`]: the `flow.Flow` fields that filters and the output record use.
//! - [`enums`]: protobuf enum tables (name ↔ number).
//! - [`json`]: lenient protojson scalar decoders (quoted 64-bit integers, enums by name or number).
//! - [`filter`]: `FlowFilter` allow/deny lists with Cilium's exact semantics, and their three front-ends.
//! - [`scan`]: the hand-written single-pass decoder of the exporter's own layout (the hot path), equal to the
//!   serde path for every line it accepts and leaving every other line to it.
//! - [`prefilter`]: a byte-level test derived from the active filter that may only say "certainly not kept".
//! - [`str_list`]: label and FQDN lists, kept as the line's own text when that is plain.
//! - [`string_stop`]: where an unescaped run of JSON string text ends (SIMD), for the scanner and for encoders.
//! - [`workload_list`]: an endpoint's workloads, kept as the line's own text when that is plain.
//!
//! Data flows one way: bytes → [`record::decode`] → [`filter`] decision. Nothing here does I/O except loading a
//! `flowlogs.yaml` the caller names.
#![warn(missing_docs)]

pub mod enums;
pub mod filter;
pub mod flow;
pub mod json;
pub mod prefilter;
pub mod record;
pub mod scan;
pub mod str_list;
pub mod string_stop;
pub mod workload_list;

#[cfg(test)]
mod oracle;

pub use flow::Flow;
pub use record::{decode, Record, RecordKind, Skip};
