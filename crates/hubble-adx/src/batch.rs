//! The unit of work handed in by the caller ([`Batch`]: NDJSON bytes, record count, stable id) and
//! record-boundary splitting. Guarantees: splitting never cuts a record; concatenating the pieces
//! gives back the input (minus nothing: separators stay with their record); a piece is larger than
//! the limit only when it is a single oversize record, and it is then marked as such.

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A finished batch: uncompressed NDJSON, records separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// NDJSON bytes (not compressed).
    pub data: Bytes,
    /// Number of records in `data`.
    pub records: usize,
    /// Stable id derived from the content; used as the queued `ingest-by:` tag.
    pub id: String,
}

impl Batch {
    /// A batch with a caller-supplied record count and id.
    pub fn new(data: impl Into<Bytes>, records: usize, id: impl Into<String>) -> Self {
        Batch {
            data: data.into(),
            records,
            id: id.into(),
        }
    }

    /// A batch whose record count and id ([`batch_id`]) are computed from the data.
    pub fn from_ndjson(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let records = count_records(&data);
        let id = batch_id(&data);
        Batch { data, records, id }
    }
}

/// Hex SHA-256 of the content: the same bytes always give the same id.
pub fn batch_id(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Non-empty lines in NDJSON data.
pub fn count_records(data: &[u8]) -> usize {
    data.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(|b| b.is_ascii_whitespace()))
        .count()
}

/// True if `data` holds at least one record (a non-whitespace byte); stops at the first one.
pub fn has_records(data: &[u8]) -> bool {
    data.iter().any(|b| !b.is_ascii_whitespace())
}

/// One request's worth of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub data: Bytes,
    /// A single record larger than the limit (cannot be streamed).
    pub oversize: bool,
}

/// Splits `data` into pieces of at most `max` bytes, on `\n` boundaries.
pub(crate) fn split_records(data: &Bytes, max: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let len = data.len();
    while start < len {
        if len - start <= max {
            pieces.push(Piece {
                data: data.slice(start..),
                oversize: false,
            });
            break;
        }
        let window = &data[start..start + max];
        match memchr::memrchr(b'\n', window) {
            Some(pos) => {
                let end = start + pos + 1;
                pieces.push(Piece {
                    data: data.slice(start..end),
                    oversize: false,
                });
                start = end;
            }
            None => {
                let end = memchr::memchr(b'\n', &data[start..]).map_or(len, |p| start + p + 1);
                pieces.push(Piece {
                    data: data.slice(start..end),
                    oversize: true,
                });
                start = end;
            }
        }
    }
    pieces.retain(|p| has_records(&p.data));
    pieces
}

/// Splits at the record boundary nearest the middle; `None` for a single record.
pub(crate) fn halve(data: &Bytes) -> Option<(Bytes, Bytes)> {
    let mid = data.len() / 2;
    let after = memchr::memchr(b'\n', &data[mid..]).map(|p| mid + p + 1);
    let before = memchr::memrchr(b'\n', &data[..mid]).map(|p| p + 1);
    let candidates = [after, before];
    let cut = candidates
        .into_iter()
        .flatten()
        .filter(|&c| c > 0 && c < data.len())
        .filter(|&c| has_records(&data[..c]) && has_records(&data[c..]))
        .min_by_key(|&c| c.abs_diff(mid))?;
    Some((data.slice(..cut), data.slice(cut..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndjson(n: usize, width: usize) -> Bytes {
        let mut out = Vec::new();
        for i in 0..n {
            let pad = "x".repeat(width);
            out.extend_from_slice(format!("{{\"i\":{i},\"p\":\"{pad}\"}}\n").as_bytes());
        }
        Bytes::from(out)
    }

    #[test]
    fn id_is_stable_and_content_derived() {
        assert_eq!(batch_id(b"a\n"), batch_id(b"a\n"));
        assert_ne!(batch_id(b"a\n"), batch_id(b"b\n"));
        assert_eq!(batch_id(b"").len(), 64);
        let b = Batch::from_ndjson(&b"{}\n{}\n\n"[..]);
        assert_eq!(b.records, 2);
    }

    #[test]
    fn split_respects_limit_and_roundtrips() {
        let data = ndjson(1000, 50);
        let pieces = split_records(&data, 4096);
        assert!(pieces.len() > 1);
        let mut joined = Vec::new();
        for p in &pieces {
            assert!(p.data.len() <= 4096 && !p.oversize);
            assert_eq!(p.data.last(), Some(&b'\n'));
            joined.extend_from_slice(&p.data);
        }
        assert_eq!(joined, data.to_vec());
    }

    #[test]
    fn oversize_record_is_isolated() {
        let mut v = b"{\"a\":1}\n".to_vec();
        v.extend_from_slice(format!("{{\"big\":\"{}\"}}\n", "y".repeat(5000)).as_bytes());
        v.extend_from_slice(b"{\"b\":2}");
        let pieces = split_records(&Bytes::from(v.clone()), 1024);
        assert_eq!(pieces.len(), 3);
        assert!(!pieces[0].oversize && pieces[1].oversize && !pieces[2].oversize);
        assert_eq!(
            pieces.iter().map(|p| count_records(&p.data)).sum::<usize>(),
            3
        );
    }

    proptest::proptest! {
        #[test]
        fn split_never_cuts_a_record(
            lines in proptest::collection::vec("[a-z{}:\" ]{0,80}", 0..60),
            max in 16usize..200,
            trailing_newline in proptest::bool::ANY,
        ) {
            let mut text = lines.join("\n");
            if trailing_newline { text.push('\n'); }
            let data = Bytes::from(text.clone().into_bytes());
            let pieces = split_records(&data, max);
            let joined: Vec<u8> = pieces.iter().flat_map(|p| p.data.to_vec()).collect();
            let kept: Vec<&str> = text.split('\n').filter(|l| !l.trim().is_empty()).collect();
            let got_text = String::from_utf8(joined).unwrap();
            let got: Vec<&str> = got_text.split('\n').filter(|l| !l.trim().is_empty()).collect();
            proptest::prop_assert_eq!(got, kept);
            for p in &pieces {
                proptest::prop_assert!(p.oversize || p.data.len() <= max);
                if p.oversize { proptest::prop_assert_eq!(count_records(&p.data), 1); }
                if let Some((a, b)) = halve(&p.data) {
                    proptest::prop_assert_eq!([a.to_vec(), b.to_vec()].concat(), p.data.to_vec());
                    proptest::prop_assert_eq!(count_records(&a) + count_records(&b), count_records(&p.data));
                }
            }
        }
    }

    #[test]
    fn halve_on_boundary() {
        let data = ndjson(5, 3);
        let (a, b) = halve(&data).unwrap();
        assert_eq!(count_records(&a) + count_records(&b), 5);
        assert_eq!([a.to_vec(), b.to_vec()].concat(), data.to_vec());
        assert!(halve(&Bytes::from_static(b"{\"only\":1}\n")).is_none());
    }
}
