//! The `file:` sink: NDJSON to a file, gzip when the path ends in `.gz`.
//!
//! Gzip output is written as a sequence of complete gzip members (one per ~1 MiB of records or per flush), so
//! the file is a valid multi-member gzip stream after every flush: an interruption between batches leaves every
//! record already flushed readable by `zcat`/`gzip -d`. Parent directories are created. The file is appended to,
//! never truncated, so re-running a replay adds to it rather than destroying earlier output. On open, a record
//! torn by a crash mid-write (a last line without its `\n`, or a gzip member cut short) is cut off, so the file
//! never holds a torn record; the spool still has that batch and delivers it again. A batch is fsynced before the
//! daemon acknowledges it, except on a character device or FIFO (`/dev/null`, `/dev/stdout`, a named pipe),
//! which has nothing to make durable and is only flushed. A write, flush or fsync that fails (disk full, an I/O
//! error) may have left part of a batch in the file: the next write, or dropping the sink, first cuts a regular
//! file back to its length after the last successful fsync or flush and drops what is still buffered, so the
//! retried batch follows the last durable record and no torn or half-written batch stays in the middle of the
//! file. (A `kill -9` in the middle of a batch leaves the batch's complete records: the next open cuts only a
//! torn last record, and the daemon delivers the batch again, so those records appear twice: at least once.)
//!
//! Once a batch is fsynced its pages are dropped from the page cache (`POSIX_FADV_DONTNEED`): the next batch is
//! written into those recently used pages instead of fresh ones, which a VM whose free memory goes back to its
//! host pays a fault for, page by page, and write-once output does not push the node's other files out of the
//! cache. A reader of the sink file reads it from disk.
//!
//! [`Sink::durable_locally`] holds for a regular file on a filesystem of this machine's own storage (ext4, XFS,
//! Btrfs, F2FS, ZFS, overlayfs, tmpfs): the daemon may then skip its spool for this sink. A file on NFS, SMB or
//! FUSE, whose fsync can hang with the server, always goes through the spool.

use super::Sink;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

const GZIP_MEMBER_BYTES: usize = 1 << 20;
/// The write buffer: the daemon's pieces are larger and pass straight through; replay's records collect here.
const BUFFER_BYTES: usize = 256 * 1024;

/// Writes records to a file.
pub struct FileSink {
    name: String,
    file: BufWriter<File>,
    gzip: Option<GzipState>,
    /// A regular file (or a block device), which `sync` fsyncs. A character device or FIFO (`/dev/null`,
    /// `/dev/stdout`, a named pipe) has nothing to make durable (`fsync` fails there with `EINVAL`): what is
    /// written is the reader's once written.
    regular: bool,
    /// A regular file's length after the last successful `sync` (or when opened): where a failed write is cut
    /// back to. `None` for devices and FIFOs, which cannot be cut.
    durable_len: Option<u64>,
    /// A write, flush or sync failed since `durable_len` was taken: the file may end in part of a batch.
    failed: bool,
    /// A regular file on a local filesystem ([`on_local_filesystem`]).
    local: bool,
}

/// Whether `file` is on a filesystem of this machine's own storage, by its `statfs` type: ext2/3/4, XFS, Btrfs,
/// F2FS, ZFS, overlayfs (a container's writable layer) and tmpfs. Anything else (NFS, SMB, FUSE, unknown) is not.
fn on_local_filesystem(file: &File) -> bool {
    const LOCAL: [i128; 7] = [
        0xEF53,      // ext2, ext3, ext4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0xF2F5_2010, // f2fs
        0x2FC1_2FC1, // zfs
        0x794C_7630, // overlayfs
        0x0102_1994, // tmpfs
    ];
    rustix::fs::fstatfs(file).is_ok_and(|s| LOCAL.contains(&i128::from(s.f_type)))
}

struct GzipState {
    pending: Vec<u8>,
    level: Compression,
}

impl FileSink {
    /// Opens (creating, appending) `path`; gzip when it ends in `.gz`.
    pub fn create(path: &Path) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let is_gzip = path.extension().is_some_and(|e| e == "gz");
        if path.exists() {
            repair(path, is_gzip)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let meta = file.metadata()?;
        let file_type = meta.file_type();
        let regular = file_type.is_file() || file_type.is_block_device();
        let durable_len = file_type.is_file().then_some(meta.len());
        let local = file_type.is_file() && on_local_filesystem(&file);
        let gzip = is_gzip.then(|| GzipState {
            pending: Vec::with_capacity(GZIP_MEMBER_BYTES + 64 * 1024),
            level: Compression::new(3),
        });
        Ok(FileSink {
            name: format!("file:{}", path.display()),
            file: BufWriter::with_capacity(BUFFER_BYTES, file),
            gzip,
            regular,
            durable_len,
            failed: false,
            local,
        })
    }

