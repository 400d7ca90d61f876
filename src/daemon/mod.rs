//! `run`: the node daemon. Follows files (or stdin), spools every batch durably, delivers to every sink, serves
//! metrics, reloads filters and CIDR groups on change or SIGHUP, and shuts down cleanly on SIGTERM/SIGINT.
//!
//! Threads: the ingest loop (this thread), one delivery loop per sink, a file watcher for reloads, a small tokio
//! runtime for the ADX client and the metrics server. Shutdown: stop reading, spool what is in memory, persist
//! checkpoints, give sinks `--shutdown-timeout` to deliver, then exit 0; what is not delivered stays spooled
//! and is sent after the next start.

pub mod deliver;
pub mod ingest;
pub mod network;
pub mod watch;

use crate::cli::RunArgs;
use crate::commands::ExitCode;
use crate::ops::metrics::Metrics;
use crate::output::encode::EncodeOptions;
use crate::output::spool::Spool;
use crate::process::{OutputMode, Processor};
use crate::sink::deliver::{AdxSegmentSink, LocalSegmentSink, SegmentSink};
use crate::sink::{file::FileSink, stdout::StdoutSink, SinkSpec};
use arc_swap::ArcSwap;
use deliver::{DeliveryContext, Doorbell};
use hubble_tail::{Checkpoints, Tailer, TailerConfig};
use ingest::{IngestConfig, IngestContext, Input};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds the processor from the options: filters, CIDR groups, output mode.
pub fn build_processor(
    args: &RunArgs,
    flags: &[(String, String)],
    metrics: &Metrics,
    k8s: Option<&crate::enrich::KubernetesGroups>,
) -> Result<Processor, String> {
    let filter = crate::filters::build(&args.filter, flags).map_err(|e| format!("filter: {e}"))?;
    for w in filter.warnings() {
        tracing::warn!("filter: {w}");
    }
    let tagger = if args.enrich.cidr_groups.is_empty() {
        None
    } else {
        let k8s_groups = k8s.and_then(|k| k.snapshot());
        let (tagger, stats) =
            crate::enrich::load_with(&args.enrich.cidr_groups, k8s_groups.as_ref())
                .map_err(|e| format!("cidr-groups: {e}"))?;
        metrics
            .cidr_prefixes
            .set((stats.prefixes_v4 + stats.prefixes_v6) as i64);
        metrics.cidr_groups.set(stats.groups as i64);
        Some(tagger)
    };
    let mut p = Processor::new(
        Arc::new(filter),
        tagger,
        OutputMode::Records(EncodeOptions {
            include_flow: !args.no_flow_column,
        }),
    );
    if args.input.no_prefilter {
        p = p.without_prefilter();
    }
    Ok(p)
}

fn open_sinks(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    cancel: &hubble_adx::CancellationToken,
    metrics: &Arc<Metrics>,
) -> Result<Vec<Box<dyn SegmentSink>>, String> {
    let mut sinks: Vec<Box<dyn SegmentSink>> = Vec::new();
    for spec in &args.sinks {
        match spec {
            SinkSpec::File(p) => {
                let s =
                    FileSink::create(p).map_err(|e| format!("sink file:{}: {e}", p.display()))?;
                sinks.push(Box::new(LocalSegmentSink::new(Box::new(s))));
            }
            SinkSpec::Stdout => {
                sinks.push(Box::new(LocalSegmentSink::new(Box::new(StdoutSink::new()))))
            }
            SinkSpec::Adx => {
                let client =
                    runtime.block_on(async { crate::adx::client(&args.adx, cancel.clone()) })?;
                sinks.push(Box::new(
                    AdxSegmentSink::new(Arc::new(client), runtime.handle().clone())
                        .with_metrics(Arc::clone(metrics)),
                ));
            }
        }
    }
    let mut names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err("the same sink is configured twice".into());
    }
    Ok(sinks)
}

