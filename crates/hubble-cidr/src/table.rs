//! The immutable lookup table: address → every CIDR group containing it, with merged labels.
//!
//! Owns: [`PrefixTable`], [`Match`], [`GroupId`], [`GroupInfo`]. Guarantees:
//! - [`PrefixTable::lookup`] returns every group with a prefix containing the address, most specific
//!   prefix first, ties by group name, each group once, and the groups' labels merged (a more specific group
//!   wins a key conflict; at equal specificity the group that sorts first by name wins); an IPv4-mapped IPv6
//!   address is looked up as its IPv4 address.
//! - Lookups allocate nothing and never block: the answer is a reference into precomputed data.
//!
//! Design: the address space of each family is cut into maximal ranges in which the set of containing
//! prefixes does not change (a sweep over the sorted prefixes with a nesting stack). Each range points at an
//! interned "group list" (a precomputed [`Match`]); adjacent ranges with the same list are coalesced, so a
//! geo list of a million adjacent `/24`s collapses to few ranges. A lookup is one first-level index by the top
//! 16 address bits and a binary search within that bucket (IPv4 stores only the low 16 bits per range start).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

use crate::group::GroupSet;
use crate::prefix::{mask128, mask32, Prefix};

/// Index of a group in a [`PrefixTable`]; ids are assigned in group-name order, so comparing ids compares names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// A group as the table knows it: its name and `metadata.labels`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Group name.
    pub name: Arc<str>,
    /// The group's own labels.
    pub labels: BTreeMap<String, String>,
}

/// The answer to a lookup: precomputed once per distinct group list, shared by every address that has it.
#[derive(Debug, Default)]
pub struct Match {
    groups: Box<[GroupId]>,
    names: Box<[Arc<str>]>,
    labels: Box<[(String, String)]>,
    groups_json: OnceLock<Box<str>>,
    labels_json: OnceLock<Box<str>>,
}

impl Match {
    /// Containing groups, most specific prefix first, ties by name, each once.
    pub fn groups(&self) -> &[GroupId] {
        &self.groups
    }

    /// Names of [`Match::groups`], same order.
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// Merged labels of the groups, sorted by key (more specific group wins a key conflict).
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// Whether no group contains the address.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The group names as a JSON array (`["geo-ru","blocklist"]`), rendered once and cached.
    pub fn groups_json(&self) -> &str {
        self.groups_json.get_or_init(|| {
            let names: Vec<&str> = self.names.iter().map(|n| &**n).collect();
            json_or_empty(serde_json::to_string(&names), "[]")
        })
    }

    /// The merged labels as a JSON object (`{"geo":"ru"}`), rendered once and cached.
    pub fn labels_json(&self) -> &str {
        self.labels_json.get_or_init(|| {
            let map: serde_json::Map<String, serde_json::Value> = self
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            json_or_empty(serde_json::to_string(&map), "{}")
        })
    }
}

fn json_or_empty(r: Result<String, serde_json::Error>, empty: &str) -> Box<str> {
    // Serialising strings and string maps cannot fail; fall back to the empty value rather than panic.
    r.unwrap_or_else(|_| empty.to_owned()).into_boxed_str()
}

/// Sizes of a built table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Number of groups.
    pub groups: usize,
    /// Distinct IPv4 (prefix, group) pairs.
    pub prefixes_v4: usize,
    /// Distinct IPv6 (prefix, group) pairs.
    pub prefixes_v6: usize,
    /// IPv4 ranges after coalescing.
    pub ranges_v4: usize,
    /// IPv6 ranges after coalescing.
    pub ranges_v6: usize,
    /// Distinct group lists (precomputed matches, including the empty one).
    pub lists: usize,
    /// Approximate heap bytes held by the lookup structures (excluding cached JSON).
    pub heap_bytes: usize,
}

/// Immutable longest-and-all-prefix table over IPv4 and IPv6. Build a new one to change it; share it with `Arc`.
#[derive(Debug)]
pub struct PrefixTable {
    groups: Box<[GroupInfo]>,
    v4: V4Index,
    v6: V6Index,
    matches: Box<[Match]>,
    stats: TableStats,
}

const EMPTY_LIST: u32 = 0;
const BUCKETS: usize = 1 << 16;

impl PrefixTable {
    /// A table with no groups: every lookup returns an empty match.
    pub fn empty() -> PrefixTable {
        PrefixTable::build(&GroupSet::new())
    }

