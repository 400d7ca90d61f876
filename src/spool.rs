//! The on-disk spool: every batch is made durable here before any sink sees it (except one the daemon hands
//! straight to its only sink, a local file, while nothing waits here: `crate::deliver::DirectSink`), and is
//! deleted only after every sink acknowledged it.
//!
//! Layout of `<state-dir>/spool/`: one segment file per batch, `<seq:020>.seg`, holding a header (magic, CRC-32
//! of the payload, payload length, record count) and the batch's NDJSON payload. A segment is written to
//! `<seq>.seg.tmp`, fsynced, renamed into place and the directory fsynced, so after a crash a `.seg` file is
//! either complete or detectably torn (length or CRC mismatch); torn or foreign files are moved to
//! `spool/quarantine/`, never crashed on. Each sink marks delivery with an empty `<seq>.seg.done.<sink>` file,
//! except the last one to finish: it removes the segment and the other sinks' markers (with one sink, no marker
//! is written at all). Leftover `.tmp` files are removed at
//! start. The spool's size is tracked so the caller can stop reading when it is full (backpressure).
//!
//! The payloads of the newest segments (at most [`RECENT_SEGMENTS`]) also stay in memory after they were
//! written ([`Spool::append_kept`]), so a delivery loop that keeps up reads them from there instead of copying
//! them back out of the page cache; the file on disk is still the only thing a crash relies on, and a segment
//! not in memory (older, or after a restart) is read from disk. A kept payload's buffer goes back to the writer
//! when its last holder (the in-memory list or a delivery loop, whichever lets go last) drops it, so steady state
//! allocates nothing and the writer never fills freshly mapped pages.
//!
//! A delivered segment's file is not deleted but renamed to `<seq>.free` (at most [`RECYCLED_FILES`] of them) and
//! overwritten by a later segment: the filesystem then reuses its pages and blocks instead of freeing them on
//! delete and allocating new ones on write (on tmpfs that was about a seventh of the daemon's CPU). A recycled
//! file is written, cut to its new length and fsynced under its `.free` name and only then renamed to
//! `<seq>.seg`, so a crash never leaves a `.seg` file holding the old content; a `.free` file is never read, and
//! those left at start are adopted for reuse. They do not count toward the spool's size.
//!
//! See ARCHITECTURE.md ("spool").

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const MAGIC: &[u8; 8] = b"HISPOOL1";
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// A segment's identity: its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

/// How many of the newest segments' payloads stay in memory for delivery: one, the segment a delivery loop that
/// keeps up reads next (one it already reads stays with it until it is done). Each one kept holds a segment's
/// worth of buffers (about 4 MiB), which is most of the daemon's memory.
pub const RECENT_SEGMENTS: usize = 1;

/// How many delivered segments' files are kept (as `<seq>.free`) to be overwritten by new segments.
pub const RECYCLED_FILES: usize = 4;

/// How many emptied buffers wait to be filled again ([`Spool::spare_buffer`]): one segment's pieces even when
/// batches are small (stdin's blocks make about 40 per 4 MiB segment, a followed file's about 10). The spares only
/// ever hold what delivered segments gave back, so a larger bound costs no memory of its own.
const SPARE_BUFFERS: usize = 40;

/// Emptied payload buffers, shared by the spool and the payloads it keeps in memory.
type Spares = Arc<Mutex<Vec<Vec<u8>>>>;

/// A segment's NDJSON payload, in pieces that each end at a record boundary: the buffers the writer handed to
/// [`Spool::append_kept`] (written one after the other, never joined), or one piece read back from disk. A kept
/// payload hands its buffers back to the spool when its last holder drops it; one read from disk is freed.
#[derive(Debug)]
pub struct Payload {
    pieces: Vec<Vec<u8>>,
    spares: Option<Spares>,
}

impl Payload {
    /// The records, in order.
    pub fn pieces(&self) -> &[Vec<u8>] {
        &self.pieces
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if let Some(spares) = &self.spares {
            give_back(spares, &mut self.pieces);
        }
    }
}

