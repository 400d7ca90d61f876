//! Fingerprinting: how a file's identity is computed.
//!
//! Owns the strategies ([`FingerprintStrategy`]) and the [`Fingerprinter`] that applies them to a path or an open
//! file. Guarantees: checksums are computed over *decompressed* content (gzip is detected by its magic bytes and
//! read with a multi-member decoder), so `x`, a renamed `x` and `x.gz` share one id; a file that does not yet hold
//! the full prefix (fewer than `lines` complete lines and fewer than `max_line_bytes` bytes per line) has no id yet
//! (`Ok(None)`: retry later); fingerprinting an open file never moves its read cursor.

use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use crc::{Crc, CRC_64_ECMA_182};
use flate2::bufread::MultiGzDecoder;

use crate::FileId;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

const CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_ECMA_182);
const READ_STEP: usize = 8 * 1024;

/// How a file's identity is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FingerprintStrategy {
    /// Checksum of the first `lines` lines after skipping `ignored_header_bytes` bytes, over decompressed content.
    /// A line longer than the fingerprinter's `max_line_bytes` counts as its first `max_line_bytes` bytes.
    FirstLinesChecksum {
        /// Number of complete lines the checksum covers (at least 1 is used).
        lines: usize,
        /// Bytes skipped before the checksummed lines (for files that all start with the same header).
        ignored_header_bytes: usize,
    },
    /// Device and inode number. Cheap, but a gzip or copy of a file gets a new id (and is read again), and inode
    /// numbers are reused; prefer the checksum unless the globs never match rotated copies.
    DevInode,
}

impl Default for FingerprintStrategy {
    fn default() -> Self {
        FingerprintStrategy::FirstLinesChecksum {
            lines: 1,
            ignored_header_bytes: 0,
        }
    }
}

/// A fingerprint together with what was learned while computing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The id, or `None` while the file is too short to be fingerprinted.
    pub id: Option<FileId>,
    /// The file starts with the gzip magic bytes.
    pub compressed: bool,
}

/// Applies a [`FingerprintStrategy`]; keeps one scratch buffer between calls.
#[derive(Debug)]
pub struct Fingerprinter {
    strategy: FingerprintStrategy,
    max_line_bytes: usize,
    buf: Vec<u8>,
}

impl Fingerprinter {
    /// `max_line_bytes` bounds how much of one line the checksum reads (and so how much memory it uses).
    pub fn new(strategy: FingerprintStrategy, max_line_bytes: usize) -> Self {
        Fingerprinter {
            strategy,
            max_line_bytes: max_line_bytes.max(1),
            buf: Vec::new(),
        }
    }

    /// The strategy in use.
    pub fn strategy(&self) -> FingerprintStrategy {
        self.strategy
    }

    /// Opens `path` and fingerprints it.
    pub fn probe_path(&mut self, path: &Path) -> io::Result<Probe> {
        let file = File::open(path)?;
        self.probe_file(&file)
    }

    /// Fingerprints an open file without moving its cursor.
    pub fn probe_file(&mut self, file: &File) -> io::Result<Probe> {
        let compressed = is_gzip(file)?;
        let id = match self.strategy {
            FingerprintStrategy::DevInode => {
                let meta = file.metadata()?;
                Some(FileId::DevInode {
                    dev: meta.dev(),
                    ino: meta.ino(),
                })
            }
            FingerprintStrategy::FirstLinesChecksum {
                lines,
                ignored_header_bytes,
            } => {
                let cap = lines.max(1).saturating_mul(self.max_line_bytes);
                let reader = PositionedReader { file, offset: 0 };
                let sum = if compressed {
                    let decoder = MultiGzDecoder::new(BufReader::new(reader));
                    checksum_prefix(
                        decoder,
                        ignored_header_bytes,
                        lines.max(1),
                        cap,
                        &mut self.buf,
                    )
                } else {
                    checksum_prefix(
                        reader,
                        ignored_header_bytes,
                        lines.max(1),
                        cap,
                        &mut self.buf,
                    )
                };
                match sum {
                    Ok(sum) => sum.map(FileId::Checksum),
                    // A gzip stream still being written ends early: not a complete prefix yet.
                    Err(err) if compressed && err.kind() == ErrorKind::UnexpectedEof => None,
                    Err(err) => return Err(err),
                }
            }
        };
        Ok(Probe { id, compressed })
    }

