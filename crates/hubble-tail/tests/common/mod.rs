//! Shared helpers for the integration tests: a temp directory, a tailer configured for deterministic polling
//! (scan on every poll, release rotated files as soon as they are drained), and collected output.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use hubble_tail::{Checkpoints, FileId, PollStats, TailEvent, Tailer, TailerConfig};

/// One chunk as handed out, owned.
#[derive(Clone, Debug)]
pub struct Got {
    pub file: FileId,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub start: u64,
    pub end: u64,
}

pub fn config(dir: &Path, globs: &[&str]) -> TailerConfig {
    let mut cfg = TailerConfig::new(
        globs
            .iter()
            .map(|g| dir.join(g).to_string_lossy().into_owned())
            .collect(),
    );
    cfg.read_from_head = true;
    cfg.discover_interval = Duration::ZERO;
    cfg.rotate_wait = Duration::ZERO;
    cfg.poll_interval = Duration::ZERO;
    cfg
}

pub fn start(cfg: TailerConfig, state: &Path) -> Tailer {
    Tailer::new(cfg, Checkpoints::open(state).unwrap()).unwrap()
}

/// Polls once, collecting chunks and events.
pub fn poll(tailer: &mut Tailer, got: &mut Vec<Got>, events: &mut Vec<TailEvent>) -> PollStats {
    let stats = tailer
        .poll(&mut |c| {
            got.push(Got {
                file: c.file,
                path: c.path.to_path_buf(),
                bytes: c.bytes.to_vec(),
                start: c.start_offset,
                end: c.end_offset,
            })
        })
        .unwrap();
    events.extend(stats.events.iter().cloned());
    stats
}

/// Polls until three polls in a row read nothing.
pub fn drain(tailer: &mut Tailer, got: &mut Vec<Got>, events: &mut Vec<TailEvent>) {
    let mut idle = 0;
    for _ in 0..10_000 {
        let stats = poll(tailer, got, events);
        if stats.is_idle() && stats.events.is_empty() {
            idle += 1;
            if idle == 3 {
                return;
            }
        } else {
            idle = 0;
        }
    }
    panic!("tailer never went idle");
}

/// All lines handed out, in order, without their newline.
pub fn lines(got: &[Got]) -> Vec<String> {
    got.iter()
        .flat_map(|g| {
            assert_eq!(
                g.bytes.last(),
                Some(&b'\n'),
                "chunk must end with a newline"
            );
            assert_eq!(
                g.end - g.start,
                g.bytes.len() as u64,
                "offsets must span the bytes"
            );
            g.bytes[..g.bytes.len() - 1]
                .split(|b| *b == b'\n')
                .map(|l| String::from_utf8_lossy(l).into_owned())
        })
        .collect()
}

pub fn append(path: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

pub fn gzip_bytes(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Rotator-style compression: `x` → `x.gz`, then `x` deleted.
pub fn gzip_file(path: &Path) -> PathBuf {
    let data = fs::read(path).unwrap();
    let mut gz = path.as_os_str().to_owned();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    File::create(&gz)
        .unwrap()
        .write_all(&gzip_bytes(&data))
        .unwrap();
    fs::remove_file(path).unwrap();
    gz
}

pub fn count(events: &[TailEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.kind() == kind).count()
}
