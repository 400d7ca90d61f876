//! CIDR groups from the Kubernetes API (`--cidr-groups k8s`; cargo feature `k8s`).
//!
//! Owns: list+watch of CiliumCIDRGroups (`cilium.io/v2` and `v2alpha1`) and Calico GlobalNetworkSets
//! (`projectcalico.org/v3` and `crd.projectcalico.org/v1`) as untyped [`DynamicObject`]s, and debounced table
//! rebuilds delivered to a callback. Guarantees:
//! - Each resource has its own kube-rs `watcher` (initial list, then watch from the list's resourceVersion; after
//!   a broken watch it resumes, and re-lists when the version expired), with kube's default backoff on errors.
//!   A resource the cluster does not serve (404: CRD or Calico API server not installed) simply stays empty.
//! - The first update is delivered once every resource has listed or failed at least once, so a cluster with
//!   only some of the resources does not wait forever and one with all of them does not see a partial table.
//! - Later changes are batched: a rebuild happens `debounce` after the first unprocessed change (bounded
//!   latency, at most one rebuild per `debounce`).
//! - The same name from both versions of one kind (the API server serves one object in both) is merged.
//! - Object problems (invalid CIDRs, missing names) become [`Diagnostic`]s in the update; nothing panics.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
/// The kube-rs client type [`watch_cidr_groups`] takes (re-exported so callers need not depend on `kube`).
pub use kube::Client;
use kube::Config;
use serde::Deserialize;

use crate::group::{GroupSet, Origin};
use crate::load::{collect, Diagnostic, RawObject};
use crate::table::PrefixTable;

/// One watched API resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct K8sResource {
    /// API group, e.g. `cilium.io`.
    pub group: String,
    /// Version, e.g. `v2`.
    pub version: String,
    /// Kind, e.g. `CiliumCIDRGroup`.
    pub kind: String,
    /// Plural resource name, e.g. `ciliumcidrgroups`.
    pub plural: String,
}

impl K8sResource {
    fn new(group: &str, version: &str, kind: &str, plural: &str) -> K8sResource {
        K8sResource {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
        }
    }

    /// CiliumCIDRGroup v2 and v2alpha1, Calico GlobalNetworkSet v3 and CRD v1.
    pub fn defaults() -> Vec<K8sResource> {
        vec![
            K8sResource::new("cilium.io", "v2", "CiliumCIDRGroup", "ciliumcidrgroups"),
            K8sResource::new(
                "cilium.io",
                "v2alpha1",
                "CiliumCIDRGroup",
                "ciliumcidrgroups",
            ),
            K8sResource::new(
                "projectcalico.org",
                "v3",
                "GlobalNetworkSet",
                "globalnetworksets",
            ),
            K8sResource::new(
                "crd.projectcalico.org",
                "v1",
                "GlobalNetworkSet",
                "globalnetworksets",
            ),
        ]
    }

    fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&self.group, &self.version, &self.kind),
            &self.plural,
        )
    }
}

/// What to watch and how often to rebuild.
#[derive(Clone, Debug)]
pub struct K8sOptions {
    /// Resources to list+watch (default: [`K8sResource::defaults`]).
    pub resources: Vec<K8sResource>,
    /// Delay between the first unprocessed change and the rebuild (default 1 s).
    pub debounce: Duration,
}

impl Default for K8sOptions {
    fn default() -> K8sOptions {
        K8sOptions {
            resources: K8sResource::defaults(),
            debounce: Duration::from_secs(1),
        }
    }
}

/// A rebuilt table from the API's current objects.
#[derive(Debug)]
pub struct K8sUpdate {
    /// The new table (swap it in).
    pub table: Arc<PrefixTable>,
    /// The groups it was built from (merge with file groups if both sources are configured).
    pub groups: GroupSet,
    /// Problems in the objects (skipped entries/objects).
    pub diagnostics: Vec<Diagnostic>,
    /// Number of API objects seen across all resources.
    pub objects: usize,
    /// Rebuilds delivered so far, this one included.
    pub rebuilds: u64,
    /// Watch errors seen so far (each was retried).
    pub watch_errors: u64,
}

/// Why a client could not be created.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// No in-cluster environment and no usable kubeconfig.
    #[error("kubernetes configuration: {0}")]
    Config(String),
    /// The client could not be built from the configuration.
    #[error("kubernetes client: {0}")]
    Client(String),
}

/// A client from the in-cluster service account, or else `$KUBECONFIG` / `~/.kube/config`.
pub async fn client_from_environment() -> Result<Client, K8sError> {
    let config = Config::infer()
        .await
        .map_err(|e| K8sError::Config(e.to_string()))?;
    Client::try_from(config).map_err(|e| K8sError::Client(e.to_string()))
}

