//! Kubernetes manifests (YAML or JSON) → CIDR groups.
//!
//! Owns: reading CiliumCIDRGroup (`cilium.io/v2`, `cilium.io/v2alpha1`), Calico GlobalNetworkSet and
//! NetworkSet (`projectcalico.org/v3`, `crd.projectcalico.org/v1`) objects from single or multi-document YAML,
//! `kind: List` / `*List` objects (`kubectl get -o yaml|json`, raw API lists whose items carry no `kind`), and
//! concatenated JSON objects. Guarantees: other kinds are ignored; a value of an unexpected shape never fails the
//! file (it is ignored or reported as a [`Diagnostic`]); each CIDR is parsed as it is read, so a 1 M-entry list
//! never exists as strings in memory; malformed YAML/JSON is a [`LoadError`] naming file, line and column.
//! A bare address (no `/len`) is accepted in Calico `nets`, but in CiliumCIDRGroup `externalCIDRs` it is
//! reported and skipped, as Cilium (`Format=cidr`, `netip.ParsePrefix`) does.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Diagnostic, DiagnosticKind, LoadError};
use crate::group::{Group, GroupSource, Origin};
use crate::prefix::Prefix;

/// A group read from one manifest object, before merging.
#[derive(Debug)]
pub(crate) struct ManifestGroup {
    pub group: Group,
}