    /// Build the table from a group set. Cost is dominated by one sort of the prefixes
    /// (about 1 M prefixes per ~0.3 s on one core).
    pub fn build(set: &GroupSet) -> PrefixTable {
        let mut order: Vec<&crate::group::Group> = set.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        let groups: Box<[GroupInfo]> = order
            .iter()
            .map(|g| GroupInfo {
                name: Arc::from(g.name.as_str()),
                labels: g.labels.clone(),
            })
            .collect();
        let total = set.prefix_count();
        let mut v4: Vec<(u32, u8, u32)> = Vec::with_capacity(total);
        let mut v6: Vec<(u128, u8, u32)> = Vec::new();
        for (gid, g) in order.iter().enumerate() {
            let gid = gid as u32;
            for p in &g.prefixes {
                match p.addr() {
                    IpAddr::V4(a) => v4.push((u32::from(a), p.len(), gid)),
                    IpAddr::V6(a) => v6.push((u128::from(a), p.len(), gid)),
                }
            }
        }
        v4.shrink_to_fit();
        let mut interner = Interner::new();
        let (ranges_v4, prefixes_v4) = sweep(&mut v4, &mut interner);
        drop(v4);
        let (ranges_v6, prefixes_v6) = sweep(&mut v6, &mut interner);
        drop(v6);
        let v4 = V4Index::new(&ranges_v4);
        drop(ranges_v4);
        let v6 = V6Index::new(&ranges_v6);
        drop(ranges_v6);
        let matches: Box<[Match]> = interner
            .lists
            .iter()
            .map(|list| build_match(list, &groups))
            .collect();
        let heap_bytes = v4.heap_bytes()
            + v6.heap_bytes()
            + matches
                .iter()
                .map(|m| {
                    std::mem::size_of::<Match>()
                        + m.groups.len() * (4 + 16)
                        + m.labels
                            .iter()
                            .map(|(k, v)| 48 + k.len() + v.len())
                            .sum::<usize>()
                })
                .sum::<usize>();
        let stats = TableStats {
            groups: groups.len(),
            prefixes_v4,
            prefixes_v6,
            ranges_v4: v4.lists.len(),
            ranges_v6: v6.lists.len(),
            lists: matches.len(),
            heap_bytes,
        };
        PrefixTable {
            groups,
            v4,
            v6,
            matches,
            stats,
        }
    }

