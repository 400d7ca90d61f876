//! Checkpoints: the acknowledged read offset of every known file, persisted in the state directory.
//!
//! Owns `checkpoints.json` in the state dir. Guarantees:
//! - an offset only moves when the caller acknowledges it ([`Checkpoints::ack`]) — the daemon does so once the
//!   records up to that offset are durable in its spool — or when the tailer first registers where it starts
//!   reading a file it had no checkpoint for (so a crash before the first ack never skips data);
//! - [`Checkpoints::persist`] replaces the file atomically: write `checkpoints.json.tmp`, fsync it, rename over
//!   `checkpoints.json`, fsync the directory. A crash at any instant leaves the previous or the new complete file;
//!   a leftover tmp file is removed at load, never trusted;
//! - a corrupt checkpoint file is moved aside (`checkpoints.json.corrupt`) and loading continues empty, as a
//!   restart (not a first start): files are then read again from the beginning — duplicates, never loss;
//! - the handle is `Clone + Send + Sync`: the tailer thread and the spool thread share one table.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::FileId;

/// Name of the checkpoint file inside the state directory.
pub const CHECKPOINT_FILE: &str = "checkpoints.json";
const TMP_FILE: &str = "checkpoints.json.tmp";
const CORRUPT_FILE: &str = "checkpoints.json.corrupt";
const FORMAT_VERSION: u32 = 1;

/// Errors reading or writing the checkpoint file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// An I/O operation on `path` failed.
    #[error("checkpoint file {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One persisted checkpoint, as stored in `checkpoints.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The file's content identity.
    pub file: FileId,
    /// Acknowledged offset (decompressed bytes for gzip files): everything before it is durable downstream.
    pub offset: u64,
    /// Last path the file was seen at (informational; may be lossy for non-UTF-8 paths).
    pub path: String,
    /// When the offset last changed, seconds since the Unix epoch.
    pub modified: u64,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    checkpoints: Vec<Checkpoint>,
}

#[derive(Debug)]
struct Entry {
    offset: u64,
    path: String,
    modified: u64,
    last_seen: Instant,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<FileId, Entry>,
    dirty: bool,
}

