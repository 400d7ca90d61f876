//! The hand-written exporter-layout scanner (`hubble_flow::scan`) against the serde path it short-cuts: on any
//! line it never panics, and whenever it accepts a line the serde path gives the same record (compared by
//! `Debug`, which shows every field), with the raw flow text borrowed from the line.

use hubble_flow::record::{decode_str, decode_str_without_scanner, Record};
use hubble_flow::scan::decode_exporter_layout;

/// Runs the scanner on `data` (as `decode_str` would: UTF-8, trimmed, starting with `{`) and checks it.
pub fn check_scanner(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if !trimmed.starts_with('{') {
        return;
    }
    let Some(fast) = decode_exporter_layout(trimmed) else {
        return;
    };
    assert!(
        trimmed
            .as_bytes()
            .as_ptr_range()
            .contains(&fast.raw.as_ptr()),
        "raw flow text not borrowed from the line"
    );
    let fast = format!("{:?}", Record::from(fast));
    // The production path, where the scanner fills the record's flow in place, gives the same record.
    assert_eq!(
        format!("{:?}", decode_str(text)),
        format!("Ok({fast})"),
        "decode_str differs from the scanner for {text:?}"
    );
    match decode_str_without_scanner(text) {
        Ok(slow) => assert_eq!(
            fast,
            format!("{slow:?}"),
            "scanner and serde differ on {text:?}"
        ),
        Err(skip) => panic!("scanner accepted a line serde skips as {skip:?}: {text:?}\n{fast}"),
    }
}
