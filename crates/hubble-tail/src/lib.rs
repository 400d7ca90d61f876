//! `hubble-tail`: follow log files by path across rotation, with content fingerprints and durable checkpoints.
//!
//! A synchronous library (std only) in the style of Vector's `file` source: a polling loop ([`Tailer::poll`])
//! re-globs the configured patterns, identifies files by a checksum of their first lines (decompressed, so a
//! gzip copy has the id of its original), and reads every open file through its descriptor, so renames and
//! deletions never lose what was written before them. It hands out runs of complete lines with their offsets
//! ([`Chunk`]); the caller acknowledges offsets once records are durable ([`Checkpoints::ack`]) and persists
//! them ([`Checkpoints::persist`]); a restart resumes from the acknowledged offsets (at-least-once).
//!
//! The daemon's loop (the spool side acknowledges from another thread through a clone of the checkpoints):
//!
//! ```
//! use hubble_tail::{Checkpoints, Tailer, TailerConfig};
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::write(dir.path().join("0.log"), "2025-01-23T07:50:22Z stdout F {}\n").unwrap();
//! let glob = dir.path().join("0.log*").to_string_lossy().into_owned();
//! let checkpoints = Checkpoints::open(&dir.path().join("state"))?;
//! let mut config = TailerConfig::new(vec![glob]);
//! config.read_from_head = true;
//! let mut tailer = Tailer::new(config, checkpoints.clone())?;
//! let mut batch = Vec::new();
//! let stats = tailer.poll(&mut |chunk| {
//!     // Frame chunk.bytes into records; remember (file, end_offset) with the batch.
//!     batch.push((chunk.file, chunk.end_offset));
//! })?;
//! for event in &stats.events {
//!     let _metric_label = event.kind(); // "opened", "renamed", "truncated", "deleted", "gzip_skipped", ...
//! }
//! // ... once the batch is durable in the spool (any thread):
//! for (file, end) in batch {
//!     checkpoints.ack(file, end);
//! }
//! checkpoints.persist()?;
//! if stats.is_idle() {
//!     std::thread::sleep(tailer.idle_wait());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map: [`file_id`](FileId) (identity type), `fingerprint` (strategies), `checkpoint` (persisted offsets),
//! `lines` (line assembly), `watcher` (one open file), `discovery` (globs), `tailer` (rules), `events` (reports).

#[cfg(not(unix))]
compile_error!("hubble-tail needs a Unix platform (device/inode numbers, pread)");

mod checkpoint;
mod discovery;
mod events;
mod file_id;
mod fingerprint;
mod lines;
mod tailer;
mod watcher;

pub use checkpoint::{Checkpoint, CheckpointError, Checkpoints, CHECKPOINT_FILE};
pub use discovery::PatternError;
pub use events::{PollStats, ReleaseReason, StartFrom, TailEvent};
pub use file_id::FileId;
pub use fingerprint::{is_gzip, FingerprintStrategy, Fingerprinter, Probe, GZIP_MAGIC};
pub use tailer::{Chunk, OpenFile, TailError, Tailer, TailerConfig, ROTATION_CHECK};
