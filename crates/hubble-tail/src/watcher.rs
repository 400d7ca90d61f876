//! One open file: its descriptor (or gzip decoder), read position and line buffer.
//!
//! Owns reading a single file. Guarantees: reads go through the descriptor opened at discovery, so a file renamed
//! or deleted while open is still drained; for plain files, every pass first checks the size (shrunk below the
//! read offset = truncation) and, with checksum ids, re-verifies the content id whenever the size changed, so
//! content replaced in place (copytruncate, even if it regrew past the offset) is never read as a continuation;
//! at most `budget` bytes are read per pass.

use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use flate2::bufread::MultiGzDecoder;

use crate::fingerprint::{FingerprintStrategy, Fingerprinter};
use crate::lines::{DrainCounts, LineBuffer};
use crate::FileId;

/// Largest single read, the same as the default per-pass budget (`max_read_bytes`): a pass over a file that has
/// grown by that much is one `read` and one run of lines, and so one batch downstream rather than four.
const READ_BLOCK: usize = 256 * 1024;

/// Identity and shape of a file on disk at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sig {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) len: u64,
    pub(crate) mtime_ns: i128,
}

impl Sig {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Sig {
        Sig {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// Receives `(path, bytes, start_offset, end_offset)` for each run of complete lines.
pub(crate) type LineSink<'a> = dyn FnMut(&Path, &[u8], u64, u64) + 'a;

/// Where to start reading a newly opened file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartAt {
    Beginning,
    End,
    Offset(u64),
}

enum Source {
    Plain(File),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Plain(f) => f.read(buf),
            Source::Gzip(d) => d.read(buf),
        }
    }
}

/// Result of opening a file.
pub(crate) enum Opened {
    /// Ready to read from `offset`; `truncated_from` is set when a stored offset was past the end.
    Reading {
        watcher: Box<Watcher>,
        truncated_from: Option<u64>,
    },
    /// A gzip file with nothing after `offset` (its decompressed length, when reading from the end).
    Exhausted { offset: u64 },
}

/// A change noticed while reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Shrunk below the read offset with the same id: restarted at 0.
    Restarted { at: u64 },
    /// Content replaced: this watcher no longer reads the file its id names.
    IdentityLost { at: u64 },
}

#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    pub(crate) counts: DrainCounts,
    pub(crate) bytes_read: u64,
    pub(crate) eof: bool,
    pub(crate) change: Option<Change>,
}

pub(crate) struct Watcher {
    pub(crate) id: FileId,
    pub(crate) path: PathBuf,
    pub(crate) sig: Sig,
    pub(crate) compressed: bool,
    pub(crate) findable: bool,
    pub(crate) last_seen: Instant,
    /// Lines delivered since opening (a gzip copy that delivers none was a skipped duplicate).
    pub(crate) delivered: u64,
    /// Offset reading started at.
    pub(crate) opened_at: u64,
    /// Set when a read found nothing new: the tailer leaves the file alone until then (see
    /// [`crate::Tailer::poll`]).
    pub(crate) quiet_until: Option<Instant>,
    source: Source,
    lines: LineBuffer,
    checked_len: u64,
}