/// A client from a specific kubeconfig file (current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<Client, K8sError> {
    let kubeconfig = Kubeconfig::read_from(path)
        .map_err(|e| K8sError::Config(format!("{}: {e}", path.display())))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| K8sError::Config(format!("{}: {e}", path.display())))?;
    Client::try_from(config).map_err(|e| K8sError::Client(e.to_string()))
}

/// Per-resource object store keyed by `namespace/name`.
#[derive(Default)]
struct Store {
    objects: BTreeMap<String, RawObject>,
    pending: Option<BTreeMap<String, RawObject>>,
    settled: bool,
}

fn key_of(obj: &DynamicObject) -> String {
    match (&obj.metadata.namespace, &obj.metadata.name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.clone(),
        _ => String::new(),
    }
}

fn raw_of(obj: &DynamicObject, res: &K8sResource) -> RawObject {
    let mut raw = serde_json::to_value(obj)
        .ok()
        .and_then(|v| RawObject::deserialize(v).ok())
        .unwrap_or_default();
    // Watch events carry apiVersion/kind, but do not rely on it.
    if raw.kind.is_none() {
        raw.kind = Some(res.kind.clone());
    }
    if raw.api_version.is_none() {
        raw.api_version = Some(res.api_version());
    }
    raw
}

/// List+watch the resources forever, calling `on_update` with each debounced rebuild. Cancel by dropping the
/// future (or aborting its task).
pub async fn watch_cidr_groups<F>(client: Client, options: K8sOptions, mut on_update: F)
where
    F: FnMut(K8sUpdate) + Send,
{
    let streams = options.resources.iter().enumerate().map(|(i, res)| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &res.api_resource());
        watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |ev| (i, ev))
            .boxed()
    });
    let mut events = stream::select_all(streams);
    let mut stores: Vec<Store> = options.resources.iter().map(|_| Store::default()).collect();
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut dirty = false;
    let mut delivered_once = false;
    let mut rebuilds = 0u64;
    let mut watch_errors = 0u64;
    loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            next = events.next() => {
                let Some((i, ev)) = next else { return };
                let (Some(store), Some(res)) = (stores.get_mut(i), options.resources.get(i)) else { continue };
                match ev {
                    Ok(Event::Init) => store.pending = Some(BTreeMap::new()),
                    Ok(Event::InitApply(obj)) => {
                        let raw = raw_of(&obj, res);
                        store.pending.get_or_insert_with(BTreeMap::new).insert(key_of(&obj), raw);
                    }
                    Ok(Event::InitDone) => {
                        store.objects = store.pending.take().unwrap_or_default();
                        store.settled = true;
                        dirty = true;
                    }
                    Ok(Event::Apply(obj)) => {
                        store.objects.insert(key_of(&obj), raw_of(&obj, res));
                        dirty = true;
                    }
                    Ok(Event::Delete(obj)) => {
                        store.objects.remove(&key_of(&obj));
                        dirty = true;
                    }
                    Err(e) => {
                        watch_errors += 1;
                        if !store.settled {
                            store.settled = true;
                            dirty = true;
                        }
                        tracing::warn!(resource = %format!("{}.{}", res.plural, res.api_version()), error = %e,
                            "CIDR-group watch error; retrying");
                    }
                }
                let ready = delivered_once || stores.iter().all(|s| s.settled);
                if dirty && ready && deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + if delivered_once { options.debounce } else { Duration::ZERO });
                }
            }
            _ = sleep => {
                deadline = None;
                dirty = false;
                delivered_once = true;
                rebuilds += 1;
                let mut update = rebuild(&stores, &options.resources);
                update.rebuilds = rebuilds;
                update.watch_errors = watch_errors;
                on_update(update);
            }
        }
    }
}

fn rebuild(stores: &[Store], resources: &[K8sResource]) -> K8sUpdate {
    let mut groups = GroupSet::new();
    let mut diagnostics = Vec::new();
    let mut objects = 0;
    // Names already taken per kind, so that one object served in two versions is merged, not reported twice.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, (store, res)) in stores.iter().zip(resources).enumerate() {
        let origin = Origin::Kubernetes {
            api_version: res.api_version(),
            kind: res.kind.clone(),
        };
        for (key, raw) in &store.objects {
            objects += 1;
            let first = *seen.entry((res.kind.clone(), key.clone())).or_insert(i);
            let mut out = Vec::new();
            let mut diags = Vec::new();
            collect(raw.clone(), &origin, None, None, &mut diags, &mut out);
            if first == i {
                diagnostics.extend(diags);
            }
            for g in out {
                groups.add(g.group);
            }
        }
    }
    let table = Arc::new(PrefixTable::build(&groups));
    K8sUpdate {
        table,
        groups,
        diagnostics,
        objects,
        rebuilds: 0,
        watch_errors: 0,
    }
}