    /// After a failure: drops what is buffered and cuts the file back to its length after the last successful
    /// fsync or flush, so the retried batch starts right after the last record kept.
    fn recover(&mut self) -> io::Result<()> {
        // A new writer on the same descriptor; the old one's buffer (part of the failed batch) is dropped
        // unwritten.
        let file = self.file.get_ref().try_clone()?;
        let (_, _unwritten) =
            std::mem::replace(&mut self.file, BufWriter::with_capacity(BUFFER_BYTES, file))
                .into_parts();
        if let Some(g) = &mut self.gzip {
            g.pending.clear();
        }
        if let Some(len) = self.durable_len {
            let file = self.file.get_ref();
            if file.metadata()?.len() > len {
                file.set_len(len)?;
                tracing::warn!(sink = %self.name, length = len, "cut the file back to its last durable record after a failed write");
            }
        }
        self.failed = false;
        Ok(())
    }

    /// `r`, remembering a failure for [`FileSink::recover`].
    fn note<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        self.failed |= r.is_err();
        r
    }

    /// Writes out what is buffered (a last gzip member included).
    fn write_out(&mut self) -> io::Result<()> {
        let r = self.write_member().and_then(|()| self.file.flush());
        self.note(r)
    }

    /// Takes the file's length as the point a later failure cuts back to.
    fn mark_durable(&mut self) -> io::Result<()> {
        if self.durable_len.is_some() {
            let len = self.file.get_ref().metadata().map(|m| m.len());
            self.durable_len = Some(self.note(len)?);
        }
        Ok(())
    }

    fn write_member(&mut self) -> io::Result<()> {
        let Some(g) = &mut self.gzip else {
            return Ok(());
        };
        if g.pending.is_empty() {
            return Ok(());
        }
        let mut enc = GzEncoder::new(Vec::with_capacity(g.pending.len() / 4), g.level);
        enc.write_all(&g.pending)?;
        let member = enc.finish()?;
        g.pending.clear();
        self.file.write_all(&member)
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, records: &[u8]) -> io::Result<()> {
        if self.failed {
            self.recover()?;
        }
        let r = match &mut self.gzip {
            None => self.file.write_all(records),
            Some(g) => {
                g.pending.extend_from_slice(records);
                if g.pending.len() >= GZIP_MEMBER_BYTES {
                    self.write_member()
                } else {
                    Ok(())
                }
            }
        };
        self.note(r)
    }

    /// Writes out what is buffered; what a caller flushed (`replay`, which never syncs) is its to keep, so a
    /// later failure cuts back to here.
    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.mark_durable()
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_out()?;
        if self.regular {
            let r = self.file.get_ref().sync_data();
            self.note(r)?;
        }
        let synced_from = self.durable_len;
        self.mark_durable()?;
        if let (Some(from), Some(to)) = (synced_from, self.durable_len) {
            // The pages just made durable are clean: dropped, they are the pages the next batch is written into
            // (recently used, so cheap to fill), instead of fresh ones.
            if let Some(len) = std::num::NonZeroU64::new(to.saturating_sub(from)) {
                let _ = rustix::fs::fadvise(
                    self.file.get_ref(),
                    from,
                    Some(len),
                    rustix::fs::Advice::DontNeed,
                );
            }
        }
        Ok(())
    }

    fn durable_locally(&self) -> bool {
        self.local
    }
}

/// Cuts a torn tail off an output file: after the last `\n` for plain files, after the last complete gzip member
/// (whose content ends with `\n`) for gzip files. Returns the bytes removed.
pub fn repair(path: &Path, gzip: bool) -> io::Result<u64> {
    let len = std::fs::metadata(path)?.len();
    let keep = if gzip {
        complete_gzip_prefix(path)?
    } else {
        last_newline_end(path, len)?
    };
    if keep < len {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(keep)?;
        f.sync_all()?;
        tracing::warn!(path = %path.display(), removed = len - keep, "cut a torn record off the end of the output file");
    }
    Ok(len - keep)
}