    /// Shorthand for `probe_path(path)?.id`.
    pub fn fingerprint_path(&mut self, path: &Path) -> io::Result<Option<FileId>> {
        Ok(self.probe_path(path)?.id)
    }

    /// Shorthand for `probe_file(file)?.id`.
    pub fn fingerprint_file(&mut self, file: &File) -> io::Result<Option<FileId>> {
        Ok(self.probe_file(file)?.id)
    }
}

/// Whether an open file starts with the gzip magic bytes (cursor untouched).
pub fn is_gzip(file: &File) -> io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < magic.len() {
        match file.read_at(&mut magic[got..], got as u64) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(magic == GZIP_MAGIC)
}

/// Checksum of `lines` lines (each capped at the total `cap`) after `header` skipped bytes; `None` when the
/// reader ends first.
fn checksum_prefix(
    mut reader: impl Read,
    header: usize,
    lines: usize,
    cap: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Option<u64>> {
    let skipped = io::copy(&mut (&mut reader).take(header as u64), &mut io::sink())?;
    if skipped < header as u64 {
        return Ok(None);
    }
    buf.clear();
    let mut newlines = 0;
    while buf.len() < cap {
        let start = buf.len();
        let want = READ_STEP.min(cap - start);
        buf.resize(start + want, 0);
        let n = match reader.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {
                buf.truncate(start);
                continue;
            }
            Err(err) => return Err(err),
        };
        buf.truncate(start + n);
        if n == 0 {
            return Ok(None);
        }
        for pos in memchr::memchr_iter(b'\n', &buf[start..]) {
            newlines += 1;
            if newlines == lines {
                buf.truncate(start + pos + 1);
                return Ok(Some(CRC64.checksum(buf)));
            }
        }
    }
    Ok(Some(CRC64.checksum(buf)))
}

/// `Read` over an open file by absolute offset (`pread`), leaving the file's own cursor alone.
pub(crate) struct PositionedReader<'a> {
    pub(crate) file: &'a File,
    pub(crate) offset: u64,
}

