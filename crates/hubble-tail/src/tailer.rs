//! The tailer: discovery, scheduling of reads over open files, and the rotation rules.
//!
//! Owns the set of open files ([`crate::watcher`]) and the in-memory read position of every known file id.
//! Guarantees (with checksum ids):
//! - every complete line appended to a matched file is handed out once, in file order, as long as the file (or
//!   a copy of it under a glob: rename, gzip, copytruncate copy) was seen by a discovery pass before it vanished;
//! - a copy of a file already read (renamed, gzipped, copied) is not read again; a gzip copy is read from the
//!   decompressed offset already reached, so a file partly read before it was rotated and gzipped is finished;
//! - files renamed away or deleted while open are drained through the open descriptor before they are released
//!   (after `rotate_wait` without being found);
//! - a file shrinking below the read offset restarts at 0 (`Truncated { restarted: true }`); content replaced in
//!   place gets a new id and is read from 0 as a new file (`Truncated { restarted: false }`);
//! - after a restart, reading resumes from the acknowledged checkpoint (at-least-once);
//! - no file gets more than `max_read_bytes` per pass while others wait (fairness);
//! - a followed file whose path now names another file (rotated: renamed away, or replaced) makes the next
//!   poll scan the globs at once, without waiting for `discover_interval`, and that poll comes without a sleep
//!   ([`PollStats::read_limited`]). Paths are checked at most every [`ROTATION_CHECK`] (one `stat` per open
//!   file), so a new file is found within about that time even while the tailer is behind, before a kubelet
//!   keeping few rotated files deletes it; lines written to it wait for one poll, not for the next scan. A new
//!   file still too short to identify (modified in the last [`NEW_FILE_AGE`]) is looked at again after
//!   [`ROTATION_CHECK`] too, and so is a scan during which a listed file vanished or was replaced before it
//!   was opened (a rotation in the middle of the scan may have hidden both its old and its new name), and every
//!   scan while a name a file was moved away from is still empty, for at most [`VACATED_WAIT`] (a rotation
//!   creates its new file after the rename, so a scan between the two finds nothing under the name). A move is
//!   a file found under another name than at the previous scan, or a followed file no longer found under its
//!   name and not deleted (renamed to a name no glob matches). [`Tailer::idle_wait`] tells an idle caller to
//!   poll again by then;
//! - a file in which a read found nothing new is read again after `poll_interval`, not on every pass while
//!   other files are busy: no line waits longer than it would if the whole tailer were idle, and the rotated
//!   files a glob keeps open are not read on every pass.
//!
//! Limits (documented, not bugs): two files whose first lines are identical get one id (raise
//! `FirstLinesChecksum::lines` or `ignored_header_bytes` for such files; CRI and exporter lines start with a
//! timestamp); with copytruncate, lines written after the last read and before the truncation are only read if a
//! glob matches the copy; a file created and deleted between two scans (`discover_interval`) is never seen.
//!
//! The start rule: a file present at the very first start (no checkpoint file in the state dir) starts at its end
//! unless `read_from_head`; every other file without a checkpoint starts at 0 — including files that appeared
//! while the daemon was down, which a restart must not skip.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::checkpoint::{CheckpointError, Checkpoints};
use crate::discovery::{Found, PatternError, Scanner};
use crate::events::{PollStats, ReleaseReason, StartFrom, TailEvent};
use crate::fingerprint::{FingerprintStrategy, Fingerprinter};
use crate::watcher::{Change, Opened, StartAt, Watcher};
use crate::FileId;

/// Tailer settings. Build with [`TailerConfig::new`] and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailerConfig {
    /// Glob patterns of files to follow (`*`, `?`, `[..]`, `**`). Include rotated names (`0.log*`,
    /// `events*.log*`) so that files rotated while the daemon was down are drained.
    pub include: Vec<String>,
    /// Glob patterns of paths to leave alone even when an `include` pattern matches them.
    pub exclude: Vec<String>,
    /// Read files present at the very first start from the beginning instead of their end.
    pub read_from_head: bool,
    /// How files are identified.
    pub fingerprint: FingerprintStrategy,
    /// Longest line (without its newline) handed out; longer ones are skipped and reported. Default 1 MiB.
    pub max_line_bytes: usize,
    /// Bytes read from one file per pass before moving to the next. Default 256 KiB.
    pub max_read_bytes: usize,
    /// Sleep after an idle poll, unless an early scan is due sooner ([`Tailer::idle_wait`]). Default 250 ms.
    pub poll_interval: Duration,
    /// Minimum time between two glob scans. Default 1 s.
    pub discover_interval: Duration,
    /// How long a file no glob finds any more is kept open after reaching its end. Default 5 s.
    pub rotate_wait: Duration,
    /// How long the checkpoint of a file that is no longer found is kept. Default 1 h.
    pub forget_after: Duration,
}

