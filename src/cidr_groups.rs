//! CIDR-group sources: loading the files (and `k8s` groups) into one prefix table, with warnings for skipped
//! entries; validating sources for `check`; answering `cidr-lookup`; the Kubernetes list+watch handle the daemon
//! reloads from. The table itself and the manifest formats live in `hubble-cidr`; applying the table to a flow is
//! the [`crate::enrich`] stage. See ARCHITECTURE.md.

use hubble_cidr::{load_groups, GroupSet, PrefixTable, Source, TableStats};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The file sources (`k8s` is served by the watch, not by file loading).
fn sources(paths: &[PathBuf]) -> Vec<Source> {
    paths
        .iter()
        .map(|p| Source::parse(&p.to_string_lossy()))
        .filter(|s| !matches!(s, Source::Kubernetes))
        .collect()
}

/// Whether `--cidr-groups k8s` is among the sources.
pub fn wants_kubernetes(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| p.as_os_str() == "k8s")
}

/// Loads the file sources and merges `k8s` groups (from the Kubernetes watch) into one table; skipped entries
/// are logged as warnings (as Cilium does).
pub fn load_with(
    paths: &[PathBuf],
    k8s: Option<&GroupSet>,
) -> Result<(Arc<PrefixTable>, TableStats), String> {
    let loaded = load_groups(&sources(paths)).map_err(|e| e.to_string())?;
    for d in &loaded.diagnostics {
        tracing::warn!("cidr-groups: {d}");
    }
    let mut groups = loaded.groups;
    if let Some(k) = k8s {
        groups.merge_from(k);
    }
    let table = Arc::new(PrefixTable::build(&groups));
    let stats = table.stats();
    tracing::info!(
        groups = stats.groups,
        prefixes = stats.prefixes_v4 + stats.prefixes_v6,
        files = loaded.files.len(),
        kubernetes = k8s.is_some(),
        "CIDR-group table loaded"
    );
    Ok((table, stats))
}

/// Loads the sources into a table; with `k8s` among them, lists the groups from the Kubernetes API once.
pub fn load(paths: &[PathBuf]) -> Result<(Arc<PrefixTable>, TableStats), String> {
    let k8s = if wants_kubernetes(paths) {
        Some(fetch_kubernetes_once(Duration::from_secs(30))?)
    } else {
        None
    };
    load_with(paths, k8s.as_ref())
}

/// The latest groups the Kubernetes watch delivered (shared with the daemon's reloads).
#[derive(Clone, Default)]
pub struct KubernetesGroups(Arc<Mutex<Option<GroupSet>>>);

impl KubernetesGroups {
    /// A snapshot of the latest groups (none before the first list completed).
    pub fn snapshot(&self) -> Option<GroupSet> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

/// Starts list+watch of CiliumCIDRGroups (v2, v2alpha1) and Calico GlobalNetworkSets on `runtime`, re-listing
/// after watch errors; each debounced update is stored and `on_update` is called (the daemon reloads).
pub fn watch_kubernetes(
    runtime: &tokio::runtime::Handle,
    on_update: impl Fn() + Send + 'static,
) -> Result<KubernetesGroups, String> {
    let groups = KubernetesGroups::default();
    let store = groups.clone();
    let client = runtime
        .block_on(hubble_cidr::k8s::client_from_environment())
        .map_err(|e| format!("kubernetes: {e}"))?;
    runtime.spawn(hubble_cidr::k8s::watch_cidr_groups(
        client,
        hubble_cidr::k8s::K8sOptions::default(),
        move |u| {
            for d in &u.diagnostics {
                tracing::warn!("cidr-groups: {d}");
            }
            tracing::info!(
                objects = u.objects,
                rebuilds = u.rebuilds,
                watch_errors = u.watch_errors,
                "CIDR groups from Kubernetes updated"
            );
            if let Ok(mut g) = store.0.lock() {
                *g = Some(u.groups);
            }
            on_update();
        },
    ));
    Ok(groups)
}

/// Lists the groups from the Kubernetes API once (for `replay`, `check`, `cidr-lookup`).
pub fn fetch_kubernetes_once(timeout: Duration) -> Result<GroupSet, String> {
    let rt = crate::async_runtime::handle().map_err(|e| e.to_string())?;
    let groups = watch_kubernetes(&rt, || {})?;
    let deadline = std::time::Instant::now() + timeout;
    while groups.snapshot().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    groups.snapshot().ok_or_else(|| {
        format!(
            "kubernetes: no answer listing CIDR groups within {}s",
            timeout.as_secs()
        )
    })
}

/// Validates the sources: `Ok(summary)`, or every problem (skipped entries count as errors here).
pub fn check_sources(paths: &[PathBuf]) -> Result<String, Vec<String>> {
    let mut groups = GroupSet::new();
    if wants_kubernetes(paths) {
        groups = fetch_kubernetes_once(Duration::from_secs(30)).map_err(|e| vec![e])?;
    }
    match load_groups(&sources(paths)) {
        Err(e) => Err(vec![e.to_string()]),
        Ok(l) if !l.diagnostics.is_empty() => {
            Err(l.diagnostics.iter().map(ToString::to_string).collect())
        }
        Ok(l) => {
            groups.merge_from(&l.groups);
            let s = PrefixTable::build(&groups).stats();
            Ok(format!(
                "{} groups, {} prefixes from {} files",
                s.groups,
                s.prefixes_v4 + s.prefixes_v6,
                l.files.len()
            ))
        }
    }
}

/// One JSON object per IP: `{"ip":..,"groups":[..],"labels":{..}}`; an invalid IP is an error naming it.
pub fn lookup(paths: &[PathBuf], ips: &[String]) -> Result<Vec<Result<String, String>>, String> {
    let (table, _) = load(paths)?;
    Ok(ips
        .iter()
        .map(|raw| hubble_cidr::lookup_json(&table, raw).map_err(|e| format!("cidr-lookup: {e}")))
        .collect())
}