impl Read for PositionedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn checksum(lines: usize, header: usize) -> Fingerprinter {
        Fingerprinter::new(
            FingerprintStrategy::FirstLinesChecksum {
                lines,
                ignored_header_bytes: header,
            },
            64,
        )
    }

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    #[test]
    fn short_files_have_no_id_yet() {
        let dir = tempfile::tempdir().unwrap();
        let mut fp = checksum(1, 0);
        assert_eq!(
            fp.fingerprint_path(&write(&dir, "empty", b"")).unwrap(),
            None
        );
        assert_eq!(
            fp.fingerprint_path(&write(&dir, "partial", b"no newline yet"))
                .unwrap(),
            None
        );
        assert!(fp
            .fingerprint_path(&write(&dir, "one", b"a line\n"))
            .unwrap()
            .is_some());
    }

    #[test]
    fn same_first_line_same_id_even_when_gzipped_or_grown() {
        let dir = tempfile::tempdir().unwrap();
        let mut fp = checksum(1, 0);
        let plain = fp.fingerprint_path(&write(&dir, "a", b"hello\n")).unwrap();
        let grown = fp
            .fingerprint_path(&write(&dir, "b", b"hello\nworld\n"))
            .unwrap();
        let gz = fp
            .probe_path(&write(&dir, "c.gz", &gzip(b"hello\nworld\nmore\n")))
            .unwrap();
        let other = fp.fingerprint_path(&write(&dir, "d", b"hullo\n")).unwrap();
        assert!(plain.is_some());
        assert_eq!(plain, grown);
        assert_eq!(
            gz,
            Probe {
                id: plain,
                compressed: true
            }
        );
        assert_ne!(plain, other);
    }

    #[test]
    fn multi_member_gzip_is_read_across_members() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = gzip(b"first part of ");
        data.extend(gzip(b"the line\n"));
        let mut fp = checksum(1, 0);
        let gz = fp.fingerprint_path(&write(&dir, "m.gz", &data)).unwrap();
        let plain = fp
            .fingerprint_path(&write(&dir, "m", b"first part of the line\n"))
            .unwrap();
        assert_eq!(gz, plain);
        assert!(gz.is_some());
    }

    #[test]
    fn truncated_gzip_stream_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let full = gzip(
            &b"x"
                .repeat(40)
                .into_iter()
                .chain(*b"\n")
                .collect::<Vec<u8>>(),
        );
        let mut fp = checksum(1, 0);
        let probe = fp.probe_path(&write(&dir, "t.gz", &full[..12])).unwrap();
        assert_eq!(
            probe,
            Probe {
                id: None,
                compressed: true
            }
        );
    }

    #[test]
    fn lines_and_header_options_change_what_is_covered() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(&dir, "a", b"HEADER\nsame\none\n");
        let b = write(&dir, "b", b"HEADER\nsame\ntwo\n");
        let c = write(&dir, "c", b"HEADER2\nsame\none\n");
        let mut one = checksum(1, 0);
        assert_eq!(
            one.fingerprint_path(&a).unwrap(),
            one.fingerprint_path(&b).unwrap()
        );
        let mut two = checksum(2, 0);
        assert_eq!(
            two.fingerprint_path(&a).unwrap(),
            two.fingerprint_path(&b).unwrap()
        );
        let mut three = checksum(3, 0);
        assert_ne!(
            three.fingerprint_path(&a).unwrap(),
            three.fingerprint_path(&b).unwrap()
        );
        let mut skip = checksum(1, 7);
        assert_eq!(
            skip.fingerprint_path(&a).unwrap(),
            skip.fingerprint_path(&b).unwrap()
        );
        // "HEADER2\n" is 8 bytes: after skipping 7 the first line of c is "\n", not "same\n".
        assert_ne!(
            skip.fingerprint_path(&a).unwrap(),
            skip.fingerprint_path(&c).unwrap()
        );
        let short = write(&dir, "short", b"HEADER\nsame\n");
        assert_eq!(three.fingerprint_path(&short).unwrap(), None);
    }

    #[test]
    fn over_long_first_line_is_fingerprinted_by_its_capped_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let mut fp = checksum(1, 0); // cap 64 bytes
        let a = write(&dir, "a", &[b'x'; 100]);
        let b = write(&dir, "b", &[b'x'; 64]);
        let c = write(&dir, "c", &[b'x'; 63]);
        assert!(fp.fingerprint_path(&a).unwrap().is_some());
        assert_eq!(
            fp.fingerprint_path(&a).unwrap(),
            fp.fingerprint_path(&b).unwrap()
        );
        assert_eq!(fp.fingerprint_path(&c).unwrap(), None);
    }

    #[test]
    fn dev_inode_follows_rename_not_copy() {
        let dir = tempfile::tempdir().unwrap();
        let mut fp = Fingerprinter::new(FingerprintStrategy::DevInode, 64);
        let a = write(&dir, "a", b"");
        let before = fp.fingerprint_path(&a).unwrap();
        assert!(before.is_some(), "dev/inode needs no content");
        let renamed = dir.path().join("a.1");
        std::fs::rename(&a, &renamed).unwrap();
        assert_eq!(fp.fingerprint_path(&renamed).unwrap(), before);
        let copy = dir.path().join("copy");
        std::fs::copy(&renamed, &copy).unwrap();
        assert_ne!(fp.fingerprint_path(&copy).unwrap(), before);
    }

    #[test]
    fn probing_an_open_file_keeps_its_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "a", b"line one\nline two\n");
        let mut file = File::open(&path).unwrap();
        file.seek(SeekFrom::Start(5)).unwrap();
        let mut fp = checksum(1, 0);
        assert_eq!(
            fp.fingerprint_file(&file).unwrap(),
            fp.fingerprint_path(&path).unwrap()
        );
        assert_eq!(file.stream_position().unwrap(), 5);
    }
}
