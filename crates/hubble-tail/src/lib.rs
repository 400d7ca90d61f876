//! `hubble-tail`: follow log files by path across rotation, with content fingerprints and durable checkpoints.
//!
//! A synchronous library (std only) in the style of Vector's `file` source: a polling loop ([`Tailer::poll`])
//! re-globs the configured patterns, identifies files by a checksum of their first lines (decompressed, so a
//! gzip copy has the id of its original), and reads every open file through its descriptor, so renames and
//! deletions never lose what was written before them. It hands out runs of complete lines with their offsets
//! ([`Chunk`]); the caller acknowledges offsets once records are durable ([`Checkpoints::ack`]) and persists
//! them ([`Checkpoints::persist`]); a restart resumes from the acknowledged offsets (at-least-once).
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
pub use tailer::{Chunk, OpenFile, TailError, Tailer, TailerConfig};
