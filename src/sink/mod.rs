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
    /// Whether [`Sink::sync`] makes what was written as durable as a spool segment, on this machine and at once
    /// (a regular file): the daemon may then hand such a sink a batch straight from memory instead of writing
    /// the batch to its spool first (see [`crate::deliver::DirectSink`]).
    fn durable_locally(&self) -> bool {
        false
    }
    /// Records that went to the dead-letter directory instead of the destination (rejected permanently, or not
    /// delivered within the retry budget; counted once [`Sink::flush`] has returned).
    fn dead_lettered(&self) -> u64 {
        0
    }
    /// The record-by-record account of a sink that can reject records (ADX), once [`Sink::flush`] has returned;
    /// `None` for local sinks (everything written was delivered, or the command failed).
    fn delivery(&self) -> Option<SinkDelivery> {
        None
    }
}

/// What a sink did with the records it was given: `records = delivered + dead_lettered + not_delivered + lost`,
/// and `lost` must be 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkDelivery {
    /// Records given to the sink.
    pub records: u64,
    /// Records the destination accepted.
    pub delivered: u64,
    /// Records rejected permanently (in dead letters).
    pub dead_lettered: u64,
    /// Records not delivered within the retry budget (in dead letters too).
    pub not_delivered: u64,
    /// Where the dead letters go.
    pub dead_letter_dir: Option<std::path::PathBuf>,
    /// The dead letters written (records files; each has an `.error.json` beside it).
    pub dead_letters: Vec<std::path::PathBuf>,
    /// The client's retries, by reason.
    pub retries: std::collections::BTreeMap<&'static str, u64>,
}

impl SinkDelivery {
    /// Records given to the sink but neither delivered nor in a dead letter (must be 0).
    pub fn lost(&self) -> u64 {
        self.records
            .saturating_sub(self.delivered + self.dead_lettered + self.not_delivered)
    }
}

pub use crate::settings::SinkSpec;

/// Builds the ADX client (one per process and sink) on the process runtime; `retries` hears every retry.
fn adx_client(
    cfg: &hubble_adx::AdxConfig,
    runtime: &tokio::runtime::Handle,
    cancel: &hubble_adx::CancellationToken,
    retries: Arc<adx::RetryCounter>,
) -> Result<Arc<hubble_adx::AdxClient>, Error> {
    hubble_adx::install_crypto_provider();
    let _guard = runtime.enter();
    let mut cfg = cfg.clone();
    cfg.observer = hubble_adx::Observer::new(retries);
    hubble_adx::AdxClient::new(cfg, cancel.clone())
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
/// produces output (`adx` batches 4 MiB requests and keeps several in flight; rejected and undelivered requests'
/// records go to the dead-letter directory).
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
                if cfg.mode != hubble_adx::IngestMode::Streaming {
                    // Said where the user looks: a queued blob counts as delivered once ADX has queued it.
                    tracing::warn!(
                        "adx: {:?} ingestion: records count as delivered once ADX has queued them; ADX ingests or \
                         rejects queued blobs minutes later and replay does not wait for that verdict (`run` does, \
                         see README \"Queued failures\"); use streaming mode (the default) to have every rejection \
                         dead-lettered and reflected in the exit code",
                        cfg.mode
                    );
                }
                let retries = Arc::new(adx::RetryCounter::default());
                let client = adx_client(
                    cfg,
                    runtime,
                    &hubble_adx::CancellationToken::new(),
                    Arc::clone(&retries),
                )?;
                Box::new(adx::AdxRecordSink::new(
                    client,
                    runtime.clone(),
                    4 << 20,
                    settings.dead_letter_dir.clone(),
                    retries,
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
                let retries = Arc::new(adx::RetryCounter::with_metrics(Arc::clone(metrics)));
                let client = adx_client(&cfg, runtime, cancel, retries)?;
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
                        resend_args: adx::resend_args(client.config()),
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
