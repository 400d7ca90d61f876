//! Forward protocol v1 messages → newline-terminated logical lines.
//!
//! Every message mode of the spec: Message `[tag, time, record, option?]`, Forward `[tag, [[time, record]..],
//! option?]`, PackedForward `[tag, bin|str of concatenated [time, record] entries, option?]` and
//! CompressedPackedForward (the same with `option.compressed == "gzip"`; several gzip members may be
//! concatenated). Time is an integer, a float, the EventTime extension (type 0, 8 bytes), or Fluent Bit's
//! `[time, metadata]` pair. The line of a record is its record key (`log` by default) when that is a string;
//! a record without it that has a `flow` key is an exporter object Fluent Bit already parsed, and is
//! re-serialized to JSON as the line; other records are counted and skipped.
//!
//! Guarantees: never panics; a message is either decoded whole or rejected whole with a [`Reject`] reason (so a
//! rejected message never leaves half its records behind); decompression stops at the configured limit; the
//! `chunk` option is returned as its raw MessagePack encoding so the acknowledgement echoes it byte for byte.

use super::msgpack::{self, Value};
use std::io::Read;

/// How records become lines.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The record key holding the line (`log`).
    pub record_key: Vec<u8>,
    /// Largest decompressed size of one message's entries.
    pub max_decompressed_bytes: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            record_key: b"log".to_vec(),
            max_decompressed_bytes: 64 << 20,
        }
    }
}

/// A decoded message.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Records turned into lines.
    pub records: u64,
    /// Records without the record key (and not exporter objects): skipped.
    pub skipped: u64,
    /// The raw MessagePack encoding of the `chunk` option, when the client asks for an acknowledgement.
    pub chunk: Option<Vec<u8>>,
}

/// Why a message was rejected (the connection is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not valid MessagePack (or truncated inside a packed stream).
    Malformed,
    /// Valid MessagePack with a shape the protocol does not allow.
    WrongType,
    /// Nested deeper than the decoder accepts.
    TooDeep,
    /// `compressed` names something other than `gzip` / `text`.
    UnsupportedCompression,
    /// The gzip stream is corrupt.
    BadGzip,
    /// Decompressing would exceed the limit.
    DecompressionBomb,
}

impl Reject {
    /// The metrics label.
    pub fn reason(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed_msgpack",
            Reject::WrongType => "wrong_type",
            Reject::TooDeep => "too_deep",
            Reject::UnsupportedCompression => "unsupported_compression",
            Reject::BadGzip => "bad_gzip",
            Reject::DecompressionBomb => "decompression_bomb",
        }
    }
}

impl From<msgpack::Error> for Reject {
    fn from(e: msgpack::Error) -> Self {
        match e {
            msgpack::Error::TooDeep => Reject::TooDeep,
            _ => Reject::Malformed,
        }
    }
}

fn value(raw: &[u8]) -> Result<Value<'_>, Reject> {
    let (v, n) = msgpack::read(raw)?;
    if n != raw.len() {
        return Err(Reject::Malformed);
    }
    Ok(v)
}

/// Decodes one whole message (`msg` is exactly one MessagePack value), appending one line per record to `out`.
/// On error `out` is restored to its length before the call.
pub fn decode_message(
    msg: &[u8],
    opts: &RecordOptions,
    out: &mut Vec<u8>,
) -> Result<Decoded, Reject> {
    let before = out.len();
    let r = decode_inner(msg, opts, out);
    if r.is_err() {
        out.truncate(before);
    }
    r
}