/// Empties `pieces` into `spares` (up to [`SPARE_BUFFERS`]; the rest are freed, as is everything when the lock
/// is poisoned).
fn give_back(spares: &Spares, pieces: &mut Vec<Vec<u8>>) {
    let mut spares = spares.lock().ok();
    for mut buf in pieces.drain(..) {
        match &mut spares {
            Some(spares) if spares.len() < SPARE_BUFFERS => {
                buf.clear();
                spares.push(buf);
            }
            _ => {}
        }
    }
}

/// A segment read back (from memory when it is one of the newest, else from disk).
#[derive(Debug)]
pub struct Segment {
    /// Its id.
    pub id: SegmentId,
    /// NDJSON payload.
    pub payload: Arc<Payload>,
    /// Records in the payload.
    pub records: u64,
}

/// What happened to a file that could not be read as a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Where it was moved.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    next: Mutex<u64>,
    bytes: AtomicU64,
    segments: AtomicU64,
    max_bytes: u64,
    /// The newest segments' payloads (at most [`RECENT_SEGMENTS`]), oldest first.
    recent: Mutex<VecDeque<(SegmentId, u64, Arc<Payload>)>>,
    /// Buffers of kept payloads that every holder has let go of, for the writer's next batch.
    spares: Spares,
    /// Delivered segments' files waiting to be overwritten (`<seq>.free`), at most [`RECYCLED_FILES`].
    recycled: Mutex<Vec<PathBuf>>,
}

