//! The CIDR-group model: named groups with labels, where they came from, and their prefixes.
//!
//! Owns: [`Group`], [`GroupSet`] (groups keyed by name, insertion order kept), [`GroupSource`]/[`Origin`]
//! (provenance for messages). Guarantees: one [`Group`] per name; adding to an existing name appends
//! prefixes and sources, and keeps the labels already set for a key (first definition wins). Building a
//! lookup table from a set is [`crate::PrefixTable::build`]; nothing here sorts or deduplicates prefixes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use crate::prefix::{Prefix, PrefixError};

/// Where a group definition was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A manifest or list file.
    File(PathBuf),
    /// An object read from the Kubernetes API (`apiVersion`, e.g. `cilium.io/v2`, and resource plural).
    Kubernetes {
        /// `group/version` of the object as served.
        api_version: String,
        /// The kind, e.g. `CiliumCIDRGroup`.
        kind: String,
    },
}

/// One definition site of a group: the origin and, for manifests, the 0-based YAML/JSON document index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupSource {
    /// File or API object.
    pub origin: Origin,
    /// 0-based index of the (non-empty) document in a multi-document file; `None` for plain lists and the API.
    pub document: Option<usize>,
}

impl fmt::Display for GroupSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File(path) => write!(f, "{}", path.display())?,
            Origin::Kubernetes { api_version, kind } => {
                write!(f, "kubernetes {kind}.{api_version}")?
            }
        }
        if let Some(doc) = self.document {
            write!(f, " (document {doc})")?;
        }
        Ok(())
    }
}

/// A named CIDR group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    /// Group name: `metadata.name` (`namespace/name` for a Calico `NetworkSet`), or a list file's stem.
    pub name: String,
    /// `metadata.labels` of the group.
    pub labels: BTreeMap<String, String>,
    /// Every place this group was defined.
    pub sources: Vec<GroupSource>,
    /// The group's valid prefixes, normalised (invalid entries were reported and skipped by the loader).
    pub prefixes: Vec<Prefix>,
}

/// Groups by name. Cheap to merge; build a [`crate::PrefixTable`] from it to look addresses up.
#[derive(Clone, Debug, Default)]
pub struct GroupSet {
    groups: Vec<Group>,
    index: HashMap<String, usize>,
}

impl GroupSet {
    /// An empty set.
    pub fn new() -> GroupSet {
        GroupSet::default()
    }

    /// A set built in code from `(group name, prefixes)` pairs (no labels, no sources): the first invalid
    /// prefix is the error. Manifests and lists load through [`crate::load_sources`] instead.
    pub fn from_prefixes<'a>(
        groups: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
    ) -> Result<GroupSet, PrefixError> {
        let mut set = GroupSet::new();
        for (name, prefixes) in groups {
            let group = set.entry(name);
            for p in prefixes {
                group.prefixes.push(Prefix::parse(p)?);
            }
        }
        Ok(set)
    }

    /// The group called `name`, created empty if it does not exist yet.
    pub fn entry(&mut self, name: &str) -> &mut Group {
        let slot = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let i = self.groups.len();
                self.groups.push(Group {
                    name: name.to_owned(),
                    ..Group::default()
                });
                self.index.insert(name.to_owned(), i);
                i
            }
        };
        &mut self.groups[slot]
    }

    /// Whether a group with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The group called `name`.
    pub fn get(&self, name: &str) -> Option<&Group> {
        self.index.get(name).map(|&i| &self.groups[i])
    }

    /// Groups in the order they were first defined.
    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Total number of prefixes over all groups (duplicates counted).
    pub fn prefix_count(&self) -> usize {
        self.groups.iter().map(|g| g.prefixes.len()).sum()
    }

    /// Add `group` to the set: a new name is inserted; an existing name gets the prefixes and sources appended
    /// and only the label keys it did not have yet.
    pub fn add(&mut self, group: Group) {
        if let Some(&i) = self.index.get(&group.name) {
            let existing = &mut self.groups[i];
            existing.prefixes.extend(group.prefixes);
            existing.sources.extend(group.sources);
            for (k, v) in group.labels {
                existing.labels.entry(k).or_insert(v);
            }
        } else {
            self.index.insert(group.name.clone(), self.groups.len());
            self.groups.push(group);
        }
    }

    /// Merge every group of `other` into this set (see [`GroupSet::add`]).
    pub fn merge_from(&mut self, other: &GroupSet) {
        for g in &other.groups {
            self.add(g.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_prefixes_builds_groups_and_fails_on_a_bad_prefix() {
        let set = GroupSet::from_prefixes([
            ("a", &["10.0.0.0/8", "2001:db8::/32"][..]),
            ("b", &["192.0.2.7"][..]),
            ("a", &["172.16.0.0/12"][..]),
        ])
        .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get("a").map(|g| g.prefixes.len()), Some(3));
        assert_eq!(set.get("b").map(|g| g.prefixes.len()), Some(1));
        assert!(GroupSet::from_prefixes([("c", &["10.0.0.0/8", "not-an-ip"][..])]).is_err());
    }

    #[test]
    fn add_merges_same_name_first_label_wins() {
        let mut set = GroupSet::new();
        let p = |s: &str| Prefix::parse(s).unwrap();
        set.add(Group {
            name: "ru".into(),
            labels: BTreeMap::from([("geo".into(), "ru".into())]),
            sources: vec![],
            prefixes: vec![p("192.0.2.0/24")],
        });
        set.add(Group {
            name: "ru".into(),
            labels: BTreeMap::from([("geo".into(), "xx".into()), ("src".into(), "ipdeny".into())]),
            sources: vec![],
            prefixes: vec![p("2001:db8::/32")],
        });
        set.entry("other").prefixes.push(p("198.51.100.0/24"));
        assert_eq!(set.len(), 2);
        let ru = set.get("ru").unwrap();
        assert_eq!(ru.prefixes.len(), 2);
        assert_eq!(ru.labels.get("geo").map(String::as_str), Some("ru"));
        assert_eq!(ru.labels.get("src").map(String::as_str), Some("ipdeny"));
        assert_eq!(set.prefix_count(), 3);
    }
}