fn decode_inner(msg: &[u8], opts: &RecordOptions, out: &mut Vec<u8>) -> Result<Decoded, Reject> {
    let Some((items, len)) = msgpack::split_array(msg)? else {
        return Err(Reject::WrongType);
    };
    if len != msg.len() || !(2..=4).contains(&items.len()) {
        return Err(Reject::WrongType);
    }
    if !matches!(value(items[0])?, Value::Str(_)) {
        return Err(Reject::WrongType);
    }
    let mut d = Decoded::default();
    let second = value(items[1])?;
    match second {
        Value::Array(entries) => {
            let options = parse_options(items.get(2).copied(), items.len() <= 3)?;
            for e in &entries {
                entry(e, opts, out, &mut d)?;
            }
            d.chunk = options.chunk;
        }
        Value::Str(packed) | Value::Bin(packed) => {
            let options = parse_options(items.get(2).copied(), items.len() <= 3)?;
            let inflated;
            let stream: &[u8] = if options.gzip {
                inflated = gunzip(packed, opts.max_decompressed_bytes)?;
                &inflated
            } else {
                packed
            };
            let mut pos = 0;
            while pos < stream.len() {
                let (e, n) = msgpack::read(&stream[pos..])?;
                entry(&e, opts, out, &mut d)?;
                pos += n;
            }
            d.chunk = options.chunk;
        }
        ref t if is_time(t) => {
            let Some(raw_record) = items.get(2) else {
                return Err(Reject::WrongType);
            };
            let options = parse_options(items.get(3).copied(), true)?;
            if options.gzip {
                return Err(Reject::WrongType);
            }
            let record = value(raw_record)?;
            record_line(&record, opts, out, &mut d)?;
            d.chunk = options.chunk;
        }
        _ => return Err(Reject::WrongType),
    }
    Ok(d)
}

#[derive(Default)]
struct Options {
    chunk: Option<Vec<u8>>,
    gzip: bool,
}

fn parse_options(raw: Option<&[u8]>, allowed: bool) -> Result<Options, Reject> {
    let mut o = Options::default();
    let Some(raw) = raw else {
        return Ok(o);
    };
    if !allowed {
        return Err(Reject::WrongType);
    }
    if raw == [0xc0] {
        return Ok(o);
    }
    let Some(pairs) = msgpack::split_map(raw)? else {
        return Err(Reject::WrongType);
    };
    for (k, v) in pairs {
        match value(k)? {
            Value::Str(b"chunk") => {
                // Validate it is a value at all; echo its bytes as sent.
                value(v)?;
                o.chunk = Some(v.to_vec());
            }
            Value::Str(b"compressed") => match value(v)? {
                Value::Str(b"gzip") => o.gzip = true,
                Value::Str(b"text") | Value::Nil => {}
                _ => return Err(Reject::UnsupportedCompression),
            },
            _ => {}
        }
    }
    Ok(o)
}

/// Decompresses (possibly concatenated) gzip members, refusing to produce more than `limit` bytes.
///
/// The output is sized from the last member's ISIZE trailer (the whole size for the usual single member; only a
/// hint, never trusted past `limit`), so it is rarely grown and copied; the slice is inflated in place, without
/// the copy through an internal buffer that a `Read`-based decoder makes.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, Reject> {
    let trailer_size = data
        .len()
        .checked_sub(4)
        .and_then(|at| data.get(at..))
        .and_then(|t| <[u8; 4]>::try_from(t).ok())
        .map_or(0, |t| u32::from_le_bytes(t) as usize);
    let hint = trailer_size.max(data.len().saturating_mul(4));
    let mut out = Vec::with_capacity(hint.min(limit.saturating_add(1)).min(64 << 20));
    let dec = flate2::bufread::MultiGzDecoder::new(data);
    match dec.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(Reject::DecompressionBomb),
        Ok(_) => Ok(out),
        Err(_) => Err(Reject::BadGzip),
    }
}

fn is_time(v: &Value<'_>) -> bool {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => true,
        Value::Ext(0, d) => d.len() == 8,
        _ => false,
    }
}

fn entry(
    e: &Value<'_>,
    opts: &RecordOptions,
    out: &mut Vec<u8>,
    d: &mut Decoded,
) -> Result<(), Reject> {
    let Value::Array(pair) = e else {
        return Err(Reject::WrongType);
    };
    let [time, record] = pair.as_slice() else {
        return Err(Reject::WrongType);
    };
    let time_ok = match time {
        // Fluent Bit's `[[time, metadata], record]` form.
        Value::Array(tm) => matches!(tm.as_slice(), [t, Value::Map(_)] if is_time(t)),
        t => is_time(t),
    };
    if !time_ok {
        return Err(Reject::WrongType);
    }
    record_line(record, opts, out, d)
}