    /// Every group containing `ip` (see the module docs for order and label merging). Allocation-free.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> &Match {
        match ip {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// [`PrefixTable::lookup`] for an IPv4 address.
    #[inline]
    pub fn lookup_v4(&self, ip: Ipv4Addr) -> &Match {
        self.match_of(self.v4.find(u32::from(ip)))
    }

    /// [`PrefixTable::lookup`] for an IPv6 address; an IPv4-mapped address is looked up as IPv4.
    #[inline]
    pub fn lookup_v6(&self, ip: Ipv6Addr) -> &Match {
        let bits = u128::from(ip);
        if (bits >> 32) == 0xffff {
            return self.match_of(self.v4.find(bits as u32));
        }
        self.match_of(self.v6.find(bits))
    }

    #[inline]
    fn match_of(&self, list: u32) -> &Match {
        // Every stored list id indexes `matches` by construction; the fallback keeps this panic-free.
        self.matches
            .get(list as usize)
            .unwrap_or(&self.matches[EMPTY_LIST as usize])
    }

    /// The group with this id.
    pub fn group(&self, id: GroupId) -> Option<&GroupInfo> {
        self.groups.get(id.0 as usize)
    }

    /// All groups, indexed by [`GroupId`] (sorted by name).
    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    /// Sizes of the table.
    pub fn stats(&self) -> TableStats {
        self.stats
    }
}

fn build_match(list: &[u32], groups: &[GroupInfo]) -> Match {
    let infos: Vec<&GroupInfo> = list
        .iter()
        .filter_map(|&g| groups.get(g as usize))
        .collect();
    let mut merged: BTreeMap<&str, &str> = BTreeMap::new();
    for info in &infos {
        for (k, v) in &info.labels {
            merged.entry(k.as_str()).or_insert(v.as_str());
        }
    }
    Match {
        groups: list.iter().map(|&g| GroupId(g)).collect(),
        names: infos.iter().map(|i| Arc::clone(&i.name)).collect(),
        labels: merged
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        groups_json: OnceLock::new(),
        labels_json: OnceLock::new(),
    }
}

/// Address bits of one family.
trait Key: Copy + Ord {
    const ZERO: Self;
    /// Last address of the prefix `self/len`.
    fn last(self, len: u8) -> Self;
    /// The next address, `None` at the end of the space.
    fn succ(self) -> Option<Self>;
}

impl Key for u32 {
    const ZERO: u32 = 0;
    fn last(self, len: u8) -> u32 {
        self | !mask32(len)
    }
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Key for u128 {
    const ZERO: u128 = 0;
    fn last(self, len: u8) -> u128 {
        self | !mask128(len)
    }
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
}

/// Sort and deduplicate `(start, len, group)` entries, then cut the space into ranges with constant group
/// lists. Returns the ranges (first starts at 0; consecutive lists differ) and the distinct entry count.
fn sweep<K: Key>(
    entries: &mut Vec<(K, u8, u32)>,
    interner: &mut Interner,
) -> (Vec<(K, u32)>, usize) {
    entries.sort_unstable();
    entries.dedup();
    let mut out: Vec<(K, u32)> = Vec::with_capacity(entries.len() / 2 + 1);
    out.push((K::ZERO, EMPTY_LIST));
    let mut stack: Vec<(K, u32)> = Vec::new();
    let mut node: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let (start, len, _) = entries[i];
        node.clear();
        while let Some(&(s, l, g)) = entries.get(i) {
            if s != start || l != len {
                break;
            }
            node.push(g);
            i += 1;
        }
        while let Some(&(last, _)) = stack.last() {
            if last >= start {
                break;
            }
            stack.pop();
            if let Some(next) = last.succ() {
                emit(&mut out, next, stack.last().map_or(EMPTY_LIST, |t| t.1));
            }
        }
        let parent = stack.last().map_or(EMPTY_LIST, |t| t.1);
        let list = interner.child(parent, &node);
        emit(&mut out, start, list);
        stack.push((start.last(len), list));
    }
    while let Some((last, _)) = stack.pop() {
        if let Some(next) = last.succ() {
            emit(&mut out, next, stack.last().map_or(EMPTY_LIST, |t| t.1));
        }
    }
    (out, entries.len())
}

fn emit<K: Eq>(out: &mut Vec<(K, u32)>, start: K, list: u32) {
    if out.last().is_some_and(|l| l.0 == start) {
        out.pop();
    }
    if out.last().is_some_and(|l| l.1 == list) {
        return;
    }
    out.push((start, list));
}

/// Interns group lists: list 0 is empty; `child(parent, node)` is the node's groups (sorted by id) followed
/// by the parent's list without them.
struct Interner {
    lists: Vec<Box<[u32]>>,
    by_content: HashMap<Box<[u32]>, u32, FxBuild>,
    memo_single: HashMap<(u32, u32), u32, FxBuild>,
    memo_multi: HashMap<Vec<u32>, u32, FxBuild>,
}

impl Interner {
    fn new() -> Interner {
        let mut by_content = HashMap::default();
        by_content.insert(Box::<[u32]>::from([]), EMPTY_LIST);
        Interner {
            lists: vec![Box::from([])],
            by_content,
            memo_single: HashMap::default(),
            memo_multi: HashMap::default(),
        }
    }

    fn child(&mut self, parent: u32, node: &[u32]) -> u32 {
        if let [g] = node {
            if let Some(&id) = self.memo_single.get(&(parent, *g)) {
                return id;
            }
            let id = self.intern(parent, node);
            self.memo_single.insert((parent, *g), id);
            id
        } else {
            let mut key = Vec::with_capacity(node.len() + 1);
            key.push(parent);
            key.extend_from_slice(node);
            if let Some(&id) = self.memo_multi.get(&key) {
                return id;
            }
            let id = self.intern(parent, node);
            self.memo_multi.insert(key, id);
            id
        }
    }

    fn intern(&mut self, parent: u32, node: &[u32]) -> u32 {
        let parent_list = self.lists.get(parent as usize).map_or(&[][..], |l| &l[..]);
        let mut list: Vec<u32> = Vec::with_capacity(node.len() + parent_list.len());
        list.extend_from_slice(node);
        list.extend(parent_list.iter().filter(|g| !node.contains(g)));
        let list = list.into_boxed_slice();
        if let Some(&id) = self.by_content.get(&list) {
            return id;
        }
        let id = self.lists.len() as u32;
        self.lists.push(list.clone());
        self.by_content.insert(list, id);
        id
    }
}

/// IPv4 ranges: bucket by the top 16 bits, binary search on the low 16 bits of range starts.
#[derive(Debug)]
struct V4Index {
    /// `BUCKETS + 1` offsets into `low`/`lists`.
    buckets: Box<[u32]>,
    low: Box<[u16]>,
    lists: Box<[u32]>,
}

impl V4Index {
    fn new(ranges: &[(u32, u32)]) -> V4Index {
        let low = ranges.iter().map(|r| r.0 as u16).collect();
        let lists = ranges.iter().map(|r| r.1).collect();
        let buckets = bucket_offsets(ranges.iter().map(|r| (r.0 >> 16) as usize));
        V4Index {
            buckets,
            low,
            lists,
        }
    }

