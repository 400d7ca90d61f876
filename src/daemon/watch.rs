//! Reloading the filter and the CIDR-group table while the daemon runs.
//!
//! A thread fingerprints the files behind `--flowlogs`, `--cidr-groups` and `--config` (recursively for
//! directories, following symlinks so a ConfigMap's `..data` swap is seen) every two seconds. A changed config file
//! builds new settings through the [`SettingsSource`] (the daemon never parses a command line itself) and compares
//! their filter and CIDR-group parts with the current ones. What changed is reloaded and counted separately: a
//! change of only the CIDR sources (files, the `k8s` watch) is a CIDR reload (`cidr_reloads`), a change of only
//! the filter (options or the flowlogs file) a filter reload (`filter_reloads`); SIGHUP reloads both.
//! The new processor is built off the hot path and swapped in atomically; lookups never see a half-built table.
//! A reload that fails keeps the previous configuration, is counted with `result="error"` and logged.

use crate::cidr_groups::KubernetesGroups;
use crate::process::Processor;
use crate::settings::{RunSettings, SettingsSource};
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use hubble_cidr::PrefixTable;
use hubble_flow::filter::FilterSet;
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

/// The file sources of the CIDR table (`k8s` is watched through the API).
fn cidr_files(s: &RunSettings) -> Vec<PathBuf> {
    s.pipeline
        .enrich
        .cidr_groups
        .iter()
        .filter(|p| p.as_os_str() != "k8s")
        .cloned()
        .collect()
}

/// What a reload works from: the settings in force and the parts of the processor built from them.
pub struct ReloadState {
    /// The settings in force.
    pub settings: RunSettings,
    /// The filter in force.
    pub filter: Arc<FilterSet>,
    /// The CIDR table in force.
    pub table: Option<Arc<PrefixTable>>,
}

/// Handles the reload thread needs.
pub struct ReloadContext {
    /// Builds settings again (the config file may have changed).
    pub source: Box<dyn SettingsSource>,
    /// The processor the pipeline uses (swapped on reload).
    pub processor: Arc<ArcSwap<Processor>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set by SIGHUP: reload everything.
    pub sighup: Arc<AtomicBool>,
    /// Set by the Kubernetes watch: CIDR groups changed.
    pub k8s_updated: Arc<AtomicBool>,
    /// The Kubernetes groups, when `k8s` is a source.
    pub k8s: Option<KubernetesGroups>,
    /// Set to stop the thread.
    pub stop: Arc<AtomicBool>,
}

fn count(
    family: &prometheus_client::metrics::family::Family<
        Vec<(&'static str, String)>,
        prometheus_client::metrics::counter::Counter,
    >,
    ok: bool,
) {
    family
        .get_or_create(&Metrics::label("result", if ok { "ok" } else { "error" }))
        .inc();
}

/// Starts the reload thread; it exits when `ctx.stop` is set.
pub fn spawn_reloader(
    ctx: ReloadContext,
    state: ReloadState,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("reload".into())
        .spawn(move || reload_loop(&ctx, state))
}

fn reload_loop(ctx: &ReloadContext, mut state: ReloadState) {
    let fingerprints = |s: &RunSettings| {
        (
            fingerprint(&s.config_file.iter().cloned().collect::<Vec<_>>()),
            fingerprint(
                &s.pipeline
                    .filter
                    .flowlogs
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            fingerprint(&cidr_files(s)),
        )
    };
    let mut last = fingerprints(&state.settings);
    let mut tick = 0u32;
    while !ctx.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        tick += 1;
        let hup = ctx.sighup.swap(false, Ordering::Relaxed);
        let k8s = ctx.k8s_updated.swap(false, Ordering::Relaxed);
        if !hup && !k8s && tick % 20 != 0 {
            continue;
        }
        let now = fingerprints(&state.settings);
        let (config_changed, flowlogs_changed, cidr_changed) =
            (now.0 != last.0, now.1 != last.1, now.2 != last.2);
        last = now;
        if !(hup || k8s || config_changed || flowlogs_changed || cidr_changed) {
            continue;
        }
        let settings = if hup || config_changed {
            match ctx.source.load() {
                Ok(s) => s,
                Err(e) => {
                    count(&ctx.metrics.filter_reloads, false);
                    tracing::error!("reload failed, keeping the previous configuration: {e}");
                    continue;
                }
            }
        } else {
            state.settings.clone()
        };
        let reload_filter =
            hup || flowlogs_changed || settings.pipeline.filter != state.settings.pipeline.filter;
        let reload_table = hup
            || k8s
            || cidr_changed
            || settings.pipeline.enrich != state.settings.pipeline.enrich;
        let mut changed = false;
        if reload_filter {
            match settings.pipeline.filter.build() {
                Ok(f) => {
                    for w in f.warnings() {
                        tracing::warn!("filter: {w}");
                    }
                    state.filter = Arc::new(f);
                    count(&ctx.metrics.filter_reloads, true);
                    changed = true;
                }
                Err(e) => {
                    count(&ctx.metrics.filter_reloads, false);
                    tracing::error!("filter reload failed, keeping the previous filter: {e}");
                }
            }
        }
        if reload_table {
            match super::load_table(&settings, &ctx.metrics, ctx.k8s.as_ref()) {
                Ok(t) => {
                    state.table = t;
                    count(&ctx.metrics.cidr_reloads, true);
                    changed = true;
                }
                Err(e) => {
                    count(&ctx.metrics.cidr_reloads, false);
                    tracing::error!("CIDR-group reload failed, keeping the previous table: {e}");
                }
            }
        }
        // New watched paths (a config change may name other files) are fingerprinted from now on.
        last = fingerprints(&settings);
        state.settings = settings;
        if changed {
            ctx.processor.store(Arc::new(super::build_processor(
                &state.settings,
                Arc::clone(&state.filter),
                state.table.clone(),
            )));
            tracing::info!(
                sighup = hup,
                filter = reload_filter,
                cidr_groups = reload_table,
                "configuration reloaded"
            );
        }
    }
}