fn record_line(
    record: &Value<'_>,
    opts: &RecordOptions,
    out: &mut Vec<u8>,
    d: &mut Decoded,
) -> Result<(), Reject> {
    match append_record_line(record, &opts.record_key, out) {
        RecordLine::Line => d.records += 1,
        RecordLine::NoLine => d.skipped += 1,
        RecordLine::NotAMap => return Err(Reject::WrongType),
    }
    Ok(())
}

/// What became of one record.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordLine {
    /// A line was appended.
    Line,
    /// The record has neither the record key nor a `flow` key.
    NoLine,
    /// The record is not a map.
    NotAMap,
}

/// Appends the line of a MessagePack record (its `record_key` string, or the record as JSON when it is an
/// exporter object) followed by `\n`.
pub fn append_record_line(record: &Value<'_>, record_key: &[u8], out: &mut Vec<u8>) -> RecordLine {
    let Value::Map(pairs) = record else {
        return RecordLine::NotAMap;
    };
    if let Some(line) = record.get(record_key).and_then(Value::as_bytes) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(line);
        out.push(b'\n');
        return RecordLine::Line;
    }
    if pairs.iter().any(|(k, _)| k.as_bytes() == Some(b"flow")) {
        write_json(record, out);
        out.push(b'\n');
        return RecordLine::Line;
    }
    RecordLine::NoLine
}

/// Writes a value as JSON (str/bin as strings, invalid UTF-8 replaced; non-finite floats and extensions as null;
/// non-string map keys stringified).
pub fn write_json(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Nil | Value::Ext(..) => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        },
        Value::Str(s) | Value::Bin(s) => write_json_str(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(x, out);
            }
            out.push(b']');
        }
        Value::Map(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Value::Str(s) | Value::Bin(s) => write_json_str(s, out),
                    other => {
                        let mut key = Vec::new();
                        write_json(other, &mut key);
                        write_json_str(&key, out);
                    }
                }
                out.push(b':');
                write_json(x, out);
            }
            out.push(b'}');
        }
    }
}

