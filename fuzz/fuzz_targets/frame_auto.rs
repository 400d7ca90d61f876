//! Fuzzes format detection and whatever framer it picks (raw, CRI, docker, Fluent Bit), and the Fluent Bit
//! and raw framers directly: see `hubble_ingest_fuzz::framing` for the properties checked.
#![no_main]

use hubble_ingest::frame::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Auto, Format::Fluentbit, Format::Raw] {
        hubble_ingest_fuzz::framing::check(format, data);
    }
});
