//! `FileId`: the identity of a followed file's content.
//!
//! Owns the value type that names a file across renames, gzip copies and daemon restarts. Guarantees a stable
//! `Display` form for logs and a stable serde form for the checkpoint file.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identity of a file's content, as computed by a [`crate::Fingerprinter`].
///
/// `Checksum` survives rename, copy and gzip (it is computed over decompressed content); `DevInode` survives
/// rename only, and inode numbers are reused after deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileId {
    /// CRC-64/ECMA-182 of the first lines (after an optional ignored header), decompressed.
    Checksum(u64),
    /// Device and inode number of the file.
    DevInode {
        /// `st_dev`
        dev: u64,
        /// `st_ino`
        ino: u64,
    },
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileId::Checksum(sum) => write!(f, "crc64:{sum:016x}"),
            FileId::DevInode { dev, ino } => write!(f, "inode:{dev}:{ino}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_stable() {
        assert_eq!(FileId::Checksum(0xab).to_string(), "crc64:00000000000000ab");
        assert_eq!(FileId::DevInode { dev: 1, ino: 2 }.to_string(), "inode:1:2");
    }

    #[test]
    fn serde_round_trip_keeps_full_u64() {
        let ids = [
            FileId::Checksum(u64::MAX),
            FileId::DevInode {
                dev: 7,
                ino: u64::MAX - 1,
            },
        ];
        for id in ids {
            let json = serde_json::to_string(&id).unwrap();
            let back: FileId = serde_json::from_str(&json).unwrap();
            assert_eq!(back, id);
        }
        assert_eq!(
            serde_json::to_string(&FileId::Checksum(5)).unwrap(),
            r#"{"checksum":5}"#
        );
    }
}