/// Shared, thread-safe checkpoint table with optional persistence.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    table: Arc<Mutex<Table>>,
    dir: Option<Arc<PathBuf>>,
    persist_lock: Arc<Mutex<()>>,
    first_start: bool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Checkpoints {
    /// Loads (or starts) the checkpoints of `state_dir`, creating the directory if needed.
    pub fn open(state_dir: &Path) -> Result<Checkpoints, CheckpointError> {
        fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
        let tmp = state_dir.join(TMP_FILE);
        match fs::remove_file(&tmp) {
            Ok(()) => {
                tracing::warn!(path = %tmp.display(), "removed checkpoint tmp file left by an interrupted write")
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_err(&tmp)(err)),
        }
        let stable = state_dir.join(CHECKPOINT_FILE);
        let (entries, first_start) = match fs::read(&stable) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(state) if state.version == FORMAT_VERSION => (state.checkpoints, false),
                Ok(state) => {
                    tracing::error!(path = %stable.display(), version = state.version, "unsupported checkpoint file version; moved aside, files will be re-read");
                    move_aside(state_dir, &stable)?;
                    (Vec::new(), false)
                }
                Err(err) => {
                    tracing::error!(path = %stable.display(), error = %err, "corrupt checkpoint file; moved aside, files will be re-read");
                    move_aside(state_dir, &stable)?;
                    (Vec::new(), false)
                }
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => (Vec::new(), true),
            Err(err) => return Err(io_err(&stable)(err)),
        };
        let now = Instant::now();
        let entries = entries
            .into_iter()
            .map(|c| {
                (
                    c.file,
                    Entry {
                        offset: c.offset,
                        path: c.path,
                        modified: c.modified,
                        last_seen: now,
                    },
                )
            })
            .collect();
        Ok(Checkpoints {
            // A first start writes the (possibly empty) file at the first persist: its existence is what
            // tells a later start that this is a restart.
            table: Arc::new(Mutex::new(Table {
                entries,
                dirty: first_start,
            })),
            dir: Some(Arc::new(state_dir.to_path_buf())),
            persist_lock: Arc::new(Mutex::new(())),
            first_start,
        })
    }

    /// A table that is never written to disk (first start, nothing to resume).
    pub fn in_memory() -> Checkpoints {
        Checkpoints {
            table: Arc::new(Mutex::new(Table::default())),
            dir: None,
            persist_lock: Arc::new(Mutex::new(())),
            first_start: true,
        }
    }

    /// True when no checkpoint file existed: the daemon never ran with this state dir.
    pub fn is_first_start(&self) -> bool {
        self.first_start
    }

    /// The acknowledged offset of `file`, if known.
    pub fn get(&self, file: &FileId) -> Option<u64> {
        lock(&self.table).entries.get(file).map(|e| e.offset)
    }

    /// Records that everything in `file` before `offset` is durable downstream.
    ///
    /// The offset is set as given (not max-ed): acknowledge a file's chunks in the order they were read, so that
    /// a restart at 0 after a truncation is followed correctly.
    pub fn ack(&self, file: FileId, offset: u64) {
        let mut table = lock(&self.table);
        let now = Instant::now();
        let entry = table.entries.entry(file).or_insert_with(|| Entry {
            offset,
            path: String::new(),
            modified: 0,
            last_seen: now,
        });
        if entry.offset != offset || entry.modified == 0 {
            entry.offset = offset;
            entry.modified = now_secs();
            table.dirty = true;
        }
    }

    /// Number of files with a checkpoint.
    pub fn len(&self) -> usize {
        lock(&self.table).entries.len()
    }

    /// True when no file has a checkpoint.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All checkpoints, sorted by file id.
    pub fn snapshot(&self) -> Vec<Checkpoint> {
        let table = lock(&self.table);
        let mut all: Vec<Checkpoint> = table
            .entries
            .iter()
            .map(|(file, e)| Checkpoint {
                file: *file,
                offset: e.offset,
                path: e.path.clone(),
                modified: e.modified,
            })
            .collect();
        all.sort_by_key(|c| c.file);
        all
    }

    /// Writes the table to disk if it changed since the last write. Returns whether a write happened.
    /// In-memory tables never write.
    pub fn persist(&self) -> Result<bool, CheckpointError> {
        let Some(dir) = self.dir.as_deref() else {
            lock(&self.table).dirty = false;
            return Ok(false);
        };
        let _one_writer = lock(&self.persist_lock);
        let state = {
            let mut table = lock(&self.table);
            if !table.dirty {
                return Ok(false);
            }
            table.dirty = false;
            drop(table);
            StateFile {
                version: FORMAT_VERSION,
                checkpoints: self.snapshot(),
            }
        };
        let result = write_atomically(dir, &state);
        if result.is_err() {
            lock(&self.table).dirty = true;
        }
        result.map(|()| true)
    }

    /// Tailer: remember where reading of a file without a checkpoint starts.
    pub(crate) fn register(&self, file: FileId, offset: u64, path: &Path) {
        let mut table = lock(&self.table);
        if table.entries.contains_key(&file) {
            return;
        }
        table.entries.insert(
            file,
            Entry {
                offset,
                path: path.to_string_lossy().into_owned(),
                modified: now_secs(),
                last_seen: Instant::now(),
            },
        );
        table.dirty = true;
    }

    /// Tailer: the file is still around (found by a glob, or open); record its current path.
    pub(crate) fn touch(&self, file: &FileId, path: &Path, now: Instant) {
        let mut table = lock(&self.table);
        let mut changed = false;
        if let Some(entry) = table.entries.get_mut(file) {
            entry.last_seen = now;
            if entry.path.as_bytes() != path.as_os_str().as_encoded_bytes() {
                entry.path = path.to_string_lossy().into_owned();
                changed = true;
            }
        }
        if changed {
            table.dirty = true;
        }
    }

    /// Tailer: forget entries not seen for `max_unseen` (their files are gone). Returns the forgotten ids.
    pub(crate) fn prune(&self, now: Instant, max_unseen: Duration) -> Vec<FileId> {
        let mut table = lock(&self.table);
        let stale: Vec<FileId> = table
            .entries
            .iter()
            .filter(|(_, e)| now.saturating_duration_since(e.last_seen) >= max_unseen)
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            table.entries.remove(id);
        }
        if !stale.is_empty() {
            table.dirty = true;
        }
        stale
    }
}

