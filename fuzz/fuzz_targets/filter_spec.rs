//! Fuzzes the allowlist parser, `FilterSet::build`, and evaluation of any filter that builds on the fixture's
//! records: see `hubble_ingest_fuzz::filtering::check_filter_spec`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::filtering::check_filter_spec(data);
});
