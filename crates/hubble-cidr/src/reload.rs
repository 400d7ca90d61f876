//! Reloading CIDR-group files when they change, off the hot path.
//!
//! Owns: [`Fingerprint`] (what the sources look like on disk), [`Reloader`] (poll → reload → outcome, with
//! counters) and [`spawn_file_watcher`] (a thread that polls and calls back). Guarantees:
//! - Change detection follows what [`crate::load`] reads: every file and directory of the sources (path, device,
//!   inode, size, mtime, following symlinks), each directory's own mtime (files added or removed), and the
//!   target of every dot-named symlink in a source directory — a Kubernetes ConfigMap volume publishes an update
//!   by atomically re-pointing `..data`, which changes that target and the inodes behind the visible names.
//! - A change is acted on once the sources look the same twice, `settle` apart (so a file caught mid-write is
//!   not parsed half-written).
//! - A failed reload returns [`ReloadOutcome::Failed`] with the reason and counts a failure; the caller keeps
//!   serving the previous table. The same broken content is not retried until it changes again.
//! - Nothing global: counts are fields of the [`Reloader`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::load::{load_sources, LoadError, LoadedTable, Source};

/// One observed path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: Option<SystemTime>,
    link: Option<PathBuf>,
}

/// A snapshot of the sources' on-disk state; two equal fingerprints mean "nothing to reload".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<Seen>);

impl Fingerprint {
    /// Observe every [`Source::Path`] (missing paths are recorded as missing, not errors).
    pub fn of(sources: &[Source]) -> Fingerprint {
        let mut seen = Vec::new();
        for s in sources {
            if let Source::Path(p) = s {
                observe(p, 0, &mut seen);
            }
        }
        Fingerprint(seen)
    }
}

fn stat(path: &Path) -> Seen {
    let link = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.file_type().is_symlink())
        .and_then(|_| std::fs::read_link(path).ok());
    let mut seen = Seen {
        path: path.to_path_buf(),
        dev: 0,
        ino: 0,
        size: 0,
        mtime: None,
        link,
    };
    if let Ok(m) = std::fs::metadata(path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            seen.dev = m.dev();
            seen.ino = m.ino();
        }
        seen.size = m.len();
        seen.mtime = m.modified().ok();
    }
    seen
}

fn observe(path: &Path, depth: usize, out: &mut Vec<Seen>) {
    let seen = stat(path);
    out.push(seen);
    if depth > 32 || !path.is_dir() {
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let dot = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if dot {
            // `..data` and friends: only the symlink target matters.
            if let Ok(target) = std::fs::read_link(&p) {
                out.push(Seen {
                    path: p,
                    dev: 0,
                    ino: 0,
                    size: 0,
                    mtime: None,
                    link: Some(target),
                });
            }
            continue;
        }
        observe(&p, depth + 1, out);
    }
}

/// What one [`Reloader::poll`] did.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The sources did not change (or are still changing).
    Unchanged,
    /// The sources changed and loaded: swap this table in.
    Reloaded(LoadedTable),
    /// The sources changed but did not load: keep the previous table.
    Failed(LoadError),
}

/// Polls file sources and rebuilds the table when they change. Not thread-safe by itself: own it in one thread.
#[derive(Debug)]
pub struct Reloader {
    sources: Vec<Source>,
    last: Fingerprint,
    settle: Duration,
    reloads: u64,
    failures: u64,
}

impl Reloader {
    /// A reloader for `sources`; `settle` is how long a change must stay still before it is loaded.
    pub fn new(sources: Vec<Source>, settle: Duration) -> Reloader {
        Reloader {
            sources,
            last: Fingerprint::default(),
            settle,
            reloads: 0,
            failures: 0,
        }
    }

    /// Load the sources now (the fingerprint is taken first, so a change during the load is seen by the next
    /// poll). Counts as neither reload nor failure.
    pub fn load_initial(&mut self) -> Result<LoadedTable, LoadError> {
        self.last = Fingerprint::of(&self.sources);
        load_sources(&self.sources)
    }

    /// Check the sources; reload if they changed and have settled.
    pub fn poll(&mut self) -> ReloadOutcome {
        let now = Fingerprint::of(&self.sources);
        if now == self.last {
            return ReloadOutcome::Unchanged;
        }
        if !self.settle.is_zero() {
            std::thread::sleep(self.settle);
            if Fingerprint::of(&self.sources) != now {
                return ReloadOutcome::Unchanged; // still being written; look again next poll
            }
        }
        self.last = now;
        match load_sources(&self.sources) {
            Ok(t) => {
                self.reloads += 1;
                ReloadOutcome::Reloaded(t)
            }
            Err(e) => {
                self.failures += 1;
                ReloadOutcome::Failed(e)
            }
        }
    }

    /// Successful reloads so far.
    pub fn reloads(&self) -> u64 {
        self.reloads
    }

    /// Failed reloads so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }
}

/// A running file watcher; stops (and joins) when dropped or [`FileWatcher::stop`]ped.
#[derive(Debug)]
pub struct FileWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Reloader>>,
}

impl FileWatcher {
    /// Stop polling and return the reloader (with its counters).
    pub fn stop(mut self) -> Option<Reloader> {
        self.stop.store(true, Ordering::Release);
        self.thread.take().and_then(|t| {
            t.thread().unpark();
            t.join().ok()
        })
    }
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// Poll `reloader` every `interval` on a background thread and pass every outcome other than
/// [`ReloadOutcome::Unchanged`] to `on_change` (with the reloader, for its counters). Typical use: swap the
/// table into an `ArcSwap` on `Reloaded`, log on `Failed`.
pub fn spawn_file_watcher<F>(
    mut reloader: Reloader,
    interval: Duration,
    mut on_change: F,
) -> std::io::Result<FileWatcher>
where
    F: FnMut(ReloadOutcome, &Reloader) + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("cidr-group-watch".into())
        .spawn(move || {
            while !flag.load(Ordering::Acquire) {
                std::thread::park_timeout(interval);
                if flag.load(Ordering::Acquire) {
                    break;
                }
                match reloader.poll() {
                    ReloadOutcome::Unchanged => {}
                    outcome => on_change(outcome, &reloader),
                }
            }
            reloader
        })?;
    Ok(FileWatcher {
        stop,
        thread: Some(thread),
    })
}
