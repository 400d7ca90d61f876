//! Fuzzes the `flowlogs.yaml` front-end (serde-saphyr, validation, entry selection, `FilterSet::build`) and
//! evaluation of every entry that builds: see `hubble_ingest_fuzz::filtering::check_flowlogs_yaml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hubble_ingest_fuzz::filtering::check_flowlogs_yaml(data);
});