fn write_json_str(s: &[u8], out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(s);
    // Serializing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::forward::msgpack::*;
    use std::io::Write;

    fn record(out: &mut Vec<u8>, log: &str) {
        write_map_len(out, 2);
        write_str(out, b"log");
        write_str(out, log.as_bytes());
        write_str(out, b"stream");
        write_str(out, b"stdout");
    }

    fn entry(out: &mut Vec<u8>, log: &str) {
        write_array_len(out, 2);
        write_event_time(out, 1_700_000_000, 1);
        record(out, log);
    }

    fn chunk_option(out: &mut Vec<u8>, chunk: &[u8], gzip: bool) {
        write_map_len(out, if gzip { 2 } else { 1 });
        write_str(out, b"chunk");
        write_str(out, chunk);
        if gzip {
            write_str(out, b"compressed");
            write_str(out, b"gzip");
        }
    }

    fn lines(out: &[u8]) -> Vec<&str> {
        std::str::from_utf8(out).unwrap().lines().collect()
    }

    #[test]
    fn message_mode_with_integer_time_and_chunk() {
        let mut m = Vec::new();
        write_array_len(&mut m, 4);
        write_str(&mut m, b"cilium");
        write_uint(&mut m, 1_700_000_000);
        record(&mut m, "{\"flow\":{}}\n");
        chunk_option(&mut m, b"Y2h1bmsx", false);
        let mut out = Vec::new();
        let d = decode_message(&m, &RecordOptions::default(), &mut out).unwrap();
        assert_eq!(d.records, 1);
        assert_eq!(lines(&out), vec!["{\"flow\":{}}"]);
        let mut want = Vec::new();
        write_str(&mut want, b"Y2h1bmsx");
        assert_eq!(d.chunk, Some(want));
    }

    #[test]
    fn forward_mode_and_fluent_bit_metadata_time() {
        let mut m = Vec::new();
        write_array_len(&mut m, 2);
        write_str(&mut m, b"t");
        write_array_len(&mut m, 2);
        entry(&mut m, "a");
        write_array_len(&mut m, 2);
        write_array_len(&mut m, 2);
        write_uint(&mut m, 5);
        write_map_len(&mut m, 0);
        record(&mut m, "b");
        let mut out = Vec::new();
        let d = decode_message(&m, &RecordOptions::default(), &mut out).unwrap();
        assert_eq!((d.records, d.chunk), (2, None));
        assert_eq!(lines(&out), vec!["a", "b"]);
    }

    #[test]
    fn packed_and_compressed_packed_forward() {
        let mut packed = Vec::new();
        for i in 0..3 {
            entry(&mut packed, &format!("line{i}"));
        }
        let mut m = Vec::new();
        write_array_len(&mut m, 3);
        write_str(&mut m, b"t");
        write_bin(&mut m, &packed);
        chunk_option(&mut m, b"c1", false);
        let mut out = Vec::new();
        assert_eq!(
            decode_message(&m, &RecordOptions::default(), &mut out)
                .unwrap()
                .records,
            3
        );
        // Two concatenated gzip members.
        let mut gz = Vec::new();
        for half in [&packed[..], &packed[..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            gz.extend(e.finish().unwrap());
        }
        let mut m = Vec::new();
        write_array_len(&mut m, 3);
        write_str(&mut m, b"t");
        write_bin(&mut m, &gz);
        chunk_option(&mut m, b"c2", true);
        let mut out = Vec::new();
        let d = decode_message(&m, &RecordOptions::default(), &mut out).unwrap();
        assert_eq!(d.records, 6);
        assert_eq!(lines(&out)[5], "line2");
    }

    #[test]
    fn exporter_objects_are_reserialized_and_other_records_skipped() {
        let mut m = Vec::new();
        write_array_len(&mut m, 2);
        write_str(&mut m, b"t");
        write_array_len(&mut m, 2);
        write_array_len(&mut m, 2);
        write_uint(&mut m, 1);
        write_map_len(&mut m, 2);
        write_str(&mut m, b"flow");
        write_map_len(&mut m, 1);
        write_str(&mut m, b"verdict");
        write_str(&mut m, b"DROPPED \"x\"");
        write_str(&mut m, b"node_name");
        write_str(&mut m, b"n1");
        write_array_len(&mut m, 2);
        write_uint(&mut m, 1);
        write_map_len(&mut m, 1);
        write_str(&mut m, b"message");
        write_str(&mut m, b"m");
        let mut out = Vec::new();
        let d = decode_message(&m, &RecordOptions::default(), &mut out).unwrap();
        assert_eq!((d.records, d.skipped), (1, 1));
        let v: serde_json::Value = serde_json::from_slice(out.trim_ascii_end()).unwrap();
        assert_eq!(v["flow"]["verdict"], "DROPPED \"x\"");
        assert_eq!(v["node_name"], "n1");
    }

    #[test]
    fn bad_shapes_are_rejected_whole() {
        let opts = RecordOptions::default();
        let mut out = b"kept\n".to_vec();
        // Not an array.
        assert_eq!(
            decode_message(&[0x80], &opts, &mut out),
            Err(Reject::WrongType)
        );
        // Time of the wrong extension type.
        let mut m = Vec::new();
        write_array_len(&mut m, 3);
        write_str(&mut m, b"t");
        m.extend_from_slice(&[0xd7, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]);
        record(&mut m, "x");
        assert_eq!(decode_message(&m, &opts, &mut out), Err(Reject::WrongType));
        // A packed stream whose second entry is not a record: the first line is not kept.
        let mut packed = Vec::new();
        entry(&mut packed, "good");
        write_array_len(&mut packed, 2);
        write_uint(&mut packed, 1);
        write_str(&mut packed, b"not a map");
        let mut m = Vec::new();
        write_array_len(&mut m, 2);
        write_str(&mut m, b"t");
        write_bin(&mut m, &packed);
        assert_eq!(decode_message(&m, &opts, &mut out), Err(Reject::WrongType));
        // Truncated packed stream.
        let mut m = Vec::new();
        write_array_len(&mut m, 2);
        write_str(&mut m, b"t");
        write_bin(&mut m, &packed[..packed.len() - 3]);
        assert_eq!(decode_message(&m, &opts, &mut out), Err(Reject::Malformed));
        // Unknown compression.
        let mut m = Vec::new();
        write_array_len(&mut m, 3);
        write_str(&mut m, b"t");
        write_bin(&mut m, b"");
        write_map_len(&mut m, 1);
        write_str(&mut m, b"compressed");
        write_str(&mut m, b"zstd");
        assert_eq!(
            decode_message(&m, &opts, &mut out),
            Err(Reject::UnsupportedCompression)
        );
        assert_eq!(out, b"kept\n");
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![0u8; 8 << 20]).unwrap();
        let gz = e.finish().unwrap();
        assert!(gz.len() < 64 << 10);
        assert_eq!(gunzip(&gz, 1 << 20), Err(Reject::DecompressionBomb));
        assert_eq!(gunzip(b"\x1f\x8b garbage", 1 << 20), Err(Reject::BadGzip));
        assert_eq!(gunzip(&gz, 8 << 20).unwrap().len(), 8 << 20);
    }

    #[test]
    fn the_size_trailer_is_only_a_hint() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"kept\n").unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(gunzip(&gz, 1 << 20).unwrap(), b"kept\n");
        // A trailer that claims 4 GiB or nothing: the output is never sized past the limit, and the lie is caught
        // by the decoder's own size check.
        for claimed in [u32::MAX, 0] {
            let mut lying = gz.clone();
            let at = lying.len() - 4;
            lying[at..].copy_from_slice(&claimed.to_le_bytes());
            assert_eq!(gunzip(&lying, 1 << 20), Err(Reject::BadGzip));
        }
        // Too short to have a trailer at all.
        assert_eq!(gunzip(b"\x1f\x8b", 1 << 20), Err(Reject::BadGzip));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::source::forward::msgpack::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut out = Vec::new();
            let opts = RecordOptions { max_decompressed_bytes: 1 << 16, ..Default::default() };
            if let Ok(n) = msgpack::value_len(&data) {
                let _ = decode_message(&data[..n], &opts, &mut out);
            }
            let _ = decode_message(&data, &opts, &mut out);
        }

        #[test]
        fn every_mode_yields_every_line(logs in prop::collection::vec("[^\n\r]{0,40}", 0..20), mode in 0u8..3, chunk in prop::collection::vec(any::<u8>(), 0..30)) {
            let mut m = Vec::new();
            let with_chunk = !chunk.is_empty();
            let entries = |out: &mut Vec<u8>| for l in &logs {
                write_array_len(out, 2);
                write_uint(out, 1);
                write_map_len(out, 1);
                write_str(out, b"log");
                write_str(out, l.as_bytes());
            };
            let header = |m: &mut Vec<u8>| {
                write_array_len(m, if with_chunk { 3 } else { 2 });
                write_str(m, b"tag");
            };
            match mode {
                0 => {
                    header(&mut m);
                    write_array_len(&mut m, logs.len() as u32);
                    entries(&mut m);
                }
                1 => {
                    header(&mut m);
                    let mut p = Vec::new();
                    entries(&mut p);
                    write_bin(&mut m, &p);
                }
                _ => {
                    header(&mut m);
                    let mut p = Vec::new();
                    entries(&mut p);
                    write_str(&mut m, &p);
                }
            }
            if with_chunk {
                write_map_len(&mut m, 1);
                write_str(&mut m, b"chunk");
                write_bin(&mut m, &chunk);
            }
            prop_assert_eq!(msgpack::value_len(&m), Ok(m.len()));
            let mut out = Vec::new();
            let d = decode_message(&m, &RecordOptions::default(), &mut out).unwrap();
            prop_assert_eq!(d.records, logs.len() as u64);
            let want: String = logs.iter().map(|l| format!("{l}\n")).collect();
            prop_assert_eq!(String::from_utf8(out).unwrap(), want);
            if with_chunk {
                let mut enc = Vec::new();
                write_bin(&mut enc, &chunk);
                prop_assert_eq!(d.chunk, Some(enc));
            }
        }
    }
}
