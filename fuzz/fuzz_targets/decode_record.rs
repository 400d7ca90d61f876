//! Fuzzes `hubble_flow::decode` and `FilterSet::keep` on whatever it decodes, with the prefilter soundness
//! check: see `hubble_ingest_fuzz::filtering::check_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::filtering::check_decode(data);
});
