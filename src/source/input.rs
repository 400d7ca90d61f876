//! Opening inputs for replay: files (plain or gzip, detected by magic bytes) and stdin, read in blocks that end
//! on a line boundary.
//!
//! Guarantees: a block handed on holds only complete physical lines (the last one may lack its `\n` only at end
//! of input); a physical line longer than the limit is dropped whole and counted, never split into two lines;
//! a read error (a gzip cut short, corrupt deflate data) ends that input after everything before it was handed
//! on, and is reported with the input's name. Multi-member gzip (concatenated or as kubelet writes it) is read
//! to its end.

use crate::frame::LineBatch;
use flate2::bufread::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl InputSpec {
    /// Parses a command-line operand (`-` is stdin).
    pub fn parse(s: &str) -> Self {
        if s == "-" {
            InputSpec::Stdin
        } else {
            InputSpec::Path(PathBuf::from(s))
        }
    }

    /// A name for messages.
    pub fn name(&self) -> String {
        match self {
            InputSpec::Stdin => "<stdin>".to_owned(),
            InputSpec::Path(p) => p.display().to_string(),
        }
    }

    /// The size on disk, when known (for progress).
    pub fn size(&self) -> Option<u64> {
        match self {
            InputSpec::Stdin => None,
            InputSpec::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
        }
    }
}

/// Counts the compressed bytes a gzip decoder consumes, for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        self.inner.consume(n);
    }
}

/// An opened input, decompressing if it is gzip.
pub struct OpenedInput {
    reader: Box<dyn Read + Send>,
    /// Input already read (and counted) before `reader`'s first byte.
    head: Vec<u8>,
    /// Whether the input was gzip.
    pub gzip: bool,
    /// For a plain input, the counter of bytes read, which the block reader advances itself: the reader is
    /// then the file (or stdin) itself with no wrapper of ours, so a read goes straight into the block's spare
    /// capacity without zeroing it first (`Read::read_buf`, which a wrapper on stable Rust cannot forward).
    /// For gzip, the decoder's input is counted where it is consumed.
    counter: Option<Arc<AtomicU64>>,
}