    #[inline]
    fn find(&self, addr: u32) -> u32 {
        let h = (addr >> 16) as usize;
        let (lo, hi) = match (self.buckets.get(h), self.buckets.get(h + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => return EMPTY_LIST,
        };
        let key = addr as u16;
        let within = self
            .low
            .get(lo..hi)
            .map_or(0, |s| s.partition_point(|&x| x <= key));
        // Ranges start at 0, so the range containing `addr` is the one before the first start above it.
        (lo + within)
            .checked_sub(1)
            .and_then(|i| self.lists.get(i))
            .copied()
            .unwrap_or(EMPTY_LIST)
    }

    fn heap_bytes(&self) -> usize {
        self.buckets.len() * 4 + self.low.len() * 2 + self.lists.len() * 4
    }
}

/// IPv6 ranges: bucket by the top 16 bits, binary search on the full range starts.
#[derive(Debug)]
struct V6Index {
    buckets: Box<[u32]>,
    starts: Box<[u128]>,
    lists: Box<[u32]>,
}

impl V6Index {
    fn new(ranges: &[(u128, u32)]) -> V6Index {
        let starts = ranges.iter().map(|r| r.0).collect();
        let lists = ranges.iter().map(|r| r.1).collect();
        let buckets = bucket_offsets(ranges.iter().map(|r| (r.0 >> 112) as usize));
        V6Index {
            buckets,
            starts,
            lists,
        }
    }

