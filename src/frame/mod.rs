//! Framing: physical lines of a log file → logical lines (one exporter record or agent log line each).
//!
//! Container runtimes wrap what cilium-agent writes: CRI (`<ts> <stream> <P|F> <msg>`, long lines split into
//! `P` chunks), docker json-file (`{"log":"...\n",...}`, long lines split into entries without the trailing
//! `\n`), and Fluent Bit's JSON records. A [`Framer`] undoes that wrapping for one file, keeping partial lines
//! per stream until they are complete, and appends logical lines to a [`LineBatch`]. Logical lines that need no
//! rewriting (raw lines, CRI `F` lines) are ranges into the batch's own buffer: no copy.
//!
//! Guarantees: never panics on any input; a logical line longer than the batch's limit is counted and skipped
//! whole (never truncated into a different record); a physical line the format cannot parse is counted.
//!
//! See ARCHITECTURE.md ("frame").

pub mod agentlog;
mod cri;
mod jsonlog;

pub use cri::CriFramer;
pub use jsonlog::JsonLogFramer;

/// Input framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Detect per file from its first non-empty line.
    Auto,
    /// One record per line.
    Raw,
    /// CRI container log (containerd, CRI-O).
    Cri,
    /// Docker json-file log.
    Docker,
    /// Fluent Bit JSON records (`{"log":..}` objects or `[time, {..}]` arrays).
    Fluentbit,
    /// A Fluentd `out_exec` chunk written with `<format> json`: one record object per line, the line in `log`
    /// (or the record itself when Fluentd already parsed the exporter object). With `replay`, any line that
    /// cannot be read makes the exit status non-zero, so Fluentd retries the chunk.
    FluentdJson,
}

/// A batch of logical lines: ranges into one buffer that holds the physical bytes read and, after them, any
/// logical lines the framer had to rebuild (joined partials, unescaped docker/Fluent Bit `log` strings).
#[derive(Debug, Default)]
pub struct LineBatch {
    /// Physical bytes, then rebuilt lines.
    pub buf: Vec<u8>,
    /// Logical lines as `(start, end)` offsets into `buf`, and whether the line may hold a backslash (`false`
    /// only when framing looked and found none; see [`LineBatch::iter_escapes`]).
    lines: Vec<(u32, u32, bool)>,
    /// Counters of what framing saw.
    pub counts: FrameCounts,
    /// Longest logical line accepted, in bytes.
    pub max_line_bytes: usize,
}

/// Framing counters for one batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameCounts {
    /// Physical lines read.
    pub physical_lines: u64,
    /// Physical bytes read (after decompression).
    pub bytes: u64,
    /// Logical lines skipped because they exceeded the size limit.
    pub oversize: u64,
    /// Physical lines the framing could not parse (not CRI / not docker JSON).
    pub malformed_frame: u64,
    /// Logical lines that were exporter records wrapped in an agent log entry, unwrapped ([`agentlog`]).
    pub unwrapped_log_lines: u64,
}

impl FrameCounts {
    /// Adds another batch's counts.
    pub fn add(&mut self, o: &FrameCounts) {
        self.physical_lines += o.physical_lines;
        self.bytes += o.bytes;
        self.oversize += o.oversize;
        self.malformed_frame += o.malformed_frame;
        self.unwrapped_log_lines += o.unwrapped_log_lines;
    }
}