impl Watcher {
    /// Opens `file` (already fingerprinted as `id`, shape `sig`) and positions it per `start`.
    pub(crate) fn open(
        mut file: File,
        path: PathBuf,
        id: FileId,
        sig: Sig,
        compressed: bool,
        start: StartAt,
        max_line_bytes: usize,
    ) -> io::Result<Opened> {
        let now = Instant::now();
        if compressed {
            file.seek(SeekFrom::Start(0))?;
            let mut decoder = MultiGzDecoder::new(BufReader::new(file));
            let offset = match start {
                StartAt::Beginning => 0,
                StartAt::Offset(want) => {
                    let got = io::copy(&mut (&mut decoder).take(want), &mut io::sink())?;
                    if got < want {
                        return Ok(Opened::Exhausted { offset: got });
                    }
                    want
                }
                StartAt::End => {
                    let total = io::copy(&mut decoder, &mut io::sink())?;
                    return Ok(Opened::Exhausted { offset: total });
                }
            };
            let watcher = Watcher {
                id,
                path,
                sig,
                compressed,
                findable: true,
                last_seen: now,
                delivered: 0,
                opened_at: offset,
                quiet_until: None,
                source: Source::Gzip(Box::new(decoder)),
                lines: LineBuffer::new(offset, max_line_bytes),
                checked_len: sig.len,
            };
            return Ok(Opened::Reading {
                watcher: Box::new(watcher),
                truncated_from: None,
            });
        }
        let len = file.metadata()?.len();
        let (offset, truncated_from) = match start {
            StartAt::Beginning => (0, None),
            StartAt::Offset(want) if want > len => (0, Some(want)),
            StartAt::Offset(want) => (want, None),
            StartAt::End => (offset_after_last_newline(&file, len)?, None),
        };
        file.seek(SeekFrom::Start(offset))?;
        let watcher = Watcher {
            id,
            path,
            sig,
            compressed,
            findable: true,
            last_seen: now,
            delivered: 0,
            opened_at: offset,
            quiet_until: None,
            source: Source::Plain(file),
            lines: LineBuffer::new(offset, max_line_bytes),
            checked_len: len,
        };
        Ok(Opened::Reading {
            watcher: Box::new(watcher),
            truncated_from,
        })
    }

    /// Safe resume offset: just after the last complete line delivered or skipped.
    pub(crate) fn position(&self) -> u64 {
        self.lines.resume_offset()
    }

    /// Bytes of an unterminated final line held.
    pub(crate) fn pending_bytes(&self) -> u64 {
        self.lines.pending_bytes()
    }

    /// Current size of a plain file.
    pub(crate) fn plain_size(&self) -> Option<u64> {
        match &self.source {
            Source::Plain(f) => f.metadata().ok().map(|m| m.len()),
            Source::Gzip(_) => None,
        }
    }

    /// Whether the file behind the descriptor has no name left (deleted).
    pub(crate) fn is_unlinked(&self) -> bool {
        match &self.source {
            Source::Plain(f) => f.metadata().map(|m| m.nlink() == 0).unwrap_or(false),
            Source::Gzip(_) => false,
        }
    }

    /// Reads up to about `budget` bytes into `block` (the tailer's read buffer, lent for the call), handing out
    /// complete-line runs.
    pub(crate) fn read(
        &mut self,
        block: &mut Vec<u8>,
        budget: usize,
        fingerprinter: &mut Fingerprinter,
        emit: &mut LineSink<'_>,
        too_long: &mut dyn FnMut(u64, u64),
    ) -> io::Result<ReadOutcome> {
        let mut outcome = ReadOutcome::default();
        if let Source::Plain(file) = &mut self.source {
            let len = file.metadata()?.len();
            let read_offset = self.lines.read_offset();
            let by_checksum = !matches!(fingerprinter.strategy(), FingerprintStrategy::DevInode);
            if len < read_offset {
                let same = !by_checksum || fingerprinter.fingerprint_file(file)? == Some(self.id);
                if !same {
                    outcome.change = Some(Change::IdentityLost {
                        at: self.lines.resume_offset(),
                    });
                    return Ok(outcome);
                }
                file.seek(SeekFrom::Start(0))?;
                outcome.change = Some(Change::Restarted {
                    at: self.lines.resume_offset(),
                });
                self.lines.reset(0);
                self.checked_len = len;
            } else if len != self.checked_len && by_checksum {
                if fingerprinter.fingerprint_file(file)? != Some(self.id) {
                    outcome.change = Some(Change::IdentityLost {
                        at: self.lines.resume_offset(),
                    });
                    return Ok(outcome);
                }
                self.checked_len = len;
            }
            if len == self.lines.read_offset() {
                // Nothing appended: the `read` would return 0.
                outcome.eof = true;
                return Ok(outcome);
            }
        }
        // The pass reads into the tailer's one block; between passes this file holds only its partial line.
        self.lines.swap_block(block);
        let result = self.read_blocks(budget, &mut outcome, emit, too_long);
        self.lines.swap_block(block);
        result?;
        self.delivered += outcome.counts.lines;
        Ok(outcome)
    }

