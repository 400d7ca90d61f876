//! Recognising one logical line: a Hubble exporter record, a bare flow, or something else.
//!
//! The exporter writes `observer.ExportEvent` (`{"flow":{..},"node_name":..,"time":..}` and the `lost_events`,
//! `agent_event`, `debug_event` variants; Relay adds `node_status`). `hubble observe -o json` writes the same
//! shape, and some tools write a bare `Flow` object. Everything else on cilium-agent's stdout is the agent's own
//! log output: logrus/slog text, or JSON when `log-format=json`. [`decode`] classifies without panicking on any
//! input and borrows from the line; the raw text of the flow object is kept for pass-through.
//!
//! Decoding is one pass for the exporter's own layout (`{"flow":{..},` then the envelope's other keys), in two
//! tiers. First the hand-written scanner ([`crate::scan`]) decodes the flow straight from the line, with every
//! string borrowed; it takes every plain line and leaves anything unusual (escapes, duplicate keys, odd numbers,
//! malformed JSON) to the serde paths. Then the serde one-pass path: the flow decoded by serde from the line,
//! where its value ends (the stream deserializer's byte offset) delimiting its raw text, the short envelope tail
//! read key by key. Every other layout (reordered or duplicated envelope keys, other record kinds, bare flows,
//! output records with a `Flow` column) and every line neither fast path can finish takes the general path: the
//! envelope with the flow as `RawValue`, then the flow text, which also classifies every error. All paths give
//! the same result for every input they accept (equivalence properties in the tests check the scanner against
//! the serde paths and those against the former decoder); strings are borrowed unless the JSON escapes them
//! (see [`crate::json`]).

use crate::flow::Flow;
use crate::json::EnumValue;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A decoded exporter record.
// The flow variant is large by design: it is decoded in place, borrowed from the line, and never stored.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Record<'a> {
    /// A flow, with the raw JSON text of the flow object (the whole line for a bare flow).
    Flow {
        /// The decoded fields.
        flow: Flow<'a>,
        /// The flow object's JSON text, exactly as in the input.
        raw: &'a str,
        /// The envelope's `node_name`, when the record had an envelope.
        node_name: Option<Cow<'a, str>>,
    },
    /// `lost_events`.
    LostEvents,
    /// `agent_event`, with its `type` (`flow.AgentEventType`).
    AgentEvent {
        /// The agent event type, as written.
        event_type: Option<EnumValue<'a>>,
    },
    /// `debug_event`, with its `type` (`flow.DebugEventType`).
    DebugEvent {
        /// The debug event type, as written.
        event_type: Option<EnumValue<'a>>,
    },
    /// `node_status` (written by Relay only).
    NodeStatus,
}

impl Record<'_> {
    /// A short name of the record kind, for counters and summaries.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Flow { .. } => RecordKind::Flow,
            Record::LostEvents => RecordKind::LostEvents,
            Record::AgentEvent { .. } => RecordKind::AgentEvent,
            Record::DebugEvent { .. } => RecordKind::DebugEvent,
            Record::NodeStatus => RecordKind::NodeStatus,
        }
    }
}

impl<'a> From<crate::scan::ScannedFlow<'a>> for Record<'a> {
    fn from(s: crate::scan::ScannedFlow<'a>) -> Self {
        Record::Flow {
            flow: s.flow,
            raw: s.raw,
            node_name: s.node_name,
        }
    }
}

/// Kinds of exporter records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `flow`
    Flow,
    /// `lost_events`
    LostEvents,
    /// `agent_event`
    AgentEvent,
    /// `debug_event`
    DebugEvent,
    /// `node_status`
    NodeStatus,
}

impl RecordKind {
    /// All kinds, in display order.
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Flow,
        RecordKind::LostEvents,
        RecordKind::AgentEvent,
        RecordKind::DebugEvent,
        RecordKind::NodeStatus,
    ];

    /// The exporter's key for this kind.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Flow => "flow",
            RecordKind::LostEvents => "lost_events",
            RecordKind::AgentEvent => "agent_event",
            RecordKind::DebugEvent => "debug_event",
            RecordKind::NodeStatus => "node_status",
        }
    }
}

/// Why a line is not an exporter record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// A line that is not JSON: cilium-agent's text log output (logrus/slog) or other text.
    AgentLogText,
    /// A JSON object that is not an exporter record: cilium-agent's JSON log output.
    AgentLogJson,
    /// An empty or whitespace-only line.
    Empty,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// JSON that does not parse: truncated or corrupted records.
    MalformedJson,
    /// An exporter record whose content has the wrong shape (`{"flow": 42}`, a string where an object belongs).
    InvalidRecord,
}

