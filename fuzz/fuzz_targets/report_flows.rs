//! Fuzzes `replay --report`'s aggregation and rendering: see `hubble_ingest_fuzz::reporting::check_report`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::reporting::check_report(data);
});
