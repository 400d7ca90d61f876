//! Line assembly for one file: bytes in, runs of complete lines out.
//!
//! Owns the per-file partial line, and reads into a block lent by the tailer ([`LineBuffer::swap_block`]).
//! Guarantees: every emitted run is contiguous in the file (`bytes == file[start..end]`), non-empty and ends with
//! `b'\n'`; a trailing partial line stays buffered until its newline arrives; a line whose content (without
//! `\n`) exceeds `max_line_bytes` is never emitted, only reported with its offset and length; what a file keeps
//! between reads stays below `max_line_bytes`, and the lent block below that plus one read.

/// What [`LineBuffer::drain`] reports besides line runs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrainCounts {
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
}

#[derive(Debug)]
pub(crate) struct LineBuffer {
    data: Vec<u8>,
    len: usize,
    /// File offset of `data[0]`.
    base: u64,
    /// Start offset of an over-long line being discarded.
    skipping: Option<u64>,
    max_line_bytes: usize,
}

impl LineBuffer {
    pub(crate) fn new(offset: u64, max_line_bytes: usize) -> Self {
        LineBuffer {
            data: Vec::new(),
            len: 0,
            base: offset,
            skipping: None,
            max_line_bytes,
        }
    }

    /// Offset just after the last complete line handed out or skipped: where reading may safely resume.
    pub(crate) fn resume_offset(&self) -> u64 {
        self.skipping.unwrap_or(self.base)
    }

    /// Offset of the next byte to be read from the file.
    pub(crate) fn read_offset(&self) -> u64 {
        self.base + self.len as u64
    }

    /// Bytes of an unterminated line currently held (or being skipped).
    pub(crate) fn pending_bytes(&self) -> u64 {
        self.read_offset() - self.resume_offset()
    }

    /// Forget everything and continue at `offset`.
    pub(crate) fn reset(&mut self, offset: u64) {
        self.len = 0;
        self.base = offset;
        self.skipping = None;
    }

    /// Swaps the buffer being worked in with `block`, carrying the buffered bytes over. Called with the tailer's
    /// read block before a pass and again after it, the pass reads into the block and the file keeps only its
    /// partial line (in its own buffer, which grows no larger than that).
    pub(crate) fn swap_block(&mut self, block: &mut Vec<u8>) {
        std::mem::swap(&mut self.data, block);
        if self.data.len() < self.len {
            self.data.resize(self.len, 0);
        }
        self.data[..self.len].copy_from_slice(&block[..self.len]);
    }

    /// A writable slice of `n` bytes after the buffered data; follow with [`LineBuffer::commit`].
    pub(crate) fn spare(&mut self, n: usize) -> &mut [u8] {
        if self.data.len() < self.len + n {
            self.data.resize(self.len + n, 0);
        }
        &mut self.data[self.len..self.len + n]
    }

    pub(crate) fn commit(&mut self, n: usize) {
        self.len += n;
    }