impl TailerConfig {
    /// Defaults for the given glob patterns.
    pub fn new(include: Vec<String>) -> TailerConfig {
        TailerConfig {
            include,
            exclude: Vec::new(),
            read_from_head: false,
            fingerprint: FingerprintStrategy::default(),
            max_line_bytes: 1024 * 1024,
            max_read_bytes: 256 * 1024,
            poll_interval: Duration::from_millis(250),
            discover_interval: Duration::from_secs(1),
            rotate_wait: Duration::from_secs(5),
            forget_after: Duration::from_secs(3600),
        }
    }
}

/// Errors that prevent a tailer from starting.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// A glob pattern is invalid.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The initial checkpoints could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// A run of complete lines read from one file.
///
/// `bytes == file[start_offset..end_offset]` (decompressed for gzip), non-empty, ending with `b'\n'`. Lines start
/// at `start_offset` and after each `\n`, so the offset of any line is computable; acknowledge `end_offset` (or a
/// line end inside the chunk) once the records are durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Content id of the file.
    pub file: FileId,
    /// Current path of the file.
    pub path: &'a Path,
    /// The lines.
    pub bytes: &'a [u8],
    /// Offset of `bytes[0]`.
    pub start_offset: u64,
    /// Offset just after the last `\n`.
    pub end_offset: u64,
}

/// A file currently open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    /// Content id.
    pub file: FileId,
    /// Current path.
    pub path: PathBuf,
    /// Offset after the last complete line handed out.
    pub offset: u64,
    /// gzip file.
    pub compressed: bool,
    /// Still matched by a glob (false while draining a rotated-away or deleted file).
    pub findable: bool,
    /// Current size of a plain file (`None` for gzip, whose decompressed size is unknown).
    pub size: Option<u64>,
}

struct Known {
    read_pos: u64,
    last_seen: Instant,
}

/// Follows the files matching a set of globs. Synchronous: call [`Tailer::poll`] in a loop on a thread.
pub struct Tailer {
    config: TailerConfig,
    scanner: Scanner,
    fingerprinter: Fingerprinter,
    checkpoints: Checkpoints,
    watchers: Vec<Watcher>,
    /// The one read buffer the open files take turns in (each keeps only its partial line between passes), so
    /// memory does not grow with the number of files followed.
    block: Vec<u8>,
    known: HashMap<FileId, Known>,
    /// Files (dev, inode, size) with nothing left to read, or that failed: skipped until they change.
    done: HashSet<(u64, u64, u64)>,
    next_discovery: Instant,
    /// Where the last scan found each file, by (device, inode), with its id if it had one.
    last_found: HashMap<(u64, u64), (PathBuf, Option<FileId>)>,
    /// Names a file was moved away from that named nothing at the scan that saw the move, and when that scan
    /// was. A rotation creates its new file after the rename (the kubelet renames, then the runtime reopens), and
    /// a scan between the two sees neither the new file nor anything "too short to identify", so scans come
    /// every [`ROTATION_CHECK`] while such a name is still empty, for at most [`VACATED_WAIT`].
    vacated: HashMap<PathBuf, Instant>,
    /// The next scan comes early (after [`ROTATION_CHECK`]): see [`Tailer::idle_wait`].
    early_scan: bool,
    /// When the open files' paths are next checked for a rotation.
    next_rotation_check: Instant,
    pending_events: Vec<TailEvent>,
    /// Runs between a scan and the opening of what it found, so that a test can rotate files there.
    #[cfg(test)]
    after_scan: Option<Box<dyn FnMut() + Send>>,
}

