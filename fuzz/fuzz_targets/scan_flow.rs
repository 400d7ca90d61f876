//! Fuzzes the hand-written exporter-layout scanner against the serde path: see
//! `hubble_ingest_fuzz::scanning::check_scanner`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::scanning::check_scanner(data);
});