    /// Hands out the complete lines buffered so far as contiguous runs `(bytes, start, end)`, and reports each
    /// over-long line as `(start, length_including_newline_or_so_far)`.
    pub(crate) fn drain(
        &mut self,
        emit: &mut dyn FnMut(&[u8], u64, u64),
        too_long: &mut dyn FnMut(u64, u64),
    ) -> DrainCounts {
        let mut counts = DrainCounts::default();
        let data = &self.data[..self.len];
        let mut line_start = 0usize;
        if let Some(skip_start) = self.skipping {
            match memchr::memchr(b'\n', data) {
                None => {
                    self.base += self.len as u64;
                    self.len = 0;
                    return counts;
                }
                Some(nl) => {
                    let end = self.base + nl as u64 + 1;
                    if end - skip_start > self.max_line_bytes as u64 + 1 {
                        too_long(skip_start, end - skip_start);
                    }
                    self.skipping = None;
                    line_start = nl + 1;
                }
            }
        }
        let mut run_start = line_start;
        let scan_from = line_start;
        for nl in memchr::memchr_iter(b'\n', &data[scan_from..]) {
            let nl = scan_from + nl;
            if nl - line_start > self.max_line_bytes {
                if run_start < line_start {
                    emit(
                        &data[run_start..line_start],
                        self.base + run_start as u64,
                        self.base + line_start as u64,
                    );
                    counts.bytes += (line_start - run_start) as u64;
                }
                too_long(self.base + line_start as u64, (nl + 1 - line_start) as u64);
                run_start = nl + 1;
            } else {
                counts.lines += 1;
            }
            line_start = nl + 1;
        }
        if run_start < line_start {
            emit(
                &data[run_start..line_start],
                self.base + run_start as u64,
                self.base + line_start as u64,
            );
            counts.bytes += (line_start - run_start) as u64;
        }
        let rest = self.len - line_start;
        if rest > self.max_line_bytes {
            // The partial line is already too long: drop it and discard up to its newline.
            self.skipping = Some(self.base + line_start as u64);
            self.base += self.len as u64;
            self.len = 0;
        } else {
            self.data.copy_within(line_start..self.len, 0);
            self.base += line_start as u64;
            self.len = rest;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Runs = Vec<(Vec<u8>, u64, u64)>;

    fn feed(buf: &mut LineBuffer, bytes: &[u8]) -> (Runs, Vec<(u64, u64)>, DrainCounts) {
        buf.spare(bytes.len()).copy_from_slice(bytes);
        buf.commit(bytes.len());
        let mut runs = Vec::new();
        let mut long = Vec::new();
        let counts = buf.drain(&mut |b, s, e| runs.push((b.to_vec(), s, e)), &mut |s, l| {
            long.push((s, l))
        });
        (runs, long, counts)
    }

    #[test]
    fn partial_line_is_held_until_its_newline() {
        let mut buf = LineBuffer::new(100, 64);
        let (runs, _, _) = feed(&mut buf, b"abc");
        assert!(runs.is_empty());
        assert_eq!(buf.resume_offset(), 100);
        assert_eq!(buf.read_offset(), 103);
        let (runs, _, counts) = feed(&mut buf, b"def\ngh");
        assert_eq!(runs, vec![(b"abcdef\n".to_vec(), 100, 107)]);
        assert_eq!(counts, DrainCounts { bytes: 7, lines: 1 });
        assert_eq!(buf.pending_bytes(), 2);
    }

    #[test]
    fn long_line_in_the_middle_splits_the_run() {
        let mut buf = LineBuffer::new(0, 4);
        let (runs, long, counts) = feed(&mut buf, b"ab\ntoolong\ncd\n");
        assert_eq!(
            runs,
            vec![(b"ab\n".to_vec(), 0, 3), (b"cd\n".to_vec(), 11, 14)]
        );
        assert_eq!(long, vec![(3, 8)]);
        assert_eq!(counts.lines, 2);
    }

    #[test]
    fn long_partial_line_is_skipped_across_reads() {
        let mut buf = LineBuffer::new(0, 4);
        let (runs, long, _) = feed(&mut buf, b"ok\nxxxxxx");
        assert_eq!(runs, vec![(b"ok\n".to_vec(), 0, 3)]);
        assert!(long.is_empty());
        assert_eq!(buf.resume_offset(), 3);
        let (runs, long, _) = feed(&mut buf, b"xxxx");
        assert!(runs.is_empty() && long.is_empty());
        let (runs, long, _) = feed(&mut buf, b"x\nfine\n");
        assert_eq!(long, vec![(3, 12)]);
        assert_eq!(runs, vec![(b"fine\n".to_vec(), 15, 20)]);
        assert_eq!(buf.resume_offset(), 20);
    }

    #[test]
    fn files_taking_turns_in_one_block_keep_only_their_partial_lines() {
        let mut block = Vec::new();
        let (mut a, mut b) = (LineBuffer::new(0, 64), LineBuffer::new(0, 64));
        let pass = |buf: &mut LineBuffer, block: &mut Vec<u8>, bytes: &[u8]| {
            buf.swap_block(block);
            let (runs, _, _) = feed(buf, bytes);
            buf.swap_block(block);
            runs
        };
        assert_eq!(
            pass(&mut a, &mut block, b"a1\na2-part"),
            vec![(b"a1\n".to_vec(), 0, 3)]
        );
        assert!(pass(&mut b, &mut block, b"b1-part").is_empty());
        assert_eq!(
            pass(&mut a, &mut block, b"ial\n"),
            vec![(b"a2-partial\n".to_vec(), 3, 14)]
        );
        assert_eq!(
            pass(&mut b, &mut block, b"ial\nb2\n"),
            vec![(b"b1-partial\nb2\n".to_vec(), 0, 14)]
        );
        // Between passes each file holds its longest partial line so far ("a2-part", "b1-part"), no more.
        assert_eq!((a.data.len(), b.data.len()), (7, 7));
        assert!(block.len() >= 14);
    }

    #[test]
    fn line_of_exactly_max_bytes_is_kept() {
        let mut buf = LineBuffer::new(0, 4);
        let (runs, long, _) = feed(&mut buf, b"abcd\n");
        assert_eq!(runs.len(), 1);
        assert!(long.is_empty());
    }
}
