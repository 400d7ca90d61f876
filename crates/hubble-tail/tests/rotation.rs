//! One test per rotation scheme and edge case of the tailer, on real files in a temp directory.

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use hubble_tail::{Checkpoints, ReleaseReason, StartFrom, TailEvent, Tailer};

#[test]
fn kubelet_rename_then_gzip_reads_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("0.log");
    append(&log, b"a\nb\n");
    let mut tailer = start(config(dir.path(), &["0.log*"]), &state);
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    append(&log, b"c\n");
    let rotated = dir.path().join("0.log.20250123-075022");
    fs::rename(&log, &rotated).unwrap();
    append(&log, b"d\n");
    drain(&mut tailer, &mut got, &mut events);
    assert!(events
        .iter()
        .any(|e| matches!(e, TailEvent::Renamed { to, .. } if *to == rotated)));
    gzip_file(&rotated);
    append(&log, b"e\n");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a", "b", "c", "d", "e"]);
    assert_eq!(count(&events, "gzip_skipped"), 1);
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::Released {
            reason: ReleaseReason::Deleted,
            ..
        }
    )));
}

#[test]
fn lumberjack_rotation_with_and_without_compression() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("events.log");
    append(&log, b"{\"flow\":1}\n");
    let mut tailer = start(config(dir.path(), &["events*.log*"]), &state);
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    append(&log, b"{\"flow\":2}\n");
    let first = dir.path().join("events-2023-08-21T12-12-13.517.log");
    fs::rename(&log, &first).unwrap();
    append(&log, b"{\"flow\":3}\n");
    drain(&mut tailer, &mut got, &mut events);
    append(&log, b"{\"flow\":4}\n");
    let second = dir.path().join("events-2023-08-21T12-13-00.001.log");
    fs::rename(&log, &second).unwrap();
    append(&log, b"{\"flow\":5}\n");
    gzip_file(&first);
    drain(&mut tailer, &mut got, &mut events);
    let mut all = lines(&got);
    all.sort();
    assert_eq!(
        all,
        (1..=5)
            .map(|i| format!("{{\"flow\":{i}}}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn file_partly_read_then_rotated_and_gzipped_while_down_is_finished() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("0.log");
    append(&log, b"one\ntwo\n");
    let mut got = Vec::new();
    let mut events = Vec::new();
    {
        let mut tailer = start(config(dir.path(), &["0.log*"]), &state);
        drain(&mut tailer, &mut got, &mut events);
        for g in &got {
            tailer.ack(g.file, g.end);
        }
        tailer.checkpoints().persist().unwrap();
    }
    // While the daemon is down: more lines, rotation, compression, a new file.
    append(&log, b"three\n");
    let rotated = dir.path().join("0.log.20250101-000000");
    fs::rename(&log, &rotated).unwrap();
    gzip_file(&rotated);
    append(&log, b"four\n");
    let mut tailer = start(config(dir.path(), &["0.log*"]), &state);
    got.clear();
    drain(&mut tailer, &mut got, &mut events);
    let mut after = lines(&got);
    after.sort();
    assert_eq!(after, ["four", "three"]);
}

#[test]
fn restart_rereads_from_the_last_acknowledged_offset() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log = dir.path().join("app.log");
    append(&log, b"a\n");
    let cfg = {
        let mut c = config(dir.path(), &["app.log"]);
        c.max_read_bytes = 2; // one line per poll
        c
    };
    let (mut got, mut events) = (Vec::new(), Vec::new());
    {
        let mut tailer = start(cfg.clone(), &state);
        append(&log, b"b\nc\n");
        drain(&mut tailer, &mut got, &mut events);
        assert_eq!(lines(&got), ["a", "b", "c"]);
        let first = &got[0];
        tailer.ack(first.file, first.end); // only "a" is durable downstream
        tailer.checkpoints().persist().unwrap();
    }
    got.clear();
    let mut tailer = start(cfg, &state);
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["b", "c"]);
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::Opened {
            from: StartFrom::Checkpoint,
            offset: 2,
            ..
        }
    )));
}

