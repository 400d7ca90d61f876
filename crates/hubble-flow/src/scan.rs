//! The hand-written single-pass scanner for the exporter's own layout, `{"flow":{..},"node_name":..,"time":..}`:
//! the hot path of every kept flow (issue 9).
//!
//! It owns nothing but the decode of that one layout into what the serde path puts in a `Record::Flow`
//! ([`crate::record::Record`]): the same [`Flow`] struct, the flow's raw text, the envelope's `node_name`. It reads the line once, left to right,
//! matches keys by their bytes, and writes each known field in place; unknown fields are skipped (any JSON value,
//! nested up to [`MAX_SKIP_DEPTH`] levels). It allocates nothing but the `Vec` of each non-empty list.
//!
//! Guarantees:
//! - **Same result or `None`.** For every line it accepts, the result equals what the serde path
//!   ([`crate::record::decode_str_without_scanner`]) gives, field for field, with every string borrowed. For
//!   anything it does not handle plainly it returns `None`, and the serde path decides (including every error
//!   classification): any backslash escape or raw control character in a string (escapes are rare in real
//!   exporter output: one line of the 69 real captures), duplicate keys (serde rejects them), numbers that are
//!   negative, fractional, exponent-form or out of range, a struct written as an array, `null` where serde
//!   rejects it, nesting deeper than [`MAX_SKIP_DEPTH`], another envelope layout, any malformed JSON.
//! - **No panics, no out-of-bounds reads.** Every byte is read with `get`, every slice with `str::get`; recursion
//!   is bounded by the (fixed) struct nesting and [`MAX_SKIP_DEPTH`]. The input is attacker-influenced.
//! - The input is already a `&str`: nothing is re-validated as UTF-8 (every slice boundary is an ASCII byte).

use crate::flow::{
    Aggregate, CiliumEventType, Dns, Endpoint, Flow, Http, HttpHeader, Icmp, Ip, IpTraceId, Layer4,
    Layer7, NetworkInterface, Ports, Service, Tcp, TcpFlags, TraceContext, TraceParent, Workload,
};
use crate::json::{EnumValue, RawJson};
use crate::str_list::StrList;
use crate::string_stop::string_stop;
use crate::workload_list::{WorkloadList, KIND, NAME};
use std::borrow::Cow;

/// Deepest nesting of an unknown (skipped) value the scanner follows before leaving the line to serde. Real
/// flows nest unknown values 3 deep at most; serde_json's own limit is 128 for the whole line.
pub const MAX_SKIP_DEPTH: u32 = 32;

/// A flow line decoded by the scanner: the parts of a `Record::Flow` (`record` turns it into one).
#[derive(Debug)]
pub struct ScannedFlow<'a> {
    /// The decoded fields.
    pub flow: Flow<'a>,
    /// The flow object's JSON text, exactly as in the input.
    pub raw: &'a str,
    /// The envelope's `node_name`.
    pub node_name: Option<Cow<'a, str>>,
}

/// Decodes a line of the exporter's layout (`text` trimmed of ASCII whitespace, starting with `{`). `None`:
/// another layout, or anything the scanner leaves to the serde path (see the module docs).
pub fn decode_exporter_layout(text: &str) -> Option<ScannedFlow<'_>> {
    let mut flow = Flow::default();
    let (raw, node_name) = decode_exporter_layout_into(text, &mut flow)?;
    Some(ScannedFlow {
        flow,
        raw,
        node_name,
    })
}

