//! gzip of request bodies with flate2 (zlib-rs backend). Guarantees: output is a single gzip member
//! that `gunzip` restores byte for byte.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Compresses `data` at `level` (0-9).
pub fn gzip(data: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 6 + 64),
        Compression::new(level.min(9)),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn roundtrip() {
        let data = b"{\"a\":1}\n{\"b\":2}\n".repeat(100);
        let gz = gzip(&data, 1).unwrap();
        assert!(gz.len() < data.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
