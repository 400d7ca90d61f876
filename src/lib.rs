//! hubble-ingest: Cilium Hubble flow logs → filter → CIDR-group enrichment → flat records → sinks.
//!
//! Data flows one way:
//! [`source`] (bytes) → [`frame`] (logical lines) → [`process`] (prefilter, decode, filter, [`enrich`],
//! [`record`] encode) → ([`spool`] → [`deliver`], daemon only) → [`sink`]s, driven in parallel and in order by
//! [`pipeline`], configured by [`settings`]. Record decoding and Cilium's filter semantics live in the
//! `hubble-flow` crate; CIDR-group tables in `hubble-cidr`; the ADX client in `hubble-adx`; file following in
//! `hubble-tail`. ARCHITECTURE.md at the repository root describes each stage, what it guarantees, and where to
//! add an input, a filter field, a column or a sink.
#![warn(missing_docs)]

pub mod async_runtime;
pub mod cidr_groups;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod enrich;
pub mod error;
pub mod frame;
pub mod pipeline;
pub mod process;
pub mod record;
pub mod report;
pub mod retry;
pub mod settings;
pub mod sink;
pub mod source;
pub mod spool;
pub mod stats;
pub mod telemetry;
