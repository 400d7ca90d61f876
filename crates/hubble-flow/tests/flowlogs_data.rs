//! Cilium's own `valid-flowlogs-config.yaml` (copied to `../shared/data`) loads unchanged; skipped with a
//! visible message when the file is absent.

use hubble_flow::filter::flowlogs::FlowLogsFile;
use std::path::PathBuf;

#[test]
fn cilium_valid_flowlogs_config_loads() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/cilium-flowlogs-valid-config.yaml");
    if !path.exists() {
        println!("SKIPPED: {} not found", path.display());
        return;
    }
    let f = FlowLogsFile::load(&path).unwrap();
    let names: Vec<&str> = f.entries.iter().map(|e| e.config.name.as_str()).collect();
    assert_eq!(names, ["test001", "test002", "test003"]);
    for e in &f.entries {
        e.filter_set(&f.file).unwrap();
    }
    let e = f.select(Some("test003")).unwrap();
    assert_eq!(
        e.config.exclude_filters[0].destination_pod,
        vec!["ingress/"]
    );
    assert!(f.select(None).is_err());
}
