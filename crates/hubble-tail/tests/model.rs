//! Model-based property test of the tailer, in the spirit of Vector's `file-source` model tests.
//!
//! Random sequences of writer and rotator actions run against a real temp directory while a simple model tracks
//! which lines exist in which file. The tailer's output must satisfy:
//! - every line delivered was written, byte for byte, and is not over-long;
//! - per tailer instance and file id, lines arrive in file order with non-overlapping offsets;
//! - every line appended is delivered, except over-long lines, lines present at the very first start without
//!   `read_from_head`, and lines that became unreachable: their file was deleted (or truncated) while no running
//!   tailer had it open and no other file held a copy;
//! - a line is delivered more than once only after a restart that found it delivered but not acknowledged.
//!
//! "Had it open" is modelled as: the file (inode) existed, with its content, at a poll of the current instance.

mod common;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{gzip_bytes, Got};
use hubble_tail::{Checkpoints, FileId, Tailer, TailerConfig};
use proptest::prelude::*;

const MAX_LINE: usize = 100;

#[derive(Clone, Debug)]
enum Action {
    Append {
        stream: usize,
        lens: Vec<usize>,
    },
    AppendSplit {
        stream: usize,
        len: usize,
        cut: usize,
    },
    Rotate {
        stream: usize,
    },
    Gzip {
        stream: usize,
    },
    CopyTruncate {
        stream: usize,
    },
    DeleteOldest {
        stream: usize,
    },
    DeleteCurrent {
        stream: usize,
    },
    Poll,
    Ack,
    Stop {
        acked_percent: usize,
    },
}

fn line_len() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..60, 1 => 90usize..160]
}

fn action() -> impl Strategy<Value = Action> {
    let stream = 0usize..2;
    prop_oneof![
        10 => (stream.clone(), prop::collection::vec(line_len(), 1..4)).prop_map(|(stream, lens)| Action::Append { stream, lens }),
        2 => (stream.clone(), 2usize..60, 0usize..100).prop_map(|(stream, len, cut)| Action::AppendSplit { stream, len, cut }),
        3 => stream.clone().prop_map(|stream| Action::Rotate { stream }),
        2 => stream.clone().prop_map(|stream| Action::Gzip { stream }),
        2 => stream.clone().prop_map(|stream| Action::CopyTruncate { stream }),
        1 => stream.clone().prop_map(|stream| Action::DeleteOldest { stream }),
        1 => stream.clone().prop_map(|stream| Action::DeleteCurrent { stream }),
        8 => Just(Action::Poll),
        2 => Just(Action::Ack),
        2 => (0usize..=100).prop_map(|acked_percent| Action::Stop { acked_percent }),
    ]
}

fn prefix_action() -> impl Strategy<Value = Action> {
    let stream = 0usize..2;
    prop_oneof![
        4 => (stream.clone(), prop::collection::vec(line_len(), 1..3)).prop_map(|(stream, lens)| Action::Append { stream, lens }),
        1 => stream.clone().prop_map(|stream| Action::Rotate { stream }),
        1 => stream.prop_map(|stream| Action::Gzip { stream }),
    ]
}

/// A file (inode) in the model.
struct MFile {
    path: Option<PathBuf>,
    lines: Vec<usize>,
    /// Seen with its current content at a poll of the running tailer instance (so its descriptor is open).
    held: bool,
}

struct Line {
    text: Vec<u8>,
    long: bool,
}

struct World {
    dir: PathBuf,
    state: PathBuf,
    cfg: TailerConfig,
    files: Vec<MFile>,
    current: [usize; 2],
    rotated: [Vec<usize>; 2],
    writers: [File; 2],
    lines: Vec<Line>,
    rotations: usize,
    tailer: Option<Tailer>,
    instance: usize,
    delivered: HashMap<usize, usize>,
    allowance: HashMap<usize, usize>,
    lost: HashSet<usize>,
    skipped_at_start: HashSet<usize>,
    unacked: Vec<(FileId, u64, Vec<usize>)>,
    /// (instance, file id) → (last line id, last end offset)
    order: HashMap<(usize, FileId), (usize, u64)>,
}