/// `run`.
pub fn run(args: &RunArgs, flags: &[(String, String)]) -> ExitCode {
    // Signals first: a SIGTERM during startup (loading a large CIDR table, opening sinks) still ends in a
    // clean exit 0 rather than death by signal.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop_reading)) {
            eprintln!("hubble-ingest: cannot install signal handlers: {e}");
            return ExitCode::Failure;
        }
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload));
    let metrics = Arc::new(Metrics::new());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hubble-ingest-io")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hubble-ingest: cannot start the async runtime: {e}");
            return ExitCode::Failure;
        }
    };
    let k8s = if crate::enrich::wants_kubernetes(&args.enrich.cidr_groups) {
        let hup = Arc::clone(&reload);
        match crate::enrich::watch_kubernetes(runtime.handle(), move || {
            hup.store(true, Ordering::Relaxed)
        }) {
            Ok(k) => {
                // Give the first list a moment so the first batches are already tagged.
                let deadline = Instant::now() + Duration::from_secs(15);
                while k.snapshot().is_none() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if k.snapshot().is_none() {
                    tracing::warn!("no CIDR groups from Kubernetes yet; starting with file sources, the table updates when the list arrives");
                }
                Some(k)
            }
            Err(e) => {
                eprintln!("hubble-ingest: cidr-groups: {e}");
                return ExitCode::Usage;
            }
        }
    } else {
        None
    };
    let processor = match build_processor(args, flags, &metrics, k8s.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("hubble-ingest: {e}");
            return ExitCode::Usage;
        }
    };
    let processor = Arc::new(ArcSwap::from_pointee(processor));
    let cancel = hubble_adx::CancellationToken::new();
    let mut sinks = match open_sinks(args, &runtime, &cancel, &metrics) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hubble-ingest: {e}");
            return ExitCode::Usage;
        }
    };
    let spool = match Spool::open(&args.state_dir.join("spool"), args.spool_max_bytes) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!(
                "hubble-ingest: cannot open the spool in {}: {e}",
                args.state_dir.display()
            );
            return ExitCode::Failure;
        }
    };
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
    let input = match open_input(args, &runtime, &metrics) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("hubble-ingest: {e}");
            return ExitCode::Usage;
        }
    };
    if let Some(addr) = args.metrics_addr {
        match runtime.block_on(crate::ops::http::serve(addr, Arc::clone(&metrics))) {
            Ok(bound) => tracing::info!(%bound, "serving /metrics, /healthz, /readyz"),
            Err(e) => {
                eprintln!("hubble-ingest: --metrics-addr {addr}: {e}");
                return ExitCode::Usage;
            }
        }
    }

    let doorbell = Arc::new(Doorbell::default());
    let stop_delivery = Arc::new(AtomicBool::new(false));
    let input_done = Arc::new(AtomicBool::new(false));
    let all_sinks: Vec<String> = sinks.iter().map(|s| s.name().to_owned()).collect();
    let mut delivery_threads = Vec::new();
    for mut sink in sinks.drain(..) {
        let ctx = DeliveryContext {
            spool: Arc::clone(&spool),
            all_sinks: all_sinks.clone(),
            dead_letter_dir: args.state_dir.join("dead-letter"),
            metrics: Arc::clone(&metrics),
            stop: Arc::clone(&stop_delivery),
            input_done: Arc::clone(&input_done),
            doorbell: Arc::clone(&doorbell),
        };
        let name = sink.name().to_owned();
        match std::thread::Builder::new()
            .name(format!("deliver-{name}"))
            .spawn(move || deliver::run(&ctx, sink.as_mut()))
        {
            Ok(h) => delivery_threads.push(h),
            Err(e) => {
                eprintln!("hubble-ingest: cannot start delivery for {name}: {e}");
                return ExitCode::Failure;
            }
        }
    }

    let watcher = watch::spawn_reloader(
        args,
        flags,
        Arc::clone(&processor),
        Arc::clone(&metrics),
        Arc::clone(&reload),
        Arc::clone(&stop_reading),
        k8s,
    );

    metrics.set_ready(true);
    tracing::info!(
        inputs = ?args.inputs,
        sinks = ?all_sinks,
        state_dir = %args.state_dir.display(),
        "hubble-ingest running"
    );
    let ctx = IngestContext {
        processor,
        spool: Arc::clone(&spool),
        metrics: Arc::clone(&metrics),
        stop: Arc::clone(&stop_reading),
        doorbell: Arc::clone(&doorbell),
    };
    let cfg = IngestConfig {
        format: args.input.format,
        max_line_bytes: usize::try_from(args.input.max_line_bytes).unwrap_or(usize::MAX),
        batch_max_bytes: usize::try_from(args.batch_max_bytes).unwrap_or(usize::MAX),
        flush_interval: args.flush_interval,
    };
    let stdin_mode = matches!(input, Input::Stdin(_));
    ingest::run(&ctx, &cfg, input);
    input_done.store(true, Ordering::Relaxed);
    doorbell.ring();
    let signalled = stop_reading.load(Ordering::Relaxed);
    stop_reading.store(true, Ordering::Relaxed);

    // Stdin ended without a signal: deliver everything, however long it takes (a signal cuts it short).
    // Signalled: a bounded grace period.
    let deadline = (signalled || !stdin_mode).then(|| Instant::now() + args.shutdown_timeout);
    tracing::info!(
        grace = ?deadline.map(|_| args.shutdown_timeout),
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
    if let Some(w) = watcher {
        let _ = w.join();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    tracing::info!(spool_bytes = spool.bytes(), "hubble-ingest stopped");
    ExitCode::Success
}

fn open_input(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    metrics: &Arc<Metrics>,
) -> Result<Input, String> {
    if let Some(net) = network::start(args, runtime, metrics)? {
        return Ok(Input::Network(net));
    }
    let max_line = usize::try_from(args.input.max_line_bytes).unwrap_or(usize::MAX);
    if args.inputs.iter().any(|i| i == "-") {
        if args.inputs.len() > 1 {
            return Err("--input - (stdin) cannot be combined with file inputs".into());
        }
        return ingest::spawn_stdin_reader(max_line)
            .map(Input::Stdin)
            .map_err(|e| format!("stdin: {e}"));
    }
    let checkpoints = Checkpoints::open(&args.state_dir)
        .map_err(|e| format!("checkpoints in {}: {e}", args.state_dir.display()))?;
    let mut cfg = TailerConfig::new(args.inputs.clone());
    cfg.read_from_head = args.read_from_head;
    cfg.max_line_bytes = max_line;
    cfg.poll_interval = args.poll_interval;
    Tailer::new(cfg, checkpoints)
        .map(|t| Input::Tail(Box::new(t)))
        .map_err(|e| format!("--input: {e}"))
}