#[test]
fn copytruncate_with_the_copy_under_a_glob_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"a\nb\n");
    let mut tailer = start(config(dir.path(), &["app.log*"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    append(&log, b"c\n");
    fs::copy(&log, dir.path().join("app.log.1")).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, b"a much longer first line after truncation\n");
    drain(&mut tailer, &mut got, &mut events);
    let mut all = lines(&got);
    all.sort();
    assert_eq!(
        all,
        ["a", "a much longer first line after truncation", "b", "c"]
    );
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::Truncated {
            restarted: false,
            ..
        }
    )));
}

#[test]
fn copytruncate_without_the_copy_restarts_at_zero_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"first line\nsecond line\n");
    let mut tailer = start(config(dir.path(), &["app.log"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, b"x\n");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["first line", "second line", "x"]);
    assert_eq!(count(&events, "truncated"), 1);
}

#[test]
fn deleted_while_open_is_drained_before_release() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"a\n");
    let mut tailer = start(config(dir.path(), &["app.log"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    append(&log, b"b\nc\n");
    fs::remove_file(&log).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a", "b", "c"]);
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::Released {
            reason: ReleaseReason::Deleted,
            ..
        }
    )));
    assert!(tailer.open_files().is_empty());
}

#[test]
fn rotated_away_file_is_kept_open_for_rotate_wait() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"a\n");
    let mut cfg = config(dir.path(), &["app.log"]);
    cfg.rotate_wait = Duration::from_secs(3600);
    let mut tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    let away = dir.path().join("elsewhere");
    fs::rename(&log, &away).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    append(&away, b"late write by the old writer\n");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a", "late write by the old writer"]);
    assert_eq!(tailer.open_files().len(), 1);
    assert!(!tailer.open_files()[0].findable);
}

#[test]
fn partial_lines_are_held_until_complete() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"whole\n");
    let mut tailer = start(config(dir.path(), &["app.log"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    append(&log, b"hal");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["whole"]);
    append(&log, b"f\n");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["whole", "half"]);
    assert_eq!(got[1].start, 6);
}

#[test]
fn over_long_lines_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut data = b"short\n".to_vec();
    data.extend(vec![b'x'; 50]);
    data.extend(b"\nok\n");
    append(&log, &data);
    let mut cfg = config(dir.path(), &["app.log"]);
    cfg.max_line_bytes = 10;
    let mut tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["short", "ok"]);
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::LineTooLong {
            offset: 6,
            length: 51,
            ..
        }
    )));
}

#[test]
fn first_start_skips_existing_content_but_not_new_files_or_later_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let old = dir.path().join("0.log");
    append(&old, b"history\n");
    let mut cfg = config(dir.path(), &["*.log"]);
    cfg.read_from_head = false;
    let (mut got, mut events) = (Vec::new(), Vec::new());
    {
        let mut tailer = start(cfg.clone(), &state);
        append(&old, b"live\n");
        append(&dir.path().join("1.log"), b"new file\n");
        drain(&mut tailer, &mut got, &mut events);
        let mut seen = lines(&got);
        seen.sort();
        assert_eq!(seen, ["live", "new file"]);
        for g in &got {
            tailer.ack(g.file, g.end);
        }
        tailer.checkpoints().persist().unwrap();
    }
    // Created while the daemon was down: must not be skipped on restart.
    append(&dir.path().join("2.log"), b"while down\n");
    got.clear();
    let mut tailer = start(cfg, &state);
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["while down"]);
}

#[test]
fn gzip_file_appearing_at_runtime_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut tailer = start(config(dir.path(), &["*.gz"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    fs::write(dir.path().join("old.log.gz"), gzip_bytes(b"one\ntwo\n")).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["one", "two"]);
    assert!(events.iter().any(|e| matches!(
        e,
        TailEvent::Released {
            reason: ReleaseReason::CompressedDone,
            ..
        }
    )));
}

#[test]
fn max_read_bytes_bounds_each_file_per_pass() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.log", "b.log"] {
        append(
            &dir.path().join(name),
            &format!("{name}\n").repeat(1000).into_bytes(),
        );
    }
    let mut cfg = config(dir.path(), &["*.log"]);
    cfg.max_read_bytes = 1000;
    let mut tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    let stats = poll(&mut tailer, &mut got, &mut events);
    assert!(stats.read_limited);
    assert_eq!(stats.bytes_read, 2000);
    let files: std::collections::HashSet<_> = got.iter().map(|g| g.path.clone()).collect();
    assert_eq!(files.len(), 2, "both files progress in the same pass");
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got).len(), 2000);
}