impl Skip {
    /// All reasons, in display order.
    pub const ALL: [Skip; 6] = [
        Skip::AgentLogText,
        Skip::AgentLogJson,
        Skip::Empty,
        Skip::InvalidUtf8,
        Skip::MalformedJson,
        Skip::InvalidRecord,
    ];

    /// A stable snake_case name, for metrics and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Skip::AgentLogText => "agent_log_text",
            Skip::AgentLogJson => "agent_log_json",
            Skip::Empty => "empty",
            Skip::InvalidUtf8 => "invalid_utf8",
            Skip::MalformedJson => "malformed_json",
            Skip::InvalidRecord => "invalid_record",
        }
    }

    /// Whether the reason counts as bad input (as opposed to expected non-flow lines).
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            Skip::InvalidUtf8 | Skip::MalformedJson | Skip::InvalidRecord
        )
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    /// `Flow` is the column hubble-ingest's own output records carry the original flow in, so dead letters
    /// and earlier output can be replayed.
    #[serde(borrow, default, alias = "Flow")]
    flow: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "lostEvents")]
    lost_events: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "agentEvent")]
    agent_event: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "debugEvent")]
    debug_event: Option<&'a RawValue>,
    #[serde(borrow, default, alias = "nodeStatus")]
    node_status: Option<&'a RawValue>,
    #[serde(
        borrow,
        default,
        alias = "nodeName",
        deserialize_with = "crate::json::opt_str"
    )]
    node_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TypedEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    event_type: Option<EnumValue<'a>>,
}

/// Decodes one logical line (without its line terminator).
pub fn decode(line: &[u8]) -> Result<Record<'_>, Skip> {
    // `basic`: the same yes/no as `std::str::from_utf8`, without locating the error (the line is skipped).
    let text = simdutf8::basic::from_utf8(line).map_err(|_| Skip::InvalidUtf8)?;
    decode_str(text)
}

/// [`decode`] for a line already known to be UTF-8.
pub fn decode_str(text: &str) -> Result<Record<'_>, Skip> {
    let trimmed = trimmed_object(text)?;
    // The scanner fills the record's own `Flow` in place (see `decode_exporter_layout_into`).
    let mut record = Record::Flow {
        flow: Flow::default(),
        raw: "",
        node_name: None,
    };
    if let Record::Flow {
        flow,
        raw,
        node_name,
    } = &mut record
    {
        if let Some((r, n)) = crate::scan::decode_exporter_layout_into(trimmed, flow) {
            *raw = r;
            *node_name = n;
            return Ok(record);
        }
    }
    decode_serde(trimmed)
}

/// [`decode_str`] without the hand-written scanner ([`crate::scan`]): the serde paths alone. The scanner's
/// oracle in tests and fuzzing, and its baseline in the `parsers` bench; not for production use.
#[doc(hidden)]
pub fn decode_str_without_scanner(text: &str) -> Result<Record<'_>, Skip> {
    decode_serde(trimmed_object(text)?)
}

/// `text` trimmed of ASCII whitespace, if it then starts like a JSON object; else why the line is skipped.
fn trimmed_object(text: &str) -> Result<&str, Skip> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    match trimmed.as_bytes().first() {
        None => Err(Skip::Empty),
        Some(b'{') => Ok(trimmed),
        Some(_) => Err(Skip::AgentLogText),
    }
}

/// The serde paths for a trimmed line starting with `{`: the one-pass exporter layout, then the general path.
fn decode_serde(trimmed: &str) -> Result<Record<'_>, Skip> {
    if let Some(rec) = decode_exporter_layout(trimmed) {
        return Ok(rec);
    }
    decode_general(trimmed)
}

/// Where the flow object starts when `line` opens with `{"flow":{` (JSON whitespace allowed before and between
/// the tokens): the offset of the flow's `{`. Such a line is a flow record or nothing, whatever other record
/// keys follow, since the envelope's `flow` wins over every other key.
pub(crate) fn flow_object_start(line: &[u8]) -> Option<usize> {
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(line, i + 1);
    if !line.get(i..)?.starts_with(b"\"flow\"") {
        return None;
    }
    i = skip_ws(line, i + 6);
    if line.get(i) != Some(&b':') {
        return None;
    }
    i = skip_ws(line, i + 1);
    (line.get(i) == Some(&b'{')).then_some(i)
}

/// JSON whitespace (not form feed: `str::trim_ascii` would accept it, JSON does not).
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// One JSON value of type `T` at the start of `s` (after whitespace), and the offset just past it.
fn one<'a, T: Deserialize<'a>>(s: &'a str) -> Option<(T, usize)> {
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<T>();
    let v = values.next()?.ok()?;
    Some((v, values.byte_offset()))
}

/// An object key, borrowed unless escaped.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::json::cow_str(d).map(Key)
    }
}

