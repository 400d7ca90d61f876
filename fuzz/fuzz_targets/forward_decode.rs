//! Fuzzes the Forward protocol decoder and the HTTP input's body parsers: see `hubble_ingest_fuzz::network`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::network::check(data);
});