/// Parse a whole manifest file's text. `json` selects the JSON parser (faster, JSON error positions).
pub(crate) fn parse_manifest(
    path: &Path,
    text: &str,
    json: bool,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<ManifestGroup>, LoadError> {
    let objects = if json {
        parse_json(path, text)?
    } else {
        parse_yaml(path, text)?
    };
    let mut out = Vec::new();
    if !objects.is_empty() && objects.iter().all(|o| o.kind.is_none()) {
        // Not even an unrelated Kubernetes object (e.g. CIDR lines in a `.yaml` file): say so instead of
        // silently loading nothing.
        diags.push(Diagnostic {
            file: Some(path.to_path_buf()),
            document: None,
            object: None,
            entry: None,
            line: None,
            kind: DiagnosticKind::NotAManifest,
            message: "no Kubernetes object (no `kind`) in this file; nothing loaded from it (plain CIDR lists \
                      need a list extension such as .txt or .zone)"
                .into(),
        });
    }
    for (doc, obj) in objects.into_iter().enumerate() {
        let origin = Origin::File(path.to_path_buf());
        collect(obj, &origin, Some(doc), None, diags, &mut out);
    }
    Ok(out)
}

fn parse_json(path: &Path, text: &str) -> Result<Vec<RawObject>, LoadError> {
    let mut out = Vec::new();
    for item in serde_json::Deserializer::from_str(text).into_iter::<RawObject>() {
        match item {
            Ok(obj) => out.push(obj),
            Err(e) => {
                return Err(LoadError::Syntax {
                    path: path.to_path_buf(),
                    format: "JSON",
                    line: Some(e.line() as u64),
                    column: Some(e.column() as u64),
                    message: strip_position(&e.to_string()),
                })
            }
        }
    }
    Ok(out)
}

/// serde_json appends " at line L column C"; the error carries those separately.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn yaml_options() -> serde_saphyr::Options {
    // Geo-blocking lists hold up to millions of scalars: lift the node/event budgets, keep the others.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_documents = 1_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    budget.max_reader_input_bytes = None;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

pub(crate) fn parse_yaml(path: &Path, text: &str) -> Result<Vec<RawObject>, LoadError> {
    // Long CIDR lists skip the YAML tokenizer (see `lift`); the rest of the text is parsed as usual.
    let lifted = super::lift::lift_cidr_blocks(text);
    let yaml = lifted.as_ref().map_or(text, |l| l.text.as_str());
    let mut objects = parse_yaml_text(path, yaml)?;
    if let Some(mut lifted) = lifted {
        for obj in &mut objects {
            restore_lifted(obj, &mut lifted.blocks);
        }
    }
    Ok(objects)
}

/// Puts the prefixes of lifted blocks back where their markers were read.
fn restore_lifted(obj: &mut RawObject, blocks: &mut [Vec<Prefix>]) {
    for cidrs in [&mut obj.external_cidrs, &mut obj.nets]
        .into_iter()
        .flatten()
    {
        if let Some(block) = cidrs.lifted.take().and_then(|i| blocks.get_mut(i)) {
            cidrs.valid = std::mem::take(block);
            cidrs.not_a_list = false;
        }
    }
    for item in obj.items.iter_mut().flatten() {
        restore_lifted(item, blocks);
    }
}

pub(crate) fn parse_yaml_text(path: &Path, text: &str) -> Result<Vec<RawObject>, LoadError> {
    serde_saphyr::from_str_multiple_with_options::<RawObject, Vec<RawObject>>(text, yaml_options())
        .map_err(|e| {
            let loc = e.location();
            LoadError::Syntax {
                path: path.to_path_buf(),
                format: "YAML",
                line: loc.map(|l| l.line()),
                column: loc.map(|l| l.column()),
                message: strip_position(&first_line(&e.without_snippet().to_string())),
            }
        })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_owned()
}

const CILIUM_VERSIONS: &[&str] = &["cilium.io/v2", "cilium.io/v2alpha1"];
const CALICO_VERSIONS: &[&str] = &["projectcalico.org/v3", "crd.projectcalico.org/v1"];

/// Turn one decoded object (and, for lists, its items) into groups.
pub(crate) fn collect(
    obj: RawObject,
    origin: &Origin,
    doc: Option<usize>,
    item: Option<usize>,
    diags: &mut Vec<Diagnostic>,
    out: &mut Vec<ManifestGroup>,
) {
    let kind = obj.kind.clone().unwrap_or_default();
    let api_version = obj.api_version.clone().unwrap_or_default();
    let file = match origin {
        Origin::File(p) => Some(p.clone()),
        Origin::Kubernetes { .. } => None,
    };
    let place = |name: Option<&str>| -> String {
        let mut s = String::new();
        if let Some(i) = item {
            s.push_str(&format!("items[{i}] "));
        }
        s.push_str(&kind);
        if let Some(n) = name {
            s.push(' ');
            s.push_str(n);
        }
        s
    };
    let (is_cilium, is_calico_global, is_calico_ns) = match kind.as_str() {
        "CiliumCIDRGroup" => (true, false, false),
        "GlobalNetworkSet" => (false, true, false),
        "NetworkSet" => (false, false, true),
        _ => (false, false, false),
    };
    if is_cilium || is_calico_global || is_calico_ns {
        let versions = if is_cilium {
            CILIUM_VERSIONS
        } else {
            CALICO_VERSIONS
        };
        if !versions.contains(&api_version.as_str()) {
            // Calico's own `NetworkSet`-like kinds in other API groups are not ours; only warn for
            // our API groups at an unknown version.
            let ours =
                api_version.starts_with("cilium.io/") || api_version.contains("projectcalico.org/");
            if ours {
                diags.push(Diagnostic {
                    file,
                    document: doc,
                    object: Some(place(obj.name.as_deref())),
                    entry: None,
                    line: None,
                    kind: DiagnosticKind::UnsupportedVersion,
                    message: format!(
                        "apiVersion {api_version:?} is not one of {versions:?}; object ignored"
                    ),
                });
            }
            return;
        }
        let Some(name) = obj.name.clone().filter(|n| !n.is_empty()) else {
            diags.push(Diagnostic {
                file,
                document: doc,
                object: Some(place(None)),
                entry: None,
                line: None,
                kind: DiagnosticKind::MissingName,
                message: "metadata.name is missing; object ignored".into(),
            });
            return;
        };
        let name = if is_calico_ns {
            format!("{}/{}", obj.namespace.as_deref().unwrap_or("default"), name)
        } else {
            name
        };
        let (cidrs, field) = if is_cilium {
            (obj.external_cidrs, "spec.externalCIDRs")
        } else {
            (obj.nets, "spec.nets")
        };
        let mut cidrs = cidrs.unwrap_or_default();
        if is_cilium {
            // The CRD validates `Format=cidr` and Cilium parses with `netip.ParsePrefix`, which rejects a bare
            // address: Cilium skips it, so do we (this keeps the lookup equal to Cilium's `cidrgroup:` labels).
            for (index, p) in std::mem::take(&mut cidrs.bare) {
                let text = p.addr().to_string();
                cidrs.invalid.push(BadEntry {
                    index,
                    reason: format!(
                        "invalid CIDR {text:?}: no prefix length (Cilium requires one, e.g. {p})"
                    ),
                    text,
                });
            }
            cidrs.invalid.sort_by_key(|b| b.index);
        } else {
            // Calico accepts single addresses in `nets`.
            cidrs.valid.extend(cidrs.bare.drain(..).map(|(_, p)| p));
        }
        if cidrs.not_a_list {
            diags.push(Diagnostic {
                file: file.clone(),
                document: doc,
                object: Some(place(Some(&name))),
                entry: None,
                line: None,
                kind: DiagnosticKind::InvalidEntry,
                message: format!("{field} is not a list; no prefixes taken from it"),
            });
        }
        for bad in cidrs.invalid {
            diags.push(Diagnostic {
                file: file.clone(),
                document: doc,
                object: Some(place(Some(&name))),
                entry: Some(bad.text),
                line: None,
                kind: DiagnosticKind::InvalidEntry,
                message: format!("{field}[{}]: {}; entry skipped", bad.index, bad.reason),
            });
        }
        out.push(ManifestGroup {
            group: Group {
                name,
                labels: obj.labels,
                sources: vec![GroupSource {
                    origin: origin.clone(),
                    document: doc,
                }],
                prefixes: cidrs.valid,
            },
        });
        return;
    }
    if let Some(items) = obj.items {
        // `List`, `CiliumCIDRGroupList`, ...: items of typed lists from the raw API carry no kind/apiVersion.
        let item_kind = kind
            .strip_suffix("List")
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        for (i, mut it) in items.into_iter().enumerate() {
            if it.kind.is_none() {
                it.kind = item_kind.clone();
            }
            if it.api_version.is_none() {
                it.api_version = obj.api_version.clone();
            }
            collect(it, origin, doc, Some(i), diags, out);
        }
    }
}

/// The fields of a Kubernetes object this crate reads; everything else is skipped while parsing.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawObject {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub external_cidrs: Option<Cidrs>,
    pub nets: Option<Cidrs>,
    pub items: Option<Vec<RawObject>>,
}

