//! Fuzzes the Go regexp parser (`hubble_flow::filter::goregex`): see `hubble_ingest_fuzz::regex::check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::regex::check(data);
});