impl Tailer {
    /// Validates the globs, scans once (files present now are "present at startup") and persists the start
    /// positions registered for files without a checkpoint. Events of the scan come with the first poll.
    pub fn new(config: TailerConfig, checkpoints: Checkpoints) -> Result<Tailer, TailError> {
        let scanner = Scanner::new(&config.include, &config.exclude)?;
        let fingerprinter = Fingerprinter::new(config.fingerprint, config.max_line_bytes);
        let mut tailer = Tailer {
            scanner,
            fingerprinter,
            checkpoints,
            watchers: Vec::new(),
            block: Vec::new(),
            known: HashMap::new(),
            done: HashSet::new(),
            next_discovery: Instant::now(),
            last_found: HashMap::new(),
            vacated: HashMap::new(),
            early_scan: false,
            next_rotation_check: Instant::now(),
            pending_events: Vec::new(),
            #[cfg(test)]
            after_scan: None,
            config,
        };
        let mut events = Vec::new();
        tailer.discover(true, &mut events);
        tailer.pending_events = events;
        tailer.checkpoints.persist()?;
        Ok(tailer)
    }

    /// The configuration in use.
    pub fn config(&self) -> &TailerConfig {
        &self.config
    }

    /// The shared checkpoint table (clone it for the thread that acknowledges).
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// Acknowledges that everything in `file` before `offset` is durable downstream. Same as
    /// `self.checkpoints().ack(file, offset)`; persist with [`Checkpoints::persist`].
    pub fn ack(&self, file: FileId, offset: u64) {
        self.checkpoints.ack(file, offset);
    }

    /// The configured wait between idle polls (an idle caller sleeps [`Tailer::idle_wait`], which is at most
    /// this).
    pub fn poll_interval(&self) -> Duration {
        self.config.poll_interval
    }

    /// How long an idle caller may sleep before the next poll: `poll_interval`, or less when an early scan (after
    /// a rotation, see the module docs) is due sooner, but not less than [`ROTATION_CHECK`] either.
    pub fn idle_wait(&self) -> Duration {
        let poll = self.config.poll_interval;
        if !self.early_scan {
            return poll;
        }
        let until_scan = self
            .next_discovery
            .saturating_duration_since(Instant::now());
        poll.min(until_scan.max(ROTATION_CHECK))
    }

    /// Makes the next poll scan the globs regardless of `discover_interval`.
    pub fn discover_now(&mut self) {
        self.next_discovery = Instant::now();
    }

    /// Files currently open.
    pub fn open_files(&self) -> Vec<OpenFile> {
        self.watchers
            .iter()
            .map(|w| OpenFile {
                file: w.id,
                path: w.path.clone(),
                offset: w.position(),
                compressed: w.compressed,
                findable: w.findable,
                size: w.plain_size(),
            })
            .collect()
    }

    /// Bytes of open plain files not yet acknowledged (size minus checkpoint): the "checkpoint lag" metric.
    pub fn unacked_bytes(&self) -> u64 {
        self.watchers
            .iter()
            .filter_map(|w| {
                let size = w.plain_size()?;
                Some(size.saturating_sub(self.checkpoints.get(&w.id).unwrap_or(0)))
            })
            .sum()
    }