impl LineBatch {
    /// An empty batch accepting logical lines up to `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        LineBatch {
            max_line_bytes,
            ..Default::default()
        }
    }

    /// Clears the batch for reuse, keeping its allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.lines.clear();
        self.counts = FrameCounts::default();
    }

    /// Records `buf[start..end]` as a logical line (an exporter record wrapped in an agent log line is
    /// unwrapped first).
    pub fn push_range(&mut self, start: usize, end: usize) {
        self.push_range_escapes(start, end, true);
    }

    /// [`LineBatch::push_range`] for a line the caller has looked at: `may_escape` is false only if the line
    /// holds no backslash.
    fn push_range_escapes(&mut self, start: usize, end: usize, may_escape: bool) {
        if end - start > self.max_line_bytes {
            self.counts.oversize += 1;
        } else if let Some(record) = agentlog::unwrap(&self.buf[start..end]) {
            self.counts.unwrapped_log_lines += 1;
            self.push_rebuilt(&record);
        } else {
            self.lines.push((start as u32, end as u32, may_escape));
        }
    }

    /// Appends a rebuilt logical line (an exporter record wrapped in an agent log line is unwrapped first).
    pub fn push_owned(&mut self, line: &[u8]) {
        if line.len() > self.max_line_bytes {
            self.counts.oversize += 1;
            return;
        }
        match agentlog::unwrap(line) {
            Some(record) => {
                self.counts.unwrapped_log_lines += 1;
                self.push_rebuilt(&record);
            }
            None => self.push_rebuilt(line),
        }
    }

    fn push_rebuilt(&mut self, line: &[u8]) {
        if line.len() > self.max_line_bytes {
            self.counts.oversize += 1;
            return;
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(line);
        self.lines.push((start as u32, self.buf.len() as u32, true));
    }

    /// The logical lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter_escapes().map(|(line, _)| line)
    }

    /// The logical lines, in order, each with whether it may hold a backslash: `false` means framing found
    /// none (raw framing looks while it searches for the newline, so a consumer that must know need not scan
    /// the line again); `true` means it does, or framing did not look.
    pub fn iter_escapes(&self) -> impl Iterator<Item = (&[u8], bool)> + '_ {
        self.lines
            .iter()
            .map(move |&(s, e, may_escape)| (&self.buf[s as usize..e as usize], may_escape))
    }

    /// Number of logical lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the batch holds no logical line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The framing state of one input file.
#[derive(Debug)]
pub enum Framer {
    /// Still looking at the first non-empty line to choose.
    Detect,
    /// One record per physical line.
    Raw,
    /// CRI.
    Cri(CriFramer),
    /// Docker json-file or Fluent Bit records.
    JsonLog(JsonLogFramer),
}

impl Framer {
    /// A framer for the given format (`Auto` detects on the first non-empty line).
    pub fn new(format: Format) -> Self {
        match format {
            Format::Auto => Framer::Detect,
            Format::Raw => Framer::Raw,
            Format::Cri => Framer::Cri(CriFramer::default()),
            Format::Docker => Framer::JsonLog(JsonLogFramer::docker()),
            Format::Fluentbit | Format::FluentdJson => Framer::JsonLog(JsonLogFramer::fluentbit()),
        }
    }

    /// The format in use (`Auto` while still detecting).
    pub fn format(&self) -> Format {
        match self {
            Framer::Detect => Format::Auto,
            Framer::Raw => Format::Raw,
            Framer::Cri(_) => Format::Cri,
            Framer::JsonLog(j) if j.joins_partials() => Format::Docker,
            Framer::JsonLog(_) => Format::Fluentbit,
        }
    }

    /// While still detecting, chooses the format from the first non-empty line of `block` (if it has one).
    pub fn resolve(&mut self, block: &[u8]) {
        if !matches!(self, Framer::Detect) {
            return;
        }
        let first = block
            .split(|&b| b == b'\n')
            .find(|l| !l.iter().all(|b| b.is_ascii_whitespace()));
        if let Some(line) = first {
            *self = Framer::new(detect(line));
        }
    }

    /// Whether framing keeps no state between lines (so blocks can be framed independently, in parallel).
    pub fn is_stateless(&self) -> bool {
        matches!(self, Framer::Raw)
    }

    /// Frames every complete physical line in `batch.buf[..len]` (each ends with `\n`, except possibly the
    /// last when `at_eof`), appending logical lines to the batch.
    pub fn frame_block(&mut self, batch: &mut LineBatch, len: usize) {
        // Raw framing also notes whether each line holds a backslash, in the same search as its newline: the
        // prefilter needs to know, and would otherwise scan every line it rejects a second time.
        let raw = matches!(self, Framer::Raw);
        let mut pos = 0usize;
        while pos < len {
            let (end, may_escape) = if raw {
                raw_line_end(&batch.buf[..len], pos)
            } else {
                let end = memchr::memchr(b'\n', &batch.buf[pos..len]).map_or(len, |i| pos + i);
                (end, true)
            };
            let mut line_end = end;
            if line_end > pos && batch.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            batch.counts.physical_lines += 1;
            if raw {
                batch.push_range_escapes(pos, line_end, may_escape);
            } else {
                self.frame_line(batch, pos, line_end);
            }
            pos = end + 1;
        }
        batch.counts.bytes += len as u64;
    }

