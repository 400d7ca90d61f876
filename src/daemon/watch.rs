//! Reloading the filter configuration and CIDR-group sources while the daemon runs.
//!
//! A thread polls the files behind `--flowlogs`, `--cidr-groups` and `--config` (recursively for directories,
//! following symlinks so a ConfigMap's `..data` swap is seen) every two seconds, and reloads on any change, on
//! SIGHUP, or when the Kubernetes watch delivers new CIDR groups.
//! The new processor is built off the hot path and swapped in atomically; lookups never see a half-built table.
//! A reload that fails keeps the previous configuration and logs why.

use crate::cli::RunArgs;
use crate::process::Processor;
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A hash of the names, sizes, modification times and inodes of every file under `paths`.
pub fn fingerprint(paths: &[PathBuf]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in paths {
        walk(p, &mut h, 0);
    }
    h.finish()
}

fn walk(p: &Path, h: &mut impl Hasher, depth: usize) {
    p.hash(h);
    let Ok(meta) = std::fs::metadata(p) else {
        0u8.hash(h);
        return;
    };
    if meta.is_dir() {
        if depth > 8 {
            return;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            walk(&e, h, depth + 1);
        }
    } else {
        use std::os::unix::fs::MetadataExt;
        meta.len().hash(h);
        meta.mtime().hash(h);
        meta.mtime_nsec().hash(h);
        meta.ino().hash(h);
    }
}

/// Starts the reload thread when there is anything to watch; it exits when `stop` is set.
pub fn spawn_reloader(
    args: &RunArgs,
    flags: &[(String, String)],
    processor: Arc<ArcSwap<Processor>>,
    metrics: Arc<Metrics>,
    sighup: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    k8s: Option<crate::cidr_groups::KubernetesGroups>,
) -> Option<std::thread::JoinHandle<()>> {
    let mut watched: Vec<PathBuf> = args
        .enrich
        .cidr_groups
        .iter()
        .filter(|p| p.as_os_str() != "k8s")
        .cloned()
        .collect();
    watched.extend(args.filter.flowlogs.clone());
    let config =
        crate::config::config_path(&std::env::args_os().collect::<Vec<_>>()).map(PathBuf::from);
    watched.extend(config.clone());
    let initial = args.clone();
    let flags = flags.to_vec();
    std::thread::Builder::new()
        .name("reload".into())
        .spawn(move || {
            let mut last = fingerprint(&watched);
            let mut tick = 0u32;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                tick += 1;
                let hup = sighup.swap(false, Ordering::Relaxed);
                if !hup && (tick % 20 != 0 || watched.is_empty()) {
                    continue;
                }
                let now = fingerprint(&watched);
                if !hup && now == last {
                    continue;
                }
                last = now;
                // The config file may have changed the filter or CIDR-group options: read it again as at start
                // (other options need a restart).
                let (args, flags) = match &config {
                    Some(_) => match reparse_run_args() {
                        Ok(v) => v,
                        Err(e) => {
                            metrics
                                .filter_reloads
                                .get_or_create(&Metrics::label("result", "error"))
                                .inc();
                            tracing::error!(
                                "reload failed, keeping the previous configuration: {e}"
                            );
                            continue;
                        }
                    },
                    None => (initial.clone(), flags.clone()),
                };
                match super::build_processor(&args, &flags, &metrics, k8s.as_ref()) {
                    Ok(p) => {
                        processor.store(Arc::new(p));
                        metrics
                            .filter_reloads
                            .get_or_create(&Metrics::label("result", "ok"))
                            .inc();
                        if !args.enrich.cidr_groups.is_empty() {
                            metrics
                                .cidr_reloads
                                .get_or_create(&Metrics::label("result", "ok"))
                                .inc();
                        }
                        tracing::info!(sighup = hup, "configuration reloaded");
                    }
                    Err(e) => {
                        metrics
                            .filter_reloads
                            .get_or_create(&Metrics::label("result", "error"))
                            .inc();
                        if e.starts_with("cidr-groups") {
                            metrics
                                .cidr_reloads
                                .get_or_create(&Metrics::label("result", "error"))
                                .inc();
                        }
                        tracing::error!("reload failed, keeping the previous configuration: {e}");
                    }
                }
            }
        })
        .ok()
}

/// Parses the process's command line again, merging the (possibly changed) config file.
fn reparse_run_args() -> Result<(RunArgs, Vec<(String, String)>), String> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = crate::cli::Cli::command().arg(crate::config::config_arg());
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(path) = crate::config::config_path(&argv) {
        argv = crate::config::merge(&cmd, argv, Path::new(&path)).map_err(|e| e.0)?;
    }
    let m = cmd.try_get_matches_from(argv).map_err(|e| e.to_string())?;
    let cli = crate::cli::Cli::from_arg_matches(&m).map_err(|e| e.to_string())?;
    let flags = m
        .subcommand()
        .map(|(_, sub)| crate::cli::observe_flags_in_order(sub))
        .unwrap_or_default();
    match cli.command {
        crate::cli::Command::Run(a) => Ok((a, flags)),
        _ => Err("not a run command line".into()),
    }
}