    /// One pass: scan the globs if due, then read each open file (up to `max_read_bytes`), handing complete lines
    /// to `out`. Never sleeps. Per-file problems are reported as [`TailEvent::Error`], not as `Err`.
    pub fn poll(&mut self, out: &mut impl FnMut(Chunk<'_>)) -> io::Result<PollStats> {
        let mut stats = PollStats {
            events: std::mem::take(&mut self.pending_events),
            ..PollStats::default()
        };
        let now = Instant::now();
        if now >= self.next_discovery {
            self.discover(false, &mut stats.events);
        }
        let budget = self.config.max_read_bytes.max(1);
        let check_rotation = now >= self.next_rotation_check;
        if check_rotation {
            self.next_rotation_check = now + ROTATION_CHECK;
        }
        let mut rotated = false;
        let mut index = 0;
        while index < self.watchers.len() {
            let watcher = &mut self.watchers[index];
            let id = watcher.id;
            // Rotated while followed: whatever took its path is picked up by a scan right away.
            if check_rotation
                && !rotated
                && watcher.findable
                && !watcher.compressed
                && !names_same_file(&watcher.path, &watcher.sig)
            {
                rotated = true;
            }
            if watcher.quiet_until.is_some_and(|until| now < until) {
                index += 1;
                continue;
            }
            let mut too_long = Vec::new();
            let result = watcher.read(
                &mut self.block,
                budget,
                &mut self.fingerprinter,
                &mut |path, bytes, start_offset, end_offset| {
                    out(Chunk {
                        file: id,
                        path,
                        bytes,
                        start_offset,
                        end_offset,
                    })
                },
                &mut |offset, length| too_long.push((offset, length)),
            );
            for (offset, length) in too_long {
                stats.events.push(TailEvent::LineTooLong {
                    file: id,
                    path: watcher.path.clone(),
                    offset,
                    length,
                });
            }
            if let Some(known) = self.known.get_mut(&id) {
                known.read_pos = watcher.position();
            }
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(err) => {
                    let watcher = self.watchers.remove(index);
                    if !incomplete_gzip(watcher.compressed, &err) {
                        stats.events.push(TailEvent::Error {
                            path: watcher.path.clone(),
                            message: err.to_string(),
                        });
                    }
                    self.done
                        .insert((watcher.sig.dev, watcher.sig.ino, watcher.sig.len));
                    stats.events.push(release(&watcher, ReleaseReason::Error));
                    continue;
                }
            };
            stats.bytes += outcome.counts.bytes;
            stats.lines += outcome.counts.lines;
            stats.bytes_read += outcome.bytes_read;
            if !outcome.eof && outcome.change.is_none() {
                stats.read_limited = true;
            }
            match outcome.change {
                Some(Change::Restarted { at }) => stats.events.push(TailEvent::Truncated {
                    file: id,
                    path: watcher.path.clone(),
                    offset: at,
                    restarted: true,
                }),
                Some(Change::IdentityLost { at }) => {
                    let watcher = self.watchers.remove(index);
                    stats.events.push(TailEvent::Truncated {
                        file: id,
                        path: watcher.path.clone(),
                        offset: at,
                        restarted: false,
                    });
                    // Look for a copy of the old content, and pick up the new one, right away.
                    self.next_discovery = Instant::now();
                    continue;
                }
                None => {}
            }
            // Nothing new: looked at again after `poll_interval`, as if the whole tailer were idle, instead of
            // on every pass while other files are busy (rotated files stay open and findable by the hundreds).
            watcher.quiet_until =
                (outcome.eof && outcome.bytes_read == 0 && outcome.change.is_none())
                    .then(|| now + self.config.poll_interval);
            if outcome.eof {
                if watcher.compressed {
                    let watcher = self.watchers.remove(index);
                    self.done
                        .insert((watcher.sig.dev, watcher.sig.ino, watcher.sig.len));
                    if watcher.delivered == 0
                        && watcher.opened_at > 0
                        && watcher.pending_bytes() == 0
                    {
                        stats.events.push(TailEvent::GzipSkipped {
                            file: id,
                            path: watcher.path.clone(),
                        });
                    } else {
                        stats
                            .events
                            .push(release(&watcher, ReleaseReason::CompressedDone));
                    }
                    continue;
                }
                if !watcher.findable
                    && now.saturating_duration_since(watcher.last_seen) >= self.config.rotate_wait
                {
                    let watcher = self.watchers.remove(index);
                    let reason = if watcher.is_unlinked() {
                        ReleaseReason::Deleted
                    } else {
                        ReleaseReason::RotatedAway
                    };
                    stats.events.push(release(&watcher, reason));
                    continue;
                }
            }
            index += 1;
        }
        if rotated {
            self.next_discovery = Instant::now();
            stats.read_limited = true;
        }
        stats.files_open = self.watchers.len();
        Ok(stats)
    }

