//! A small MessagePack reader and writer for the Forward protocol: borrowed values (no copy of strings or
//! binaries), framing of a byte stream into whole values, and the handful of writers the protocol answers need.
//!
//! Guarantees: never panics on any input; never allocates by a length the input declares (a declared element
//! count is capped by the bytes actually present); nesting deeper than [`MAX_DEPTH`] is an error, so hostile
//! input cannot exhaust the stack.

/// Deepest nesting of arrays and maps accepted.
pub const MAX_DEPTH: usize = 32;

/// A decoded MessagePack value, borrowing strings and binaries from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// nil
    Nil,
    /// true / false
    Bool(bool),
    /// A negative integer (or any integer that fits in i64 when encoded signed).
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// float 32 or 64.
    Float(f64),
    /// A str (bytes as sent; usually UTF-8).
    Str(&'a [u8]),
    /// A bin.
    Bin(&'a [u8]),
    /// An array.
    Array(Vec<Value<'a>>),
    /// A map, in input order.
    Map(Vec<(Value<'a>, Value<'a>)>),
    /// An extension value: type and data.
    Ext(i8, &'a [u8]),
}

impl<'a> Value<'a> {
    /// The bytes of a str or bin.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Str(b) | Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The value of a str key in a map.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| k.as_bytes() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why bytes are not (yet) a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ends inside a value; at least `needed` bytes (from the start of the input) are required.
    Incomplete {
        /// Lower bound of the total input length needed.
        needed: usize,
    },
    /// The marker byte 0xc1 (never used) was found.
    Invalid,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Invalid)?;
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::Incomplete { needed: end }),
        }
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn be(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, Error> {
        usize::try_from(self.be(n)?).map_err(|_| Error::Invalid)
    }
}

/// What a marker byte announces.
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(i8, usize),
}

fn head(r: &mut Reader<'_>) -> Result<Head, Error> {
    let m = r.u8()?;
    Ok(match m {
        0x00..=0x7f => Head::UInt(u64::from(m)),
        0x80..=0x8f => Head::Map(usize::from(m & 0x0f)),
        0x90..=0x9f => Head::Array(usize::from(m & 0x0f)),
        0xa0..=0xbf => Head::Str(usize::from(m & 0x1f)),
        0xc0 => Head::Nil,
        0xc1 => return Err(Error::Invalid),
        0xc2 => Head::Bool(false),
        0xc3 => Head::Bool(true),
        0xc4 => Head::Bin(r.len(1)?),
        0xc5 => Head::Bin(r.len(2)?),
        0xc6 => Head::Bin(r.len(4)?),
        0xc7 => {
            let n = r.len(1)?;
            Head::Ext(r.u8()? as i8, n)
        }
        0xc8 => {
            let n = r.len(2)?;
            Head::Ext(r.u8()? as i8, n)
        }
        0xc9 => {
            let n = r.len(4)?;
            Head::Ext(r.u8()? as i8, n)
        }
        0xca => Head::Float(f64::from(f32::from_bits(r.be(4)? as u32))),
        0xcb => Head::Float(f64::from_bits(r.be(8)?)),
        0xcc => Head::UInt(r.be(1)?),
        0xcd => Head::UInt(r.be(2)?),
        0xce => Head::UInt(r.be(4)?),
        0xcf => Head::UInt(r.be(8)?),
        0xd0 => Head::Int(i64::from(r.be(1)? as u8 as i8)),
        0xd1 => Head::Int(i64::from(r.be(2)? as u16 as i16)),
        0xd2 => Head::Int(i64::from(r.be(4)? as u32 as i32)),
        0xd3 => Head::Int(r.be(8)? as i64),
        0xd4 => Head::Ext(r.u8()? as i8, 1),
        0xd5 => Head::Ext(r.u8()? as i8, 2),
        0xd6 => Head::Ext(r.u8()? as i8, 4),
        0xd7 => Head::Ext(r.u8()? as i8, 8),
        0xd8 => Head::Ext(r.u8()? as i8, 16),
        0xd9 => Head::Str(r.len(1)?),
        0xda => Head::Str(r.len(2)?),
        0xdb => Head::Str(r.len(4)?),
        0xdc => Head::Array(r.len(2)?),
        0xdd => Head::Array(r.len(4)?),
        0xde => Head::Map(r.len(2)?),
        0xdf => Head::Map(r.len(4)?),
        0xe0..=0xff => Head::Int(i64::from(m as i8)),
    })
}