#[test]
fn a_file_with_nothing_new_is_read_again_after_poll_interval_not_on_every_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (quiet, busy) = (dir.path().join("a.log"), dir.path().join("b.log"));
    append(&quiet, b"a1\n");
    append(&busy, &b"b\n".repeat(10_000));
    let mut cfg = config(dir.path(), &["*.log"]);
    cfg.max_read_bytes = 1000;
    cfg.poll_interval = Duration::from_millis(300);
    let mut tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    // The first pass reads `a1` and part of b.log; the second finds a.log at its end.
    poll(&mut tailer, &mut got, &mut events);
    poll(&mut tailer, &mut got, &mut events);
    append(&quiet, b"a2\n");
    // b.log keeps the tailer busy, but a.log is not looked at again before poll_interval has passed.
    let started = std::time::Instant::now();
    let stats = poll(&mut tailer, &mut got, &mut events);
    assert!(stats.read_limited, "b.log is still being read");
    let quiet_lines = |got: &[Got]| {
        lines(
            &got.iter()
                .filter(|g| g.path == quiet)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    if started.elapsed() < Duration::from_millis(300) {
        assert_eq!(quiet_lines(&got), ["a1"]);
    }
    // After poll_interval it is, by the first pass.
    std::thread::sleep(Duration::from_millis(300));
    poll(&mut tailer, &mut got, &mut events);
    assert_eq!(quiet_lines(&got), ["a1", "a2"]);
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got).len(), 10_002);
}

#[test]
fn start_positions_are_checkpointed_before_any_ack() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    append(&dir.path().join("0.log"), b"existing\n");
    let mut cfg = config(dir.path(), &["0.log"]);
    cfg.read_from_head = false;
    let tailer = start(cfg, &state);
    drop(tailer);
    let cps = Checkpoints::open(&state).unwrap();
    assert_eq!(cps.snapshot().len(), 1);
    assert_eq!(cps.snapshot()[0].offset, 9);
}

#[test]
fn dev_inode_strategy_follows_renames() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, b"a\n");
    let mut cfg = config(dir.path(), &["app.log*"]);
    cfg.fingerprint = hubble_tail::FingerprintStrategy::DevInode;
    let mut tailer: Tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), b"b\n");
    append(&log, b"c\n");
    drain(&mut tailer, &mut got, &mut events);
    let mut all = lines(&got);
    all.sort();
    assert_eq!(all, ["a", "b", "c"]);
}

#[test]
fn checkpoints_of_files_gone_for_forget_after_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    append(&dir.path().join("a.log"), b"a\n");
    append(&dir.path().join("b.log"), b"b\n");
    let mut cfg = config(dir.path(), &["*.log"]);
    cfg.forget_after = Duration::from_millis(50);
    let mut tailer = start(cfg, &state);
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(tailer.checkpoints().len(), 2);
    fs::remove_file(dir.path().join("a.log")).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    std::thread::sleep(Duration::from_millis(80));
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(count(&events, "forgotten"), 1);
    assert_eq!(tailer.checkpoints().len(), 1);
    assert_eq!(
        tailer.checkpoints().snapshot()[0].path,
        dir.path().join("b.log").to_string_lossy()
    );
}

#[test]
fn tailer_and_checkpoints_can_move_to_other_threads() {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Send + Sync>() {}
    assert_send::<Tailer>();
    assert_sync::<Checkpoints>();
}