fn current_path(dir: &Path, stream: usize) -> PathBuf {
    dir.join(if stream == 0 { "0.log" } else { "events.log" })
}

fn open_append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

impl World {
    fn new(dir: &Path, read_from_head: bool, max_read_bytes: usize) -> World {
        let state = dir.join("state");
        let mut cfg = common::config(dir, &["0.log*", "events*.log*"]);
        cfg.read_from_head = read_from_head;
        cfg.max_line_bytes = MAX_LINE;
        cfg.max_read_bytes = max_read_bytes;
        let writers = [
            open_append(&current_path(dir, 0)),
            open_append(&current_path(dir, 1)),
        ];
        let files = (0..2)
            .map(|s| MFile {
                path: Some(current_path(dir, s)),
                lines: Vec::new(),
                held: false,
            })
            .collect();
        World {
            dir: dir.to_path_buf(),
            state,
            cfg,
            files,
            current: [0, 1],
            rotated: [Vec::new(), Vec::new()],
            writers,
            lines: Vec::new(),
            rotations: 0,
            tailer: None,
            instance: 0,
            delivered: HashMap::new(),
            allowance: HashMap::new(),
            lost: HashSet::new(),
            skipped_at_start: HashSet::new(),
            unacked: Vec::new(),
            order: HashMap::new(),
        }
    }

    fn new_line(&mut self, stream: usize, len: usize) -> usize {
        let id = self.lines.len();
        let mut text = format!("s{stream}-{id:06}-").into_bytes();
        text.extend((0..len).map(|i| b'a' + ((id + i) % 26) as u8));
        let long = text.len() > MAX_LINE;
        text.push(b'\n');
        self.lines.push(Line { text, long });
        id
    }

    fn start(&mut self) {
        if self.tailer.is_some() {
            return;
        }
        let first = self.instance == 0;
        let cps = Checkpoints::open(&self.state).unwrap();
        if first && !self.cfg.read_from_head {
            for f in self.files.iter().filter(|f| f.path.is_some()) {
                self.skipped_at_start.extend(f.lines.iter().copied());
            }
        }
        self.instance += 1;
        self.tailer = Some(Tailer::new(self.cfg.clone(), cps).unwrap());
    }

    fn poll(&mut self) {
        self.start();
        let Some(tailer) = self.tailer.as_mut() else {
            return;
        };
        let mut got: Vec<Got> = Vec::new();
        let mut events = Vec::new();
        common::poll(tailer, &mut got, &mut events);
        for f in &mut self.files {
            if f.path.is_some() && !f.lines.is_empty() {
                f.held = true;
            }
        }
        for g in got {
            let ids = self.check_chunk(&g);
            self.unacked.push((g.file, g.end, ids));
        }
    }