    fn read_blocks(
        &mut self,
        budget: usize,
        outcome: &mut ReadOutcome,
        emit: &mut LineSink<'_>,
        too_long: &mut dyn FnMut(u64, u64),
    ) -> io::Result<()> {
        while outcome.bytes_read < budget as u64 {
            let want = READ_BLOCK
                .min((budget as u64 - outcome.bytes_read) as usize)
                .max(1);
            let n = match self.source.read(self.lines.spare(want)) {
                Ok(n) => n,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if n == 0 {
                outcome.eof = true;
                break;
            }
            self.lines.commit(n);
            outcome.bytes_read += n as u64;
            let path = &self.path;
            let counts = self.lines.drain(
                &mut |bytes, start, end| emit(path, bytes, start, end),
                too_long,
            );
            outcome.counts.bytes += counts.bytes;
            outcome.counts.lines += counts.lines;
        }
        Ok(())
    }
}

/// Offset just after the last `\n` before `len` (0 if none): starting there delivers the line being written.
fn offset_after_last_newline(file: &File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 8192];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(pos) = memchr::memrchr(b'\n', chunk) {
            return Ok(start + pos as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::fingerprint::FingerprintStrategy;

    fn open(path: &std::path::Path, start: StartAt, fp: &mut Fingerprinter) -> Opened {
        let file = File::open(path).unwrap();
        let probe = fp.probe_file(&file).unwrap();
        let sig = Sig::of(&file.metadata().unwrap());
        Watcher::open(
            file,
            path.to_path_buf(),
            probe.id.unwrap(),
            sig,
            probe.compressed,
            start,
            1024,
        )
        .unwrap()
    }

    fn read_all(w: &mut Watcher, fp: &mut Fingerprinter) -> (Vec<u8>, ReadOutcome) {
        let mut out = Vec::new();
        let outcome = w
            .read(
                &mut Vec::new(),
                1 << 20,
                fp,
                &mut |_, b, _, _| out.extend_from_slice(b),
                &mut |_, _| {},
            )
            .unwrap();
        (out, outcome)
    }

    #[test]
    fn end_start_keeps_the_line_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"old\nhalf").unwrap();
        let mut fp = Fingerprinter::new(FingerprintStrategy::default(), 1024);
        let Opened::Reading { mut watcher, .. } = open(&path, StartAt::End, &mut fp) else {
            panic!("not reading")
        };
        assert_eq!(watcher.position(), 4);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b" done\n")
            .unwrap();
        let (out, _) = read_all(&mut watcher, &mut fp);
        assert_eq!(out, b"half done\n");
    }

    #[test]
    fn replaced_content_is_not_read_as_continuation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"first\n").unwrap();
        let mut fp = Fingerprinter::new(FingerprintStrategy::default(), 1024);
        let Opened::Reading { mut watcher, .. } = open(&path, StartAt::Beginning, &mut fp) else {
            panic!()
        };
        assert_eq!(read_all(&mut watcher, &mut fp).0, b"first\n");
        // copytruncate, then the writer regrows the file past our offset before we look again.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        f.write_all_at(b"second line\n", 0).unwrap();
        let (out, outcome) = read_all(&mut watcher, &mut fp);
        assert!(out.is_empty());
        assert_eq!(outcome.change, Some(Change::IdentityLost { at: 6 }));
    }

    #[test]
    fn dev_inode_truncation_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"first line\n").unwrap();
        let mut fp = Fingerprinter::new(FingerprintStrategy::DevInode, 1024);
        let Opened::Reading { mut watcher, .. } = open(&path, StartAt::Beginning, &mut fp) else {
            panic!()
        };
        read_all(&mut watcher, &mut fp);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        f.write_all_at(b"new\n", 0).unwrap();
        let (out, outcome) = read_all(&mut watcher, &mut fp);
        assert_eq!(outcome.change, Some(Change::Restarted { at: 11 }));
        assert_eq!(out, b"new\n");
    }

    #[test]
    fn stored_offset_past_the_end_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"abc\n").unwrap();
        let mut fp = Fingerprinter::new(FingerprintStrategy::default(), 1024);
        let Opened::Reading {
            watcher,
            truncated_from,
        } = open(&path, StartAt::Offset(100), &mut fp)
        else {
            panic!()
        };
        assert_eq!(truncated_from, Some(100));
        assert_eq!(watcher.position(), 0);
    }
}