    /// Scans the globs, opens what is new and schedules the next scan: after [`ROTATION_CHECK`] when a matched
    /// file modified in the last [`NEW_FILE_AGE`] could not be identified yet (too short to fingerprint: a
    /// rotation's new file, which may be filled, rotated and deleted within a whole interval), or a file moved
    /// between being listed and being opened (a rotation during the scan: its old and new names may both have
    /// been missed), or while a name a file was moved away from is still empty (see [`Tailer::vacated`]);
    /// otherwise after `discover_interval`.
    fn discover(&mut self, startup: bool, events: &mut Vec<TailEvent>) {
        let now = Instant::now();
        // The files found by the last scan: one this scan does not find keeps that name in `watcher.path`.
        let followed: HashSet<FileId> = self
            .watchers
            .iter()
            .filter(|w| w.findable)
            .map(|w| w.id)
            .collect();
        let scan = self.scanner.scan(&mut self.fingerprinter, events);
        let mut raced = scan.raced;
        let found = scan.found;
        #[cfg(test)]
        if let Some(hook) = self.after_scan.as_mut() {
            hook();
        }
        let recent_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128)
            - NEW_FILE_AGE.as_nanos() as i128;
        let too_short_to_identify = found
            .iter()
            .any(|f| f.probe.id.is_none() && f.sig.mtime_ns >= recent_ns);
        self.drop_replaced_content(&found, events);
        for watcher in &mut self.watchers {
            watcher.findable = false;
        }
        let mut order: Vec<FileId> = Vec::new();
        let mut groups: HashMap<FileId, Vec<&Found>> = HashMap::new();
        for f in &found {
            if let Some(id) = f.probe.id {
                groups
                    .entry(id)
                    .or_insert_with(|| {
                        order.push(id);
                        Vec::new()
                    })
                    .push(f);
            }
        }
        let skip_existing =
            startup && !self.config.read_from_head && self.checkpoints.is_first_start();
        for id in order {
            let members = groups.get(&id).map(Vec::as_slice).unwrap_or_default();
            if let Some(known) = self.known.get_mut(&id) {
                known.last_seen = now;
            }
            if let Some(watcher) = self.watchers.iter_mut().find(|w| w.id == id) {
                let same_file =
                    |f: &&&Found| f.sig.dev == watcher.sig.dev && f.sig.ino == watcher.sig.ino;
                if let Some(found_at) = members.iter().find(same_file) {
                    watcher.findable = true;
                    watcher.last_seen = now;
                    let at_old_path = members
                        .iter()
                        .filter(same_file)
                        .any(|f| f.path == watcher.path);
                    if !at_old_path {
                        events.push(TailEvent::Renamed {
                            file: id,
                            from: watcher.path.clone(),
                            to: found_at.path.clone(),
                        });
                        watcher.path = found_at.path.clone();
                    }
                }
                // Otherwise these are copies of a file still open (a gzip or copy of a renamed-away or deleted
                // file): the open descriptor is drained instead.
                continue;
            }
            let primary = members
                .iter()
                .filter(|f| !self.done.contains(&(f.sig.dev, f.sig.ino, f.sig.len)))
                .min_by_key(|f| (f.probe.compressed, std::cmp::Reverse(f.sig.len)));
            let Some(primary) = primary else {
                if let Some(f) = members.first() {
                    self.checkpoints.touch(&id, &f.path, now);
                }
                continue;
            };
            self.checkpoints.touch(&id, &primary.path, now);
            raced |= self.open(id, primary, skip_existing, events) == Opening::Raced;
        }
        for watcher in &self.watchers {
            self.checkpoints.touch(&watcher.id, &watcher.path, now);
            if let Some(known) = self.known.get_mut(&watcher.id) {
                known.last_seen = now;
            }
        }
        let forget_after = self.config.forget_after;
        for file in self.checkpoints.prune(now, forget_after) {
            events.push(TailEvent::Forgotten { file });
        }
        let open: HashSet<FileId> = self.watchers.iter().map(|w| w.id).collect();
        self.known.retain(|id, k| {
            open.contains(id) || now.saturating_duration_since(k.last_seen) < forget_after
        });
        let present: HashSet<(u64, u64, u64)> = found
            .iter()
            .map(|f| (f.sig.dev, f.sig.ino, f.sig.len))
            .collect();
        self.done.retain(|sig| present.contains(sig));
        let found_at: HashSet<&Path> = found.iter().map(|f| f.path.as_path()).collect();
        // Moved: a file found under another name than at the last scan (the same content, not an inode reused
        // by a new file), or a followed file whose name is now empty and that was not deleted.
        for f in &found {
            if let Some((before, id)) = self.last_found.get(&(f.sig.dev, f.sig.ino)) {
                let same_content = id.is_none() || *id == f.probe.id;
                if *before != f.path && same_content && !found_at.contains(before.as_path()) {
                    self.vacated.entry(before.clone()).or_insert(now);
                }
            }
        }
        for w in &self.watchers {
            let renamed_away = !w.findable && followed.contains(&w.id) && !w.is_unlinked();
            if renamed_away && !found_at.contains(w.path.as_path()) {
                self.vacated.entry(w.path.clone()).or_insert(now);
            }
        }
        let wait = VACATED_WAIT.min(self.config.discover_interval);
        self.vacated.retain(|path, since| {
            !found_at.contains(path.as_path()) && now.saturating_duration_since(*since) < wait
        });
        self.last_found = found
            .iter()
            .map(|f| ((f.sig.dev, f.sig.ino), (f.path.clone(), f.probe.id)))
            .collect();
        self.early_scan = too_short_to_identify || raced || !self.vacated.is_empty();
        self.next_discovery = now
            + if self.early_scan {
                ROTATION_CHECK.min(self.config.discover_interval)
            } else {
                self.config.discover_interval
            };
    }

    /// With checksum ids: an open plain file whose current content has another id was truncated and rewritten.
    fn drop_replaced_content(&mut self, found: &[Found], events: &mut Vec<TailEvent>) {
        if self.config.fingerprint == FingerprintStrategy::DevInode {
            return;
        }
        let mut index = 0;
        while index < self.watchers.len() {
            let w = &self.watchers[index];
            let replaced = !w.compressed
                && found.iter().any(|f| {
                    f.sig.dev == w.sig.dev && f.sig.ino == w.sig.ino && f.probe.id != Some(w.id)
                });
            if replaced {
                let w = self.watchers.remove(index);
                events.push(TailEvent::Truncated {
                    file: w.id,
                    path: w.path.clone(),
                    offset: w.position(),
                    restarted: false,
                });
            } else {
                index += 1;
            }
        }
    }

    fn open(
        &mut self,
        id: FileId,
        found: &Found,
        skip_existing: bool,
        events: &mut Vec<TailEvent>,
    ) -> Opening {
        let (start, from) = if let Some(known) = self.known.get(&id) {
            (StartAt::Offset(known.read_pos), StartFrom::Resumed)
        } else if let Some(offset) = self.checkpoints.get(&id) {
            (StartAt::Offset(offset), StartFrom::Checkpoint)
        } else if skip_existing {
            (StartAt::End, StartFrom::End)
        } else {
            (StartAt::Beginning, StartFrom::Beginning)
        };
        let sig_key = (found.sig.dev, found.sig.ino, found.sig.len);
        let opened = File::open(&found.path).and_then(|file| {
            // The path may have been rotated since discovery fingerprinted it: reading the new file under the
            // old file's id would checkpoint the old id past data never read. Treat it as gone; the next
            // discovery pass probes the new file afresh.
            let meta = file.metadata()?;
            if meta.dev() != found.sig.dev || meta.ino() != found.sig.ino {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "replaced since it was fingerprinted",
                ));
            }
            Watcher::open(
                file,
                found.path.clone(),
                id,
                found.sig,
                found.probe.compressed,
                start,
                self.config.max_line_bytes,
            )
        });
        let now = Instant::now();
        match opened {
            Ok(Opened::Reading {
                watcher,
                truncated_from,
            }) => {
                if let Some(offset) = truncated_from {
                    events.push(TailEvent::Truncated {
                        file: id,
                        path: found.path.clone(),
                        offset,
                        restarted: true,
                    });
                }
                let offset = watcher.position();
                events.push(TailEvent::Opened {
                    file: id,
                    path: found.path.clone(),
                    offset,
                    from,
                    compressed: found.probe.compressed,
                });
                self.checkpoints.register(id, offset, &found.path);
                self.known.insert(
                    id,
                    Known {
                        read_pos: offset,
                        last_seen: now,
                    },
                );
                self.watchers.push(*watcher);
            }
            Ok(Opened::Exhausted { offset }) => {
                let base = match start {
                    StartAt::Offset(want) => want,
                    _ => 0,
                };
                let read_pos = base.max(offset);
                events.push(TailEvent::GzipSkipped {
                    file: id,
                    path: found.path.clone(),
                });
                self.checkpoints.register(id, read_pos, &found.path);
                self.known.insert(
                    id,
                    Known {
                        read_pos,
                        last_seen: now,
                    },
                );
                self.done.insert(sig_key);
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Opening::Raced,
            Err(err) => {
                // A gzip file still being written (`*.gz.tmp`, `*.tmp`) ends early: silently retried once it
                // changes, like any failed file.
                if !incomplete_gzip(found.probe.compressed, &err) {
                    events.push(TailEvent::Error {
                        path: found.path.clone(),
                        message: err.to_string(),
                    });
                }
                self.done.insert(sig_key);
            }
        }
        Opening::Settled
    }
}

