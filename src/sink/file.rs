//! The `file:` sink: NDJSON to a file, gzip when the path ends in `.gz`.
//!
//! Gzip output is written as a sequence of complete gzip members (one per ~1 MiB of records or per flush), so
//! the file is a valid multi-member gzip stream after every flush: an interruption between batches leaves every
//! record already flushed readable by `zcat`/`gzip -d`. Parent directories are created. The file is appended to,
//! never truncated, so re-running a replay adds to it rather than destroying earlier output.

use super::Sink;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

const GZIP_MEMBER_BYTES: usize = 1 << 20;

/// Writes records to a file.
pub struct FileSink {
    name: String,
    file: BufWriter<File>,
    gzip: Option<GzipState>,
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
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let gzip = path
            .extension()
            .is_some_and(|e| e == "gz")
            .then(|| GzipState {
                pending: Vec::with_capacity(GZIP_MEMBER_BYTES + 64 * 1024),
                level: Compression::new(3),
            });
        Ok(FileSink {
            name: format!("file:{}", path.display()),
            file: BufWriter::with_capacity(256 * 1024, file),
            gzip,
        })
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
        match &mut self.gzip {
            None => self.file.write_all(records),
            Some(g) => {
                g.pending.extend_from_slice(records);
                if g.pending.len() >= GZIP_MEMBER_BYTES {
                    self.write_member()?;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_member()?;
        self.file.flush()
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
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
