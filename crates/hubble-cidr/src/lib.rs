//! CIDR-group enrichment for hubble-ingest: which named CIDR groups contain an IP address.
//!
//! - [`prefix`]: parse and normalise prefixes (`10.1.2.3/8` → `10.0.0.0/8`; bare IPs are host prefixes;
//!   `::ffff:a.b.c.d/n≥96` → IPv4).
//! - [`group`]: the model — [`Group`] (name, `metadata.labels`, sources, prefixes) and [`GroupSet`].
//! - [`table`]: [`PrefixTable`], immutable; [`PrefixTable::lookup`] returns a [`Match`] with every containing
//!   group (most specific prefix first, ties by name, each group once) and their merged labels (more specific
//!   wins), without allocating. An IPv4-mapped IPv6 address matches IPv4 prefixes.
//! - [`load`]: `--cidr-groups PATH` sources — CiliumCIDRGroup (`cilium.io/v2`, `v2alpha1`), Calico
//!   GlobalNetworkSet/NetworkSet, `List`s, `kubectl get -o yaml|json`, plain CIDR lists (group = file stem).
//!   [`load_sources`] is pure and returns the table plus [`Diagnostic`]s (skipped entries) or a [`LoadError`]
//!   naming file and line.
//! - [`reload`]: poll the sources (ConfigMap `..data` swaps included) and rebuild off the hot path; the caller
//!   swaps the new `Arc<PrefixTable>` in (e.g. with `arc-swap`) and keeps the old one when a reload fails.
//! - [`mod@lookup_json`]: the `cidr-lookup` subcommand's JSON line per IP.
//! - `k8s` (cargo feature `k8s`): list+watch CiliumCIDRGroups and Calico GlobalNetworkSets through the
//!   Kubernetes API and deliver debounced table rebuilds.
//!
//! # Agreement with Cilium's own `cidrgroup:` flow labels
//!
//! Cilium ≥ 1.17 labels the ipcache entry of every prefix in a CiliumCIDRGroup's `spec.externalCIDRs` with
//! `cidrgroup:io.cilium.policy.cidrgroupname/<name>` (and `cidrgroup:<k>=<v>` for the group's
//! `metadata.labels`), and Hubble copies the identity labels of the peer into the flow. This crate computes
//! groups from exactly the same `externalCIDRs` with containment semantics, so for a flow whose address Cilium
//! resolved through such an ipcache entry, every group named in the flow's own
//! `cidrgroup:io.cilium.policy.cidrgroupname/<name>` labels is also in this lookup's result, by construction
//! (given the same CiliumCIDRGroup objects). The lookup may name more groups than the flow: Cilium's identity
//! carries the labels of the ipcache entry that won for the address, while this lookup reports every
//! containing group, and it also covers Calico network sets and plain lists, and Cilium < 1.17, where flows
//! carry only `cidr:` labels. Note that Cilium drops label keys prefixed `io.cilium.k8s` from the identity;
//! this crate reports `metadata.labels` as written.
#![warn(missing_docs)]

pub mod group;
#[cfg(feature = "k8s")]
pub mod k8s;
pub mod load;
pub mod lookup_json;
pub mod prefix;
pub mod reload;
pub mod table;

pub use group::{Group, GroupSet, GroupSource, Origin};
pub use load::{
    load_groups, load_path, load_sources, Diagnostic, DiagnosticKind, LoadError, LoadedGroups,
    LoadedTable, Source,
};
pub use lookup_json::{lookup_json, write_lookup_json, InvalidIp};
pub use prefix::{Prefix, PrefixError};
pub use reload::{spawn_file_watcher, FileWatcher, Fingerprint, ReloadOutcome, Reloader};
pub use table::{GroupId, GroupInfo, Match, PrefixTable, TableStats};