#[test]
fn gzip_still_being_written_is_finished_once_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut tailer = start(config(dir.path(), &["*.gz*"]), &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    let body: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let gz = gzip_bytes(&body);
    let tmp = dir.path().join("0.log.20250101-000000.gz.tmp");
    fs::write(&tmp, &gz[..gz.len() / 2]).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(
        count(&events, "error"),
        0,
        "an incomplete gzip is not an error: {events:?}"
    );
    let partial = lines(&got).len();
    assert!(partial < 2000);
    fs::write(&tmp, &gz).unwrap();
    fs::rename(&tmp, dir.path().join("0.log.20250101-000000.gz")).unwrap();
    drain(&mut tailer, &mut got, &mut events);
    let all = lines(&got);
    assert_eq!(all.len(), 2000);
    assert_eq!(all.last().map(String::as_str), Some("line 1999"));
}

#[test]
fn exclude_patterns_and_unacked_bytes() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("0.log"), b"abc\n");
    append(&dir.path().join("0.log.tmp"), b"ignored\n");
    let mut cfg = config(dir.path(), &["0.log*"]);
    cfg.exclude = vec![dir.path().join("*.tmp").to_string_lossy().into_owned()];
    let mut tailer = start(cfg, &dir.path().join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["abc"]);
    assert_eq!(tailer.unacked_bytes(), 4);
    append(&dir.path().join("0.log"), b"de\n");
    assert_eq!(tailer.unacked_bytes(), 7);
    tailer.ack(got[0].file, got[0].end);
    assert_eq!(tailer.unacked_bytes(), 3);
    assert_eq!(tailer.open_files()[0].size, Some(7));
}

/// A tailer of `0.log*` in `dir` that has read `0.log` (line `a`) and whose scheduled scans are an hour apart, so
/// that only what the test does can make it scan again. Returns it with the log path and what it read.
fn following_without_scheduled_scans(
    dir: &std::path::Path,
) -> (Tailer, std::path::PathBuf, Vec<Got>, Vec<TailEvent>) {
    let log = dir.join("0.log");
    append(&log, b"a\n");
    let mut cfg = config(dir, &["0.log*"]);
    cfg.discover_interval = Duration::from_secs(3600);
    let mut tailer = start(cfg, &dir.join("state"));
    let (mut got, mut events) = (Vec::new(), Vec::new());
    drain(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a"]);
    (tailer, log, got, events)
}

#[test]
fn a_rotation_is_discovered_at_once_not_at_the_next_scheduled_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tailer, log, mut got, mut events) = following_without_scheduled_scans(dir.path());

    // The kubelet renames the file and starts a new one at the same path.
    append(&log, b"b\n");
    fs::rename(&log, dir.path().join("0.log.20250123-075022")).unwrap();
    append(&log, b"c\n");
    // The first poll once a path check is due sees the rotation and asks to be called again at once.
    std::thread::sleep(hubble_tail::ROTATION_CHECK);
    let stats = poll(&mut tailer, &mut got, &mut events);
    assert!(
        stats.read_limited && !stats.is_idle(),
        "a rotation must not be followed by a sleep"
    );
    // The next poll scans and reads the new file.
    poll(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a", "b", "c"]);
    // Nothing changed since: no further early scans, the tailer is idle again.
    std::thread::sleep(hubble_tail::ROTATION_CHECK);
    let stats = poll(&mut tailer, &mut got, &mut events);
    assert!(stats.is_idle(), "{stats:?}");
}

#[test]
fn a_new_file_still_empty_when_found_is_looked_at_again_soon() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tailer, log, mut got, mut events) = following_without_scheduled_scans(dir.path());

    // The rotation's new file exists but is empty when the early scan finds it: it cannot be identified yet.
    fs::rename(&log, dir.path().join("0.log.1")).unwrap();
    append(&log, b"");
    std::thread::sleep(hubble_tail::ROTATION_CHECK);
    poll(&mut tailer, &mut got, &mut events);
    poll(&mut tailer, &mut got, &mut events);
    // Written to after that scan: found by a scan one ROTATION_CHECK later, not an hour later.
    append(&log, b"b\n");
    std::thread::sleep(hubble_tail::ROTATION_CHECK);
    poll(&mut tailer, &mut got, &mut events);
    poll(&mut tailer, &mut got, &mut events);
    assert_eq!(lines(&got), ["a", "b"]);
}
