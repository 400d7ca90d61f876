//! `replay` and `filter`: run the pipeline over inputs to their end.

use crate::cli::{FilterCmdArgs, InputArgs, ProgressMode, ReplayArgs};
use crate::commands::{enrichment, ExitCode};
use crate::output::encode::EncodeOptions;
use crate::pipeline::{self, PipelineConfig};
use crate::process::{OutputMode, Processor};
use crate::report;
use crate::sink::{self, Sink};
use crate::source::input::InputSpec;
use crate::stats::{render_summary, BatchStats, InputProblem};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn pipeline_config(input: &InputArgs) -> PipelineConfig {
    let mut cfg = PipelineConfig {
        format: input.format,
        max_line_bytes: usize::try_from(input.max_line_bytes).unwrap_or(usize::MAX),
        ..PipelineConfig::default()
    };
    if let Some(w) = input.workers {
        cfg.workers = w.max(1);
    }
    cfg
}

fn progress_bar(mode: ProgressMode, total: Option<u64>) -> Option<ProgressBar> {
    let show = match mode {
        ProgressMode::Never => false,
        ProgressMode::Always => true,
        ProgressMode::Auto => io::stderr().is_terminal(),
    };
    if !show {
        return None;
    }
    let pb = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = if total.is_some() {
        "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {bytes} {binary_bytes_per_sec} {msg}"
    };
    if let Ok(s) = ProgressStyle::with_template(style) {
        pb.set_style(s.progress_chars("=> "));
    }
    Some(pb)
}

/// The filter the options select, with its warnings logged; a configuration error is reported (exit 2).
fn active_filter(
    args: &crate::cli::FilterArgs,
    observe_flags: &[(String, String)],
) -> Result<hubble_flow::filter::FilterSet, ExitCode> {
    let filter = crate::filters::build(args, observe_flags).map_err(|e| {
        eprintln!("hubble-ingest: filter: {e}");
        ExitCode::Usage
    })?;
    for w in filter.warnings() {
        tracing::warn!("filter: {w}");
    }
    Ok(filter)
}

/// `replay`.
pub fn replay(args: &ReplayArgs, observe_flags: &[(String, String)]) -> ExitCode {
    let filter = match active_filter(&args.filter, observe_flags) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let tagger = match enrichment(&args.enrich) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut sinks = match sink::open_for_replay(&args.sinks, &args.adx, &args.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hubble-ingest: sink: {e}");
            return ExitCode::Usage;
        }
    };
    let mode = OutputMode::Records(EncodeOptions {
        include_flow: !args.no_flow_column,
    });
    let filter_text = args
        .report
        .as_ref()
        .map(|_| report::describe_filter(&args.filter, observe_flags, &filter));
    let report_tagger = tagger.clone();
    let mut processor = Processor::new(Arc::new(filter), tagger, mode);
    if args.input.no_prefilter {
        processor = processor.without_prefilter();
    }
    let cfg = pipeline_config(&args.input);
    let shards = args
        .report
        .as_ref()
        .map(|_| Arc::new(report::AggregateShards::new(cfg.workers)));
    if let Some(s) = &shards {
        processor = processor.with_report(Arc::clone(s));
    }
    let processor = Arc::new(processor);
    let inputs: Vec<InputSpec> = args.inputs.iter().map(|s| InputSpec::parse(s)).collect();
    let total: Option<u64> = inputs.iter().map(InputSpec::size).sum();
    let pb = progress_bar(args.progress, total);
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let counter = Arc::clone(&raw_bytes);
    let result = pipeline::run(
        &inputs,
        &cfg,
        processor,
        Arc::clone(&raw_bytes),
        |out, stats| {
            write_to_sinks(&mut sinks, out)?;
            if let Some(pb) = &pb {
                pb.set_position(counter.load(Ordering::Relaxed));
                if stats.kept_flows > 0 {
                    pb.set_message("");
                }
            }
            Ok(())
        },
    );
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let flush = sinks.iter_mut().try_for_each(|s| {
        s.flush()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", s.name())))
    });
    let outcome = match (result, flush) {
        (Ok(o), Ok(())) => o,
        (Err(e), _) | (Ok(_), Err(e)) => {
            eprintln!("hubble-ingest: replay failed: {e}");
            return ExitCode::Failure;
        }
    };
    let elapsed = started.elapsed();
    let input_bytes = raw_bytes.load(Ordering::Relaxed);
    if let (Some(path), Some(shards)) = (&args.report, &shards) {
        let ctx = report::RunContext {
            inputs: inputs.iter().map(|i| (i.name(), i.size())).collect(),
            filter: filter_text.unwrap_or_default(),
            cidr_sources: args
                .enrich
                .cidr_groups
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            cidr_table: report_tagger.as_ref().map(|t| t.stats()),
            input_bytes,
            seconds: elapsed.as_secs_f64(),
        };
        let data = report::ReportData::build(
            &shards.merged(),
            &outcome.stats,
            &outcome.problems,
            &ctx,
            report_tagger.as_deref(),
        );
        let format = args
            .report_format
            .unwrap_or_else(|| report::ReportFormat::for_path(path));
        if let Err(e) = report::write(path, format, &data) {
            eprintln!("hubble-ingest: report {}: {e}", path.display());
            return ExitCode::Failure;
        }
    }
    if args.summary_json {
        eprintln!(
            "{}",
            summary_json(&outcome.stats, &outcome.problems, input_bytes, elapsed)
        );
    } else {
        eprint!(
            "{}",
            render_summary(&outcome.stats, &outcome.problems, elapsed, input_bytes)
        );
    }
    if outcome
        .problems
        .iter()
        .any(|p| p.message.starts_with("cannot open"))
    {
        ExitCode::Failure
    } else {
        ExitCode::Success
    }
}

