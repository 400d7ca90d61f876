//! Shared checks for the fuzz targets in `fuzz_targets/`: each target is a thin `fuzz_target!` around one of
//! these functions, so the properties live in one place and read as plain Rust.
//!
//! - [`framing`]: a framer never panics, never yields a line over the batch limit, counts every physical line
//!   and byte, and gives the same lines whether the input arrives in one block or one line per block.
//! - [`filtering`]: decoding never panics; `FilterSet::keep` never panics on any decoded record; the byte-level
//!   prefilter never rejects a line that decode + keep would keep; a parsed filter list survives
//!   `to_json` → `parse_filter_list` unchanged.
//! - [`scanning`]: the hand-written exporter-layout scanner never panics and, whenever it accepts a line, gives
//!   exactly the serde path's record.
//! - [`regex`]: the Go regexp parser never panics, and parsing and compiling agree on what is a valid pattern.
//! - [`network`]: the Forward decoder and HTTP body parsers never panic, leave nothing behind on rejection, and
//!   frame streams consistently.
//! - [`reporting`]: the report's counters add up and keep their error bound on any flows, and rendering them
//!   never panics nor lets a flow value become markup.
//!
//! Any violated property is a panic, which libFuzzer reports as a crash with the input that caused it.

pub mod filtering;
pub mod framing;
pub mod network;
pub mod regex;
pub mod reporting;
pub mod scanning;
