//! JSON-wrapped log lines: docker json-file entries and Fluent Bit records.
//!
//! docker json-file: `{"log":"<line>\n","stream":"stdout","time":".."}`; a line longer than 16 KiB is split
//! into entries whose `log` lacks the trailing `\n`, joined here per stream. Fluent Bit records (what users pipe
//! from `out_file`/`out_stdout` in `json_lines` format): `{"log":"..",...}` objects or `[time, {..}]` arrays;
//! the `log` (or `message`) field is the line. When Fluent Bit already parsed the JSON into the record
//! (`Merge_Log`), the record itself carries the exporter keys and is passed on whole.

use super::LineBatch;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    log: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    flow: Option<&'a RawValue>,
    #[serde(borrow, default)]
    time: Option<&'a RawValue>,
}

/// What a JSON line looks like, for format detection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `log` + `stream` + `time`, `log` ending in `\n`: docker json-file.
    DockerEntry,
    /// Has a `log`/`message` string: a Fluent Bit record.
    LogRecord,
    /// Anything else (e.g. an exporter record itself).
    Other,
}

pub(super) fn classify(line: &[u8]) -> Shape {
    let Ok(text) = std::str::from_utf8(line) else {
        return Shape::Other;
    };
    match serde_json::from_str::<Entry>(text.trim()) {
        Ok(e) if e.flow.is_none() => match (&e.log, &e.stream, &e.time) {
            (Some(log), Some(_), Some(_)) if log.ends_with('\n') => Shape::DockerEntry,
            (Some(_), _, _) => Shape::LogRecord,
            _ if e.message.is_some() => Shape::LogRecord,
            _ => Shape::Other,
        },
        _ => Shape::Other,
    }
}

/// Frames docker json-file entries (joining partials) or Fluent Bit records.
#[derive(Debug)]
pub struct JsonLogFramer {
    join_partials: bool,
    pending: [Vec<u8>; 2],
    oversize: [bool; 2],
    scratch: Vec<u8>,
}

impl JsonLogFramer {
    /// docker json-file framing.
    pub fn docker() -> Self {
        JsonLogFramer {
            join_partials: true,
            pending: Default::default(),
            oversize: [false; 2],
            scratch: Vec::new(),
        }
    }

    /// Fluent Bit record framing.
    pub fn fluentbit() -> Self {
        JsonLogFramer {
            join_partials: false,
            ..Self::docker()
        }
    }

    /// Whether this framer joins docker partial entries.
    pub fn joins_partials(&self) -> bool {
        self.join_partials
    }

    /// Frames the physical line `batch.buf[start..end]`.
    pub fn frame_line(&mut self, batch: &mut LineBatch, start: usize, end: usize) {
        let raw = &batch.buf[start..end];
        let Ok(text) = std::str::from_utf8(raw) else {
            batch.counts.malformed_frame += 1;
            return;
        };
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let parsed = if text.starts_with('[') {
            serde_json::from_str::<(&RawValue, Entry)>(text).map(|(_, e)| e)
        } else {
            serde_json::from_str::<Entry>(text)
        };
        let entry = match parsed {
            Ok(e) => e,
            Err(_) => {
                batch.counts.malformed_frame += 1;
                return;
            }
        };
        let line = match entry.log.or(entry.message) {
            Some(l) => l,
            None if entry.flow.is_some() || !self.join_partials => {
                // A record Fluent Bit already parsed (or any record without a log field): pass it on whole;
                // the decoder decides what it is.
                let (s, e) = trimmed_range(&batch.buf, start, end);
                batch.push_range(s, e);
                return;
            }
            None => {
                batch.counts.malformed_frame += 1;
                return;
            }
        };
        let stream = usize::from(entry.stream.as_deref() == Some("stderr"));
        if self.join_partials {
            let complete = line.ends_with('\n');
            let body = line.strip_suffix('\n').unwrap_or(&line);
            let body = body.strip_suffix('\r').unwrap_or(body);
            let pending = &mut self.pending[stream];
            if !complete {
                if pending.len() + body.len() > batch.max_line_bytes {
                    self.oversize[stream] = true;
                    pending.clear();
                } else if !self.oversize[stream] {
                    pending.extend_from_slice(body.as_bytes());
                }
                return;
            }
            if self.oversize[stream] || pending.len() + body.len() > batch.max_line_bytes {
                batch.counts.oversize += 1;
            } else if pending.is_empty() {
                self.scratch.clear();
                self.scratch.extend_from_slice(body.as_bytes());
                batch.push_owned(&self.scratch);
            } else {
                pending.extend_from_slice(body.as_bytes());
                batch.push_owned(pending);
            }
            pending.clear();
            self.oversize[stream] = false;
        } else {
            let body = line.strip_suffix('\n').unwrap_or(&line);
            self.scratch.clear();
            self.scratch.extend_from_slice(body.as_bytes());
            batch.push_owned(&self.scratch);
        }
    }

    /// Whether a partial entry is held.
    pub fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| !p.is_empty()) || self.oversize.iter().any(|&o| o)
    }

    /// Emits pending partial entries (end of input).
    pub fn finish(&mut self, batch: &mut LineBatch) {
        for s in 0..2 {
            if self.oversize[s] {
                batch.counts.oversize += 1;
            } else if !self.pending[s].is_empty() {
                batch.push_owned(&self.pending[s]);
            }
            self.pending[s].clear();
            self.oversize[s] = false;
        }
    }
}

fn trimmed_range(buf: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && buf[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && buf[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

#[cfg(test)]
mod tests {
    use super::super::{Format, Framer, LineBatch};

    fn run(format: Format, input: &str) -> (Vec<String>, u64) {
        let mut f = Framer::new(format);
        let mut b = LineBatch::new(1 << 20);
        b.buf.extend_from_slice(input.as_bytes());
        f.frame_block(&mut b, input.len());
        f.finish(&mut b);
        (
            b.iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect(),
            b.counts.malformed_frame,
        )
    }

    #[test]
    fn docker_joins_partials_per_stream_and_unescapes() {
        let input = concat!(
            r#"{"log":"{\"flow\":{\"uuid\":","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}"#,
            "\n",
            r#"{"log":"level=warn msg=\"x\"\n","stream":"stderr","time":"2016-10-20T18:39:20.6Z"}"#,
            "\n",
            r#"{"log":"\"a\u003cb\"}}\n","stream":"stdout","time":"2016-10-20T18:39:20.7Z"}"#,
            "\n",
            "garbage\n"
        );
        let (lines, malformed) = run(Format::Docker, input);
        assert_eq!(
            lines,
            vec![r#"level=warn msg="x""#, r#"{"flow":{"uuid":"a<b"}}"#]
        );
        assert_eq!(malformed, 1);
    }

    #[test]
    fn fluentbit_objects_arrays_and_merged_records() {
        let input = concat!(
            r#"{"date":1700000000.1,"log":"{\"flow\":{}}","stream":"stdout"}"#,
            "\n",
            r#"[1700000000.2,{"log":"plain agent line\n"}]"#,
            "\n",
            r#"{"flow":{"verdict":"DROPPED"},"kubernetes":{"pod_name":"cilium-x"}}"#,
            "\n"
        );
        let (lines, malformed) = run(Format::Fluentbit, input);
        assert_eq!(
            lines,
            vec![
                r#"{"flow":{}}"#,
                "plain agent line",
                r#"{"flow":{"verdict":"DROPPED"},"kubernetes":{"pod_name":"cilium-x"}}"#
            ]
        );
        assert_eq!(malformed, 0);
    }
}
