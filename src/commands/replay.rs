//! `replay` and `filter`: run the pipeline over inputs to their end.

use crate::commands::load_cidr_table;
use crate::error::Error;
use crate::pipeline::{self, Event, PipelineConfig};
use crate::process::{OutputMode, Processor};
use crate::record::encode::EncodeOptions;
use crate::report;
use crate::settings::{FilterCommandSettings, InputSettings, ReplaySettings};
use crate::sink::{self, Sink, SinkDelivery};
use crate::source::files::FileSource;
use crate::source::input::InputSpec;
use crate::stats::{render_summary, BatchStats, InputProblem, ProblemKind};
use arc_swap::ArcSwap;
use hubble_cidr::PrefixTable;
use hubble_flow::filter::FilterSet;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn pipeline_config(input: &InputSettings) -> PipelineConfig {
    PipelineConfig {
        format: input.format,
        max_line_bytes: input.max_line_bytes,
        workers: input.workers,
        ..PipelineConfig::default()
    }
}

fn progress_bar(show: bool, total: Option<u64>) -> Option<ProgressBar> {
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

fn log_filter_warnings(filter: &FilterSet) {
    for w in filter.warnings() {
        tracing::warn!("filter: {w}");
    }
}

fn processor(
    filter: &Arc<FilterSet>,
    tagger: Option<Arc<PrefixTable>>,
    mode: OutputMode,
    input: &InputSettings,
    report: Option<Arc<report::AggregateShards>>,
) -> Arc<ArcSwap<Processor>> {
    let mut p = Processor::new(Arc::clone(filter), tagger, mode);
    if !input.prefilter {
        p = p.without_prefilter();
    }
    if let Some(r) = report {
        p = p.with_report(r);
    }
    Arc::new(ArcSwap::from_pointee(p))
}

/// The inputs that could not be opened at all (nothing of them was delivered).
fn unopened(problems: &[InputProblem]) -> Vec<&str> {
    problems
        .iter()
        .filter(|p| p.kind == ProblemKind::CannotOpen)
        .map(|p| p.input.as_str())
        .collect()
}

/// `replay`: every input to its end through the pipeline into the sinks, then the summary, which says per sink
/// how many records were delivered, dead-lettered (rejected), not delivered (retry budget) and lost (always 0)
/// and names the dead letters. Not delivering everything (an input that cannot be opened, any record
/// dead-lettered or not delivered) is [`Error::NotDelivered`] (exit 1).
pub fn replay(settings: &ReplaySettings) -> Result<(), Error> {
    log_filter_warnings(&settings.pipeline.filter_set);
    let tagger = load_cidr_table(&settings.pipeline.enrich.cidr_groups)?;
    let runtime = crate::async_runtime::handle()?;
    let mut sinks = sink::open_record_sinks(&settings.pipeline.sinks, &runtime)?;
    let mode = OutputMode::Records(EncodeOptions {
        include_flow: settings.pipeline.record.include_flow,
    });
    let cfg = pipeline_config(&settings.pipeline.input);
    // `--report`: one aggregation shard per worker, fed every kept flow.
    let shards = settings
        .report
        .as_ref()
        .map(|_| Arc::new(report::AggregateShards::new(cfg.workers)));
    let report_tagger = tagger.clone();
    let processor = processor(
        &settings.pipeline.filter_set,
        tagger,
        mode,
        &settings.pipeline.input,
        shards.clone(),
    );
    let inputs: Vec<InputSpec> = settings
        .inputs
        .iter()
        .map(|s| InputSpec::parse(s))
        .collect();
    let total: Option<u64> = inputs.iter().map(InputSpec::size).sum();
    let input_names: Vec<(String, Option<u64>)> =
        inputs.iter().map(|i| (i.name(), i.size())).collect();
    let pb = progress_bar(settings.progress, total);
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let counter = Arc::clone(&raw_bytes);
    let source = FileSource::new(inputs, cfg.block_size, Arc::clone(&raw_bytes));
    let mut records_out = 0u64;
    let result = pipeline::run(source, &cfg, processor, |event| {
        if let Event::Batch(o) = event {
            records_out += o.stats.output_records;
            write_to_sinks(&mut sinks, o.out)?;
            if let Some(pb) = &pb {
                pb.set_position(counter.load(Ordering::Relaxed));
            }
        }
        Ok(())
    });
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let flush = sinks.iter_mut().try_for_each(|s| {
        s.flush()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", s.name())))
    });
    let outcome = match (result, flush) {
        (Ok(o), Ok(())) => o,
        (Err(e), _) | (Ok(_), Err(e)) => return Err(Error::runtime("replay failed", e)),
    };
    let elapsed = started.elapsed();
    let input_bytes = raw_bytes.load(Ordering::Relaxed);
    if let (Some((path, format)), Some(shards)) = (&settings.report, &shards) {
        let ctx = report::RunContext {
            inputs: input_names,
            filter: report::describe_filter(
                &settings.pipeline.filter,
                &settings.pipeline.filter_set,
            ),
            cidr_sources: settings
                .pipeline
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
        report::write(path, *format, &data)
            .map_err(|e| Error::runtime(&format!("report {}", path.display()), e))?;
    }
    let deliveries: Vec<(String, SinkDelivery)> = sinks
        .iter()
        .map(|s| {
            let d = s.delivery().unwrap_or(SinkDelivery {
                records: records_out,
                delivered: records_out,
                ..SinkDelivery::default()
            });
            (s.name().to_owned(), d)
        })
        .collect();
    if settings.summary_json {
        let mut v = summary_json(&outcome.stats, &outcome.problems, input_bytes, elapsed);
        v["sinks"] = deliveries_json(&deliveries);
        eprintln!("{v}");
    } else {
        eprint!(
            "{}",
            render_summary(&outcome.stats, &outcome.problems, elapsed, input_bytes)
        );
        eprint!("{}", render_deliveries(&deliveries));
    }
    let mut not_delivered = Vec::new();
    let unopened = unopened(&outcome.problems);
    if !unopened.is_empty() {
        not_delivered.push(format!("cannot open {}", unopened.join(", ")));
    }
    for (name, d) in &deliveries {
        if d.dead_lettered > 0 {
            not_delivered.push(format!(
                "{} records rejected by {name} are in {}",
                d.dead_lettered,
                settings.pipeline.sinks.dead_letter_dir.display()
            ));
        }
        if d.not_delivered > 0 {
            not_delivered.push(format!(
                "{} records not delivered to {name} within the retry budget are in {}",
                d.not_delivered,
                settings.pipeline.sinks.dead_letter_dir.display()
            ));
        }
        if d.lost() > 0 {
            not_delivered.push(format!(
                "{} records given to {name} are unaccounted for",
                d.lost()
            ));
        }
    }
    let frame = &outcome.stats.frame;
    if settings.pipeline.input.format == crate::frame::Format::FluentdJson
        && (frame.malformed_frame > 0 || frame.oversize > 0 || !outcome.problems.is_empty())
    {
        // Fluentd out_exec retries a chunk whose command fails: fail loudly rather than drop lines.
        not_delivered.push(format!(
            "fluentd-json chunk not fully read ({} unreadable lines, {} oversize, {} problems)",
            frame.malformed_frame,
            frame.oversize,
            outcome.problems.len()
        ));
    }
    if not_delivered.is_empty() {
        Ok(())
    } else {
        Err(Error::NotDelivered(format!(
            "not everything was delivered: {}",
            not_delivered.join("; ")
        )))
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

/// The delivery part of the text summary: per sink, what happened to every record it was given.
fn render_deliveries(deliveries: &[(String, SinkDelivery)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (name, d) in deliveries {
        let _ = writeln!(
            out,
            "sink {name}: {} records: {} delivered, {} dead-lettered (rejected), {} not delivered, {} lost",
            d.records,
            d.delivered,
            d.dead_lettered,
            d.not_delivered,
            d.lost()
        );
        if !d.retries.is_empty() {
            let r: Vec<String> = d.retries.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "  retries: {}", r.join(", "));
        }
        if !d.dead_letters.is_empty() {
            let dir = d
                .dead_letter_dir
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
            let _ = writeln!(
                out,
                "  {} dead letters in {dir} (why: the .error.json beside each; re-send: its \"resend\" command):",
                d.dead_letters.len()
            );
            for p in &d.dead_letters {
                let _ = writeln!(out, "    {}", p.display());
            }
        }
    }
    out
}

fn deliveries_json(deliveries: &[(String, SinkDelivery)]) -> serde_json::Value {
    deliveries
        .iter()
        .map(|(name, d)| {
            serde_json::json!({
                "sink": name,
                "records": d.records,
                "delivered": d.delivered,
                "dead_lettered": d.dead_lettered,
                "not_delivered": d.not_delivered,
                "lost": d.lost(),
                "retries": d.retries,
                "dead_letter_dir": d.dead_letter_dir.as_ref().map(|p| p.display().to_string()),
                "dead_letters": d.dead_letters.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn summary_json(
    s: &BatchStats,
    problems: &[InputProblem],
    input_bytes: u64,
    elapsed: std::time::Duration,
) -> serde_json::Value {
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
        "unwrapped_log_lines": s.frame.unwrapped_log_lines,
        "skipped": skipped,
        "by_drop_reason": s.by_drop_reason,
        "by_destination": s.destination_counts(),
        "by_destination_max_error": s.destination_max_error,
        "by_destination_groups": s.by_destination_groups,
        "by_destination_groups_max_error": s.groups_max_error,
        "by_drop_reason_max_error": s.drop_reason_max_error,
        "problems": problems
            .iter()
            .map(|p| serde_json::json!({"input": p.input, "message": p.message}))
            .collect::<Vec<_>>(),
    });
    v
}

/// `filter`: the input records that pass the filter, byte for byte, to stdout.
pub fn filter(settings: &FilterCommandSettings) -> Result<(), Error> {
    log_filter_warnings(&settings.filter_set);
    let processor = processor(
        &settings.filter_set,
        None,
        OutputMode::Passthrough,
        &settings.input,
        None,
    );
    let inputs: Vec<InputSpec> = settings
        .inputs
        .iter()
        .map(|s| InputSpec::parse(s))
        .collect();
    let cfg = pipeline_config(&settings.input);
    let stdout = io::stdout();
    let mut lock = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let source = FileSource::new(inputs, cfg.block_size, Arc::new(AtomicU64::new(0)));
    let result = pipeline::run(source, &cfg, processor, |event| match event {
        Event::Batch(o) => lock.write_all(o.out),
        Event::Tick => Ok(()),
    });
    let flushed = lock.flush();
    match (result, flushed) {
        (Ok(outcome), Ok(())) => {
            for p in &outcome.problems {
                eprintln!("hubble-ingest: {}: {}", p.input, p.message);
            }
            let unopened = unopened(&outcome.problems);
            if unopened.is_empty() {
                Ok(())
            } else {
                Err(Error::NotDelivered(format!(
                    "cannot open {}",
                    unopened.join(", ")
                )))
            }
        }
        (Err(e), _) | (Ok(_), Err(e)) => {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            Err(Error::runtime("filter failed", e))
        }
    }
}