    /// Frames one physical line `batch.buf[start..end]` (without its terminator).
    pub fn frame_line(&mut self, batch: &mut LineBatch, start: usize, end: usize) {
        if let Framer::Detect = self {
            let line = &batch.buf[start..end];
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                batch.push_range(start, end);
                return;
            }
            *self = Framer::new(detect(line));
        }
        match self {
            Framer::Detect => unreachable_detect(batch, start, end),
            Framer::Raw => batch.push_range(start, end),
            Framer::Cri(c) => c.frame_line(batch, start, end),
            Framer::JsonLog(j) => j.frame_line(batch, start, end),
        }
    }

    /// Whether a partial line is held (its bytes were consumed but no logical line was emitted yet): a reader
    /// must not checkpoint past them.
    pub fn has_pending(&self) -> bool {
        match self {
            Framer::Cri(c) => c.has_pending(),
            Framer::JsonLog(j) => j.has_pending(),
            Framer::Detect | Framer::Raw => false,
        }
    }

    /// Emits whatever partial line is still pending (end of input): a record cut short by rotation or a crash
    /// is then counted by the decoder rather than silently dropped.
    pub fn finish(&mut self, batch: &mut LineBatch) {
        match self {
            Framer::Cri(c) => c.finish(batch),
            Framer::JsonLog(j) => j.finish(batch),
            Framer::Detect | Framer::Raw => {}
        }
    }
}

/// Where the physical line starting at `pos` ends (its newline, or the end of `buf`), and whether it may hold
/// a backslash (`false` only if it holds none): one `memchr2` search finds both.
fn raw_line_end(buf: &[u8], pos: usize) -> (usize, bool) {
    match memchr::memchr2(b'\n', b'\\', &buf[pos..]) {
        Some(i) if buf[pos + i] == b'\n' => (pos + i, false),
        Some(i) => match memchr::memchr(b'\n', &buf[pos + i..]) {
            Some(j) => (pos + i + j, true),
            None => (buf.len(), true),
        },
        None => (buf.len(), false),
    }
}

fn unreachable_detect(batch: &mut LineBatch, start: usize, end: usize) {
    // `frame_line` replaces `Detect` before matching; treat the line as raw should that ever change.
    batch.push_range(start, end);
}

