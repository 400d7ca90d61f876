//! Network-input decoder properties, checked on arbitrary bytes.
//!
//! Forward (`decode_message`): never panics; a rejected message leaves the output exactly as it was; an accepted
//! one appends only `\n`-terminated lines, at least one per record; stream framing (`value_len`) is consistent:
//! every prefix of a whole message is `Incomplete`, never a different length. HTTP bodies (`json_lines`,
//! `msgpack_lines`): never panic; every line appended ends with `\n`.

use hubble_ingest::source::forward::decode::{decode_message, RecordOptions};
use hubble_ingest::source::forward::msgpack;
use hubble_ingest::source::http_input::{json_lines, msgpack_lines};

/// Checks the Forward decoder and the HTTP body parsers on `data`.
pub fn check(data: &[u8]) {
    let opts = RecordOptions {
        record_key: b"log".to_vec(),
        max_decompressed_bytes: 1 << 20,
    };
    let mut out = b"previous\n".to_vec();
    let message = match msgpack::value_len(data) {
        Ok(n) => {
            for cut in [0, n / 3, n / 2, n.saturating_sub(1)] {
                if cut < n {
                    assert!(
                        matches!(
                            msgpack::value_len(&data[..cut]),
                            Err(msgpack::Error::Incomplete { .. })
                        ),
                        "a prefix of a whole message framed as whole"
                    );
                }
            }
            &data[..n]
        }
        Err(_) => data,
    };
    match decode_message(message, &opts, &mut out) {
        Ok(d) => {
            let added = &out[b"previous\n".len()..];
            assert!(added.is_empty() || added.ends_with(b"\n"));
            let newlines = added.iter().filter(|&&b| b == b'\n').count() as u64;
            assert!(newlines >= d.records, "fewer lines than records");
            if let Some(chunk) = &d.chunk {
                assert_eq!(
                    msgpack::value_len(chunk),
                    Ok(chunk.len()),
                    "chunk is one whole value"
                );
            }
        }
        Err(_) => assert_eq!(out, b"previous\n", "a rejected message left lines behind"),
    }
    for parse in [json_lines, msgpack_lines] {
        let mut lines = Vec::new();
        if parse(data, b"log", &mut lines).is_ok() {
            assert!(lines.is_empty() || lines.ends_with(b"\n"));
        }
    }
}