/// Opens `spec`; `raw_bytes` counts bytes consumed from the file or stdin itself.
pub fn open(spec: &InputSpec, raw_bytes: Arc<AtomicU64>) -> io::Result<OpenedInput> {
    let raw: Box<dyn Read + Send> = match spec {
        InputSpec::Stdin => Box::new(io::stdin()),
        InputSpec::Path(p) => Box::new(File::open(p)?),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let gzip = is_gzip(&mut buffered)?;
    Ok(if gzip {
        OpenedInput {
            reader: Box::new(MultiGzDecoder::new(Counting {
                inner: buffered,
                counter: raw_bytes,
            })),
            head: Vec::new(),
            gzip,
            counter: None,
        }
    } else {
        // What the detection read ahead starts the first block; after it, reads go from the file straight into
        // the blocks. (Left behind the `BufReader`, every read smaller than its buffer was copied twice: the
        // block reader's reads start small and double, so about half of a file's bytes.)
        let head = buffered.buffer().to_vec();
        raw_bytes.fetch_add(head.len() as u64, Ordering::Relaxed);
        OpenedInput {
            reader: buffered.into_inner(),
            head,
            gzip,
            counter: Some(raw_bytes),
        }
    })
}

fn is_gzip<R: BufRead>(r: &mut R) -> io::Result<bool> {
    loop {
        match r.fill_buf() {
            Ok(b) => return Ok(b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Whether a path's content is gzip (by magic bytes).
pub fn path_is_gzip(p: &Path) -> io::Result<bool> {
    let mut f = BufReader::new(File::open(p)?);
    is_gzip(&mut f)
}

/// Reads an input in blocks of whole physical lines.
pub struct BlockReader {
    reader: Box<dyn Read + Send>,
    /// Bytes read, for a plain input (see [`OpenedInput`]).
    counter: Option<Arc<AtomicU64>>,
    carry: Vec<u8>,
    block_size: usize,
    max_physical: usize,
    skipping: bool,
    eof: bool,
    eager: bool,
    /// How much the next eager read asks for (see [`EAGER_READ`]).
    eager_room: usize,
    /// The error that ended the input early, if any.
    pub error: Option<io::Error>,
}

/// What an eager read asks for after one that came back short: a pipe's default capacity, the most one read of
/// a pipe brings. The room is zeroed before each read, and zeroing a whole block for every 64 KiB a pipe brings
/// was 4 times the input in `memset`. A read that fills its room doubles the next one, up to the block size, so
/// a regular file on stdin is still read in whole blocks.
const EAGER_READ: usize = 64 * 1024;

impl BlockReader {
    /// A reader producing blocks of about `block_size` bytes; physical lines longer than `max_physical` are
    /// dropped whole.
    pub fn new(input: OpenedInput, block_size: usize, max_physical: usize) -> Self {
        BlockReader {
            reader: input.reader,
            counter: input.counter,
            carry: input.head,
            block_size: block_size.max(4096),
            max_physical,
            skipping: false,
            eof: false,
            eager: false,
            eager_room: EAGER_READ,
            error: None,
        }
    }

    /// Hands out a block as soon as a read brings a complete line, instead of filling the block first (for
    /// streaming inputs where latency matters more than block size).
    pub fn eager(mut self) -> Self {
        self.eager = true;
        self
    }

    /// Fills `batch.buf` (cleared first) with the next block; returns the number of bytes to frame, or `None`
    /// at end of input. Oversize physical lines are counted in `batch.counts.oversize`.
    pub fn next_block(&mut self, batch: &mut LineBatch) -> Option<usize> {
        batch.clear();
        batch.buf.extend_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if self.eof {
                if batch.buf.is_empty() {
                    return None;
                }
                if self.skipping {
                    self.skipping = false;
                    batch.counts.oversize += 1;
                    batch.buf.clear();
                    return None;
                }
                return Some(batch.buf.len());
            }
            let before = batch.buf.len();
            let want = self.block_size.saturating_sub(before).max(EAGER_READ);
            let n = if self.eager {
                // One `read`, whatever it brings: a streaming input hands out lines as they come.
                let room = self.eager_room.min(want);
                batch.buf.resize(before + room, 0);
                let n = loop {
                    match self.reader.read(&mut batch.buf[before..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.error = Some(e);
                            self.eof = true;
                            break 0;
                        }
                    }
                };
                batch.buf.truncate(before + n);
                self.eager_room = if n == room {
                    (room * 2).min(self.block_size.max(EAGER_READ))
                } else {
                    EAGER_READ
                };
                n
            } else {
                // Fill the block. `read_to_end` reads into the vector's spare capacity, which a file reads
                // into without zeroing it first (zeroing every block was an eighth of a mixed-log replay).
                batch.buf.reserve_exact(want);
                let result = (&mut self.reader)
                    .take(want as u64)
                    .read_to_end(&mut batch.buf);
                if let Err(e) = result {
                    self.error = Some(e);
                    self.eof = true;
                }
                batch.buf.len() - before
            };
            if let Some(c) = &self.counter {
                c.fetch_add(n as u64, Ordering::Relaxed);
            }
            if n == 0 && self.error.is_none() && !self.eof {
                self.eof = true;
                continue;
            }
            if self.skipping {
                // Discard up to and including the next newline.
                match memchr::memchr(b'\n', &batch.buf) {
                    Some(i) => {
                        batch.buf.drain(..=i);
                        self.skipping = false;
                        batch.counts.oversize += 1;
                    }
                    None => {
                        batch.buf.clear();
                        continue;
                    }
                }
            }
            let have_line =
                self.eager && n > 0 && memchr::memchr(b'\n', &batch.buf[before..]).is_some();
            if batch.buf.len() < self.block_size && !self.eof && !have_line {
                continue;
            }
            match memchr::memrchr(b'\n', &batch.buf) {
                Some(i) => {
                    self.carry.extend_from_slice(&batch.buf[i + 1..]);
                    batch.buf.truncate(i + 1);
                    return Some(batch.buf.len());
                }
                None if self.eof => return Some(batch.buf.len()),
                None if batch.buf.len() > self.max_physical => {
                    // One physical line longer than allowed: drop it whole.
                    batch.buf.clear();
                    self.skipping = true;
                }
                None => {} // keep reading this long line
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn blocks(data: &[u8], block: usize, max: usize) -> (Vec<Vec<u8>>, u64, bool) {
        let counter = Arc::new(AtomicU64::new(0));
        let input = OpenedInput {
            reader: Box::new(io::Cursor::new(data.to_vec())),
            head: Vec::new(),
            gzip: false,
            counter: Some(Arc::clone(&counter)),
        };
        let mut r = BlockReader::new(input, block, max);
        r.block_size = block; // allow tiny blocks in tests
        let mut out = Vec::new();
        let mut oversize = 0;
        let mut b = LineBatch::new(usize::MAX);
        while let Some(n) = r.next_block(&mut b) {
            out.push(b.buf[..n].to_vec());
            oversize += b.counts.oversize;
        }
        assert_eq!(counter.load(Ordering::Relaxed), data.len() as u64);
        oversize += b.counts.oversize;
        (out, oversize, r.error.is_some())
    }

    /// A plain file is read past the gzip check's look-ahead without losing, repeating or miscounting a byte:
    /// the look-ahead starts the first block and the file is read on from where it stopped.
    #[test]
    fn a_plain_file_reads_whole_after_the_gzip_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let data: Vec<u8> = (0..40_000u32)
            .flat_map(|i| format!("line {i:08} {}\n", "x".repeat((i % 50) as usize)).into_bytes())
            .collect();
        assert!(data.len() > 3 * 256 * 1024);
        std::fs::write(&path, &data).unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let input = open(&InputSpec::Path(path), Arc::clone(&counter)).unwrap();
        assert!(!input.gzip);
        let mut r = BlockReader::new(input, 300 * 1024, 1 << 20);
        let mut b = LineBatch::new(usize::MAX);
        let mut read = Vec::new();
        let mut blocks = 0;
        while let Some(n) = r.next_block(&mut b) {
            read.extend_from_slice(&b.buf[..n]);
            blocks += 1;
        }
        assert!(r.error.is_none());
        assert!(blocks > 2, "{blocks}");
        assert!(read == data, "bytes differ");
        assert_eq!(counter.load(Ordering::Relaxed), data.len() as u64);
    }

    /// A reader that brings at most `step` bytes per `read`, as a pipe does.
    struct Trickle {
        data: io::Cursor<Vec<u8>>,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.data.read(&mut buf[..n])
        }
    }

    /// Eager reads (stdin) hand out every byte in whole lines whatever each read brings; their room grows while
    /// reads fill it (a regular file) and stays at `EAGER_READ` while they come back short (a pipe).
    #[test]
    fn eager_reads_lose_nothing_and_grow_only_while_reads_fill_them() {
        let mut data = Vec::new();
        for i in 0..3_000u32 {
            data.extend_from_slice(
                format!("line {i} {}\n", "y".repeat((i % 300) as usize)).as_bytes(),
            );
        }
        data.extend_from_slice(&vec![b'z'; 200_000]);
        data.extend_from_slice(b"\nlast\n");
        for (step, largest_room) in [
            (usize::MAX, 256 * 1024),
            (EAGER_READ, 2 * EAGER_READ),
            (1000, EAGER_READ),
        ] {
            let input = OpenedInput {
                reader: Box::new(Trickle {
                    data: io::Cursor::new(data.clone()),
                    step,
                }),
                head: Vec::new(),
                gzip: false,
                counter: None,
            };
            let mut r = BlockReader::new(input, 256 * 1024, 1 << 20).eager();
            let (mut b, mut read, mut room) = (LineBatch::new(usize::MAX), Vec::new(), 0);
            while let Some(n) = r.next_block(&mut b) {
                assert_eq!(b.buf[..n].last(), Some(&b'\n'), "step {step}");
                read.extend_from_slice(&b.buf[..n]);
                room = room.max(r.eager_room);
            }
            assert!(r.error.is_none());
            assert!(read == data, "step {step}: bytes differ");
            assert_eq!(room, largest_room, "step {step}");
        }
    }

    #[test]
    fn blocks_end_on_line_boundaries() {
        let data = b"aaaa\nbbbb\ncccc\ndd";
        let (bl, over, err) = blocks(data, 6, 100);
        assert!(!err);
        assert_eq!(over, 0);
        assert_eq!(bl.concat(), data.to_vec());
        for b in &bl[..bl.len() - 1] {
            assert_eq!(b.last(), Some(&b'\n'));
        }
    }

    #[test]
    fn overlong_physical_line_dropped_whole() {
        let long = vec![b'x'; 300_000];
        let mut data = b"first\n".to_vec();
        data.extend_from_slice(&long);
        data.extend_from_slice(b"\nlast\n");
        let (bl, over, _) = blocks(&data, 4096, 100_000);
        assert_eq!(over, 1);
        let joined = bl.concat();
        assert_eq!(joined, b"first\nlast\n".to_vec());
    }

    #[test]
    fn multi_member_and_cut_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log.gz");
        let mut bytes = Vec::new();
        for part in [&b"one\ntwo\n"[..], b"three\n"] {
            let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            bytes.extend(e.finish().unwrap());
        }
        std::fs::write(&p, &bytes).unwrap();
        let spec = InputSpec::Path(p.clone());
        let counter = Arc::new(AtomicU64::new(0));
        let read_all = |spec: &InputSpec| {
            counter.store(0, Ordering::Relaxed);
            let inp = open(spec, Arc::clone(&counter)).unwrap();
            assert!(inp.gzip);
            let mut r = BlockReader::new(inp, 4096, 1 << 20);
            let mut b = LineBatch::new(usize::MAX);
            let mut all = Vec::new();
            while let Some(n) = r.next_block(&mut b) {
                all.extend_from_slice(&b.buf[..n]);
            }
            (all, r.error.is_some())
        };
        assert_eq!(read_all(&spec), (b"one\ntwo\nthree\n".to_vec(), false));
        // Progress counts the compressed bytes the decoder consumed: the whole file.
        assert_eq!(counter.load(Ordering::Relaxed), bytes.len() as u64);
        // Cut the file in the middle of the second member.
        std::fs::write(&p, &bytes[..bytes.len() - 10]).unwrap();
        let (all, err) = read_all(&spec);
        assert!(err, "a cut gzip must be reported");
        assert!(
            all.starts_with(b"one\ntwo\n"),
            "{:?}",
            String::from_utf8_lossy(&all)
        );
    }
}