/// The length of the first whole value in `buf` (which may be followed by more bytes), without building it.
/// Iterative: arbitrarily deep nesting costs no stack (but [`read`] refuses it later).
pub fn value_len(buf: &[u8]) -> Result<usize, Error> {
    let mut r = Reader { buf, pos: 0 };
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        match head(&mut r)? {
            Head::Str(n) | Head::Bin(n) | Head::Ext(_, n) => {
                r.take(n)?;
            }
            Head::Array(n) => pending = pending.saturating_add(n as u64),
            Head::Map(n) => pending = pending.saturating_add((n as u64).saturating_mul(2)),
            _ => {}
        }
        // Every pending value needs at least one more byte: fail fast on absurd declared counts.
        let left = (buf.len() - r.pos) as u64;
        if pending > left {
            let needed = r
                .pos
                .saturating_add(usize::try_from(pending).unwrap_or(usize::MAX));
            return Err(Error::Incomplete { needed });
        }
    }
    Ok(r.pos)
}

/// Raw encodings of array elements.
pub type RawItems<'a> = Vec<&'a [u8]>;
/// Raw encodings of map keys and values.
pub type RawPairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The raw encodings of the elements of the array at the start of `buf` (each a whole value, borrowed), and the
/// total length of the array. `None` when `buf` does not start with an array.
pub fn split_array(buf: &[u8]) -> Result<Option<(RawItems<'_>, usize)>, Error> {
    let mut r = Reader { buf, pos: 0 };
    let n = match head(&mut r)? {
        Head::Array(n) => n,
        _ => return Ok(None),
    };
    let mut items = Vec::with_capacity(n.min(buf.len() - r.pos));
    for _ in 0..n {
        let len = value_len(&buf[r.pos..]).map_err(|e| shift(e, r.pos))?;
        items.push(&buf[r.pos..r.pos + len]);
        r.pos += len;
    }
    Ok(Some((items, r.pos)))
}

/// The raw encodings of the keys and values of the map at the start of `buf`. `None` when it is not a map.
pub fn split_map(buf: &[u8]) -> Result<Option<RawPairs<'_>>, Error> {
    let mut r = Reader { buf, pos: 0 };
    let n = match head(&mut r)? {
        Head::Map(n) => n,
        _ => return Ok(None),
    };
    let mut items = Vec::with_capacity(n.min((buf.len() - r.pos) / 2));
    for _ in 0..n {
        let klen = value_len(&buf[r.pos..]).map_err(|e| shift(e, r.pos))?;
        let k = &buf[r.pos..r.pos + klen];
        r.pos += klen;
        let vlen = value_len(&buf[r.pos..]).map_err(|e| shift(e, r.pos))?;
        items.push((k, &buf[r.pos..r.pos + vlen]));
        r.pos += vlen;
    }
    Ok(Some(items))
}

fn shift(e: Error, by: usize) -> Error {
    match e {
        Error::Incomplete { needed } => Error::Incomplete {
            needed: needed.saturating_add(by),
        },
        other => other,
    }
}

/// Reads the first whole value of `buf`; returns it and the number of bytes it took.
pub fn read(buf: &[u8]) -> Result<(Value<'_>, usize), Error> {
    let mut r = Reader { buf, pos: 0 };
    let v = read_value(&mut r, 0)?;
    Ok((v, r.pos))
}

fn read_value<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Value<'a>, Error> {
    Ok(match head(r)? {
        Head::Nil => Value::Nil,
        Head::Bool(b) => Value::Bool(b),
        Head::Int(i) => Value::Int(i),
        Head::UInt(u) => Value::UInt(u),
        Head::Float(f) => Value::Float(f),
        Head::Str(n) => Value::Str(r.take(n)?),
        Head::Bin(n) => Value::Bin(r.take(n)?),
        Head::Ext(t, n) => Value::Ext(t, r.take(n)?),
        Head::Array(n) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            let mut v = Vec::with_capacity(n.min(r.buf.len() - r.pos));
            for _ in 0..n {
                v.push(read_value(r, depth + 1)?);
            }
            Value::Array(v)
        }
        Head::Map(n) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            let mut v = Vec::with_capacity(n.min((r.buf.len() - r.pos) / 2));
            for _ in 0..n {
                let k = read_value(r, depth + 1)?;
                let val = read_value(r, depth + 1)?;
                v.push((k, val));
            }
            Value::Map(v)
        }
    })
}

