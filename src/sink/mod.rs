//! Where output records go. The pipeline hands every sink the same NDJSON bytes (whole records only) and never
//! knows what a sink does with them, as ripgrep's search loop never knows its `Sink`. [`open_record_sinks`] and
//! [`open_batch_sinks`] are the one factory; see ARCHITECTURE.md ("sink") for how to add a sink.

pub mod adx;
pub mod adx_queued;
pub mod batch;
pub mod dead_letter;
pub mod file;
pub mod stdout;

use crate::error::Error;
use crate::settings::SinkSettings;
use crate::telemetry::metrics::Metrics;
use batch::BatchSink;
use std::io;
use std::sync::Arc;

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
    /// Records the destination rejected permanently and that went to the dead-letter directory instead (counted
    /// once [`Sink::flush`] has returned).
    fn dead_lettered(&self) -> u64 {
        0
    }
}

pub use crate::settings::SinkSpec;

/// Builds the ADX client (one per process and sink) on the process runtime.
fn adx_client(
    cfg: &hubble_adx::AdxConfig,
    runtime: &tokio::runtime::Handle,
    cancel: &hubble_adx::CancellationToken,
) -> Result<Arc<hubble_adx::AdxClient>, Error> {
    hubble_adx::install_crypto_provider();
    let _guard = runtime.enter();
    hubble_adx::AdxClient::new(cfg.clone(), cancel.clone())
        .map(Arc::new)
        .map_err(|e| Error::Config(format!("adx: {e}")))
}

fn adx_settings(settings: &SinkSettings) -> Result<&hubble_adx::AdxConfig, Error> {
    settings
        .adx
        .as_ref()
        .ok_or_else(|| Error::Config("the adx sink has no configuration".into()))
}

/// The one sink factory. Opens the sinks for `replay` and `filter`: record streams, written as the pipeline
/// produces output (`adx` batches 4 MiB requests and keeps several in flight; rejected batches go to the
/// dead-letter directory).
pub fn open_record_sinks(
    settings: &SinkSettings,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<Box<dyn Sink>>, Error> {
    let mut out: Vec<Box<dyn Sink>> = Vec::new();
    for s in &settings.specs {
        out.push(match s {
            SinkSpec::File(p) => Box::new(
                file::FileSink::create(p)
                    .map_err(|e| Error::Config(format!("sink file:{}: {e}", p.display())))?,
            ),
            SinkSpec::Stdout => Box::new(stdout::StdoutSink::new()),
            SinkSpec::Adx => {
                let cfg = adx_settings(settings)?;
                let client = adx_client(cfg, runtime, &hubble_adx::CancellationToken::new())?;
                Box::new(adx::AdxRecordSink::new(
                    client,
                    runtime.clone(),
                    4 << 20,
                    cfg.concurrency,
                    settings.dead_letter_dir.clone(),
                ))
            }
        });
    }
    Ok(out)
}

/// The one sink factory, for the daemon: batch sinks its delivery loops feed from the spool.
pub fn open_batch_sinks(
    settings: &SinkSettings,
    runtime: &tokio::runtime::Handle,
    cancel: &hubble_adx::CancellationToken,
    metrics: &Arc<Metrics>,
) -> Result<Vec<Box<dyn BatchSink>>, Error> {
    let mut out: Vec<Box<dyn BatchSink>> = Vec::new();
    for s in &settings.specs {
        out.push(match s {
            SinkSpec::File(p) => Box::new(batch::LocalBatchSink::new(Box::new(
                file::FileSink::create(p)
                    .map_err(|e| Error::Config(format!("sink file:{}: {e}", p.display())))?,
            ))),
            SinkSpec::Stdout => Box::new(batch::LocalBatchSink::new(Box::new(
                stdout::StdoutSink::new(),
            ))),
            SinkSpec::Adx => {
                let mut cfg = adx_settings(settings)?.clone();
                let queued = cfg.mode != hubble_adx::IngestMode::Streaming;
                // Queued blobs ask for success reports too: see adx_queued for the rule.
                cfg.report_successes = queued;
                let client = adx_client(&cfg, runtime, cancel)?;
                let mut sink = adx::AdxBatchSink::new(Arc::clone(&client), runtime.clone())
                    .with_metrics(Arc::clone(metrics));
                if queued {
                    let dir = &settings.adx_queued_dir;
                    let pending =
                        adx_queued::PendingBlobs::open(dir)
                            .map(Arc::new)
                            .map_err(|e| {
                                Error::Config(format!("adx: cannot open {}: {e}", dir.display()))
                            })?;
                    adx_queued::ReportPoller {
                        client,
                        pending: Arc::clone(&pending),
                        dead_letter_dir: settings.dead_letter_dir.clone(),
                        metrics: Arc::clone(metrics),
                        interval: settings.adx_report_interval,
                        cancel: cancel.clone(),
                    }
                    .spawn(runtime);
                    sink = sink.with_pending(pending);
                }
                Box::new(sink)
            }
        });
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