    fn check_chunk(&mut self, g: &Got) -> Vec<usize> {
        assert_eq!(g.bytes.last(), Some(&b'\n'));
        assert_eq!(g.end - g.start, g.bytes.len() as u64);
        let key = (self.instance, g.file);
        let mut ids = Vec::new();
        let mut prev = self.order.get(&key).copied();
        if let Some((_, end)) = prev {
            assert!(
                g.start >= end,
                "chunk at {} overlaps previous end {end} of {}",
                g.start,
                g.file
            );
        }
        for raw in g.bytes.split_inclusive(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(raw);
            let id: usize = text
                .split('-')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("garbage line delivered: {text:?}"));
            let line = self
                .lines
                .get(id)
                .unwrap_or_else(|| panic!("unknown line {id}"));
            assert_eq!(raw, &line.text[..], "line {id} delivered with wrong bytes");
            assert!(!line.long, "over-long line {id} delivered");
            assert!(
                !self.skipped_at_start.contains(&id),
                "line {id} present at first start delivered"
            );
            if let Some((last, _)) = prev {
                assert!(
                    id > last,
                    "line {id} after {last} in {}: out of order",
                    g.file
                );
            }
            prev = Some((id, g.end));
            *self.delivered.entry(id).or_default() += 1;
            ids.push(id);
        }
        if let Some(p) = prev {
            self.order.insert(key, p);
        }
        ids
    }

    fn ack(&mut self, count: usize) {
        if let Some(tailer) = &self.tailer {
            for (file, end, _) in self.unacked.drain(..count) {
                tailer.ack(file, end);
            }
            tailer.checkpoints().persist().unwrap();
        }
    }

    /// Lines of file `gone` that no remaining file or open descriptor can still deliver become lost.
    fn mark_unreachable(&mut self, candidates: &[usize]) {
        let reachable: HashSet<usize> = self
            .files
            .iter()
            .filter(|f| f.path.is_some() || (f.held && self.tailer.is_some()))
            .flat_map(|f| f.lines.iter().copied())
            .collect();
        for &id in candidates {
            if !reachable.contains(&id) && !self.delivered.contains_key(&id) {
                self.lost.insert(id);
            }
        }
    }

    fn write(&mut self, stream: usize, bytes: &[u8]) {
        self.writers[stream].write_all(bytes).unwrap();
    }

    fn rotated_name(&mut self, stream: usize) -> PathBuf {
        self.rotations += 1;
        let n = self.rotations;
        self.dir.join(if stream == 0 {
            format!("0.log.20250101-{:06}", n)
        } else {
            format!("events-2025-01-01T00-{:02}-{:02}.000.log", n / 60, n % 60)
        })
    }

    fn apply(&mut self, action: &Action) {
        match *action {
            Action::Append { stream, ref lens } => {
                for &len in lens {
                    let id = self.new_line(stream, len);
                    let text = self.lines[id].text.clone();
                    self.write(stream, &text);
                    let cur = self.current[stream];
                    self.files[cur].lines.push(id);
                }
            }
            Action::AppendSplit { stream, len, cut } => {
                let id = self.new_line(stream, len);
                let text = self.lines[id].text.clone();
                let cut = 1 + cut % (text.len() - 1);
                self.write(stream, &text[..cut]);
                if self.tailer.is_some() {
                    self.poll();
                }
                self.write(stream, &text[cut..]);
                let cur = self.current[stream];
                self.files[cur].lines.push(id);
            }
            Action::Rotate { stream } => {
                let to = self.rotated_name(stream);
                let from = current_path(&self.dir, stream);
                fs::rename(&from, &to).unwrap();
                let cur = self.current[stream];
                self.files[cur].path = Some(to);
                self.rotated[stream].push(cur);
                self.new_current(stream);
            }
            Action::Gzip { stream } => {
                let Some(pos) = self.rotated[stream].iter().position(|&f| !self.is_gz(f)) else {
                    return;
                };
                let plain = self.rotated[stream][pos];
                let path = self.files[plain].path.clone().unwrap();
                let mut gz = path.clone().into_os_string();
                gz.push(".gz");
                let gz = PathBuf::from(gz);
                File::create(&gz)
                    .unwrap()
                    .write_all(&gzip_bytes(&fs::read(&path).unwrap()))
                    .unwrap();
                fs::remove_file(&path).unwrap();
                let lines = self.files[plain].lines.clone();
                self.files[plain].path = None;
                self.files.push(MFile {
                    path: Some(gz),
                    lines: lines.clone(),
                    held: false,
                });
                self.rotated[stream][pos] = self.files.len() - 1;
                self.mark_unreachable(&lines);
            }
            Action::CopyTruncate { stream } => {
                let to = self.rotated_name(stream);
                let from = current_path(&self.dir, stream);
                fs::copy(&from, &to).unwrap();
                OpenOptions::new()
                    .write(true)
                    .open(&from)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                let cur = self.current[stream];
                let lines = std::mem::take(&mut self.files[cur].lines);
                self.files[cur].held = false;
                self.files.push(MFile {
                    path: Some(to),
                    lines: lines.clone(),
                    held: false,
                });
                self.rotated[stream].push(self.files.len() - 1);
                self.mark_unreachable(&lines);
            }
            Action::DeleteOldest { stream } => {
                if self.rotated[stream].is_empty() {
                    return;
                }
                let f = self.rotated[stream].remove(0);
                self.delete(f);
            }
            Action::DeleteCurrent { stream } => {
                let f = self.current[stream];
                self.delete(f);
                self.new_current(stream);
            }
            Action::Poll => self.poll(),
            Action::Ack => {
                let n = self.unacked.len();
                self.ack(n);
            }
            Action::Stop { acked_percent } => {
                if self.tailer.is_none() {
                    return;
                }
                let n = self.unacked.len() * acked_percent / 100;
                self.ack(n);
                for (_, _, ids) in self.unacked.drain(..) {
                    for id in ids {
                        *self.allowance.entry(id).or_default() += 1;
                    }
                }
                self.tailer = None;
                let held_gone: Vec<usize> = self
                    .files
                    .iter()
                    .filter(|f| f.path.is_none() && f.held)
                    .flat_map(|f| f.lines.iter().copied())
                    .collect();
                for f in &mut self.files {
                    f.held = false;
                }
                self.mark_unreachable(&held_gone);
            }
        }
    }

    fn is_gz(&self, f: usize) -> bool {
        self.files[f]
            .path
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "gz"))
    }

    fn new_current(&mut self, stream: usize) {
        let path = current_path(&self.dir, stream);
        self.writers[stream] = open_append(&path);
        self.files.push(MFile {
            path: Some(path),
            lines: Vec::new(),
            held: false,
        });
        self.current[stream] = self.files.len() - 1;
    }

    fn delete(&mut self, f: usize) {
        let path = self.files[f].path.take().unwrap();
        fs::remove_file(&path).unwrap();
        let lines = self.files[f].lines.clone();
        if self.tailer.is_none() {
            self.files[f].held = false;
        }
        self.mark_unreachable(&lines);
    }

    fn finish(&mut self) {
        self.start();
        let tailer = self.tailer.as_mut().unwrap();
        let mut got = Vec::new();
        let mut events = Vec::new();
        common::drain(tailer, &mut got, &mut events);
        for g in got {
            self.check_chunk(&g);
        }
        for (id, line) in self.lines.iter().enumerate() {
            let n = self.delivered.get(&id).copied().unwrap_or(0);
            let allowed = 1 + self.allowance.get(&id).copied().unwrap_or(0);
            assert!(
                n <= allowed,
                "line {id} delivered {n} times, at most {allowed} allowed"
            );
            let excused =
                line.long || self.lost.contains(&id) || self.skipped_at_start.contains(&id);
            assert!(excused || n >= 1, "line {id} never delivered");
        }
    }
}