/// An optional string value, borrowed unless escaped.
struct OptStr<'a>(Option<Cow<'a, str>>);

impl<'de> Deserialize<'de> for OptStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::json::opt_str(d).map(OptStr)
    }
}

/// The one-pass fast path for the exporter's layout, `{"flow":{..}` followed by other envelope keys. `None`
/// when the line has another layout or anything about it is not plainly valid: the general path then decides
/// (and classifies errors exactly as it always did).
fn decode_exporter_layout(text: &str) -> Option<Record<'_>> {
    let rest = text.get(flow_object_start(text.as_bytes())?..)?;
    let (flow, end) = one::<Flow>(rest)?;
    let node_name = envelope_tail(&rest[end..])?;
    Some(Record::Flow {
        flow,
        raw: &rest[..end],
        node_name,
    })
}

/// The envelope after the flow value (`,"node_name":"..","time":".."}`): its `node_name`, or `None` when the
/// tail is not a plain continuation of the object (another record key, a duplicate `node_name`, bad JSON, text
/// after the closing brace).
fn envelope_tail(tail: &str) -> Option<Option<Cow<'_, str>>> {
    let b = tail.as_bytes();
    let mut node_name = None;
    let mut seen_node_name = false;
    let mut i = skip_ws(b, 0);
    loop {
        match b.get(i)? {
            b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(node_name),
            b',' => i += 1,
            _ => return None,
        }
        let (Key(key), n) = one::<Key>(&tail[i..])?;
        i = skip_ws(b, i + n);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        match &*key {
            "node_name" | "nodeName" => {
                if seen_node_name {
                    return None;
                }
                seen_node_name = true;
                let (OptStr(v), n) = one::<OptStr>(&tail[i..])?;
                node_name = v;
                i += n;
            }
            "flow" | "Flow" | "lost_events" | "lostEvents" | "agent_event" | "agentEvent"
            | "debug_event" | "debugEvent" | "node_status" | "nodeStatus" => return None,
            _ => {
                let (serde::de::IgnoredAny, n) = one::<serde::de::IgnoredAny>(&tail[i..])?;
                i += n;
            }
        }
        i = skip_ws(b, i);
    }
}

/// Every layout: the envelope (the flow as `RawValue`), then the flow's text. Also the error classification.
fn decode_general(trimmed: &str) -> Result<Record<'_>, Skip> {
    let env: Envelope = serde_json::from_str(trimmed).map_err(|e| classify_json_error(&e))?;
    if let Some(raw) = env.flow {
        let raw_text = raw.get();
        let flow: Flow = serde_json::from_str(raw_text).map_err(|_| Skip::InvalidRecord)?;
        return Ok(Record::Flow {
            flow,
            raw: raw_text,
            node_name: env.node_name,
        });
    }
    if let Some(raw) = env.lost_events {
        check_object(raw)?;
        return Ok(Record::LostEvents);
    }
    if let Some(raw) = env.agent_event {
        let ev: TypedEvent = serde_json::from_str(raw.get()).map_err(|_| Skip::InvalidRecord)?;
        return Ok(Record::AgentEvent {
            event_type: ev.event_type,
        });
    }
    if let Some(raw) = env.debug_event {
        let ev: TypedEvent = serde_json::from_str(raw.get()).map_err(|_| Skip::InvalidRecord)?;
        return Ok(Record::DebugEvent {
            event_type: ev.event_type,
        });
    }
    if let Some(raw) = env.node_status {
        check_object(raw)?;
        return Ok(Record::NodeStatus);
    }
    // No envelope key: a bare Flow, or an agent JSON log line.
    match serde_json::from_str::<Flow>(trimmed) {
        Ok(flow) if looks_like_flow(&flow) => Ok(Record::Flow {
            flow,
            raw: trimmed,
            node_name: None,
        }),
        _ => Err(Skip::AgentLogJson),
    }
}

fn check_object(raw: &RawValue) -> Result<(), Skip> {
    if raw.get().starts_with('{') {
        Ok(())
    } else {
        Err(Skip::InvalidRecord)
    }
}

fn classify_json_error(e: &serde_json::Error) -> Skip {
    match e.classify() {
        serde_json::error::Category::Data => Skip::InvalidRecord,
        _ => Skip::MalformedJson,
    }
}