    #[inline]
    fn find(&self, addr: u128) -> u32 {
        let h = (addr >> 112) as usize;
        let (lo, hi) = match (self.buckets.get(h), self.buckets.get(h + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => return EMPTY_LIST,
        };
        let within = self
            .starts
            .get(lo..hi)
            .map_or(0, |s| s.partition_point(|&x| x <= addr));
        (lo + within)
            .checked_sub(1)
            .and_then(|i| self.lists.get(i))
            .copied()
            .unwrap_or(EMPTY_LIST)
    }

    fn heap_bytes(&self) -> usize {
        self.buckets.len() * 4 + self.starts.len() * 16 + self.lists.len() * 4
    }
}

/// `offsets[h]..offsets[h+1]` = positions of the (sorted) items whose bucket is `h`.
fn bucket_offsets(bucket_of_each: impl Iterator<Item = usize>) -> Box<[u32]> {
    let mut counts = vec![0u32; BUCKETS + 1];
    for b in bucket_of_each {
        if let Some(c) = counts.get_mut(b + 1) {
            *c += 1;
        }
    }
    for h in 1..counts.len() {
        counts[h] += counts[h - 1];
    }
    counts.into_boxed_slice()
}

/// FxHash (rustc's hasher): the interner hashes small integer keys, where SipHash would dominate build time.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

type FxBuild = BuildHasherDefault<FxHasher>;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Brute-force reference used by tests: the same semantics computed by scanning every prefix.
#[cfg(test)]
pub(crate) fn oracle(set: &GroupSet, ip: IpAddr) -> (Vec<String>, Vec<(String, String)>) {
    let mut hits: Vec<(u8, &str, &crate::group::Group)> = Vec::new();
    for g in set.iter() {
        for p in &g.prefixes {
            if p.contains(ip) {
                hits.push((p.len(), g.name.as_str(), g));
            }
        }
    }
    hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut names: Vec<String> = Vec::new();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for (_, name, g) in hits {
        if names.iter().any(|n| n == name) {
            continue;
        }
        names.push(name.to_owned());
        for (k, v) in &g.labels {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    (names, labels.into_iter().collect())
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<PrefixTable>();
    check::<Prefix>();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(defs: &[(&str, &[(&str, &str)], &[&str])]) -> GroupSet {
        let mut s = GroupSet::new();
        for (name, labels, prefixes) in defs {
            let g = s.entry(name);
            for (k, v) in *labels {
                g.labels.insert((*k).into(), (*v).into());
            }
            for p in *prefixes {
                g.prefixes.push(Prefix::parse(p).unwrap());
            }
        }
        s
    }

    fn names(t: &PrefixTable, ip: &str) -> Vec<String> {
        t.lookup(ip.parse().unwrap())
            .names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    }

    #[test]
    fn nested_groups_most_specific_first_ties_by_name() {
        let s = set(&[
            ("world", &[("scope", "world")], &["0.0.0.0/0", "::/0"]),
            (
                "geo-ru",
                &[("geo", "ru"), ("scope", "country")],
                &["198.51.0.0/16"],
            ),
            ("blocklist", &[("scope", "block")], &["198.51.100.0/24"]),
            (
                "abuse",
                &[("feed", "abuse")],
                &["198.51.100.0/24", "198.51.100.7"],
            ),
        ]);
        let t = PrefixTable::build(&s);
        assert_eq!(
            names(&t, "198.51.100.7"),
            ["abuse", "blocklist", "geo-ru", "world"]
        );
        assert_eq!(
            names(&t, "198.51.100.8"),
            ["abuse", "blocklist", "geo-ru", "world"]
        );
        assert_eq!(names(&t, "198.51.7.1"), ["geo-ru", "world"]);
        assert_eq!(names(&t, "203.0.113.1"), ["world"]);
        assert_eq!(names(&t, "::ffff:198.51.7.1"), ["geo-ru", "world"]);
        assert_eq!(names(&t, "2001:db8::1"), ["world"]);
        let m = t.lookup("198.51.100.7".parse().unwrap());
        assert_eq!(
            m.labels(),
            &[
                ("feed".to_string(), "abuse".to_string()),
                ("geo".to_string(), "ru".to_string()),
                ("scope".to_string(), "block".to_string()),
            ]
        );
        assert_eq!(m.groups_json(), r#"["abuse","blocklist","geo-ru","world"]"#);
        assert_eq!(
            m.labels_json(),
            r#"{"feed":"abuse","geo":"ru","scope":"block"}"#
        );
    }

    #[test]
    fn boundaries_and_edges_of_the_space() {
        let s = set(&[
            ("lo", &[], &["0.0.0.0/8", "::/8"]),
            (
                "hi",
                &[],
                &[
                    "255.255.255.255/32",
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
                ],
            ),
            ("mid", &[], &["10.0.0.0/8", "10.255.255.255"]),
        ]);
        let t = PrefixTable::build(&s);
        assert_eq!(names(&t, "0.0.0.0"), ["lo"]);
        assert_eq!(names(&t, "0.255.255.255"), ["lo"]);
        assert!(names(&t, "1.0.0.0").is_empty());
        assert_eq!(names(&t, "255.255.255.255"), ["hi"]);
        assert!(names(&t, "255.255.255.254").is_empty());
        assert_eq!(names(&t, "10.255.255.255"), ["mid"]);
        assert!(names(&t, "11.0.0.0").is_empty());
        assert!(names(&t, "9.255.255.255").is_empty());
        assert_eq!(names(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["hi"]);
        assert_eq!(names(&t, "::1"), ["lo"]);
        assert!(names(&t, "100::").is_empty());
    }

    #[test]
    fn adjacent_prefixes_of_one_group_coalesce() {
        let mut s = GroupSet::new();
        let g = s.entry("geo");
        for i in 0..1024u32 {
            g.prefixes.push(Prefix::v4(0x0a00_0000 | (i << 8), 24));
        }
        let t = PrefixTable::build(&s);
        // [0, 10.0.0.0) empty, [10.0.0.0, 10.4.0.0) geo, then empty.
        assert_eq!(t.stats().ranges_v4, 3);
        assert_eq!(t.stats().prefixes_v4, 1024);
        assert_eq!(names(&t, "10.3.255.255"), ["geo"]);
    }

    #[test]
    fn empty_table_matches_nothing() {
        let t = PrefixTable::empty();
        assert!(t.lookup("192.0.2.1".parse().unwrap()).is_empty());
        assert!(t.lookup("2001:db8::1".parse().unwrap()).is_empty());
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()).groups_json(), "[]");
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()).labels_json(), "{}");
    }

    #[test]
    fn agrees_with_oracle_on_a_fixed_case() {
        let s = set(&[
            (
                "a",
                &[("k", "a")],
                &["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"],
            ),
            (
                "b",
                &[("k", "b")],
                &["10.1.0.0/16", "10.1.2.0/24", "2001:db8:1::/48"],
            ),
            (
                "c",
                &[("k", "c"), ("x", "c")],
                &["10.1.2.3", "::ffff:10.9.0.0/112"],
            ),
        ]);
        let t = PrefixTable::build(&s);
        for ip in [
            "10.1.2.3",
            "10.1.2.4",
            "10.1.3.1",
            "10.9.1.1",
            "10.2.0.0",
            "2001:db8:1::5",
            "2001:db8:2::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let m = t.lookup(ip);
            let (want_names, want_labels) = oracle(&s, ip);
            let got: Vec<String> = m.names().iter().map(|n| n.to_string()).collect();
            assert_eq!(got, want_names, "{ip}");
            assert_eq!(m.labels().to_vec(), want_labels, "{ip}");
        }
    }
}
