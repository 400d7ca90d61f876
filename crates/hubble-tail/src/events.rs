//! What a poll reports besides data: [`PollStats`] and the [`TailEvent`]s the daemon logs and counts.
//!
//! Owns only value types; guarantees every event names the file id and path it concerns (except `Error`, which
//! may concern a path that has no id yet) and that [`TailEvent::kind`] is a stable metric label.

use std::path::PathBuf;

use crate::FileId;

/// Where reading of a newly opened file started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// Offset 0: a file that appeared while running, or any file with `read_from_head`, or a restart.
    Beginning,
    /// End of the last complete line: a file present at the very first start without `read_from_head`.
    End,
    /// The persisted (acknowledged) checkpoint.
    Checkpoint,
    /// The position this tailer already read to (a copy or a reappearing file it knows).
    Resumed,
}

/// Why an open file was let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseReason {
    /// The file was deleted; it was drained through the open descriptor first.
    Deleted,
    /// The file was renamed to a path no glob matches; drained first.
    RotatedAway,
    /// A gzip file was read to its end (gzip files never grow).
    CompressedDone,
    /// Reading failed (see the preceding `Error` event).
    Error,
}

/// Something that happened to a followed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailEvent {
    /// A file was opened for reading.
    Opened {
        /// Content id.
        file: FileId,
        /// Path it was found at.
        path: PathBuf,
        /// First offset that will be read.
        offset: u64,
        /// Why reading starts there.
        from: StartFrom,
        /// The file is gzip (offsets are in decompressed bytes).
        compressed: bool,
    },
    /// An open file was found under a new path (rename rotation).
    Renamed {
        /// Content id.
        file: FileId,
        /// Previous path.
        from: PathBuf,
        /// New path.
        to: PathBuf,
    },
    /// A file shrank below the read offset, or its content was replaced (copytruncate).
    Truncated {
        /// Content id the file had.
        file: FileId,
        /// Path of the file.
        path: PathBuf,
        /// Offset that had been read when the truncation was noticed.
        offset: u64,
        /// `true`: same content id, reading restarted at 0. `false`: new content; the old id is released (and
        /// resumed from a copy if a glob matches one) and the new content is picked up as a new file.
        restarted: bool,
    },
    /// An open file was closed.
    Released {
        /// Content id.
        file: FileId,
        /// Last path.
        path: PathBuf,
        /// Why.
        reason: ReleaseReason,
        /// Bytes of a final line without newline that were never delivered.
        unterminated_bytes: u64,
    },
    /// A gzip copy of a file that had already been read to (at least) the copy's end was skipped.
    GzipSkipped {
        /// Content id.
        file: FileId,
        /// Path of the gzip file.
        path: PathBuf,
    },
    /// A line longer than `max_line_bytes` was skipped.
    LineTooLong {
        /// Content id.
        file: FileId,
        /// Path.
        path: PathBuf,
        /// Offset of the line's first byte.
        offset: u64,
        /// Length including the newline.
        length: u64,
    },
    /// A checkpoint of a file not seen for `forget_after` was dropped.
    Forgotten {
        /// Content id.
        file: FileId,
    },
    /// Fingerprinting, opening or reading a file failed; it is retried when the file changes.
    Error {
        /// The file.
        path: PathBuf,
        /// The error, as text.
        message: String,
    },
}

impl TailEvent {
    /// Stable lower-case label, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TailEvent::Opened { .. } => "opened",
            TailEvent::Renamed { .. } => "renamed",
            TailEvent::Truncated { .. } => "truncated",
            TailEvent::Released {
                reason: ReleaseReason::Deleted,
                ..
            } => "deleted",
            TailEvent::Released { .. } => "released",
            TailEvent::GzipSkipped { .. } => "gzip_skipped",
            TailEvent::LineTooLong { .. } => "line_too_long",
            TailEvent::Forgotten { .. } => "forgotten",
            TailEvent::Error { .. } => "error",
        }
    }
}

/// Outcome of one [`crate::Tailer::poll`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Bytes handed out in chunks (complete lines).
    pub bytes: u64,
    /// Lines handed out.
    pub lines: u64,
    /// Bytes read from files (decompressed), including partial and skipped lines.
    pub bytes_read: u64,
    /// Files open after the poll.
    pub files_open: usize,
    /// Some file hit `max_read_bytes`: more is waiting, poll again without sleeping.
    pub read_limited: bool,
    /// Events, in the order they happened.
    pub events: Vec<TailEvent>,
}

impl PollStats {
    /// Nothing was read: the caller may sleep for [`crate::Tailer::idle_wait`].
    pub fn is_idle(&self) -> bool {
        self.bytes_read == 0 && !self.read_limited
    }
}
