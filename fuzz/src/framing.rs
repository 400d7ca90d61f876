//! Framing properties, checked for one `Format` on arbitrary bytes.
//!
//! For a small and a large line limit: (1) no logical line exceeds the limit; (2) `physical_lines` and `bytes`
//! match the input; (3) every logical line or oversize count is paid for by a physical line that was not
//! malformed; (4) framing the whole input as one block and framing it one physical line per block (each with
//! a fresh `LineBatch`, as the pipeline hands blocks over) yield the same lines and the same counts.

use hubble_ingest::frame::{Format, FrameCounts, Framer, LineBatch};

/// Line limits tried on every input: small enough that fixture records are oversize, and the default-sized.
const LIMITS: [usize; 2] = [48, 1 << 20];

/// The logical lines and summed counters of one framing run.
#[derive(Debug, PartialEq, Eq)]
struct Framed {
    lines: Vec<Vec<u8>>,
    counts: FrameCounts,
}

fn collect(batch: &LineBatch, out: &mut Framed) {
    out.lines.extend(batch.iter().map(<[u8]>::to_vec));
    out.counts.add(&batch.counts);
}

/// Frames `data` as one block, then `finish` into the same batch.
fn frame_whole(format: Format, data: &[u8], max: usize) -> Framed {
    let mut framer = Framer::new(format);
    let mut batch = LineBatch::new(max);
    batch.buf.extend_from_slice(data);
    framer.frame_block(&mut batch, data.len());
    framer.finish(&mut batch);
    let mut out = Framed {
        lines: Vec::new(),
        counts: FrameCounts::default(),
    };
    collect(&batch, &mut out);
    out
}

/// Frames `data` one physical line (with its `\n`) per block, each in a fresh batch, then `finish` into
/// another fresh batch.
fn frame_per_line(format: Format, data: &[u8], max: usize) -> Framed {
    let mut framer = Framer::new(format);
    let mut out = Framed {
        lines: Vec::new(),
        counts: FrameCounts::default(),
    };
    let mut batch = LineBatch::new(max);
    for block in data.split_inclusive(|&b| b == b'\n') {
        batch.clear();
        batch.buf.extend_from_slice(block);
        framer.frame_block(&mut batch, block.len());
        collect(&batch, &mut out);
    }
    batch.clear();
    framer.finish(&mut batch);
    collect(&batch, &mut out);
    out
}

/// Number of physical lines in `data`: every `\n` ends one, and a last line without `\n` counts too.
fn physical_lines(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(data.last().is_some_and(|&b| b != b'\n'));
    newlines + unterminated
}

/// Checks every framing property for `format` on `data`; panics on the first violation.
pub fn check(format: Format, data: &[u8]) {
    for max in LIMITS {
        let whole = frame_whole(format, data, max);
        for line in &whole.lines {
            assert!(
                line.len() <= max,
                "{format:?}: line of {} bytes over the limit {max}",
                line.len()
            );
        }
        assert_eq!(whole.counts.bytes, data.len() as u64, "{format:?}: bytes");
        assert_eq!(
            whole.counts.physical_lines,
            physical_lines(data),
            "{format:?}: physical lines"
        );
        let emitted =
            whole.lines.len() as u64 + whole.counts.oversize + whole.counts.malformed_frame;
        assert!(
            emitted <= whole.counts.physical_lines,
            "{format:?}: {emitted} lines+oversize+malformed from {} physical lines",
            whole.counts.physical_lines
        );
        let per_line = frame_per_line(format, data, max);
        assert_eq!(
            whole, per_line,
            "{format:?} max={max}: one block vs one line per block"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRI: &[u8] = include_bytes!("../../fixtures/cri-0.log");
    const DOCKER: &[u8] = include_bytes!("../../fixtures/docker-json.log");

    #[test]
    fn fixtures_pass_every_property_and_yield_lines() {
        for (format, data) in [
            (Format::Cri, CRI),
            (Format::Docker, DOCKER),
            (Format::Auto, CRI),
        ] {
            check(format, data);
            let framed = frame_per_line(format, data, 1 << 20);
            assert!(
                framed.lines.len() > 20,
                "{format:?}: {}",
                framed.lines.len()
            );
            assert_eq!(framed.counts.malformed_frame, 0, "{format:?}");
        }
    }

    #[test]
    fn physical_lines_counts_an_unterminated_last_line() {
        assert_eq!(physical_lines(b""), 0);
        assert_eq!(physical_lines(b"a\n\nb"), 3);
        assert_eq!(physical_lines(b"a\n"), 1);
    }
}