fn last_newline_end(path: &Path, len: u64) -> io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn complete_gzip_prefix(path: &Path) -> io::Result<u64> {
    use flate2::bufread::GzDecoder;
    use std::io::{BufRead, BufReader, Read};
    struct Pos<R> {
        inner: R,
        pos: u64,
    }
    impl<R: BufRead> Read for Pos<R> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = {
                let b = self.inner.fill_buf()?;
                let n = b.len().min(out.len());
                out[..n].copy_from_slice(&b[..n]);
                n
            };
            self.inner.consume(n);
            self.pos += n as u64;
            Ok(n)
        }
    }
    impl<R: BufRead> BufRead for Pos<R> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            self.inner.fill_buf()
        }
        fn consume(&mut self, n: usize) {
            self.inner.consume(n);
            self.pos += n as u64;
        }
    }
    let mut r = Pos {
        inner: BufReader::new(File::open(path)?),
        pos: 0,
    };
    let mut good = 0u64;
    let mut sink = Vec::new();
    loop {
        if r.fill_buf()?.is_empty() {
            return Ok(good);
        }
        sink.clear();
        let ok = GzDecoder::new(&mut r).read_to_end(&mut sink).is_ok();
        if !ok || sink.last().is_some_and(|&b| b != b'\n') {
            return Ok(good);
        }
        good = r.pos;
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if self.failed {
            // The failed batch is cut off: the caller still has it (the daemon's spool delivers it again).
            if self.recover().is_ok() && self.regular {
                let _ = self.file.get_ref().sync_data();
            }
            return;
        }
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use std::io::Read;

    #[test]
    fn gzip_output_is_valid_after_each_flush() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.ndjson.gz");
        let mut s = FileSink::create(&p).unwrap();
        s.write(b"{\"a\":1}\n").unwrap();
        s.flush().unwrap();
        let read = |p: &Path| {
            let mut text = String::new();
            MultiGzDecoder::new(File::open(p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            text
        };
        assert_eq!(read(&p), "{\"a\":1}\n");
        s.write(b"{\"a\":2}\n").unwrap();
        s.flush().unwrap();
        drop(s);
        assert_eq!(read(&p), "{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn a_device_is_flushed_not_fsynced() {
        // fsync(2) on /dev/null fails with EINVAL; a daemon syncing it retried every batch forever.
        let mut s = FileSink::create(Path::new("/dev/null")).unwrap();
        s.write(b"{\"a\":1}\n").unwrap();
        s.sync().unwrap();
    }

    #[test]
    fn torn_tails_are_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        std::fs::write(&p, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let mut s = FileSink::create(&p).unwrap();
        s.write(b"{\"a\":3}\n").unwrap();
        s.sync().unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );

        let g = dir.path().join("out.ndjson.gz");
        let mut s = FileSink::create(&g).unwrap();
        s.write(b"{\"a\":1}\n").unwrap();
        s.flush().unwrap();
        s.write(b"{\"a\":2}\n").unwrap();
        s.flush().unwrap();
        drop(s);
        let full = std::fs::read(&g).unwrap();
        std::fs::write(&g, &full[..full.len() - 5]).unwrap();
        let s = FileSink::create(&g).unwrap();
        drop(s);
        let mut text = String::new();
        MultiGzDecoder::new(File::open(&g).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n");
    }

    /// Appends `bytes` behind the sink's back: what a write that failed part-way leaves in the file.
    fn left_by_a_failed_write(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn a_retry_after_a_failed_write_starts_after_the_last_durable_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        let mut s = FileSink::create(&p).unwrap();
        s.write(b"{\"a\":1}\n").unwrap();
        s.sync().unwrap();
        // A batch fails part-way (what a full disk leaves): a record and a half reached the file, more is
        // buffered.
        left_by_a_failed_write(&p, b"{\"a\":2}\n{\"a\":3");
        s.write(b"{\"a\":3").unwrap();
        s.failed = true;
        // The retry of the whole batch.
        s.write(b"{\"a\":2}\n{\"a\":3}\n").unwrap();
        s.sync().unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
        // A failure on the way out leaves the buffered part unwritten.
        s.write(b"{\"a\":4").unwrap();
        s.failed = true;
        drop(s);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
    }

    #[test]
    fn a_failure_is_noticed_and_cut_off_when_the_sink_is_dropped() {
        // A real error sets the flag: /dev/full fails every write with ENOSPC.
        let mut full = FileSink::create(Path::new("/dev/full")).unwrap();
        assert!(full.write(&[b'x'; BUFFER_BYTES + 1]).is_err());
        assert!(full.failed);
        assert!(!full.durable_locally(), "a device");
        drop(full);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        let mut s = FileSink::create(&p).unwrap();
        assert!(
            s.durable_locally(),
            "a regular file in a local temporary directory"
        );
        s.write(b"{\"a\":1}\n").unwrap();
        s.sync().unwrap();
        s.write(b"{\"a\":2}\n").unwrap();
        s.flush().unwrap();
        s.failed = true;
        drop(s);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n",
            "kept: flushed before the failure"
        );
        let mut s = FileSink::create(&p).unwrap();
        s.write(b"{\"a\":3}\n").unwrap();
        s.flush().unwrap();
        left_by_a_failed_write(&p, b"{\"a\":4");
        s.failed = true;
        drop(s);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
            "what reached the file after the last flush is cut off"
        );
    }

    #[test]
    fn a_gzip_retry_after_a_failed_write_leaves_a_valid_stream() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson.gz");
        let mut s = FileSink::create(&p).unwrap();
        s.write(b"{\"a\":1}\n").unwrap();
        s.sync().unwrap();
        // Half a member reached the file, the rest is pending.
        s.write(b"{\"a\":2}\n").unwrap();
        s.sync().unwrap();
        let len = std::fs::metadata(&p).unwrap().len();
        s.durable_len = Some(len);
        left_by_a_failed_write(&p, b"\x1f\x8b\x08");
        s.write(b"{\"a\":3}\n").unwrap();
        s.failed = true;
        s.write(b"{\"a\":3}\n").unwrap();
        s.sync().unwrap();
        drop(s);
        let mut text = String::new();
        MultiGzDecoder::new(File::open(&p).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    }

    #[test]
    fn plain_output_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        for i in 0..2 {
            let mut s = FileSink::create(&p).unwrap();
            s.write(format!("{i}\n").as_bytes()).unwrap();
            s.flush().unwrap();
        }
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0\n1\n");
    }
}