/// [`decode_exporter_layout`] into a `flow` the caller placed (a default one): the fields go straight where the
/// record will hold them instead of being moved there (the struct is over a kilobyte, and each move was a
/// `memcpy`). Returns the raw flow text and the envelope's `node_name`; on `None`, `flow` holds whatever was
/// decoded before the scanner gave up and must be discarded.
pub(crate) fn decode_exporter_layout_into<'a>(
    text: &'a str,
    flow: &mut Flow<'a>,
) -> Option<(&'a str, Option<Cow<'a, str>>)> {
    let mut sc = Scanner {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    sc.byte(b'{')?;
    sc.ws();
    if sc.string()? != "flow" {
        return None;
    }
    sc.ws();
    sc.byte(b':')?;
    sc.ws();
    let start = sc.i;
    sc.flow_into(flow)?;
    let raw = text.get(start..sc.i)?;
    let node_name = sc.envelope_tail()?;
    Some((raw, node_name))
}

/// A cursor over one line.
struct Scanner<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Marks field `bit` as seen in `seen`; `None` when it was already (serde rejects duplicate fields, aliases
/// included).
#[inline(always)]
fn first(seen: &mut u64, bit: u32) -> Option<()> {
    let m = 1u64 << bit;
    if *seen & m != 0 {
        return None;
    }
    *seen |= m;
    Some(())
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON whitespace (space, tab, LF, CR).
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// Consumes `c` (no whitespace before it).
    #[inline(always)]
    fn byte(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// Consumes the literal `word` (`null`, `true`, `false`).
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Consumes `null` if it is next; whether it was.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// A string without escapes or control characters, borrowed; the cursor is at its opening quote.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let start = self.i;
        let end = self.string_end(start)?;
        self.i = end + 1;
        self.s.get(start..end)
    }

    /// The offset of the closing quote of a string whose content starts at `i`; `None` at an escape, a control
    /// character or the end of the line.
    #[inline(always)]
    fn string_end(&self, i: usize) -> Option<usize> {
        let end = string_stop(self.b, i)?;
        (self.b.get(end)? == &b'"').then_some(end)
    }

    /// Iterates an object's members: the cursor is at `{`; `member` is called with the cursor at each value
    /// (after the colon and whitespace) and must consume it. Ends after the closing brace.
    #[inline(always)]
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.byte(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?.as_bytes();
            self.colon()?;
            member(self, key)?;
            match self.after_value()? {
                b',' => self.ws(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Consumes a member's colon and the whitespace around it. The exporter writes none: one look at two bytes
    /// settles that case, instead of a whitespace check on each side of the colon.
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        if let Some(&[b':', next]) = self.b.get(self.i..self.i + 2) {
            if !matches!(next, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
                return Some(());
            }
        }
        self.ws();
        self.byte(b':')?;
        self.ws();
        Some(())
    }

    /// Consumes the first byte after a value that is not whitespace and returns it (the caller expects `,` or
    /// its closing bracket). Whitespace is skipped only when the byte right after the value is whitespace, which
    /// the exporter never writes.
    #[inline(always)]
    fn after_value(&mut self) -> Option<u8> {
        let mut c = self.peek()?;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            self.ws();
            c = self.peek()?;
        }
        self.i += 1;
        Some(c)
    }

    /// An `Option<struct>` member: `null` is `None`, an object is decoded by `parse`.
    #[inline(always)]
    fn opt_struct<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        parse(self).map(Some)
    }

    /// `opt_str`: a string or `null`.
    #[inline(always)]
    fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null()? {
            return Some(None);
        }
        self.string().map(|s| Some(Cow::Borrowed(s)))
    }

    /// A plain non-negative JSON integer (no sign, fraction, exponent or leading zero) that fits a `u64`.
    #[inline(always)]
    fn number(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.b.get(self.i) {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b.get(start) == Some(&b'0')) {
            return None;
        }
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(v),
        }
    }

    /// protojson's lenient unsigned integer: a number, a string of decimal digits, or `null` (`None`).
    #[inline(always)]
    fn opt_u64(&mut self) -> Option<Option<u64>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => {
                let s = self.string()?;
                if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                s.parse::<u64>().ok().map(Some)
            }
            _ => self.number().map(Some),
        }
    }

    /// `opt_u32`.
    #[inline(always)]
    fn opt_u32(&mut self) -> Option<Option<u32>> {
        match self.opt_u64()? {
            None => Some(None),
            Some(v) => u32::try_from(v).ok().map(Some),
        }
    }

    /// `u32_or_zero`.
    #[inline(always)]
    fn u32_or_zero(&mut self) -> Option<u32> {
        self.opt_u32().map(|v| v.unwrap_or(0))
    }

    /// `CiliumEventType`'s int32 fields (non-negative spellings only; `null` is 0).
    #[inline(always)]
    fn i32_or_zero(&mut self) -> Option<i32> {
        match self.opt_u64()? {
            None => Some(0),
            Some(v) => i32::try_from(v).ok(),
        }
    }

    /// `Option<EnumValue>`: a name, a non-negative number, or `null`.
    #[inline(always)]
    fn enum_value(&mut self) -> Option<Option<EnumValue<'a>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => self
                .string()
                .map(|s| Some(EnumValue::Name(Cow::Borrowed(s)))),
            _ => i64::try_from(self.number()?)
                .ok()
                .map(|v| Some(EnumValue::Number(v))),
        }
    }

    /// A JSON boolean.
    #[inline(always)]
    fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// `Option<bool>`.
    #[inline(always)]
    fn opt_bool(&mut self) -> Option<Option<bool>> {
        if self.null()? {
            return Some(None);
        }
        self.bool().map(Some)
    }

    /// A list (`null` is empty) whose elements `item` decodes; one allocation when non-empty.
    #[inline(always)]
    fn list<T>(
        &mut self,
        capacity: usize,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        if self.null()? {
            return Some(Vec::new());
        }
        self.byte(b'[')?;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Vec::new());
        }
        let mut out = Vec::with_capacity(capacity);
        loop {
            out.push(item(self)?);
            match self.after_value()? {
                b',' => self.ws(),
                b']' => return Some(out),
                _ => return None,
            }
        }
    }

    /// `str_list`: the list's own text when it is compact (every list the exporter writes, since the scanner
    /// takes no escaped string), else its strings, borrowed.
    #[inline(always)]
    fn str_list(&mut self) -> Option<StrList<'a>> {
        let start = self.i;
        if self.b.get(start..start + 2) == Some(b"[\"") {
            // `"item"` joined by `,` and closed by `]`, with no whitespace: the form `StrList` keeps as text.
            let mut quote = start + 1;
            loop {
                let end = self.string_end(quote + 1)?;
                match self.b.get(end + 1) {
                    Some(b',') if self.b.get(end + 2) == Some(&b'"') => quote = end + 2,
                    Some(b']') => {
                        self.i = end + 2;
                        return Some(StrList::from_checked_json(self.s.get(start..self.i)?));
                    }
                    // Whitespace, or not a list of strings: the general path decides.
                    _ => break,
                }
            }
        }
        self.list(8, |sc| sc.string().map(Cow::Borrowed))
            .map(StrList::from)
    }

    /// Skips one JSON value, validating it as serde_json does, with at most `max_depth` (≤ 64) nested objects and
    /// lists (`ethernet`, `file`, policy lists and anything the scanner does not decode). One loop with the open
    /// containers kept as bits (1 = object), not a recursive descent through the member and item closures.
    fn skip_value(&mut self, max_depth: u32) -> Option<()> {
        let mut open: u64 = 0;
        let mut depth = 0u32;
        loop {
            // A value starts at the cursor.
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    self.skip_string_rest()?;
                }
                c @ (b'{' | b'[') => {
                    if depth == max_depth || depth == u64::BITS {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    let object = c == b'{';
                    if self.peek()? == if object { b'}' } else { b']' } {
                        self.i += 1;
                    } else {
                        open = open << 1 | u64::from(object);
                        depth += 1;
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.skip_number()?,
            }
            // A value ended: close what it ends, until a comma starts the next one.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let object = open & 1 == 1;
                match self.after_value()? {
                    b',' => {
                        self.ws();
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                open >>= 1;
                depth -= 1;
            }
        }
    }

    /// Skips an object member's key and colon (with the whitespace around it); the cursor is at the key.
    #[inline(always)]
    fn skip_key(&mut self) -> Option<()> {
        self.byte(b'"')?;
        self.skip_string_rest()?;
        self.colon()
    }

    /// Skips the rest of a string whose opening quote is consumed (escapes leave the line to serde).
    #[inline(always)]
    fn skip_string_rest(&mut self) -> Option<()> {
        self.i = self.string_end(self.i)? + 1;
        Some(())
    }

    /// Skips a number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek()? == b'-' {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        match self.peek() {
            Some(b'0'..=b'9') => None,
            _ => Some(()),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// A value passed through as raw JSON text (`egress_denied_by`): `null` is `None`, anything else is skipped
    /// and its exact text borrowed as a [`RawJson`].
    fn raw_value(&mut self) -> Option<Option<RawJson<'a>>> {
        if self.null()? {
            return Some(None);
        }
        let start = self.i;
        self.skip_value(MAX_SKIP_DEPTH)?;
        Some(Some(RawJson::from_validated(self.s.get(start..self.i)?)))
    }

    /// `flow.Flow`.
    fn flow_into(&mut self, f: &mut Flow<'a>) -> Option<()> {
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"time" => {
                    first(&mut seen, 0)?;
                    f.time = sc.opt_str()?;
                }
                b"uuid" => {
                    first(&mut seen, 1)?;
                    f.uuid = sc.opt_str()?;
                }
                b"verdict" => {
                    first(&mut seen, 2)?;
                    f.verdict = sc.enum_value()?;
                }
                b"drop_reason" | b"dropReason" => {
                    first(&mut seen, 3)?;
                    f.drop_reason = sc.opt_u32()?;
                }
                b"IP" => {
                    first(&mut seen, 4)?;
                    f.ip = sc.opt_struct(Self::ip)?;
                }
                b"l4" => {
                    first(&mut seen, 5)?;
                    f.l4 = sc.opt_struct(Self::layer4)?;
                }
                b"source" => {
                    first(&mut seen, 6)?;
                    f.source = sc.opt_struct(Self::endpoint)?;
                }
                b"destination" => {
                    first(&mut seen, 7)?;
                    f.destination = sc.opt_struct(Self::endpoint)?;
                }
                b"Type" => {
                    first(&mut seen, 8)?;
                    f.flow_type = sc.enum_value()?;
                }
                b"node_name" | b"nodeName" => {
                    first(&mut seen, 9)?;
                    f.node_name = sc.opt_str()?;
                }
                b"node_labels" | b"nodeLabels" => {
                    first(&mut seen, 10)?;
                    f.node_labels = sc.str_list()?;
                }
                b"source_names" | b"sourceNames" => {
                    first(&mut seen, 11)?;
                    f.source_names = sc.str_list()?;
                }
                b"destination_names" | b"destinationNames" => {
                    first(&mut seen, 12)?;
                    f.destination_names = sc.str_list()?;
                }
                b"l7" => {
                    first(&mut seen, 13)?;
                    f.l7 = sc.opt_struct(Self::layer7)?;
                }
                b"reply" => {
                    first(&mut seen, 14)?;
                    f.reply = sc.opt_bool()?;
                }
                b"event_type" | b"eventType" => {
                    first(&mut seen, 15)?;
                    f.event_type = sc.opt_struct(Self::event_type)?;
                }
                b"source_service" | b"sourceService" => {
                    first(&mut seen, 16)?;
                    f.source_service = sc.opt_struct(Self::service)?;
                }
                b"destination_service" | b"destinationService" => {
                    first(&mut seen, 17)?;
                    f.destination_service = sc.opt_struct(Self::service)?;
                }
                b"traffic_direction" | b"trafficDirection" => {
                    first(&mut seen, 18)?;
                    f.traffic_direction = sc.enum_value()?;
                }
                b"trace_observation_point" | b"traceObservationPoint" => {
                    first(&mut seen, 19)?;
                    f.trace_observation_point = sc.enum_value()?;
                }
                b"ip_trace_id" | b"ipTraceId" => {
                    first(&mut seen, 20)?;
                    f.ip_trace_id = sc.opt_struct(Self::ip_trace_id)?;
                }
                b"drop_reason_desc" | b"dropReasonDesc" => {
                    first(&mut seen, 21)?;
                    f.drop_reason_desc = sc.enum_value()?;
                }
                b"is_reply" | b"isReply" => {
                    first(&mut seen, 22)?;
                    f.is_reply = sc.opt_bool()?;
                }
                b"interface" => {
                    first(&mut seen, 23)?;
                    f.interface = sc.opt_struct(Self::interface)?;
                }
                b"trace_context" | b"traceContext" => {
                    first(&mut seen, 24)?;
                    f.trace_context = sc.opt_struct(Self::trace_context)?;
                }
                b"Summary" | b"summary" => {
                    first(&mut seen, 25)?;
                    f.summary = sc.opt_str()?;
                }
                b"egress_denied_by" | b"egressDeniedBy" => {
                    first(&mut seen, 26)?;
                    f.egress_denied_by = sc.raw_value()?;
                }
                b"ingress_denied_by" | b"ingressDeniedBy" => {
                    first(&mut seen, 27)?;
                    f.ingress_denied_by = sc.raw_value()?;
                }
                b"aggregate" => {
                    first(&mut seen, 28)?;
                    f.aggregate = sc.opt_struct(Self::aggregate)?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(())
    }

    /// `flow.IP`.
    fn ip(&mut self) -> Option<Ip<'a>> {
        let mut ip = Ip::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"source" => {
                    first(&mut seen, 0)?;
                    ip.source = sc.opt_str()?;
                }
                b"destination" => {
                    first(&mut seen, 1)?;
                    ip.destination = sc.opt_str()?;
                }
                b"ipVersion" | b"ip_version" => {
                    first(&mut seen, 2)?;
                    ip.ip_version = sc.enum_value()?;
                }
                b"source_xlated" | b"sourceXlated" => {
                    first(&mut seen, 3)?;
                    ip.source_xlated = sc.opt_str()?;
                }
                b"encrypted" => {
                    first(&mut seen, 4)?;
                    ip.encrypted = sc.opt_bool()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(ip)
    }

    /// `flow.Layer4`.
    fn layer4(&mut self) -> Option<Layer4> {
        let mut l4 = Layer4::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"TCP" => {
                    first(&mut seen, 0)?;
                    l4.tcp = sc.opt_struct(Self::tcp)?;
                }
                b"UDP" => {
                    first(&mut seen, 1)?;
                    l4.udp = sc.opt_struct(Self::ports)?;
                }
                b"SCTP" => {
                    first(&mut seen, 2)?;
                    l4.sctp = sc.opt_struct(Self::ports)?;
                }
                b"ICMPv4" => {
                    first(&mut seen, 3)?;
                    l4.icmpv4 = sc.opt_struct(Self::icmp)?;
                }
                b"ICMPv6" => {
                    first(&mut seen, 4)?;
                    l4.icmpv6 = sc.opt_struct(Self::icmp)?;
                }
                b"VRRP" => {
                    first(&mut seen, 5)?;
                    l4.vrrp = sc.opt_ignored()?;
                }
                b"IGMP" => {
                    first(&mut seen, 6)?;
                    l4.igmp = sc.opt_ignored()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(l4)
    }

    /// `Option<IgnoredAny>`: `null` is `None`, any other value is skipped and present.
    fn opt_ignored(&mut self) -> Option<Option<serde::de::IgnoredAny>> {
        if self.null()? {
            return Some(None);
        }
        self.skip_value(MAX_SKIP_DEPTH)?;
        Some(Some(serde::de::IgnoredAny))
    }

    /// `flow.TCP`.
    fn tcp(&mut self) -> Option<Tcp> {
        let mut t = Tcp::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"source_port" | b"sourcePort" => {
                    first(&mut seen, 0)?;
                    t.source_port = sc.u32_or_zero()?;
                }
                b"destination_port" | b"destinationPort" => {
                    first(&mut seen, 1)?;
                    t.destination_port = sc.u32_or_zero()?;
                }
                b"flags" => {
                    first(&mut seen, 2)?;
                    t.flags = sc.opt_struct(Self::tcp_flags)?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(t)
    }

    /// `flow.UDP` / `flow.SCTP`.
    fn ports(&mut self) -> Option<Ports> {
        let mut p = Ports::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"source_port" | b"sourcePort" => {
                    first(&mut seen, 0)?;
                    p.source_port = sc.u32_or_zero()?;
                }
                b"destination_port" | b"destinationPort" => {
                    first(&mut seen, 1)?;
                    p.destination_port = sc.u32_or_zero()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(p)
    }

    /// `flow.ICMPv4` / `flow.ICMPv6`.
    fn icmp(&mut self) -> Option<Icmp> {
        let mut c = Icmp::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"type" => {
                    first(&mut seen, 0)?;
                    c.icmp_type = sc.u32_or_zero()?;
                }
                b"code" => {
                    first(&mut seen, 1)?;
                    c.code = sc.u32_or_zero()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(c)
    }

    /// `flow.TCPFlags` (each flag a plain boolean: `null` is left to serde, which rejects it).
    fn tcp_flags(&mut self) -> Option<TcpFlags> {
        let mut fl = TcpFlags::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            let (bit, slot) = match key {
                b"FIN" => (0, &mut fl.fin),
                b"SYN" => (1, &mut fl.syn),
                b"RST" => (2, &mut fl.rst),
                b"PSH" => (3, &mut fl.psh),
                b"ACK" => (4, &mut fl.ack),
                b"URG" => (5, &mut fl.urg),
                b"ECE" => (6, &mut fl.ece),
                b"CWR" => (7, &mut fl.cwr),
                b"NS" => (8, &mut fl.ns),
                _ => return sc.skip_value(MAX_SKIP_DEPTH),
            };
            first(&mut seen, bit)?;
            *slot = sc.bool()?;
            Some(())
        })?;
        Some(fl)
    }

    /// `flow.Endpoint`.
    fn endpoint(&mut self) -> Option<Endpoint<'a>> {
        let mut e = Endpoint::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"ID" => {
                    first(&mut seen, 0)?;
                    e.id = sc.opt_u32()?;
                }
                b"identity" => {
                    first(&mut seen, 1)?;
                    e.identity = sc.opt_u32()?;
                }
                b"cluster_name" | b"clusterName" => {
                    first(&mut seen, 2)?;
                    e.cluster_name = sc.opt_str()?;
                }
                b"namespace" => {
                    first(&mut seen, 3)?;
                    e.namespace = sc.opt_str()?;
                }
                b"labels" => {
                    first(&mut seen, 4)?;
                    e.labels = sc.str_list()?;
                }
                b"pod_name" | b"podName" => {
                    first(&mut seen, 5)?;
                    e.pod_name = sc.opt_str()?;
                }
                b"workloads" => {
                    first(&mut seen, 6)?;
                    e.workloads = sc.workload_list()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(e)
    }

    /// An endpoint's `workloads`: the list's own text when it is in the exporter's exact form, else its items.
    #[inline(always)]
    fn workload_list(&mut self) -> Option<WorkloadList<'a>> {
        let start = self.i;
        if self.b.get(start) == Some(&b'[') {
            // `{"name":"N","kind":"K"}` joined by `,` and closed by `]`, nothing else and no whitespace: the form
            // `WorkloadList` keeps as text.
            let mut item = start + 1;
            while self.b.get(item..).is_some_and(|r| r.starts_with(NAME)) {
                let name_end = self.string_end(item + NAME.len())?;
                if !self.b.get(name_end..).is_some_and(|r| r.starts_with(KIND)) {
                    break;
                }
                let kind_end = self.string_end(name_end + KIND.len())?;
                match self.b.get(kind_end + 1..kind_end + 3) {
                    Some(&[b'}', b',']) => item = kind_end + 3,
                    Some(&[b'}', b']']) => {
                        self.i = kind_end + 3;
                        return Some(WorkloadList::from_checked_json(self.s.get(start..self.i)?));
                    }
                    // Another member, whitespace, or not a list of objects: the general path decides.
                    _ => break,
                }
            }
        }
        self.list(1, Self::workload).map(WorkloadList::from)
    }

    /// `flow.Workload` (a list element: `null` is left to serde, which rejects it).
    fn workload(&mut self) -> Option<Workload<'a>> {
        let mut w = Workload::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"name" => {
                    first(&mut seen, 0)?;
                    w.name = sc.opt_str()?;
                }
                b"kind" => {
                    first(&mut seen, 1)?;
                    w.kind = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(w)
    }

    /// `flow.Service`.
    fn service(&mut self) -> Option<Service<'a>> {
        let mut s = Service::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"name" => {
                    first(&mut seen, 0)?;
                    s.name = sc.opt_str()?;
                }
                b"namespace" => {
                    first(&mut seen, 1)?;
                    s.namespace = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(s)
    }

    /// `flow.CiliumEventType`.
    fn event_type(&mut self) -> Option<CiliumEventType> {
        let mut t = CiliumEventType::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"type" => {
                    first(&mut seen, 0)?;
                    t.event_type = sc.i32_or_zero()?;
                }
                b"sub_type" | b"subType" => {
                    first(&mut seen, 1)?;
                    t.sub_type = sc.i32_or_zero()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(t)
    }

    /// `flow.IPTraceID`.
    fn ip_trace_id(&mut self) -> Option<IpTraceId> {
        let mut t = IpTraceId::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"trace_id" | b"traceId" => {
                    first(&mut seen, 0)?;
                    t.trace_id = sc.opt_u64()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(t)
    }

    /// `flow.NetworkInterface`.
    fn interface(&mut self) -> Option<NetworkInterface<'a>> {
        let mut n = NetworkInterface::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"index" => {
                    first(&mut seen, 0)?;
                    n.index = sc.u32_or_zero()?;
                }
                b"name" => {
                    first(&mut seen, 1)?;
                    n.name = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(n)
    }

    /// `flow.TraceContext`.
    fn trace_context(&mut self) -> Option<TraceContext<'a>> {
        let mut t = TraceContext::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"parent" => {
                    first(&mut seen, 0)?;
                    t.parent = sc.opt_struct(Self::trace_parent)?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(t)
    }

    /// `flow.TraceParent`.
    fn trace_parent(&mut self) -> Option<TraceParent<'a>> {
        let mut t = TraceParent::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"trace_id" | b"traceId" => {
                    first(&mut seen, 0)?;
                    t.trace_id = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(t)
    }

    /// `flow.Layer7`.
    fn layer7(&mut self) -> Option<Layer7<'a>> {
        let mut l = Layer7::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"type" => {
                    first(&mut seen, 0)?;
                    l.l7_type = sc.enum_value()?;
                }
                b"dns" => {
                    first(&mut seen, 1)?;
                    l.dns = sc.opt_struct(Self::dns)?;
                }
                b"http" => {
                    first(&mut seen, 2)?;
                    l.http = sc.opt_struct(Self::http)?;
                }
                b"kafka" => {
                    first(&mut seen, 3)?;
                    l.kafka = sc.opt_ignored()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(l)
    }

    /// `flow.DNS`.
    fn dns(&mut self) -> Option<Dns<'a>> {
        let mut d = Dns::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"query" => {
                    first(&mut seen, 0)?;
                    d.query = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(d)
    }

    /// `flow.HTTP`.
    fn http(&mut self) -> Option<Http<'a>> {
        let mut h = Http::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"code" => {
                    first(&mut seen, 0)?;
                    h.code = sc.u32_or_zero()?;
                }
                b"method" => {
                    first(&mut seen, 1)?;
                    h.method = sc.opt_str()?;
                }
                b"url" => {
                    first(&mut seen, 2)?;
                    h.url = sc.opt_str()?;
                }
                b"protocol" => {
                    first(&mut seen, 3)?;
                    h.protocol = sc.opt_str()?;
                }
                b"headers" => {
                    first(&mut seen, 4)?;
                    h.headers = sc.list(1, Self::http_header)?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(h)
    }

    /// `flow.HTTPHeader` (a list element).
    fn http_header(&mut self) -> Option<HttpHeader<'a>> {
        let mut h = HttpHeader::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"key" => {
                    first(&mut seen, 0)?;
                    h.key = sc.opt_str()?;
                }
                b"value" => {
                    first(&mut seen, 1)?;
                    h.value = sc.opt_str()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(h)
    }

    /// `flow.Aggregate`.
    fn aggregate(&mut self) -> Option<Aggregate> {
        let mut a = Aggregate::default();
        let mut seen = 0u64;
        self.object(|sc, key| {
            match key {
                b"ingress_flow_count" | b"ingressFlowCount" => {
                    first(&mut seen, 0)?;
                    a.ingress_flow_count = sc.u32_or_zero()?;
                }
                b"egress_flow_count" | b"egressFlowCount" => {
                    first(&mut seen, 1)?;
                    a.egress_flow_count = sc.u32_or_zero()?;
                }
                b"unknown_direction_flow_count" | b"unknownDirectionFlowCount" => {
                    first(&mut seen, 2)?;
                    a.unknown_direction_flow_count = sc.u32_or_zero()?;
                }
                _ => sc.skip_value(MAX_SKIP_DEPTH)?,
            }
            Some(())
        })?;
        Some(a)
    }

    /// The envelope after the flow value (`,"node_name":"..","time":".."}` to the end of the line): its
    /// `node_name`. `None` as [`crate::record`]'s serde tail: another record key, a duplicate `node_name`, bad
    /// JSON, text after the closing brace.
    fn envelope_tail(&mut self) -> Option<Option<Cow<'a, str>>> {
        let mut node_name = None;
        let mut seen = 0u64;
        self.ws();
        loop {
            match self.peek()? {
                b'}' => {
                    self.i += 1;
                    self.ws();
                    return (self.i == self.b.len()).then_some(node_name);
                }
                b',' => self.i += 1,
                _ => return None,
            }
            self.ws();
            let key = self.string()?.as_bytes();
            self.colon()?;
            match key {
                b"node_name" | b"nodeName" => {
                    first(&mut seen, 0)?;
                    node_name = self.opt_str()?;
                }
                b"flow" | b"Flow" | b"lost_events" | b"lostEvents" | b"agent_event"
                | b"agentEvent" | b"debug_event" | b"debugEvent" | b"node_status"
                | b"nodeStatus" => return None,
                _ => self.skip_value(MAX_SKIP_DEPTH)?,
            }
            self.ws();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow_of(line: &str) -> Option<Flow<'_>> {
        decode_exporter_layout(line).map(|s| s.flow)
    }

    #[test]
    fn skipped_values_are_validated_as_serde_json_does() {
        let skip = |value: &str| {
            let mut sc = Scanner {
                s: value,
                b: value.as_bytes(),
                i: 0,
            };
            sc.skip_value(MAX_SKIP_DEPTH).map(|()| sc.i)
        };
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let deep_objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        let good = [
            r#""x""#.to_owned(),
            "-12.5e+3".to_owned(),
            "true".to_owned(),
            "null".to_owned(),
            "[]".to_owned(),
            "[ ]".to_owned(),
            "{ }".to_owned(),
            r#"{"a":[1,{"b":null},[]],"c":"x","d":{}}"#.to_owned(),
            r#"{ "a" : 1 , "b" :[ true ,false ] }"#.to_owned(),
            nested(MAX_SKIP_DEPTH as usize),
            deep_objects(MAX_SKIP_DEPTH as usize),
        ];
        for v in &good {
            assert!(serde_json::from_str::<serde_json::Value>(v).is_ok(), "{v}");
            assert_eq!(skip(v), Some(v.len()), "{v}");
            // What follows the value is left alone.
            assert_eq!(skip(&format!("{v},\"next\"")), Some(v.len()), "{v}");
        }
        let bad = [
            "[1,]",
            r#"{"a":1,}"#,
            "[1 2]",
            r#"{"a":1]"#,
            "[}",
            r#"{"a"}"#,
            r#"{a:1}"#,
            r#"{"a":1"#,
            "[",
            "01",
            "tru",
            r#""a\"b""#,
            "",
        ];
        for v in bad {
            assert_eq!(skip(v), None, "{v}");
        }
        // Deeper than MAX_SKIP_DEPTH is left to serde (which takes it).
        assert_eq!(skip(&nested(MAX_SKIP_DEPTH as usize + 1)), None);
        assert_eq!(skip(&deep_objects(MAX_SKIP_DEPTH as usize + 1)), None);
    }

    #[test]
    fn raw_value_is_borrowed_from_the_line() {
        let text = r#"[{"name":"deny"}]"#;
        let line = format!(r#"{{"flow":{{"egress_denied_by":{text}}}}}"#);
        let raw = flow_of(&line)
            .and_then(|f| f.egress_denied_by)
            .expect("scanner took the line");
        assert_eq!(raw.get(), text);
        let at = line.find(text).unwrap();
        assert!(std::ptr::eq(raw.get().as_ptr(), line[at..].as_ptr()));
    }

    /// Scans a line whose flow's `source` has one member, `key` with the JSON `value`, and reads the decoded
    /// source with `read`; `None` when the scanner leaves the line to serde.
    fn scanned_source<T>(
        key: &str,
        value: &str,
        read: impl FnOnce(&Endpoint<'_>) -> T,
    ) -> Option<T> {
        let line = format!(r#"{{"flow":{{"source":{{"{key}":{value}}}}},"node_name":"n"}}"#);
        decode_exporter_layout(&line).map(|s| read(s.flow.source.as_ref().expect("source")))
    }

    #[test]
    fn label_lists_are_kept_as_text_only_when_compact() {
        let labels = |list: &str| {
            scanned_source("labels", list, |e| {
                (
                    e.labels.compact_json().map(str::to_owned),
                    e.labels.iter().map(str::to_owned).collect::<Vec<_>>(),
                )
            })
        };
        let text = |t: &str, items: &[&str]| {
            Some((
                Some(t.to_owned()),
                items.iter().map(|s| s.to_string()).collect(),
            ))
        };
        let items = |items: &[&str]| Some((None, items.iter().map(|s| s.to_string()).collect()));
        assert_eq!(labels(r#"["a"]"#), text(r#"["a"]"#, &["a"]));
        assert_eq!(labels(r#"["","b"]"#), text(r#"["","b"]"#, &["", "b"]));
        assert_eq!(labels(r#"["a", "b"]"#), items(&["a", "b"]));
        assert_eq!(labels(r#"[ "a"]"#), items(&["a"]));
        assert_eq!(labels(r#"["a" ]"#), items(&["a"]));
        assert_eq!(labels("[]"), items(&[]));
        assert_eq!(labels("null"), items(&[]));
        // Not a list of strings, or an escape: the line is the serde path's.
        assert_eq!(labels(r#"["a",1]"#), None);
        assert_eq!(labels(r#"["a","b\"c"]"#), None);
        assert_eq!(labels(r#"["a""b"]"#), None);
        assert_eq!(labels(r#"["a",]"#), None);
    }

    #[test]
    fn workloads_are_kept_as_text_only_in_the_exact_form() {
        let workloads = |list: &str| {
            scanned_source("workloads", list, |e| {
                let items: Vec<(Option<String>, Option<String>)> = e
                    .workloads
                    .iter()
                    .map(|w| (w.name.map(str::to_owned), w.kind.map(str::to_owned)))
                    .collect();
                (e.workloads.compact_json().map(str::to_owned), items)
            })
        };
        let both = |n: &str, k: &str| (Some(n.to_owned()), Some(k.to_owned()));
        let one = r#"[{"name":"a","kind":"b"}]"#;
        assert_eq!(
            workloads(one),
            Some((Some(one.to_owned()), vec![both("a", "b")]))
        );
        let two = r#"[{"name":"a","kind":"b"},{"name":"","kind":"d"}]"#;
        assert_eq!(
            workloads(two),
            Some((Some(two.to_owned()), vec![both("a", "b"), both("", "d")]))
        );
        // Not the exact form: decoded into items.
        let items = |list: &str| workloads(list).map(|(text, items)| (text.is_some(), items));
        assert_eq!(items("[]"), Some((false, vec![])));
        assert_eq!(items("null"), Some((false, vec![])));
        assert_eq!(
            items(r#"[{"kind":"b","name":"a"}]"#),
            Some((false, vec![both("a", "b")]))
        );
        assert_eq!(
            items(r#"[{"name":"a"}]"#),
            Some((false, vec![(Some("a".to_owned()), None)]))
        );
        assert_eq!(
            items(r#"[{"name":"a","kind":"b","x":1}]"#),
            Some((false, vec![both("a", "b")]))
        );
        assert_eq!(
            items(r#"[{"name":"a","kind":"b"} ]"#),
            Some((false, vec![both("a", "b")]))
        );
        assert_eq!(
            items(r#"[ {"name":"a","kind":"b"}]"#),
            Some((false, vec![both("a", "b")]))
        );
        // Not JSON, or an escape or control byte in a name: the line is the serde path's.
        assert_eq!(workloads(r#"[{"name":"a","kind":"b"},]"#), None);
        assert_eq!(workloads(r#"[{"name":"a\"","kind":"b"}]"#), None);
        assert_eq!(workloads("[{\"name\":\"a\",\"kind\":\"b\n\"}]"), None);
    }

    #[test]
    fn decodes_the_exporter_layout_borrowed() {
        let line = r#"{"flow":{"time":"t","verdict":"DROPPED","IP":{"source":"10.0.0.1","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":"5","destination_port":443,"flags":{"SYN":true}}},"source":{"ID":1,"labels":["k8s:a=b","reserved:world"],"workloads":[{"name":"w","kind":"Deployment"}]},"destination":{"labels":null},"event_type":{"type":"1","sub_type":181},"egress_denied_by":[{"name":"d"}],"unknown":{"a":[1,-2.5e3,{"b":null}],"c":"x"},"Summary":"s"} , "node_name":"n","time":"t"}"#;
        let Some(ScannedFlow {
            flow,
            raw,
            node_name,
        }) = decode_exporter_layout(line)
        else {
            panic!("scanner bailed");
        };
        assert!(raw.starts_with("{\"time\"") && raw.ends_with("\"Summary\":\"s\"}"));
        assert_eq!(node_name.as_deref(), Some("n"));
        assert!(matches!(flow.time, Some(Cow::Borrowed("t"))));
        assert_eq!(
            flow.verdict.as_ref().and_then(|v| v.as_name()),
            Some("DROPPED")
        );
        let l4 = flow.l4.as_ref().expect("l4");
        assert_eq!(l4.ports(), Some((5, 443)));
        assert!(l4.tcp.as_ref().and_then(|t| t.flags).is_some_and(|f| f.syn));
        let src = flow.source.as_ref().expect("source");
        assert_eq!(src.labels.len(), 2);
        // A compact list is kept as the line's own text.
        let json = src.labels.compact_json().expect("kept as text");
        assert_eq!(json, r#"["k8s:a=b","reserved:world"]"#);
        assert!(line.as_bytes().as_ptr_range().contains(&json.as_ptr()));
        assert_eq!(
            src.labels.iter().collect::<Vec<_>>(),
            ["k8s:a=b", "reserved:world"]
        );
        assert_eq!(
            src.workloads.first().and_then(|w| w.kind),
            Some("Deployment")
        );
        assert!(flow
            .destination
            .as_ref()
            .is_some_and(|d| d.labels.is_empty()));
        assert_eq!(
            flow.event_type.map(|e| (e.event_type, e.sub_type)),
            Some((1, 181))
        );
        assert_eq!(
            flow.egress_denied_by.map(RawJson::get),
            Some(r#"[{"name":"d"}]"#)
        );
        assert_eq!(flow.summary.as_deref(), Some("s"));
    }

    #[test]
    fn leaves_the_unusual_to_serde() {
        for line in [
            r#"{"flow":{"time":"a\"b"}}"#,                  // escape
            r#"{"flow":{"time":"a","time":"b"}}"#,          // duplicate
            r#"{"flow":{"node_name":"a","nodeName":"b"}}"#, // duplicate through an alias
            r#"{"flow":{"drop_reason":-1}}"#,               // negative
            r#"{"flow":{"drop_reason":1.0}}"#,              // fraction
            r#"{"flow":{"drop_reason":01}}"#,               // leading zero
            r#"{"flow":{"drop_reason":4294967296}}"#,       // out of range
            r#"{"flow":{"drop_reason":" 7"}}"#,             // string serde trims
            r#"{"flow":{"IP":["1.1.1.1"]}}"#,               // struct as array
            r#"{"flow":{"l4":{"TCP":{"flags":{"SYN":null}}}}}"#,
            r#"{"flow":{"source":{"workloads":[null]}}}"#,
            r#"{"flow":{"x":1,}}"#,
            r#"{"flow":{}} x"#,
            r#"{"flow":{},"lost_events":{}}"#,
            r#"{"flow":{},"node_name":"a","nodeName":"b"}"#,
            r#"{"node_name":"n","flow":{}}"#,
            "{\"flow\":{\"time\":\"a\u{1}\"}}",
            r#"{"flow":{"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}"#,
            r#"{"flow":{"time":"unterminated}}"#,
        ] {
            assert!(decode_exporter_layout(line).is_none(), "{line}");
        }
        assert!(flow_of(r#"{"flow":{"x":[[[[1]]]],"y":-0.5E+2}}"#).is_some());
    }

    #[test]
    fn never_panics_on_prefixes() {
        let line = r#"{"flow":{"time":"2025-11-25T12:00:00Z","IP":{"source":"10.0.0.1"},"l4":{"UDP":{"source_port":53}},"source":{"labels":["a","b"]},"egress_denied_by":[{"n":1}],"u":[true,false,null,1e5]},"node_name":"n"}"#;
        for end in 0..=line.len() {
            if let Some(prefix) = line.get(..end) {
                let got = decode_exporter_layout(prefix);
                assert_eq!(got.is_some(), end == line.len(), "{prefix}");
            }
        }
    }
}