fn write_to_sinks(sinks: &mut [Box<dyn Sink>], out: &[u8]) -> io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    for s in sinks.iter_mut() {
        s.write(out)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", s.name())))?;
    }
    Ok(())
}

fn summary_json(
    s: &BatchStats,
    problems: &[InputProblem],
    input_bytes: u64,
    elapsed: std::time::Duration,
) -> String {
    use hubble_flow::{RecordKind, Skip};
    let records: serde_json::Map<String, serde_json::Value> = RecordKind::ALL
        .iter()
        .map(|&k| (k.name().to_owned(), s.record(k).into()))
        .collect();
    let mut skipped: serde_json::Map<String, serde_json::Value> = Skip::ALL
        .iter()
        .map(|&k| (k.name().to_owned(), s.skip(k).into()))
        .collect();
    skipped.insert("oversize".into(), s.frame.oversize.into());
    skipped.insert("malformed_frame".into(), s.frame.malformed_frame.into());
    let v = serde_json::json!({
        "lines": s.frame.physical_lines,
        "logical_lines": s.lines,
        "input_bytes": input_bytes,
        "seconds": elapsed.as_secs_f64(),
        "records": records,
        "prefiltered": s.prefiltered,
        "kept_flows": s.kept_flows,
        "kept_other": s.kept_other,
        "invalid_ip": s.invalid_ip,
        "skipped": skipped,
        "by_drop_reason": s.by_drop_reason,
        "by_destination": s.by_destination,
        "by_destination_groups": s.by_destination_groups,
        "problems": problems
            .iter()
            .map(|p| serde_json::json!({"input": p.input, "message": p.message}))
            .collect::<Vec<_>>(),
    });
    v.to_string()
}

/// `filter`.
pub fn filter(args: &FilterCmdArgs, observe_flags: &[(String, String)]) -> ExitCode {
    let filter = match active_filter(&args.filter, observe_flags) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut processor = Processor::new(Arc::new(filter), None, OutputMode::Passthrough);
    if args.input.no_prefilter {
        processor = processor.without_prefilter();
    }
    let processor = Arc::new(processor);
    let inputs: Vec<InputSpec> = if args.inputs.is_empty() {
        vec![InputSpec::Stdin]
    } else {
        args.inputs.iter().map(|s| InputSpec::parse(s)).collect()
    };
    let cfg = pipeline_config(&args.input);
    let stdout = io::stdout();
    let mut lock = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let result = pipeline::run(
        &inputs,
        &cfg,
        processor,
        Arc::new(AtomicU64::new(0)),
        |out, _| lock.write_all(out),
    );
    let flushed = lock.flush();
    match (result, flushed) {
        (Ok(outcome), Ok(())) => {
            for p in &outcome.problems {
                eprintln!("hubble-ingest: {}: {}", p.input, p.message);
            }
            if outcome
                .problems
                .iter()
                .any(|p| p.message.starts_with("cannot open"))
            {
                ExitCode::Failure
            } else {
                ExitCode::Success
            }
        }
        (Err(e), _) | (Ok(_), Err(e)) => {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return ExitCode::Success;
            }
            eprintln!("hubble-ingest: filter failed: {e}");
            ExitCode::Failure
        }
    }
}