fn move_aside(dir: &Path, stable: &Path) -> Result<(), CheckpointError> {
    let aside = dir.join(CORRUPT_FILE);
    fs::rename(stable, &aside).map_err(io_err(stable))
}

fn write_atomically(dir: &Path, state: &StateFile) -> Result<(), CheckpointError> {
    let tmp = dir.join(TMP_FILE);
    let stable = dir.join(CHECKPOINT_FILE);
    let bytes = serde_json::to_vec(state).map_err(|e| io_err(&tmp)(io::Error::other(e)))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(&bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, &stable).map_err(io_err(&stable))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: FileId = FileId::Checksum(1);
    const B: FileId = FileId::DevInode { dev: 3, ino: 4 };

    #[test]
    fn first_start_then_restart_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cps = Checkpoints::open(dir.path()).unwrap();
        assert!(cps.is_first_start());
        assert!(
            cps.persist().unwrap(),
            "a first start writes the file even when empty"
        );
        assert!(!Checkpoints::open(dir.path()).unwrap().is_first_start());
        assert!(!cps.persist().unwrap(), "nothing changed, nothing written");
        cps.register(A, 10, Path::new("/x/0.log"));
        cps.ack(B, 77);
        assert!(cps.persist().unwrap());
        assert!(!cps.persist().unwrap());

        let again = Checkpoints::open(dir.path()).unwrap();
        assert!(!again.is_first_start());
        assert_eq!(again.get(&A), Some(10));
        assert_eq!(again.get(&B), Some(77));
        assert_eq!(again.snapshot()[0].path, "/x/0.log");
    }

    #[test]
    fn ack_sets_exactly_and_register_never_overwrites() {
        let cps = Checkpoints::in_memory();
        cps.ack(A, 100);
        cps.register(A, 5, Path::new("p"));
        assert_eq!(cps.get(&A), Some(100));
        cps.ack(A, 3); // restart after truncation
        assert_eq!(cps.get(&A), Some(3));
        assert!(!cps.persist().unwrap());
    }

    #[test]
    fn leftover_tmp_is_removed_and_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cps = Checkpoints::open(dir.path()).unwrap();
        cps.ack(A, 1);
        cps.persist().unwrap();
        fs::write(
            dir.path().join(TMP_FILE),
            br#"{"version":1,"checkpoints":[{"file":{"checksum":1},"offset":999,"#,
        )
        .unwrap();
        let again = Checkpoints::open(dir.path()).unwrap();
        assert_eq!(again.get(&A), Some(1));
        assert!(!dir.path().join(TMP_FILE).exists());
    }

    #[test]
    fn corrupt_file_is_moved_aside_and_counts_as_restart() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CHECKPOINT_FILE), b"{not json").unwrap();
        let cps = Checkpoints::open(dir.path()).unwrap();
        assert!(!cps.is_first_start());
        assert!(cps.is_empty());
        assert!(dir.path().join(CORRUPT_FILE).exists());
    }

    #[test]
    fn file_format_is_versioned_json() {
        let dir = tempfile::tempdir().unwrap();
        let cps = Checkpoints::open(dir.path()).unwrap();
        cps.ack(A, 42);
        cps.persist().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join(CHECKPOINT_FILE)).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["checkpoints"][0]["file"]["checksum"], 1);
        assert_eq!(json["checkpoints"][0]["offset"], 42);
    }

    #[test]
    fn prune_forgets_only_unseen_entries() {
        let cps = Checkpoints::in_memory();
        cps.ack(A, 1);
        cps.ack(B, 2);
        let later = Instant::now() + Duration::from_secs(100);
        cps.touch(&A, Path::new("a"), later);
        let gone = cps.prune(later, Duration::from_secs(50));
        assert_eq!(gone, vec![B]);
        assert_eq!(cps.get(&A), Some(1));
        assert_eq!(cps.get(&B), None);
    }

    #[test]
    fn handles_are_shared_between_threads() {
        let cps = Checkpoints::in_memory();
        let other = cps.clone();
        std::thread::spawn(move || other.ack(A, 9)).join().unwrap();
        assert_eq!(cps.get(&A), Some(9));
    }
}