/// How an attempt to open a found file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opening {
    /// Opened, found exhausted, or failed (a failure is reported and the file skipped until it changes).
    Settled,
    /// The path no longer named the file the scan identified: a rotation moved it after the scan listed it.
    Raced,
}

/// A gzip stream that ends before its trailer: a compressor is still writing it.
fn incomplete_gzip(compressed: bool, err: &io::Error) -> bool {
    compressed && err.kind() == io::ErrorKind::UnexpectedEof
}

fn release(watcher: &Watcher, reason: ReleaseReason) -> TailEvent {
    TailEvent::Released {
        file: watcher.id,
        path: watcher.path.clone(),
        reason,
        unterminated_bytes: watcher.pending_bytes(),
    }
}

/// A matched file modified this recently that is still too short to identify is probably a rotation's new file
/// being filled: the globs are scanned again after [`ROTATION_CHECK`], not after `discover_interval`. Older
/// short files (a log nothing writes to) do not speed up scanning.
pub const NEW_FILE_AGE: Duration = Duration::from_secs(2);

/// How often the open files' paths are checked for a rotation (see the module docs).
pub const ROTATION_CHECK: Duration = Duration::from_millis(50);

/// How long a name a rotation left empty keeps the scans early (at most `discover_interval`): the gap between
/// the rename and the new file is a CRI call or a `create` in the writer, not seconds.
pub const VACATED_WAIT: Duration = Duration::from_secs(1);

