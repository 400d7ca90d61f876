//! Fuzzes the Cri framer: see `hubble_ingest_fuzz::framing` for the properties checked.
#![no_main]

use hubble_ingest::frame::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::framing::check(Format::Cri, data);
});
