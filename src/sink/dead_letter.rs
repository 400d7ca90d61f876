//! Dead letters: records a sink rejected permanently, kept durably beside the reason so an operator can fix the
//! cause and re-send them (`hubble-ingest replay FILE --sink ...`). Both the daemon's delivery loops and the
//! replay ADX sink write them here, in one format: `<dir>/<seq>-<sink>.ndjson` plus `<same>.error.txt`.

use crate::spool::sync_dir;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a dead letter: `<dir>/<seq>-<sink>.ndjson` (the records) and `.error.txt` (why), durably.
pub fn write(
    dir: &Path,
    seq: u64,
    sink: &str,
    payload: &[u8],
    error: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let safe: String = sink
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{seq:020}-{safe}.ndjson"));
    let mut f = std::fs::File::create(&path)?;
    f.write_all(payload)?;
    f.sync_all()?;
    let mut e = std::fs::File::create(path.with_extension("error.txt"))?;
    writeln!(e, "{error}")?;
    e.sync_all()?;
    sync_dir(dir)?;
    Ok(path)
}
