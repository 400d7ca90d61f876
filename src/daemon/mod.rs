//! `run`: the node daemon. Follows files (or stdin), spools every batch durably (or, when the only sink is a
//! local file that keeps up, lets that file be the durable copy: `DirectSink`), delivers to every sink, serves
//! metrics, reloads filters and CIDR groups on change or SIGHUP, and shuts down cleanly on SIGTERM/SIGINT.
//!
//! Threads: the ingest loop (this thread), one delivery loop per sink, a reload thread, and the process's tokio
//! runtime ([`crate::async_runtime`]) for the ADX client, the Kubernetes watch and the metrics server. Shutdown: stop
//! reading, spool what is in memory (never directly delivered, so a hanging sink cannot hold the exit), persist
//! checkpoints, give sinks `--shutdown-timeout` to deliver, then exit 0; what is not delivered stays spooled and is
//! sent after the next start.
//!
//! See ARCHITECTURE.md ("daemon").

pub mod ingest;
pub mod network;
pub mod watch;

use crate::cidr_groups::KubernetesGroups;
use crate::deliver::{self, DeliveryContext, DirectSink, Doorbell};
use crate::error::Error;
use crate::pipeline::PipelineConfig;
use crate::process::{OutputMode, Processor};
use crate::record::encode::EncodeOptions;
use crate::settings::{RunSettings, SettingsSource};
use crate::source::network::NetworkSource;
use crate::source::stdin::StdinSource;
use crate::source::tail::TailSource;
use crate::spool::Spool;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use hubble_cidr::PrefixTable;
use hubble_flow::filter::FilterSet;
use hubble_tail::{Checkpoints, Tailer, TailerConfig};
use ingest::{IngestConfig, IngestContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The processor for `settings` with `filter` and `table`.
pub fn build_processor(
    settings: &RunSettings,
    filter: Arc<FilterSet>,
    table: Option<Arc<PrefixTable>>,
) -> Processor {
    // The daemon prints no summary of top destinations: its workers do not count them.
    let mut p = Processor::new(
        filter,
        table,
        OutputMode::Records(EncodeOptions {
            include_flow: settings.pipeline.record.include_flow,
        }),
    )
    .without_summaries();
    if !settings.pipeline.input.prefilter {
        p = p.without_prefilter();
    }
    p
}

/// Loads the CIDR-group table of `settings` (files and the latest `k8s` groups), updating the table gauges.
pub fn load_table(
    settings: &RunSettings,
    metrics: &Metrics,
    k8s: Option<&KubernetesGroups>,
) -> Result<Option<Arc<PrefixTable>>, Error> {
    if settings.pipeline.enrich.cidr_groups.is_empty() {
        return Ok(None);
    }
    let k8s_groups = k8s.and_then(|k| k.snapshot());
    let (table, stats) =
        crate::cidr_groups::load_with(&settings.pipeline.enrich.cidr_groups, k8s_groups.as_ref())
            .map_err(|e| Error::Config(format!("cidr-groups: {e}")))?;
    metrics
        .cidr_prefixes
        .set((stats.prefixes_v4 + stats.prefixes_v6) as i64);
    metrics.cidr_groups.set(stats.groups as i64);
    Ok(Some(table))
}

/// `run`: until SIGTERM/SIGINT (or the end of stdin). Configuration errors found while starting are
/// [`Error::Config`]; after that the daemon reports through logs, metrics and `/readyz` and returns `Ok` on a
/// clean stop (what is not delivered stays spooled for the next start).
pub fn run(settings: RunSettings, source: Box<dyn SettingsSource>) -> Result<(), Error> {
    // Signals first: a SIGTERM during startup (loading a large CIDR table, opening sinks) still ends in a
    // clean exit 0 rather than death by signal.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let sighup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop_reading))
            .map_err(|e| Error::runtime("cannot install signal handlers", e))?;
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&sighup));
    for w in settings.pipeline.filter_set.warnings() {
        tracing::warn!("filter: {w}");
    }
    let metrics = Arc::new(Metrics::new());
    let runtime = crate::async_runtime::handle()?;
    let k8s_updated = Arc::new(AtomicBool::new(false));
    let k8s = if crate::cidr_groups::wants_kubernetes(&settings.pipeline.enrich.cidr_groups) {
        let updated = Arc::clone(&k8s_updated);
        let k = crate::cidr_groups::watch_kubernetes(&runtime, move || {
            updated.store(true, Ordering::Relaxed)
        })
        .map_err(|e| Error::Config(format!("cidr-groups: {e}")))?;
        // Give the first list a moment so the first batches are already tagged.
        let deadline = Instant::now() + Duration::from_secs(15);
        while k.snapshot().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if k.snapshot().is_none() {
            tracing::warn!("no CIDR groups from Kubernetes yet; starting with file sources, the table updates when the list arrives");
        }
        k8s_updated.store(false, Ordering::Relaxed);
        Some(k)
    } else {
        None
    };
    let table = load_table(&settings, &metrics, k8s.as_ref())?;
    let processor = Arc::new(ArcSwap::from_pointee(build_processor(
        &settings,
        Arc::clone(&settings.pipeline.filter_set),
        table.clone(),
    )));
    let cancel = hubble_adx::CancellationToken::new();
    let mut sinks =
        crate::sink::open_batch_sinks(&settings.pipeline.sinks, &runtime, &cancel, &metrics)?;
    let spool = Spool::open(&settings.state_dir.join("spool"), settings.spool_max_bytes)
        .map(Arc::new)
        .map_err(|e| {
            Error::runtime(
                &format!("cannot open the spool in {}", settings.state_dir.display()),
                e,
            )
        })?;
    let names: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
    match spool.collect_delivered(&names) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            segments = n,
            "removed spool segments every sink had already delivered"
        ),
        Err(e) => tracing::warn!("cannot clean the spool: {e}"),
    }
    metrics.spool_bytes.set(spool.bytes() as i64);
    metrics.spool_segments.set(spool.segments() as i64);
    let input = open_input(&settings, &runtime, &stop_reading, &metrics)?;
    if let Some(addr) = settings.metrics_addr {
        let bound = runtime
            .block_on(crate::telemetry::http::serve(addr, Arc::clone(&metrics)))
            .map_err(|e| Error::Config(format!("--metrics-addr {addr}: {e}")))?;
        tracing::info!(%bound, "serving /metrics, /healthz, /readyz");
    }

    let doorbell = Arc::new(Doorbell::default());
    let stop_delivery = Arc::new(AtomicBool::new(false));
    let input_done = Arc::new(AtomicBool::new(false));
    let all_sinks = names;
    // The only sink, when it is a local file, takes batches without a spool write while it keeps up.
    let direct = DirectSink::for_the_only_sink(&mut sinks, &metrics);
    let mut delivery_threads = Vec::new();
    for mut sink in sinks.drain(..) {
        let ctx = DeliveryContext {
            spool: Arc::clone(&spool),
            all_sinks: all_sinks.clone(),
            dead_letter_dir: settings.pipeline.sinks.dead_letter_dir.clone(),
            metrics: Arc::clone(&metrics),
            stop: Arc::clone(&stop_delivery),
            input_done: Arc::clone(&input_done),
            doorbell: Arc::clone(&doorbell),
        };
        let name = sink.name().to_owned();
        let h = std::thread::Builder::new()
            .name(format!("deliver-{name}"))
            .spawn(move || deliver::run(&ctx, sink.as_mut()))
            .map_err(|e| Error::runtime(&format!("cannot start delivery for {name}"), e))?;
        delivery_threads.push(h);
    }

    let reloader = watch::spawn_reloader(
        watch::ReloadContext {
            source,
            processor: Arc::clone(&processor),
            metrics: Arc::clone(&metrics),
            sighup,
            k8s_updated,
            k8s,
            stop: Arc::clone(&stop_reading),
        },
        watch::ReloadState {
            settings: settings.clone(),
            filter: Arc::clone(&settings.pipeline.filter_set),
            table,
        },
    )
    .map_err(|e| Error::runtime("cannot start the reload thread", e))?;

    metrics.set_ready(true);
    tracing::info!(
        inputs = ?settings.inputs,
        sinks = ?all_sinks,
        state_dir = %settings.state_dir.display(),
        "hubble-ingest running"
    );
    let pipeline_cfg = PipelineConfig {
        format: settings.pipeline.input.format,
        max_line_bytes: settings.pipeline.input.max_line_bytes,
        workers: settings.pipeline.input.workers,
        ..PipelineConfig::default()
    };
    let cfg = IngestConfig {
        batch_max_bytes: settings.batch_max_bytes,
        flush_interval: settings.flush_interval,
    };
    let mut ctx = IngestContext {
        spool: Arc::clone(&spool),
        metrics: Arc::clone(&metrics),
        stop: Arc::clone(&stop_reading),
        doorbell: Arc::clone(&doorbell),
        checkpoints: None,
        paused: None,
        direct,
    };
    let stdin_mode = matches!(input, Input::Stdin(_));
    match input {
        Input::Tail(tail) => {
            ctx.checkpoints = Some(tail.checkpoints().clone());
            ingest::run(&ctx, &cfg, &pipeline_cfg, processor, *tail);
        }
        Input::Stdin(stdin) => ingest::run(&ctx, &cfg, &pipeline_cfg, processor, stdin),
        Input::Network(net) => {
            ctx.paused = Some(net.pause_flag());
            ingest::run(&ctx, &cfg, &pipeline_cfg, processor, net);
        }
    }
    input_done.store(true, Ordering::Relaxed);
    doorbell.ring();
    let signalled = stop_reading.load(Ordering::Relaxed);
    stop_reading.store(true, Ordering::Relaxed);

    // Stdin ended without a signal: deliver everything, however long it takes (a signal cuts it short).
    // Signalled: a bounded grace period.
    let deadline = (signalled || !stdin_mode).then(|| Instant::now() + settings.shutdown_timeout);
    tracing::info!(
        grace = ?deadline.map(|_| settings.shutdown_timeout),
        "input stopped; delivering what is spooled"
    );
    let stop_signal = Arc::new(AtomicBool::new(false));
    if stdin_mode && !signalled {
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&stop_signal));
        }
    }
    loop {
        if delivery_threads.iter().all(|h| h.is_finished()) {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) || stop_signal.load(Ordering::Relaxed) {
            tracing::warn!(
                spool_bytes = spool.bytes(),
                "grace period over; undelivered batches stay spooled for the next start"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_delivery.store(true, Ordering::Relaxed);
    cancel.cancel();
    doorbell.ring();
    for h in delivery_threads {
        let _ = h.join();
    }
    let _ = reloader.join();
    tracing::info!(spool_bytes = spool.bytes(), "hubble-ingest stopped");
    Ok(())
}

/// The daemon's inputs.
enum Input {
    /// Followed files.
    Tail(Box<TailSource>),
    /// Stdin.
    Stdin(StdinSource),
    /// Forward and HTTP listeners.
    Network(NetworkSource),
}

fn open_input(
    settings: &RunSettings,
    runtime: &tokio::runtime::Handle,
    stop: &Arc<AtomicBool>,
    metrics: &Arc<Metrics>,
) -> Result<Input, Error> {
    if let Some(net) = network::start(&settings.inputs, &settings.network, runtime, metrics, stop)?
    {
        return Ok(Input::Network(net));
    }
    let max_line = settings.pipeline.input.max_line_bytes;
    if settings.inputs.iter().any(|i| i == "-") {
        return StdinSource::spawn(max_line, Arc::clone(stop))
            .map(Input::Stdin)
            .map_err(|e| Error::runtime("stdin", e));
    }
    let checkpoints = Checkpoints::open(&settings.state_dir).map_err(|e| {
        Error::runtime(
            &format!("checkpoints in {}", settings.state_dir.display()),
            e,
        )
    })?;
    let mut cfg = TailerConfig::new(settings.inputs.clone());
    cfg.read_from_head = settings.read_from_head;
    cfg.max_line_bytes = max_line;
    cfg.poll_interval = settings.poll_interval;
    Tailer::new(cfg, checkpoints)
        .map(|t| {
            Input::Tail(Box::new(TailSource::new(
                t,
                Arc::clone(stop),
                Arc::clone(metrics),
            )))
        })
        .map_err(|e| Error::Config(format!("--input: {e}")))
}
