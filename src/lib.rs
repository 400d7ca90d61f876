//! hubble-ingest: Cilium Hubble flow logs → filter → CIDR-group enrichment → flat records → sinks.
//!
//! Data flows one way:
//! [`source`] (bytes) → [`frame`] (logical lines) → [`process`] (prefilter, decode, filter, enrich, encode) →
//! [`sink`]s, driven in parallel and in order by [`pipeline`]. Record decoding and Cilium's filter semantics live
//! in the `hubble-flow` crate; CIDR-group tables in `hubble-cidr`.
#![warn(missing_docs)]

pub mod adx;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod enrich;
pub mod filters;
pub mod frame;
pub mod ops;
pub mod output;
pub mod pipeline;
pub mod process;
pub mod report;
pub mod sink;
pub mod source;
pub mod stats;
