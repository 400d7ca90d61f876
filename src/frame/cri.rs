//! CRI container log lines: `<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <message>`.
//!
//! Follows kubelet's `parseCRILog`: single spaces separate the fields, the tag field is `:`-separated tags whose
//! first is `P` (partial) or `F` (full). `P` chunks are joined per stream until the stream's next `F` chunk;
//! stdout and stderr interleave in one file, so each has its own pending buffer.

use super::LineBatch;

/// The stream a CRI line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// A parsed CRI line: stream, whether it is partial, and where its message starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriLine {
    /// The stream.
    pub stream: Stream,
    /// `P` tag: the message continues in the stream's next line.
    pub partial: bool,
    /// Offset of the message within the line.
    pub message_start: usize,
}

/// Parses one CRI line; `None` if it is not one.
pub fn parse(line: &[u8]) -> Option<CriLine> {
    let ts_end = memchr::memchr(b' ', line)?;
    let ts = &line[..ts_end];
    // RFC 3339: starts with a 4-digit year and a '-', contains 'T'.
    if ts.len() < 20 || !ts[..4].iter().all(u8::is_ascii_digit) || ts[4] != b'-' || ts[10] != b'T' {
        return None;
    }
    let rest = &line[ts_end + 1..];
    let (stream, rest) = if let Some(r) = rest.strip_prefix(b"stdout ") {
        (Stream::Stdout, r)
    } else if let Some(r) = rest.strip_prefix(b"stderr ") {
        (Stream::Stderr, r)
    } else {
        return None;
    };
    let tag_len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let tags = &rest[..tag_len];
    let first_tag = tags.split(|&b| b == b':').next().unwrap_or(b"");
    let partial = match first_tag {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    let consumed = line.len() - rest.len() + tag_len;
    let message_start = (consumed + 1).min(line.len());
    Some(CriLine {
        stream,
        partial,
        message_start,
    })
}

/// Joins CRI `P` chunks per stream.
#[derive(Debug, Default)]
pub struct CriFramer {
    pending: [Pending; 2],
}

#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    active: bool,
    oversize: bool,
}

impl CriFramer {
    /// Frames the physical line `batch.buf[start..end]`.
    pub fn frame_line(&mut self, batch: &mut LineBatch, start: usize, end: usize) {
        let Some(cri) = parse(&batch.buf[start..end]) else {
            batch.counts.malformed_frame += 1;
            return;
        };
        let msg_start = start + cri.message_start;
        let p = &mut self.pending[cri.stream as usize];
        if cri.partial {
            if !p.oversize {
                if p.buf.len() + (end - msg_start) > batch.max_line_bytes {
                    p.oversize = true;
                    p.buf.clear();
                } else {
                    p.buf.extend_from_slice(&batch.buf[msg_start..end]);
                }
            }
            p.active = true;
            return;
        }
        if !p.active {
            batch.push_range(msg_start, end);
            return;
        }
        if p.oversize || p.buf.len() + (end - msg_start) > batch.max_line_bytes {
            batch.counts.oversize += 1;
        } else {
            p.buf.extend_from_slice(&batch.buf[msg_start..end]);
            batch.push_owned(&p.buf);
        }
        p.buf.clear();
        p.active = false;
        p.oversize = false;
    }

    /// Whether a partial line is held.
    pub fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| p.active)
    }

    /// Emits pending partial lines (end of input).
    pub fn finish(&mut self, batch: &mut LineBatch) {
        for p in &mut self.pending {
            if p.active {
                if p.oversize {
                    batch.counts.oversize += 1;
                } else {
                    batch.push_owned(&p.buf);
                }
            }
            p.buf.clear();
            p.active = false;
            p.oversize = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Format, Framer, LineBatch};
    use super::*;

    fn run(input: &str, max: usize) -> (Vec<String>, super::super::FrameCounts) {
        let mut f = Framer::new(Format::Cri);
        let mut b = LineBatch::new(max);
        b.buf.extend_from_slice(input.as_bytes());
        f.frame_block(&mut b, input.len());
        f.finish(&mut b);
        (
            b.iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect(),
            b.counts,
        )
    }

    #[test]
    fn parses_kubelet_examples() {
        let l = parse(b"2016-10-06T00:17:09.669794202Z stdout P log content 1").unwrap();
        assert_eq!(l.stream, Stream::Stdout);
        assert!(l.partial);
        assert_eq!(
            &b"2016-10-06T00:17:09.669794202Z stdout P log content 1"[l.message_start..],
            b"log content 1"
        );
        let l = parse(b"2016-10-06T00:17:10.113242941+02:00 stderr F:x:y msg").unwrap();
        assert!(!l.partial);
        assert_eq!(l.stream, Stream::Stderr);
        // Empty message.
        let line = b"2016-10-06T00:17:10.113242941Z stdout F";
        assert_eq!(parse(line).unwrap().message_start, line.len());
        assert!(parse(b"2016-10-06T00:17:10Z stdin F x").is_none());
        assert!(parse(b"2016-10-06T00:17:10Z stdout X x").is_none());
        assert!(parse(b"hello stdout F x").is_none());
    }

    #[test]
    fn joins_partials_per_stream() {
        let input = "2024-01-01T00:00:00.000000001Z stdout P {\"fl\n\
                     2024-01-01T00:00:00.000000002Z stderr F agent says hi\n\
                     2024-01-01T00:00:00.000000003Z stdout P ow\":\n\
                     2024-01-01T00:00:00.000000004Z stdout F {}}\n\
                     2024-01-01T00:00:00.000000005Z stdout F whole\n";
        let (lines, counts) = run(input, 1 << 20);
        assert_eq!(lines, vec!["agent says hi", "{\"flow\":{}}", "whole"]);
        assert_eq!(counts.malformed_frame, 0);
    }

    #[test]
    fn oversize_join_is_skipped_whole_and_next_line_survives() {
        let input = "2024-01-01T00:00:00.000000001Z stdout P 0123456789\n\
                     2024-01-01T00:00:00.000000002Z stdout P 0123456789\n\
                     2024-01-01T00:00:00.000000003Z stdout F x\n\
                     2024-01-01T00:00:00.000000004Z stdout F ok\n";
        let (lines, counts) = run(input, 15);
        assert_eq!(lines, vec!["ok"]);
        assert_eq!(counts.oversize, 1);
    }

    #[test]
    fn malformed_lines_and_dangling_partial() {
        let input = "not a cri line\n2024-01-01T00:00:00.000000001Z stdout P {\"flow\":";
        let (lines, counts) = run(input, 1 << 20);
        assert_eq!(lines, vec!["{\"flow\":"]);
        assert_eq!(counts.malformed_frame, 1);
    }
}