fn run(read_from_head: bool, max_read_bytes: usize, prefix: &[Action], actions: &[Action]) {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World::new(dir.path(), read_from_head, max_read_bytes);
    for a in prefix {
        world.apply(a);
    }
    world.start();
    for a in actions {
        world.apply(a);
    }
    world.finish();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn tailer_matches_model(
        read_from_head in any::<bool>(),
        max_read_bytes in prop_oneof![Just(1usize << 20), 16usize..400],
        prefix in prop::collection::vec(prefix_action(), 0..5),
        actions in prop::collection::vec(action(), 1..60),
    ) {
        run(read_from_head, max_read_bytes, &prefix, &actions);
    }
}

#[test]
fn model_smoke_every_scheme_once() {
    use Action::*;
    let actions = vec![
        Append {
            stream: 0,
            lens: vec![5, 6],
        },
        Append {
            stream: 1,
            lens: vec![7],
        },
        Poll,
        Append {
            stream: 0,
            lens: vec![3],
        },
        Rotate { stream: 0 },
        Append {
            stream: 0,
            lens: vec![4],
        },
        Gzip { stream: 0 },
        CopyTruncate { stream: 1 },
        Append {
            stream: 1,
            lens: vec![2],
        },
        Poll,
        Stop { acked_percent: 50 },
        Append {
            stream: 1,
            lens: vec![9],
        },
        Rotate { stream: 1 },
        Gzip { stream: 1 },
        DeleteCurrent { stream: 0 },
        Poll,
    ];
    run(true, 1 << 20, &[], &actions);
}
