//! Where output records go. The pipeline hands every sink the same NDJSON bytes (whole records only) and never
//! knows what a sink does with them, as ripgrep's search loop never knows its `Sink`.

pub mod adx_batch;
pub mod batch;
pub mod dead_letter;
pub mod file;
pub mod stdout;

use std::io;
use std::path::PathBuf;

/// A destination for NDJSON records.
pub trait Sink: Send {
    /// A name for messages (`file:/path`, `stdout`).
    fn name(&self) -> &str;
    /// Accepts complete NDJSON records.
    fn write(&mut self, records: &[u8]) -> io::Result<()>;
    /// Makes everything accepted so far visible (and, for files, a valid stream).
    fn flush(&mut self) -> io::Result<()>;
    /// Makes everything accepted so far durable (flush, then fsync where that means something).
    fn sync(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// A sink as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `file:PATH` (gzip when PATH ends in `.gz`).
    File(PathBuf),
    /// `stdout`.
    Stdout,
    /// `adx` (configured by the `--adx-*` options).
    Adx,
}

impl std::str::FromStr for SinkSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stdout" | "-" => Ok(SinkSpec::Stdout),
            "adx" => Ok(SinkSpec::Adx),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(SinkSpec::File(PathBuf::from(p))),
                _ => Err(format!(
                    "unknown sink {s:?}: expected file:PATH, stdout or adx"
                )),
            },
        }
    }
}

/// Opens the sinks named by `specs` for `replay`; `adx` builds the ADX client from `adx`, with dead letters under
/// `state_dir`.
pub fn open_for_replay(
    specs: &[SinkSpec],
    adx: &crate::cli::AdxArgs,
    state_dir: &std::path::Path,
) -> Result<Vec<Box<dyn Sink>>, String> {
    let mut out: Vec<Box<dyn Sink>> = Vec::new();
    for s in specs {
        if *s == SinkSpec::Adx {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let client = runtime.block_on(async {
                crate::adx::client(adx, hubble_adx::CancellationToken::new())
            })?;
            out.push(Box::new(adx_batch::AdxBatchSink::new(
                std::sync::Arc::new(client),
                runtime,
                4 << 20,
                adx.adx_concurrency,
                state_dir.join("dead-letter"),
            )));
        } else {
            out.extend(open_local(std::slice::from_ref(s)).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

/// Opens the local sinks named by `specs`.
pub fn open_local(specs: &[SinkSpec]) -> io::Result<Vec<Box<dyn Sink>>> {
    let mut out: Vec<Box<dyn Sink>> = Vec::new();
    for s in specs {
        match s {
            SinkSpec::File(p) => out.push(Box::new(file::FileSink::create(p)?)),
            SinkSpec::Stdout => out.push(Box::new(stdout::StdoutSink::new())),
            SinkSpec::Adx => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the adx sink is opened with its client options (open_for_replay)",
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sink_specs() {
        assert_eq!("stdout".parse::<SinkSpec>(), Ok(SinkSpec::Stdout));
        assert_eq!(
            "file:out/x.ndjson.gz".parse::<SinkSpec>(),
            Ok(SinkSpec::File("out/x.ndjson.gz".into()))
        );
        assert!("file:".parse::<SinkSpec>().is_err());
        assert!("s3:bucket".parse::<SinkSpec>().is_err());
    }
}