/// A CIDR list as read: valid prefixes, and the entries that were not.
#[derive(Debug, Default, Clone)]
pub(crate) struct Cidrs {
    pub valid: Vec<Prefix>,
    pub invalid: Vec<BadEntry>,
    /// Bare addresses (no `/len`), with their index: valid for Calico, not for Cilium (see [`collect`]).
    pub bare: Vec<(usize, Prefix)>,
    pub not_a_list: bool,
    /// The list was lifted out of the YAML text by the fast path; its prefixes are in that block.
    pub lifted: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct BadEntry {
    pub index: usize,
    pub text: String,
    pub reason: String,
}

/// Implements every non-map/non-seq `visit_*` of a lenient visitor as "wrong shape → default".
macro_rules! scalars_are_default {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

macro_rules! seq_is_default {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

macro_rules! map_is_default {
    () => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// Any scalar as text (`None` for null, sequences and maps).
#[derive(Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(Some(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
                d.deserialize_any(self)
            }
            seq_is_default!();
            map_is_default!();
        }
        d.deserialize_any(V)
    }
}

/// `metadata.labels`: string keys and scalar values; anything else is dropped.
#[derive(Default)]
struct Labels(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of labels")
            }
            scalars_are_default!();
            seq_is_default!();
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((Text(k), Text(v))) = map.next_entry::<Text, Text>()? {
                    if let (Some(k), Some(v)) = (k, v) {
                        out.insert(k, v);
                    }
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One CIDR list entry, parsed on the spot.
enum Entry {
    Valid(Prefix),
    Bare(Prefix),
    Invalid { text: String, reason: String },
}

impl Entry {
    fn from_text(text: &str) -> Entry {
        match Prefix::parse(text) {
            Ok(p) if !text.contains('/') => Entry::Bare(p),
            Ok(p) => Entry::Valid(p),
            Err(e) => Entry::Invalid {
                text: text.to_owned(),
                reason: format!("invalid CIDR {text:?}: {e}"),
            },
        }
    }
    fn not_text(what: &str) -> Entry {
        Entry::Invalid {
            text: what.to_owned(),
            reason: format!("entry is {what}, not a CIDR string"),
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CIDR string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
                Ok(Entry::from_text(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Entry, E> {
                Ok(Entry::from_text(&v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Entry, E> {
                Ok(Entry::from_text(&v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Entry, E> {
                Ok(Entry::from_text(&v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Entry, E> {
                Ok(Entry::from_text(&v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Entry, E> {
                Ok(Entry::not_text("null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<Entry, E> {
                Ok(Entry::not_text("null"))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entry::not_text("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Entry::not_text("a map"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Cidrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidrs, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cidrs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of CIDRs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cidrs, A::Error> {
                let mut out = Cidrs::default();
                if let Some(n) = seq.size_hint() {
                    out.valid.reserve(n);
                }
                let mut index = 0;
                while let Some(entry) = seq.next_element::<Entry>()? {
                    match entry {
                        Entry::Valid(p) => out.valid.push(p),
                        Entry::Bare(p) => out.bare.push((index, p)),
                        Entry::Invalid { text, reason } => out.invalid.push(BadEntry {
                            index,
                            text,
                            reason,
                        }),
                    }
                    index += 1;
                }
                // Doubling may have left up to half the capacity unused; geo lists are large.
                out.valid.shrink_to_fit();
                Ok(out)
            }
            // `externalCIDRs: ~` or an empty value is an empty list, as in Kubernetes.
            fn visit_unit<E: de::Error>(self) -> Result<Cidrs, E> {
                Ok(Cidrs::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Cidrs, E> {
                Ok(Cidrs::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Cidrs, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Cidrs, E> {
                Ok(not_a_list())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Cidrs, E> {
                Ok(not_a_list())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Cidrs, E> {
                Ok(not_a_list())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Cidrs, E> {
                Ok(not_a_list())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cidrs, E> {
                Ok(match super::lift::marker_index(v) {
                    Some(i) => Cidrs {
                        lifted: Some(i),
                        // Stays set if the marker names no block (cannot happen): not silently empty.
                        not_a_list: true,
                        ..Cidrs::default()
                    },
                    None => not_a_list(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cidrs, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(not_a_list())
            }
        }
        d.deserialize_any(V)
    }
}

fn not_a_list() -> Cidrs {
    Cidrs {
        not_a_list: true,
        ..Cidrs::default()
    }
}

/// `metadata`: name, namespace, labels.
#[derive(Default)]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Meta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("object metadata")
            }
            scalars_are_default!();
            seq_is_default!();
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                let mut m = Meta::default();
                while let Some(Text(key)) = map.next_key::<Text>()? {
                    match key.as_deref() {
                        Some("name") => m.name = map.next_value::<Text>()?.0,
                        Some("namespace") => m.namespace = map.next_value::<Text>()?.0,
                        Some("labels") => m.labels = map.next_value::<Labels>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_any(V)
    }
}

/// `spec`: `externalCIDRs` (Cilium) and `nets` (Calico).
#[derive(Default)]
struct Spec {
    external_cidrs: Option<Cidrs>,
    nets: Option<Cidrs>,
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Spec, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Spec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object spec")
            }
            scalars_are_default!();
            seq_is_default!();
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spec, A::Error> {
                let mut s = Spec::default();
                while let Some(Text(key)) = map.next_key::<Text>()? {
                    match key.as_deref() {
                        Some("externalCIDRs") => {
                            s.external_cidrs = Some(map.next_value::<Cidrs>()?)
                        }
                        Some("nets") => s.nets = Some(map.next_value::<Cidrs>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(s)
            }
        }
        d.deserialize_any(V)
    }
}

/// `items` of a list: every element is read as an object (non-objects become empty objects, then ignored).
#[derive(Default)]
struct Items(Vec<RawObject>);

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Items, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of objects")
            }
            scalars_are_default!();
            map_is_default!();
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
                let mut out = Vec::new();
                while let Some(obj) = seq.next_element::<RawObject>()? {
                    out.push(obj);
                }
                Ok(Items(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawObject, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Kubernetes object")
            }
            scalars_are_default!();
            seq_is_default!();
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut o = RawObject::default();
                while let Some(Text(key)) = map.next_key::<Text>()? {
                    match key.as_deref() {
                        Some("apiVersion") => o.api_version = map.next_value::<Text>()?.0,
                        Some("kind") => o.kind = map.next_value::<Text>()?.0,
                        Some("metadata") => {
                            let m = map.next_value::<Meta>()?;
                            o.name = m.name;
                            o.namespace = m.namespace;
                            o.labels = m.labels;
                        }
                        Some("spec") => {
                            let s = map.next_value::<Spec>()?;
                            o.external_cidrs = s.external_cidrs;
                            o.nets = s.nets;
                        }
                        Some("items") => o.items = Some(map.next_value::<Items>()?.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(o)
            }
        }
        d.deserialize_any(V)
    }
}
