//! Reloading on file changes, including a Kubernetes ConfigMap-style `..data` symlink swap, and keeping the
//! previous table when a reload fails.

#![cfg(unix)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use hubble_cidr::{spawn_file_watcher, ReloadOutcome, Reloader, Source};

fn groups_of(outcome: &ReloadOutcome, ip: &str) -> Vec<String> {
    match outcome {
        ReloadOutcome::Reloaded(t) => t
            .table
            .lookup(ip.parse().unwrap())
            .names()
            .map(str::to_string)
            .collect(),
        other => panic!("expected a reload, got {other:?}"),
    }
}

/// Publish `files` the way the kubelet updates a ConfigMap volume: new timestamped dir, then an atomic rename
/// of a fresh `..data` symlink over the old one. Visible names are symlinks `name -> ..data/name`.
fn publish(dir: &Path, version: u32, files: &[(&str, &str)]) {
    let ts = format!("..2026_01_01_00_00_{version:02}.{version:09}");
    std::fs::create_dir(dir.join(&ts)).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(&ts).join(name), text).unwrap();
        let visible = dir.join(name);
        if std::fs::symlink_metadata(&visible).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &visible).unwrap();
        }
    }
    std::os::unix::fs::symlink(&ts, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
}

#[test]
fn configmap_symlink_swap_triggers_one_reload() {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), 1, &[("blocked.zone", "192.0.2.0/24\n")]);
    let mut r = Reloader::new(vec![Source::Path(dir.path().to_path_buf())], Duration::ZERO);
    let initial = r.load_initial().unwrap();
    assert_eq!(
        initial
            .table
            .lookup("192.0.2.1".parse().unwrap())
            .names()
            .collect::<Vec<_>>(),
        ["blocked"]
    );
    assert!(matches!(r.poll(), ReloadOutcome::Unchanged));

    publish(dir.path(), 2, &[("blocked.zone", "198.51.100.0/24\n")]);
    let outcome = r.poll();
    assert_eq!(groups_of(&outcome, "198.51.100.1"), ["blocked"]);
    assert!(groups_of(&outcome, "192.0.2.1").is_empty());
    assert!(matches!(r.poll(), ReloadOutcome::Unchanged));
    assert_eq!((r.reloads(), r.failures()), (1, 0));
}

#[test]
fn failed_reload_is_reported_counted_and_not_retried_until_the_next_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("groups.yaml");
    let good = "apiVersion: cilium.io/v2\nkind: CiliumCIDRGroup\nmetadata: {name: a}\nspec: {externalCIDRs: [192.0.2.0/24]}\n";
    std::fs::write(&file, good).unwrap();
    let mut r = Reloader::new(vec![Source::Path(file.clone())], Duration::from_millis(20));
    r.load_initial().unwrap();

    std::fs::write(&file, "apiVersion: cilium.io/v2\nkind: [unclosed\n").unwrap();
    match r.poll() {
        ReloadOutcome::Failed(e) => assert!(e.to_string().contains("groups.yaml:"), "{e}"),
        other => panic!("expected failure, got {other:?}"),
    }
    assert!(matches!(r.poll(), ReloadOutcome::Unchanged));
    assert_eq!((r.reloads(), r.failures()), (0, 1));

    std::fs::write(&file, good.replace("192.0.2.0/24", "203.0.113.0/24 ")).unwrap();
    assert_eq!(groups_of(&r.poll(), "203.0.113.9"), ["a"]);
    assert_eq!((r.reloads(), r.failures()), (1, 1));
}

#[test]
fn new_file_in_a_directory_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.zone"), "192.0.2.0/24\n").unwrap();
    let mut r = Reloader::new(vec![Source::Path(dir.path().to_path_buf())], Duration::ZERO);
    r.load_initial().unwrap();
    std::fs::write(dir.path().join("b.zone"), "192.0.2.0/25\n").unwrap();
    assert_eq!(groups_of(&r.poll(), "192.0.2.1"), ["b", "a"]);
}

#[test]
fn background_watcher_calls_back_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.zone");
    std::fs::write(&file, "192.0.2.0/24\n").unwrap();
    let mut r = Reloader::new(vec![Source::Path(file.clone())], Duration::ZERO);
    r.load_initial().unwrap();
    let (tx, rx) = mpsc::channel();
    let watcher = spawn_file_watcher(r, Duration::from_millis(20), move |outcome, reloader| {
        let ok = matches!(outcome, ReloadOutcome::Reloaded(_));
        let _ = tx.send((ok, reloader.reloads()));
    })
    .unwrap();
    // Different size, so the change is visible even on filesystems with coarse mtimes.
    std::fs::write(&file, "198.51.100.0/24\n203.0.113.0/24\n").unwrap();
    let (ok, reloads) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(ok);
    assert_eq!(reloads, 1);
    let r = watcher.stop().unwrap();
    assert_eq!(r.reloads(), 1);
}