/// A bare object is a flow when it carries a field only flows have. Agent JSON logs (`time`, `level`, `msg`,
/// `subsys`, ...) carry none of these.
fn looks_like_flow(f: &Flow) -> bool {
    f.verdict.is_some()
        || f.ip.is_some()
        || f.l4.is_some()
        || f.event_type.is_some()
        || f.uuid.is_some()
        || f.flow_type.is_some()
        || f.traffic_direction.is_some()
        || f.drop_reason_desc.is_some()
        || f.source.is_some()
        || f.destination.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_records() {
        let r = decode(br#"{"flow":{"time":"1970-01-01T00:00:01Z","node_name":"my-node"},"node_name":"my-node","time":"1970-01-01T00:00:01Z"}"#).unwrap();
        match r {
            Record::Flow {
                flow,
                raw,
                node_name,
            } => {
                assert_eq!(flow.node_name.as_deref(), Some("my-node"));
                assert_eq!(
                    raw,
                    r#"{"time":"1970-01-01T00:00:01Z","node_name":"my-node"}"#
                );
                assert_eq!(node_name.as_deref(), Some("my-node"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decode(br#"{"agent_event":{},"node_name":"n"}"#)
                .unwrap()
                .kind(),
            RecordKind::AgentEvent
        );
        assert_eq!(
            decode(br#"{"debug_event":{}}"#).unwrap().kind(),
            RecordKind::DebugEvent
        );
        assert_eq!(
            decode(br#"{"lost_events":{}}"#).unwrap().kind(),
            RecordKind::LostEvents
        );
        assert_eq!(
            decode(br#"{"node_status":{}}"#).unwrap().kind(),
            RecordKind::NodeStatus
        );
        match decode(br#"{"agent_event":{"type":"AGENT_STARTED"}}"#).unwrap() {
            Record::AgentEvent { event_type } => {
                assert_eq!(event_type.unwrap().as_name(), Some("AGENT_STARTED"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn output_records_replay_through_their_flow_column() {
        let r = decode(br#"{"Timestamp":"2026-01-01T00:00:00Z","Verdict":"DROPPED","Flow":{"verdict":"DROPPED","uuid":"u1"}}"#).unwrap();
        match r {
            Record::Flow { flow, raw, .. } => {
                assert_eq!(flow.uuid.as_deref(), Some("u1"));
                assert_eq!(raw, r#"{"verdict":"DROPPED","uuid":"u1"}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bare_flow_and_agent_logs() {
        assert_eq!(
            decode(
                br#"{"time":"2023-01-01T00:00:00Z","verdict":"DROPPED","IP":{"source":"1.1.1.1"}}"#
            )
            .unwrap()
            .kind(),
            RecordKind::Flow
        );
        assert_eq!(
            decode(br#"{"time":"2026-01-01T00:00:00Z","level":"info","msg":"Compiled new BPF template","subsys":"datapath-loader"}"#).unwrap_err(),
            Skip::AgentLogJson
        );
        assert_eq!(
            decode(b"time=\"2026-01-01T00:00:00Z\" level=info msg=\"Starting\" subsys=daemon")
                .unwrap_err(),
            Skip::AgentLogText
        );
        assert_eq!(decode(b"   ").unwrap_err(), Skip::Empty);
    }

    proptest::proptest! {
        /// `decode` rejects a line as invalid UTF-8 exactly when `std::str::from_utf8` would: the SIMD validator
        /// agrees with std on flow-like text with random bytes spliced in (truncated sequences, surrogates,
        /// overlongs and stray continuation bytes, in and beyond the 32- and 64-byte blocks it works in).
        #[test]
        fn utf8_validation_agrees_with_std(
            prefix in 0usize..200,
            splice in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            suffix in "[a-zé€😀\\\"{}:,]{0,120}",
        ) {
            let base = r#"{"flow":{"time":"2025-11-25T12:00:00Z","source":{"labels":["k8s:app=é€"]},"x":""#;
            let mut line = base.as_bytes()[..prefix.min(base.len())].to_vec();
            line.extend_from_slice(&splice);
            line.extend_from_slice(suffix.as_bytes());
            let invalid = decode(&line).err() == Some(Skip::InvalidUtf8);
            proptest::prop_assert_eq!(invalid, std::str::from_utf8(&line).is_err());
        }
    }

    #[test]
    fn bad_input_is_classified() {
        assert_eq!(
            decode(b"{\"flow\":{\"time\":\"19").unwrap_err(),
            Skip::MalformedJson
        );
        assert_eq!(decode(b"\xff\xfe{").unwrap_err(), Skip::InvalidUtf8);
        assert_eq!(decode(br#"{"flow": 42}"#).unwrap_err(), Skip::InvalidRecord);
        assert_eq!(
            decode(br#"{"flow": {"IP": 42}}"#).unwrap_err(),
            Skip::InvalidRecord
        );
        assert_eq!(
            decode(br#"{"lost_events": "x"}"#).unwrap_err(),
            Skip::InvalidRecord
        );
        assert_eq!(
            decode(br#"{"flow": {}} trailing"#).unwrap_err(),
            Skip::MalformedJson
        );
    }
}