/// Whether `path` still names the file `sig` was taken of (false when it is gone or another file took it).
fn names_same_file(path: &Path, sig: &crate::watcher::Sig) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.dev() == sig.dev && m.ino() == sig.ino)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use super::*;

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    /// A tailer of `dir/0.log*` whose scheduled scans are an hour apart: only early scans happen in a test.
    fn scanning_hourly(dir: &Path, read_from_head: bool) -> Tailer {
        following_hourly(&format!("{}/0.log*", dir.display()), dir, read_from_head)
    }

    /// A tailer of `glob`, its state under `dir`, whose scheduled scans are an hour apart.
    fn following_hourly(glob: &str, dir: &Path, read_from_head: bool) -> Tailer {
        let mut config = TailerConfig::new(vec![glob.to_owned()]);
        config.read_from_head = read_from_head;
        config.poll_interval = Duration::ZERO;
        config.discover_interval = Duration::from_secs(3600);
        Tailer::new(config, Checkpoints::open(&dir.join("state")).unwrap()).unwrap()
    }

    /// `dir/0.log` holding `a`, followed from its head by a tailer scanning hourly that has read that line.
    fn following_a_log(dir: &Path) -> (PathBuf, Tailer) {
        let log = dir.join("0.log");
        append(&log, b"a\n");
        let mut tailer = scanning_hourly(dir, true);
        assert_eq!(lines_read(&mut tailer), ["a\n"]);
        (log, tailer)
    }

    /// Whether the next scan is the hourly one, not an early one.
    fn scheduled_far(tailer: &Tailer) -> bool {
        tailer.next_discovery > Instant::now() + Duration::from_secs(600)
    }

    /// The lines of the next two polls, one [`ROTATION_CHECK`] from now: the poll that notices a rotation and
    /// the scan it asks for.
    fn two_polls(tailer: &mut Tailer) -> Vec<String> {
        std::thread::sleep(ROTATION_CHECK);
        let mut got = lines_read(tailer);
        got.extend(lines_read(tailer));
        got
    }

    fn lines_read(tailer: &mut Tailer) -> Vec<String> {
        let mut got = Vec::new();
        tailer
            .poll(&mut |chunk| got.push(String::from_utf8_lossy(chunk.bytes).into_owned()))
            .unwrap();
        got
    }

    #[test]
    fn a_dangling_symlink_makes_one_early_scan_not_one_every_rotation_check() {
        let dir = tempfile::tempdir().unwrap();
        append(&dir.path().join("0.log"), b"a\n");
        let target = dir.path().join("elsewhere.txt");
        append(&target, b"x\n");
        let link = dir.path().join("0.log.link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut tailer = scanning_hourly(dir.path(), false);
        assert!(scheduled_far(&tailer));

        // The link's target goes away: the file it named vanished, as in a rotation, so the next scan comes soon.
        fs::remove_file(&target).unwrap();
        tailer.discover_now();
        lines_read(&mut tailer);
        assert!(!scheduled_far(&tailer));
        // The link is still there, dangling: no more early scans.
        std::thread::sleep(ROTATION_CHECK);
        lines_read(&mut tailer);
        assert!(scheduled_far(&tailer));
        // A tailer started with the dangling link does not scan early either.
        let checkpoints = Checkpoints::open(&dir.path().join("state2")).unwrap();
        let tailer = Tailer::new(tailer.config.clone(), checkpoints).unwrap();
        assert!(scheduled_far(&tailer));
    }

    #[test]
    fn a_rotation_between_scan_and_open_makes_the_next_scan_come_soon() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut tailer) = following_a_log(dir.path());

        // The kubelet rotates: the new file is listed by the next scan, and rotated in turn before it is opened.
        fs::rename(&log, dir.path().join("0.log.1")).unwrap();
        append(&log, b"b\n");
        let (moved_from, moved_to) = (log.clone(), dir.path().join("0.log.2"));
        tailer.after_scan = Some(Box::new(move || {
            fs::rename(&moved_from, &moved_to).unwrap();
            append(&moved_from, b"c\n");
        }));
        assert_eq!(two_polls(&mut tailer), Vec::<String>::new());
        tailer.after_scan = None;

        // Neither `0.log.2` (listed as `0.log`) nor the new `0.log` was opened; a scan one ROTATION_CHECK later
        // finds both, not one a `discover_interval` (an hour) later.
        let mut got = two_polls(&mut tailer);
        got.sort();
        assert_eq!(got, ["b\n", "c\n"]);
    }

    #[test]
    fn a_name_a_rotation_left_empty_is_scanned_again_soon() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut tailer) = following_a_log(dir.path());

        // The kubelet renames the file; the new one is created only after the scan that sees the rename.
        fs::rename(&log, dir.path().join("0.log.1")).unwrap();
        // The poll that notices the rotation, then the scan it asks for: renamed, `0.log` empty.
        assert_eq!(two_polls(&mut tailer), Vec::<String>::new());
        append(&log, b"b\n");

        // Found one ROTATION_CHECK later, not a `discover_interval` (an hour) later.
        assert_eq!(two_polls(&mut tailer), ["b\n"]);

        // A name that stays empty (the last rotation of a stopped pod) speeds scanning up for VACATED_WAIT only.
        fs::rename(&log, dir.path().join("0.log.2")).unwrap();
        two_polls(&mut tailer);
        assert_eq!(tailer.vacated.len(), 1);
        assert!(tailer.next_discovery <= Instant::now() + ROTATION_CHECK);
        let since = tailer.vacated.values_mut().next().unwrap();
        *since = since.checked_sub(VACATED_WAIT).unwrap();
        std::thread::sleep(ROTATION_CHECK);
        lines_read(&mut tailer);
        assert!(tailer.vacated.is_empty());
        assert!(scheduled_far(&tailer));
    }

    #[test]
    fn a_followed_file_renamed_to_a_name_no_glob_matches_leaves_its_name_scanned_again_soon() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        append(&log, b"a\n");
        let mut tailer = following_hourly(&log.display().to_string(), dir.path(), true);
        assert_eq!(lines_read(&mut tailer), ["a\n"]);

        // logrotate with `olddir`: the file leaves the glob; the application creates `app.log` again after.
        fs::create_dir(dir.path().join("old")).unwrap();
        fs::rename(&log, dir.path().join("old/app.log.1")).unwrap();
        two_polls(&mut tailer);
        append(&log, b"b\n");
        assert_eq!(two_polls(&mut tailer), ["b\n"]);

        // A followed file that is deleted is no rotation: no early scans.
        fs::remove_file(&log).unwrap();
        two_polls(&mut tailer);
        assert!(tailer.vacated.is_empty());
        assert!(scheduled_far(&tailer));
    }

    #[test]
    fn a_new_file_moved_away_before_it_was_followed_leaves_a_name_scanned_again_soon() {
        let dir = tempfile::tempdir().unwrap();
        let (log, mut tailer) = following_a_log(dir.path());

        // Rotated, and the new `0.log` is empty when the scan the rotation asks for lists it: too short to
        // identify, so not followed.
        fs::rename(&log, dir.path().join("0.log.1")).unwrap();
        append(&log, b"");
        two_polls(&mut tailer);
        // Filled and rotated in turn before the next scan, which runs between that rename and the next `0.log`.
        append(&log, b"b\n");
        fs::rename(&log, dir.path().join("0.log.2")).unwrap();
        std::thread::sleep(ROTATION_CHECK);
        assert_eq!(lines_read(&mut tailer), ["b\n"]);
        append(&log, b"c\n");

        // The emptied name is scanned again one ROTATION_CHECK later, not a `discover_interval` (an hour) later,
        // and an idle caller is told to poll by then.
        tailer.config.poll_interval = Duration::from_secs(10);
        assert!(tailer.idle_wait() <= ROTATION_CHECK);
        assert_eq!(two_polls(&mut tailer), ["c\n"]);
        assert!(tailer.vacated.is_empty());
        assert_eq!(tailer.idle_wait(), tailer.poll_interval());
    }
}