impl Spool {
    /// Opens (creating) the spool under `dir`: removes leftover temp files and delivery markers whose segment is
    /// gone, measures what is queued, and continues the sequence after every number still named on disk, so a
    /// number is never reused while anything refers to it.
    /// Recycled files (`.free`) are adopted for reuse, up to [`RECYCLED_FILES`]; any beyond are removed.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut segments = std::collections::HashSet::new();
        let mut markers = Vec::new();
        let mut recycled = Vec::new();
        let mut max_seq = 0u64;
        let mut bytes = 0u64;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                fs::remove_file(entry.path())?;
                continue;
            }
            if let Some(seq) = parse_recycled_name(&name) {
                max_seq = max_seq.max(seq + 1);
                if recycled.len() < RECYCLED_FILES {
                    recycled.push(entry.path());
                } else {
                    fs::remove_file(entry.path())?;
                }
                continue;
            }
            if let Some(seq) = parse_segment_name(&name) {
                max_seq = max_seq.max(seq + 1);
                bytes += entry.metadata()?.len();
                segments.insert(seq);
            } else if let Some(seq) = parse_marker_name(&name) {
                max_seq = max_seq.max(seq + 1);
                markers.push((seq, entry.path()));
            }
        }
        let mut removed = false;
        for (seq, path) in markers {
            if !segments.contains(&seq) {
                fs::remove_file(path)?;
                removed = true;
            }
        }
        if removed {
            sync_dir(dir)?;
        }
        Ok(Spool {
            dir: dir.to_owned(),
            next: Mutex::new(max_seq),
            bytes: AtomicU64::new(bytes),
            segments: AtomicU64::new(segments.len() as u64),
            max_bytes,
            recent: Mutex::default(),
            spares: Spares::default(),
            recycled: Mutex::new(recycled),
        })
    }

    /// Segments queued.
    pub fn segments(&self) -> u64 {
        self.segments.load(Ordering::Relaxed)
    }

    /// Removes segments every one of `all_sinks` marked delivered: left by a removal that failed (its last sink
    /// then leaves a marker too), or by a crash between the markers and the removal of a segment of several sinks
    /// when the sinks change between runs. Returns how many were removed.
    pub fn collect_delivered(&self, all_sinks: &[String]) -> io::Result<usize> {
        let mut n = 0;
        for id in self.list()? {
            if all_sinks.iter().all(|s| self.is_done(id, s)) {
                self.remove_segment(id)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Bytes queued in segments.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the spool holds at least its configured maximum (sources should pause).
    pub fn is_full(&self) -> bool {
        self.bytes() >= self.max_bytes
    }

    /// Writes a batch durably and returns its id. On return the segment survives a crash. On an error after
    /// the rename (the directory sync) the segment is queued all the same, and may not survive a crash.
    pub fn append(&self, payload: &[u8], records: u64) -> io::Result<SegmentId> {
        self.append_pieces(&[payload], records)
    }

    /// [`Spool::append`] of the records in `pieces`, one after the other.
    fn append_pieces<P: AsRef<[u8]>>(&self, pieces: &[P], records: u64) -> io::Result<SegmentId> {
        let seq = {
            let mut next = self
                .next
                .lock()
                .map_err(|_| io::Error::other("spool lock poisoned"))?;
            let s = *next;
            *next += 1;
            s
        };
        let final_path = self.segment_path(SegmentId(seq));
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        let mut crc = crc32fast::Hasher::new();
        let mut len = 0usize;
        for piece in pieces {
            crc.update(piece.as_ref());
            len += piece.as_ref().len();
        }
        header[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
        header[12..20].copy_from_slice(&(len as u64).to_le_bytes());
        header[20..28].copy_from_slice(&records.to_le_bytes());
        // A recycled file is overwritten in place; without one, a new file is written under a temporary name.
        let recycled = self.recycled.lock().ok().and_then(|mut r| r.pop());
        let opened = recycled
            .as_ref()
            .and_then(|path| OpenOptions::new().write(true).open(path).ok());
        let (written_path, file, is_recycled) = match (recycled, opened) {
            (Some(path), Some(f)) => (path, f, true),
            // None waiting, or it is gone (removed by hand): a new file.
            _ => {
                let tmp = final_path.with_extension("seg.tmp");
                let f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
                (tmp, f, false)
            }
        };
        if let Err(e) = write_segment(file, &header, pieces, len) {
            // A recycled file goes back to the pool; a temporary one is removed at the next start.
            if is_recycled {
                if let Ok(mut r) = self.recycled.lock() {
                    r.push(written_path);
                }
            }
            return Err(e);
        }
        fs::rename(&written_path, &final_path)?;
        // Counted as soon as it is there under its name, even if the directory sync below fails: the delivery
        // loop will find it, and nothing may overtake it (`DirectSink` asks for an empty spool).
        self.bytes
            .fetch_add((HEADER_LEN + len) as u64, Ordering::Relaxed);
        self.segments.fetch_add(1, Ordering::Relaxed);
        sync_dir(&self.dir)?;
        Ok(SegmentId(seq))
    }

    /// Writes the records in `pieces` durably like [`Spool::append`], then keeps them in memory for the
    /// delivery loops and leaves `pieces` empty. On error `pieces` is untouched, so the caller can retry.
    pub fn append_kept(&self, pieces: &mut Vec<Vec<u8>>, records: u64) -> io::Result<SegmentId> {
        let id = self.append_pieces(pieces, records)?;
        let written = Payload {
            pieces: std::mem::take(pieces),
            spares: Some(Arc::clone(&self.spares)),
        };
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_SEGMENTS {
                recent.pop_front();
            }
            recent.push_back((id, records, Arc::new(written)));
        }
        Ok(id)
    }

    /// Takes back the buffers of a batch that was delivered without being spooled (see
    /// [`crate::deliver::DirectSink`]), for [`Spool::spare_buffer`]; leaves `pieces` empty.
    pub fn recycle(&self, pieces: &mut Vec<Vec<u8>>) {
        give_back(&self.spares, pieces);
    }

    /// An empty buffer to fill with records for [`Spool::append_kept`]: one a delivered payload gave back when
    /// there is one, so steady state allocates nothing and fills no freshly mapped pages.
    pub fn spare_buffer(&self) -> Vec<u8> {
        self.spares
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_default()
    }

    /// Segments currently queued, oldest first.
    pub fn list(&self) -> io::Result<Vec<SegmentId>> {
        let mut ids: Vec<SegmentId> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_segment_name(&e.file_name().to_string_lossy()))
            .map(SegmentId)
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Reads a segment back. A torn or corrupt one is moved to `quarantine/` and reported as `Err(Ok(..))`.
    pub fn read(&self, id: SegmentId) -> Result<Segment, Result<Quarantined, io::Error>> {
        if let Ok(recent) = self.recent.lock() {
            if let Some((_, records, payload)) = recent.iter().find(|k| k.0 == id) {
                return Ok(Segment {
                    id,
                    payload: Arc::clone(payload),
                    records: *records,
                });
            }
        }
        let path = self.segment_path(id);
        // Header and payload are read apart, so the payload lands in its own exactly sized buffer.
        let mut header = Vec::with_capacity(HEADER_LEN);
        let mut payload = Vec::new();
        File::open(&path)
            .and_then(|mut f| {
                (&mut f).take(HEADER_LEN as u64).read_to_end(&mut header)?;
                f.read_to_end(&mut payload)
            })
            .map_err(Err)?;
        match check(&header, &payload) {
            Ok(records) => Ok(Segment {
                id,
                payload: Arc::new(Payload {
                    pieces: vec![payload],
                    spares: None,
                }),
                records,
            }),
            Err(reason) => {
                let len = (header.len() + payload.len()) as u64;
                Err(self.quarantine(id, &path, len, reason))
            }
        }
    }

    /// Takes a segment that left the queue out of memory.
    fn forget_payload(&self, id: SegmentId) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.retain(|k| k.0 != id);
        }
    }

    fn quarantine(
        &self,
        id: SegmentId,
        path: &Path,
        len: u64,
        reason: String,
    ) -> Result<Quarantined, io::Error> {
        let qdir = self.dir.join("quarantine");
        fs::create_dir_all(&qdir)?;
        let dest = qdir.join(format!("{:020}.seg", id.0));
        self.forget_payload(id);
        self.remove_markers(id)?;
        fs::rename(path, &dest)?;
        sync_dir(&self.dir)?;
        self.forget(len);
        Ok(Quarantined { path: dest, reason })
    }

    /// Whether `sink` already delivered segment `id`.
    pub fn is_done(&self, id: SegmentId, sink: &str) -> bool {
        self.marker_path(id, sink).exists()
    }

    /// Records that `sink` delivered segment `id`; removes the segment when every sink in `all_sinks` has.
    /// Returns whether the segment was removed.
    ///
    /// The last sink to finish writes no marker: removing the segment is what records that it is done (a crash
    /// before the removal delivers the segment again to that sink, as a crash before its marker would). With one
    /// sink, no marker is ever written.
    pub fn mark_done(&self, id: SegmentId, sink: &str, all_sinks: &[String]) -> io::Result<bool> {
        if all_sinks.iter().any(|s| s != sink && !self.is_done(id, s)) {
            self.write_marker(id, sink)?;
            // Another sink's loop may have finished in the meantime.
            if !all_sinks.iter().all(|s| self.is_done(id, s)) {
                sync_dir(&self.dir)?;
                return Ok(false);
            }
        }
        if let Err(e) = self.remove_segment(id) {
            // Leave this sink's marker, so that its loop does not deliver the segment again and again while the
            // removal fails; the segment is removed at the next start (`collect_delivered`).
            let _ = self.write_marker(id, sink);
            return Err(e);
        }
        Ok(true)
    }

    /// Removes a delivered segment: its markers first, then the segment, so a crash in between leaves a
    /// segment that is delivered again (a duplicate), never a marker that could claim a later segment.
    fn remove_segment(&self, id: SegmentId) -> io::Result<()> {
        let path = self.segment_path(id);
        let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        self.forget_payload(id);
        if self.remove_markers(id)? > 0 {
            sync_dir(&self.dir)?;
        }
        self.recycle_or_remove(id, &path)?;
        // Its name is gone: no longer queued, whether or not the directory sync below works.
        self.forget(len);
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// Renames a delivered segment's file to `<seq>.free` for a later segment to overwrite, or removes it when
    /// [`RECYCLED_FILES`] are already waiting.
    fn recycle_or_remove(&self, id: SegmentId, path: &Path) -> io::Result<()> {
        if let Ok(mut recycled) = self.recycled.lock() {
            if recycled.len() < RECYCLED_FILES {
                let free = self.dir.join(format!("{:020}.free", id.0));
                fs::rename(path, &free)?;
                recycled.push(free);
                return Ok(());
            }
        }
        fs::remove_file(path)
    }

    /// Accounts for a segment of `len` bytes that left the queue.
    fn forget(&self, len: u64) {
        let _ = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some(b.saturating_sub(len))
            });
        let _ = self
            .segments
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Writes (and fsyncs) `sink`'s delivery marker of segment `id`.
    fn write_marker(&self, id: SegmentId, sink: &str) -> io::Result<()> {
        File::create(self.marker_path(id, sink))?.sync_all()
    }

    /// Removes the markers of segment `id`; returns how many there were.
    fn remove_markers(&self, id: SegmentId) -> io::Result<usize> {
        let prefix = format!("{:020}.seg.done.", id.0);
        let mut removed = 0;
        for e in fs::read_dir(&self.dir)?.filter_map(|e| e.ok()) {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                fs::remove_file(e.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn segment_path(&self, id: SegmentId) -> PathBuf {
        self.dir.join(format!("{:020}.seg", id.0))
    }

    fn marker_path(&self, id: SegmentId, sink: &str) -> PathBuf {
        self.dir
            .join(format!("{:020}.seg.done.{}", id.0, marker_name(sink)))
    }
}

/// A file-name-safe form of a sink name.
fn marker_name(sink: &str) -> String {
    sink.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn parse_marker_name(name: &str) -> Option<u64> {
    let (seg, _sink) = name.split_once(".seg.done.")?;
    parse_seq(seg)
}

fn parse_recycled_name(name: &str) -> Option<u64> {
    parse_seq(name.strip_suffix(".free")?)
}

fn parse_segment_name(name: &str) -> Option<u64> {
    parse_seq(name.strip_suffix(".seg")?)
}

/// The sequence number of a file-name stem: exactly 20 digits.
fn parse_seq(stem: &str) -> Option<u64> {
    (stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// Writes a segment's header and payload from the start of `f`, cuts whatever followed (a recycled file may be
/// longer) and fsyncs it.
fn write_segment<P: AsRef<[u8]>>(
    mut f: File,
    header: &[u8],
    pieces: &[P],
    len: usize,
) -> io::Result<()> {
    f.write_all(header)?;
    for piece in pieces {
        f.write_all(piece.as_ref())?;
    }
    f.set_len((header.len() + len) as u64)?;
    f.sync_all()
}

/// Checks a segment's header against its payload; returns its record count.
fn check(header: &[u8], payload: &[u8]) -> Result<u64, String> {
    if header.len() < HEADER_LEN {
        return Err(format!("torn header ({} bytes)", header.len()));
    }
    if &header[..8] != MAGIC {
        return Err("not a spool segment (bad magic)".into());
    }
    let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&header[12..20]);
    let len = u64::from_le_bytes(len8);
    let mut rec8 = [0u8; 8];
    rec8.copy_from_slice(&header[20..28]);
    if payload.len() as u64 != len {
        return Err(format!("torn payload ({} of {len} bytes)", payload.len()));
    }
    if crc32fast::hash(payload) != crc {
        return Err("payload checksum mismatch".into());
    }
    Ok(u64::from_le_bytes(rec8))
}

/// fsyncs a directory so a rename or create in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_and_delete_when_all_sinks_are_done() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 1 << 20).unwrap();
        let a = s.append(b"{\"a\":1}\n", 1).unwrap();
        let b = s.append(b"{\"b\":2}\n{\"b\":3}\n", 2).unwrap();
        assert_eq!(s.list().unwrap(), vec![a, b]);
        let seg = s.read(b).unwrap();
        assert_eq!(seg.records, 2);
        assert_eq!(seg.payload.pieces().concat(), b"{\"b\":2}\n{\"b\":3}\n");
        let sinks = vec!["file:/x".to_owned(), "adx".to_owned()];
        assert!(!s.mark_done(a, "adx", &sinks).unwrap());
        assert!(s.is_done(a, "adx"));
        assert!(s.mark_done(a, "file:/x", &sinks).unwrap());
        assert_eq!(s.list().unwrap(), vec![b]);
        let markers = || {
            fs::read_dir(d.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| parse_marker_name(&e.file_name().to_string_lossy()).is_some())
                .count()
        };
        assert_eq!(
            markers(),
            0,
            "the last sink writes no marker, the others' are gone"
        );
        // Reopen: sequence continues, size is measured.
        drop(s);
        let s = Spool::open(d.path(), 10).unwrap();
        assert!(s.is_full());
        let c = s.append(b"x\n", 1).unwrap();
        assert!(c > b);
        // With one sink, a delivered segment leaves no marker behind.
        assert!(s.mark_done(c, "adx", &["adx".to_owned()]).unwrap());
        assert_eq!(s.list().unwrap(), vec![b]);
        assert_eq!(markers(), 0);
    }

    #[test]
    fn kept_payloads_read_like_the_disk_and_their_buffers_are_reused() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 1 << 30).unwrap();
        let sinks = vec!["adx".to_owned()];
        let mut ids = Vec::new();
        for i in 0..4u64 {
            // Two pieces, written one after the other.
            let mut pieces = vec![
                format!("{{\"n\":{i}}}\n").into_bytes(),
                b"{\"m\":0}\n".to_vec(),
            ];
            ids.push(s.append_kept(&mut pieces, 2).unwrap());
            assert!(pieces.is_empty(), "the pieces were taken");
        }
        // The newest RECENT_SEGMENTS are in memory, the older ones only on disk; all read the same.
        let in_memory = |id: SegmentId| s.recent.lock().unwrap().iter().any(|k| k.0 == id);
        assert_eq!(
            ids.iter().map(|&id| in_memory(id)).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        for (i, &id) in ids.iter().enumerate() {
            let seg = s.read(id).unwrap();
            assert_eq!(
                seg.payload.pieces().concat(),
                format!("{{\"n\":{i}}}\n{{\"m\":0}}\n").as_bytes()
            );
            assert_eq!(seg.records, 2);
        }
        assert_eq!(
            s.read(ids[0]).unwrap().payload.pieces().len(),
            1,
            "from disk"
        );
        assert_eq!(s.read(ids[3]).unwrap().payload.pieces().len(), 2, "kept");
        // The three evicted from memory gave their buffers back already (nothing held them).
        assert_eq!(s.spares.lock().unwrap().len(), 6);
        s.spares.lock().unwrap().clear();
        // Removing a delivered segment forgets its payload; a later read goes to disk and finds nothing.
        let held = s.read(ids[3]).unwrap();
        let held_ptrs: Vec<_> = held.payload.pieces().iter().map(|p| p.as_ptr()).collect();
        assert!(s.mark_done(ids[3], "adx", &sinks).unwrap());
        assert!(!in_memory(ids[3]));
        assert!(matches!(s.read(ids[3]), Err(Err(_))));
        // Its buffers return, emptied, when the delivery loop lets go of it, and are handed out again.
        assert!(s.spares.lock().unwrap().is_empty(), "still held");
        drop(held);
        let mut spares: Vec<_> = (0..2).map(|_| s.spare_buffer()).collect();
        assert!(spares.iter().all(|b| b.is_empty() && b.capacity() > 0));
        spares.sort_by_key(|b| b.as_ptr());
        let mut expected = held_ptrs;
        expected.sort();
        assert_eq!(
            spares.iter().map(|b| b.as_ptr()).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(s.spare_buffer().capacity(), 0, "none left: a new one");
        // What is on disk is what was kept.
        drop(s);
        let s = Spool::open(d.path(), 1 << 30).unwrap();
        assert_eq!(
            s.read(ids[2]).unwrap().payload.pieces().concat(),
            b"{\"n\":2}\n{\"m\":0}\n"
        );
    }

    #[test]
    fn delivered_files_are_overwritten_by_new_segments_and_never_read() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 1 << 30).unwrap();
        let sinks = vec!["adx".to_owned()];
        let long = vec![b'L'; 10_000];
        let ids: Vec<_> = (0..RECYCLED_FILES + 2)
            .map(|_| s.append(&long, 1).unwrap())
            .collect();
        for &id in &ids {
            assert!(s.mark_done(id, "adx", &sinks).unwrap());
        }
        // Only RECYCLED_FILES wait; the rest were removed; none is a segment.
        let names = |d: &Path| {
            let mut v: Vec<String> = fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let free = names(d.path());
        assert_eq!(free.len(), RECYCLED_FILES, "{free:?}");
        assert!(free.iter().all(|n| n.ends_with(".free")), "{free:?}");
        assert!(s.list().unwrap().is_empty());
        assert_eq!((s.bytes(), s.segments()), (0, 0));
        // A shorter segment overwrites one: its old tail is cut, it reads back exactly, and it was not a new
        // file (the inode is one of the recycled ones).
        let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
        let free_inodes: Vec<u64> = free.iter().map(|n| inode(&d.path().join(n))).collect();
        let short = s.append(b"{\"short\":1}\n", 1).unwrap();
        let seg_path = d.path().join(format!("{:020}.seg", short.0));
        assert!(free_inodes.contains(&inode(&seg_path)));
        assert_eq!(
            fs::metadata(&seg_path).unwrap().len(),
            (HEADER_LEN + 12) as u64
        );
        assert_eq!(
            s.read(short).unwrap().payload.pieces().concat(),
            b"{\"short\":1}\n"
        );
        assert_eq!(names(d.path()).len(), RECYCLED_FILES);
        // Reopened, the waiting files are adopted (not segments, not counted), the sequence goes on past them,
        // and a segment written then still reads back.
        drop(s);
        fs::write(
            d.path().join("00000000000000000999.free"),
            b"HISPOOL1 stale bytes",
        )
        .unwrap();
        let s = Spool::open(d.path(), 1 << 30).unwrap();
        assert_eq!(s.list().unwrap(), vec![short]);
        assert_eq!(s.segments(), 1);
        assert_eq!(s.bytes(), (HEADER_LEN + 12) as u64);
        assert_eq!(
            s.recycled.lock().unwrap().len(),
            RECYCLED_FILES,
            "one was removed"
        );
        let next = s.append(b"x\n", 1).unwrap();
        assert!(next.0 > 999);
        assert_eq!(s.read(next).unwrap().payload.pieces().concat(), b"x\n");
        assert!(
            names(d.path()).iter().all(|n| !n.ends_with(".tmp")),
            "a recycled file was used, not a new one"
        );
    }

    #[test]
    fn orphan_markers_are_removed_and_never_claim_a_new_segment() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 1 << 20).unwrap();
        let a = s.append(b"a\n", 1).unwrap();
        // A crash between removing segment `a` and its marker leaves the marker alone.
        File::create(d.path().join(format!("{:020}.seg.done.adx", a.0))).unwrap();
        fs::remove_file(d.path().join(format!("{:020}.seg", a.0))).unwrap();
        let s = Spool::open(d.path(), 1 << 20).unwrap();
        assert!(!d.path().join(format!("{:020}.seg.done.adx", a.0)).exists());
        let b = s.append(b"b\n", 1).unwrap();
        assert!(
            !s.is_done(b, "adx"),
            "a new segment must not look delivered"
        );
        assert_eq!(s.segments(), 1);
        // Fully delivered but not removed (crash after the last marker): collected at start.
        File::create(d.path().join(format!("{:020}.seg.done.adx", b.0))).unwrap();
        assert_eq!(s.collect_delivered(&["adx".to_owned()]).unwrap(), 1);
        assert!(s.list().unwrap().is_empty());
        assert_eq!(s.segments(), 0);
    }

    #[test]
    fn torn_segments_are_quarantined() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 1 << 20).unwrap();
        let a = s.append(b"{\"a\":1}\n{\"a\":2}\n", 2).unwrap();
        let path = d.path().join(format!("{:020}.seg", a.0));
        let data = fs::read(&path).unwrap();
        fs::write(&path, &data[..data.len() - 3]).unwrap();
        std::fs::write(d.path().join("00000000000000000009.seg.tmp"), b"partial").unwrap();
        let s = Spool::open(d.path(), 1 << 20).unwrap();
        assert!(!d.path().join("00000000000000000009.seg.tmp").exists());
        match s.read(a) {
            Err(Ok(q)) => {
                assert!(q.reason.contains("torn payload"), "{}", q.reason);
                assert!(q.path.exists());
            }
            other => panic!("{other:?}"),
        }
        assert!(s.list().unwrap().is_empty());
    }
}