/// Chooses a format from one non-empty physical line.
pub fn detect(line: &[u8]) -> Format {
    let trimmed = trim_start(line);
    if cri::parse(trimmed).is_some() {
        return Format::Cri;
    }
    match trimmed.first() {
        Some(b'[') => Format::Fluentbit,
        Some(b'{') => match jsonlog::classify(trimmed) {
            jsonlog::Shape::DockerEntry => Format::Docker,
            jsonlog::Shape::LogRecord => Format::Fluentbit,
            jsonlog::Shape::Other => Format::Raw,
        },
        _ => Format::Raw,
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(format: Format, input: &[u8]) -> (Vec<String>, FrameCounts) {
        let mut f = Framer::new(format);
        let mut b = LineBatch::new(1 << 20);
        b.buf.extend_from_slice(input);
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
    fn detects_formats() {
        assert_eq!(
            detect(b"2016-10-06T00:17:09.669794202Z stdout F {\"flow\":{}}"),
            Format::Cri
        );
        assert_eq!(
            detect(br#"{"log":"{\"flow\":{}}\n","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}"#),
            Format::Docker
        );
        assert_eq!(detect(br#"{"log":"x","kubernetes":{}}"#), Format::Fluentbit);
        assert_eq!(detect(br#"[1700000000.1,{"log":"x"}]"#), Format::Fluentbit);
        assert_eq!(detect(br#"{"flow":{"time":"x"}}"#), Format::Raw);
        assert_eq!(detect(b"level=info msg=x"), Format::Raw);
    }

    #[test]
    fn agent_log_wrapped_records_are_unwrapped_and_counted() {
        let wrapped =
            r#"level=info msg="{\"flow\":{\"uuid\":\"u1\",\"Summary\":\"a\\\"b\"}}" subsys=hubble"#;
        let record = r#"{"flow":{"uuid":"u1","Summary":"a\"b"}}"#;
        let plain = r#"level=info msg="Starting Hubble server" subsys=hubble"#;
        let input = format!("{wrapped}\n{plain}\n{record}\n");
        let (lines, c) = frame_all(Format::Raw, input.as_bytes());
        assert_eq!(lines, [record, plain, record]);
        assert_eq!(c.unwrapped_log_lines, 1);
        // The same lines as CRI container log entries, one split into P/F chunks.
        let (head, tail) = wrapped.split_at(30);
        let cri = format!(
            "2024-03-15T22:23:36.1Z stdout F {wrapped}\n2024-03-15T22:23:36.2Z stdout P {head}\n2024-03-15T22:23:36.2Z stdout F {tail}\n2024-03-15T22:23:36.3Z stdout F {plain}\n"
        );
        let (lines, c) = frame_all(Format::Auto, cri.as_bytes());
        assert_eq!(lines, [record, record, plain]);
        assert_eq!(c.unwrapped_log_lines, 2);
        // Docker json-file: the log string holds the wrapped line.
        let docker = serde_json::json!({"log": format!("{wrapped}\n"), "stream": "stdout", "time": "2024-03-15T22:23:36.1Z"});
        let (lines, c) = frame_all(Format::Docker, format!("{docker}\n").as_bytes());
        assert_eq!(lines, [record]);
        assert_eq!(c.unwrapped_log_lines, 1);
    }

    #[test]
    fn raw_lines_and_crlf() {
        let (lines, c) = frame_all(Format::Raw, b"a\r\nb\n\nc");
        assert_eq!(lines, vec!["a", "b", "", "c"]);
        assert_eq!(c.physical_lines, 4);
    }

    #[test]
    fn auto_detects_per_file_and_frames() {
        let input = b"\n2024-01-01T00:00:00.1Z stdout P {\"flow\":\n2024-01-01T00:00:00.2Z stderr F err\n2024-01-01T00:00:00.3Z stdout F {}}\n";
        let (lines, _) = frame_all(Format::Auto, input);
        assert_eq!(lines, vec!["", "err", "{\"flow\":{}}"]);
    }

    #[test]
    fn oversize_lines_are_counted_and_skipped() {
        let mut f = Framer::new(Format::Raw);
        let mut b = LineBatch::new(4);
        b.buf.extend_from_slice(b"1234\n12345\nab\n");
        f.frame_block(&mut b, 14);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![&b"1234"[..], b"ab"]);
        assert_eq!(b.counts.oversize, 1);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// A message (no newline) on stdout (false) or stderr (true), split into chunks at the given cut points.
    fn arb_events() -> impl Strategy<Value = Vec<(bool, String, Vec<usize>)>> {
        prop::collection::vec(
            (
                any::<bool>(),
                "[^\n\r]{0,60}",
                prop::collection::vec(0usize..60, 0..4),
            ),
            0..30,
        )
    }

    /// Writes CRI lines for the events: each stream's chunks stay in order, the two streams are merged by
    /// `merge` choices. Returns (file bytes, messages in the order their `F` chunk appears).
    fn cri_file(events: &[(bool, String, Vec<usize>)], merge: &[bool]) -> (Vec<u8>, Vec<String>) {
        let mut queues: [Vec<(String, bool, String)>; 2] = [Vec::new(), Vec::new()];
        for (i, (stderr, msg, cuts)) in events.iter().enumerate() {
            let mut cuts: Vec<usize> = cuts
                .iter()
                .map(|&c| c.min(msg.len()))
                .filter(|&c| msg.is_char_boundary(c))
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            let stream = if *stderr { "stderr" } else { "stdout" };
            let mut last = 0;
            for c in cuts.into_iter().chain(std::iter::once(msg.len())) {
                let full = c == msg.len();
                let tag = if full { "F" } else { "P" };
                let line = format!(
                    "2025-01-01T00:00:{:02}.000000001Z {stream} {tag} {}\n",
                    i % 60,
                    &msg[last..c]
                );
                queues[usize::from(*stderr)].push((line, full, msg.clone()));
                last = c;
                if full {
                    break;
                }
            }
        }
        let mut out = Vec::new();
        let mut expected = Vec::new();
        let (mut a, mut b) = (0, 0);
        let mut choice = merge.iter().cycle();
        while a < queues[0].len() || b < queues[1].len() {
            let take_err = if a >= queues[0].len() {
                true
            } else if b >= queues[1].len() {
                false
            } else {
                *choice.next().unwrap_or(&false)
            };
            let (line, full, msg) = if take_err {
                b += 1;
                &queues[1][b - 1]
            } else {
                a += 1;
                &queues[0][a - 1]
            };
            out.extend_from_slice(line.as_bytes());
            if *full {
                expected.push(msg.clone());
            }
        }
        (out, expected)
    }

    proptest! {
        /// Raw framing gives the lines `split` gives (a trailing `\r` dropped, agent-log-wrapped records
        /// aside), and says a line holds no backslash only when it holds none.
        #[test]
        fn raw_framing_splits_lines_and_finds_every_backslash(
            text in proptest::collection::vec(prop_oneof![
                Just(b'\n'), Just(b'\\'), Just(b'\r'), Just(b'{'), Just(b'"'), Just(b'a'), Just(b' ')
            ], 0..400),
        ) {
            let mut b = LineBatch::new(1 << 20);
            b.buf.extend_from_slice(&text);
            Framer::new(Format::Raw).frame_block(&mut b, text.len());
            let mut expected: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
            if text.last() == Some(&b'\n') || text.is_empty() {
                expected.pop();
            }
            let expected: Vec<&[u8]> =
                expected.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
            let got: Vec<(&[u8], bool)> = b.iter_escapes().collect();
            prop_assert_eq!(got.len(), expected.len());
            for ((line, may_escape), want) in got.into_iter().zip(expected) {
                prop_assert_eq!(line, want);
                prop_assert!(may_escape || !line.contains(&b'\\'), "{:?}", line);
            }
            prop_assert_eq!(b.counts.physical_lines as usize, b.len());
        }

        #[test]
        fn cri_framing_reassembles_every_message(events in arb_events(), merge in prop::collection::vec(any::<bool>(), 1..16), block in 1usize..200) {
            let (file, expected) = cri_file(&events, &merge);
            // Frame in blocks of whole lines of varying size, as the reader hands them over.
            let mut framer = Framer::new(Format::Cri);
            let mut got = Vec::new();
            let mut start = 0;
            while start < file.len() {
                let mut end = (start + block).min(file.len());
                end = match memchr::memchr(b'\n', &file[end.saturating_sub(1)..]) {
                    Some(i) => end.saturating_sub(1) + i + 1,
                    None => file.len(),
                };
                let mut b = LineBatch::new(1 << 20);
                b.buf.extend_from_slice(&file[start..end]);
                let n = b.buf.len();
                framer.frame_block(&mut b, n);
                got.extend(b.iter().map(|l| String::from_utf8(l.to_vec()).unwrap()));
                start = end;
            }
            let mut b = LineBatch::new(1 << 20);
            framer.finish(&mut b);
            prop_assert!(b.is_empty());
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn docker_framing_reassembles_every_message(events in arb_events()) {
            let mut file = String::new();
            let mut expected = Vec::new();
            for (stderr, msg, cuts) in &events {
                let stream = if *stderr { "stderr" } else { "stdout" };
                let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c).min(msg.len())).filter(|&c| msg.is_char_boundary(c)).collect();
                cuts.sort_unstable();
                cuts.dedup();
                let mut last = 0;
                for c in cuts {
                    let v = serde_json::json!({"log": &msg[last..c], "stream": stream, "time": "2025-01-01T00:00:00Z"});
                    file.push_str(&v.to_string());
                    file.push('\n');
                    last = c;
                }
                let v = serde_json::json!({"log": format!("{}\n", &msg[last..]), "stream": stream, "time": "2025-01-01T00:00:00Z"});
                file.push_str(&v.to_string());
                file.push('\n');
                expected.push(msg.clone());
            }
            let mut framer = Framer::new(Format::Docker);
            let mut b = LineBatch::new(1 << 20);
            b.buf.extend_from_slice(file.as_bytes());
            framer.frame_block(&mut b, file.len());
            framer.finish(&mut b);
            let got: Vec<String> = b.iter().map(|l| String::from_utf8(l.to_vec()).unwrap()).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn framers_never_panic_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..2000), max in 1usize..64) {
            for format in [Format::Auto, Format::Raw, Format::Cri, Format::Docker, Format::Fluentbit, Format::FluentdJson] {
                let mut f = Framer::new(format);
                let mut b = LineBatch::new(max);
                b.buf.extend_from_slice(&data);
                f.frame_block(&mut b, data.len());
                f.finish(&mut b);
                for l in b.iter() {
                    prop_assert!(l.len() <= max);
                }
            }
        }
    }
}