/// Appends an array header.
pub fn write_array_len(out: &mut Vec<u8>, n: u32) {
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if n <= u32::from(u16::MAX) {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a map header.
pub fn write_map_len(out: &mut Vec<u8>, n: u32) {
    if n < 16 {
        out.push(0x80 | n as u8);
    } else if n <= u32::from(u16::MAX) {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends a str.
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= usize::from(u8::MAX) {
        out.push(0xd9);
        out.push(n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Appends a bin.
pub fn write_bin(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n <= usize::from(u8::MAX) {
        out.push(0xc4);
        out.push(n as u8);
    } else if n <= usize::from(u16::MAX) {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Appends a bool.
pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xc3 } else { 0xc2 });
}

/// Appends a non-negative integer.
pub fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 128 {
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends an EventTime (extension type 0: seconds and nanoseconds, big endian).
pub fn write_event_time(out: &mut Vec<u8>, secs: u32, nanos: u32) {
    out.extend_from_slice(&[0xd7, 0x00]);
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&nanos.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_writers() {
        let mut b = Vec::new();
        write_array_len(&mut b, 3);
        write_str(&mut b, b"tag");
        write_map_len(&mut b, 2);
        write_str(&mut b, &[b'k'; 40]);
        write_bin(&mut b, &[1u8; 300]);
        write_str(&mut b, b"b");
        write_bool(&mut b, true);
        write_event_time(&mut b, 1_700_000_000, 5);
        let (v, n) = read(&b).unwrap();
        assert_eq!(n, b.len());
        assert_eq!(value_len(&b), Ok(b.len()));
        let Value::Array(a) = v else { panic!() };
        assert_eq!(a[0], Value::Str(b"tag"));
        assert_eq!(a[1].get(b"b"), Some(&Value::Bool(true)));
        assert_eq!(a[1].get(&[b'k'; 40]), Some(&Value::Bin(&[1u8; 300])));
        assert!(matches!(a[2], Value::Ext(0, d) if d.len() == 8));
    }

    #[test]
    fn integers_of_every_width() {
        for (bytes, want) in [
            (&[0xcc, 0xff][..], Value::UInt(255)),
            (&[0xcd, 0x01, 0x00], Value::UInt(256)),
            (&[0xd0, 0xff], Value::Int(-1)),
            (&[0xd1, 0xff, 0xfe], Value::Int(-2)),
            (&[0xe0], Value::Int(-32)),
            (&[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], Value::Float(1.5)),
        ] {
            assert_eq!(read(bytes).unwrap().0, want);
        }
    }

    #[test]
    fn incomplete_input_says_how_much_is_needed() {
        let mut b = Vec::new();
        write_bin(&mut b, &[0u8; 1000]);
        assert_eq!(value_len(&b[..10]), Err(Error::Incomplete { needed: 1003 }));
        assert!(matches!(read(&b[..10]), Err(Error::Incomplete { .. })));
        assert!(matches!(value_len(&[]), Err(Error::Incomplete { .. })));
    }

    #[test]
    fn hostile_headers_are_refused_without_allocating() {
        // An array declaring 4 billion elements with none present.
        assert!(matches!(
            value_len(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(Error::Incomplete { .. })
        ));
        assert!(matches!(
            read(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]),
            Err(Error::Incomplete { .. })
        ));
        assert_eq!(read(&[0xc1]), Err(Error::Invalid));
        let deep = vec![0x91u8; 10_000];
        assert!(matches!(value_len(&deep), Err(Error::Incomplete { .. })));
        let mut deep = vec![0x91u8; 100];
        deep.push(0xc0);
        assert_eq!(value_len(&deep), Ok(101));
        assert_eq!(read(&deep), Err(Error::TooDeep));
    }
}
