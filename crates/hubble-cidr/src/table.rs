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
//! bits of the address (8–20 bits, sized to about 4 ranges per bucket) and a short binary search within the bucket.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

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

/// The answer to a lookup: a cheap `Copy` view of one precomputed group list and its merged labels.
/// Every address with the same set of containing groups gets the same list ([`Match::list_id`]).
#[derive(Clone, Copy)]
pub struct Match<'t> {
    table: &'t PrefixTable,
    list: u32,
}

impl<'t> Match<'t> {
    /// Containing groups, most specific prefix first, ties by name, each once.
    #[inline]
    pub fn groups(&self) -> &'t [GroupId] {
        self.table.lists.groups(self.list)
    }

    /// The same groups in name order (ids are assigned in name order): the set, without the specificity that
    /// orders [`Match::groups`]. Two addresses in the same groups can differ in which one's prefix is more
    /// specific; here they read the same, so a count by group set has one row per set.
    #[inline]
    pub fn groups_by_name(&self) -> &'t [GroupId] {
        self.table.lists.by_name(self.list)
    }

    /// Names of [`Match::groups_by_name`], same order.
    pub fn names_by_name(&self) -> impl ExactSizeIterator<Item = &'t str> + 't {
        self.names_of(self.groups_by_name())
    }

    /// [`Match::names_by_name`] joined by `sep`, appended to `out` (nothing for an empty match): one key per
    /// set of groups, for counting by set.
    pub fn push_names_by_name(&self, sep: &str, out: &mut String) {
        for (i, n) in self.names_by_name().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(n);
        }
    }

    /// Names of [`Match::groups`], same order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &'t str> + 't {
        self.names_of(self.groups())
    }

    fn names_of(&self, ids: &'t [GroupId]) -> impl ExactSizeIterator<Item = &'t str> + 't {
        let t = self.table;
        ids.iter().map(move |g| &*t.groups[g.0 as usize].name)
    }

    /// Merged labels of the groups, sorted by key (a more specific group wins a key conflict; at equal
    /// specificity the group whose name sorts first).
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&'t str, &'t str)> + 't {
        let t = self.table;
        t.lists.labels(self.list).iter().map(move |&p| {
            let (k, v) = &t.label_pairs[p as usize];
            (k.as_str(), v.as_str())
        })
    }

    /// Whether no group contains the address.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.list == EMPTY_LIST
    }

    /// Identity of the group list (0 = no group); equal ids mean equal answers within one table.
    #[inline]
    pub fn list_id(&self) -> u32 {
        self.list
    }

    /// Append the group names as a JSON array (`["geo-ru","blocklist"]`). Allocation-free given capacity:
    /// the escaped names are precomputed.
    pub fn write_groups_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, g) in self.groups().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.table.group_json[g.0 as usize].as_bytes());
        }
        out.push(b']');
    }

    /// Append the merged labels as a JSON object (`{"geo":"ru"}`), from precomputed escaped pairs.
    pub fn write_labels_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, &p) in self.table.lists.labels(self.list).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.table.label_pair_json[p as usize].as_bytes());
        }
        out.push(b'}');
    }

    /// [`Match::write_groups_json`] into a new string.
    pub fn groups_json(&self) -> String {
        let mut out = Vec::new();
        self.write_groups_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Match::write_labels_json`] into a new string.
    pub fn labels_json(&self) -> String {
        let mut out = Vec::new();
        self.write_labels_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl std::fmt::Debug for Match<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match")
            .field("groups", &self.names().collect::<Vec<_>>())
            .field("labels", &self.labels().collect::<Vec<_>>())
            .finish()
    }
}

fn json_string(s: &str) -> Box<str> {
    // Serialising a string cannot fail; fall back to an empty JSON string rather than panic.
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".to_owned())
        .into_boxed_str()
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
    /// Distinct group lists (including the empty one and one per group).
    pub lists: usize,
    /// Approximate heap bytes held by the lookup structures.
    pub heap_bytes: usize,
}

/// Immutable all-containing-groups table over IPv4 and IPv6. Build a new one to change it; share it with `Arc`.
pub struct PrefixTable {
    groups: Box<[GroupInfo]>,
    group_json: Box<[Box<str>]>,
    label_pairs: Box<[(String, String)]>,
    label_pair_json: Box<[Box<str>]>,
    lists: Lists,
    v4: V4Index,
    v6: V6Index,
    stats: TableStats,
}

impl std::fmt::Debug for PrefixTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixTable")
            .field("stats", &self.stats)
            .finish()
    }
}

const EMPTY_LIST: u32 = 0;

impl PrefixTable {
    /// A table with no groups: every lookup returns an empty match.
    pub fn empty() -> PrefixTable {
        PrefixTable::build(&GroupSet::new())
    }

    /// Build the table from a group set. Cost is dominated by one sort of the prefixes.
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
        let mut interner = Interner::new(groups.len() as u32);
        let (ranges_v4, prefixes_v4) = sweep(&mut v4, &mut interner);
        drop(v4);
        let v4 = V4Index::new(ranges_v4);
        let (ranges_v6, prefixes_v6) = sweep(&mut v6, &mut interner);
        drop(v6);
        let v6 = V6Index::new(ranges_v6);
        let (label_pairs, group_pairs) = intern_label_pairs(&groups);
        let lists = interner.finish(&group_pairs, &label_pairs);
        let group_json = groups.iter().map(|g| json_string(&g.name)).collect();
        let label_pair_json = label_pairs
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)).into_boxed_str())
            .collect();
        let stats = TableStats {
            groups: groups.len(),
            prefixes_v4,
            prefixes_v6,
            ranges_v4: v4.ranges.len(),
            ranges_v6: v6.ranges.len(),
            lists: lists.len(),
            heap_bytes: v4.heap_bytes() + v6.heap_bytes() + lists.heap_bytes(),
        };
        PrefixTable {
            groups,
            group_json,
            label_pairs,
            label_pair_json,
            lists,
            v4,
            v6,
            stats,
        }
    }

    /// Every group containing `ip` (see the module docs for order and label merging). Allocation-free.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> Match<'_> {
        match ip {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(a),
        }
    }

    /// [`PrefixTable::lookup`] for an IPv4 address.
    #[inline]
    pub fn lookup_v4(&self, ip: Ipv4Addr) -> Match<'_> {
        Match {
            table: self,
            list: self.v4.find(u32::from(ip)),
        }
    }

    /// [`PrefixTable::lookup`] for an IPv6 address; an IPv4-mapped address is looked up as IPv4.
    #[inline]
    pub fn lookup_v6(&self, ip: Ipv6Addr) -> Match<'_> {
        match ip.to_ipv4_mapped() {
            Some(v4) => self.lookup_v4(v4),
            None => Match {
                table: self,
                list: self.v6.find(u128::from(ip)),
            },
        }
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

/// Distinct `(key, value)` label pairs, numbered in (key, value) order so that sorting pair ids sorts by key;
/// and each group's pairs.
type LabelPairs = (Box<[(String, String)]>, Vec<Vec<u32>>);

fn intern_label_pairs(groups: &[GroupInfo]) -> LabelPairs {
    let mut all: Vec<(&str, &str)> = groups
        .iter()
        .flat_map(|g| g.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect();
    all.sort_unstable();
    all.dedup();
    let id_of: HashMap<(&str, &str), u32> = all
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u32))
        .collect();
    let per_group = groups
        .iter()
        .map(|g| {
            g.labels
                .iter()
                .filter_map(|(k, v)| id_of.get(&(k.as_str(), v.as_str())).copied())
                .collect()
        })
        .collect();
    let pairs = all
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (pairs, per_group)
}

/// Group lists and their merged label lists, in flat arenas indexed by list id.
struct Lists {
    group_offsets: Box<[u32]>,
    group_arena: Box<[GroupId]>,
    /// Each list of `group_arena` sorted by id (= name), at the same offsets.
    by_name_arena: Box<[GroupId]>,
    label_offsets: Box<[u32]>,
    label_arena: Box<[u32]>,
}

impl Lists {
    #[inline]
    fn groups(&self, list: u32) -> &[GroupId] {
        slice_of(&self.group_offsets, &self.group_arena, list)
    }

    #[inline]
    fn by_name(&self, list: u32) -> &[GroupId] {
        slice_of(&self.group_offsets, &self.by_name_arena, list)
    }

    #[inline]
    fn labels(&self, list: u32) -> &[u32] {
        slice_of(&self.label_offsets, &self.label_arena, list)
    }

    fn len(&self) -> usize {
        self.group_offsets.len().saturating_sub(1)
    }

    fn heap_bytes(&self) -> usize {
        (self.group_offsets.len()
            + 2 * self.group_arena.len()
            + self.label_offsets.len()
            + self.label_arena.len())
            * 4
    }
}

#[inline]
fn slice_of<'a, T>(offsets: &[u32], arena: &'a [T], list: u32) -> &'a [T] {
    let i = list as usize;
    match (offsets.get(i), offsets.get(i + 1)) {
        (Some(&a), Some(&b)) => arena.get(a as usize..b as usize).unwrap_or(&[]),
        _ => &[],
    }
}

/// Address bits of one family, and how a range (start, list id) is stored for it.
trait Key: Copy + Ord {
    /// The stored form of one range.
    type Packed: Copy;
    const ZERO: Self;
    /// Last address of the prefix `self/len`.
    fn last(self, len: u8) -> Self;
    /// The next address, `None` at the end of the space.
    fn succ(self) -> Option<Self>;
    fn pack(self, list: u32) -> Self::Packed;
    fn unpack(p: &Self::Packed) -> (Self, u32);
}

impl Key for u32 {
    type Packed = u64;
    const ZERO: u32 = 0;
    fn last(self, len: u8) -> u32 {
        self | !mask32(len)
    }
    fn succ(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn pack(self, list: u32) -> u64 {
        (u64::from(self) << 32) | u64::from(list)
    }
    fn unpack(p: &u64) -> (u32, u32) {
        ((p >> 32) as u32, *p as u32)
    }
}

impl Key for u128 {
    type Packed = V6Range;
    const ZERO: u128 = 0;
    fn last(self, len: u8) -> u128 {
        self | !mask128(len)
    }
    fn succ(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn pack(self, list: u32) -> V6Range {
        V6Range {
            hi: (self >> 64) as u64,
            lo: self as u64,
            list,
        }
    }
    fn unpack(p: &V6Range) -> (u128, u32) {
        ((u128::from(p.hi) << 64) | u128::from(p.lo), p.list)
    }
}

/// Sort and deduplicate `(start, len, group)` entries, then cut the space into ranges with constant group
/// lists, emitted directly in their stored form. Returns the ranges (first starts at 0; consecutive lists
/// differ) and the distinct entry count.
fn sweep<K: Key>(
    entries: &mut Vec<(K, u8, u32)>,
    interner: &mut Interner,
) -> (Vec<K::Packed>, usize) {
    entries.sort_unstable();
    entries.dedup();
    // At most two boundaries per distinct prefix, plus the start of the space: reserve exactly that rather than
    // letting doubling overshoot by up to 2x.
    let mut out: Vec<K::Packed> = Vec::with_capacity(2 * entries.len() + 1);
    out.push(K::ZERO.pack(EMPTY_LIST));
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
                emit::<K>(&mut out, next, stack.last().map_or(EMPTY_LIST, |t| t.1));
            }
        }
        let parent = stack.last().map_or(EMPTY_LIST, |t| t.1);
        let list = interner.child(parent, &node);
        emit::<K>(&mut out, start, list);
        stack.push((start.last(len), list));
    }
    while let Some((last, _)) = stack.pop() {
        if let Some(next) = last.succ() {
            emit::<K>(&mut out, next, stack.last().map_or(EMPTY_LIST, |t| t.1));
        }
    }
    (out, entries.len())
}

fn emit<K: Key>(out: &mut Vec<K::Packed>, start: K, list: u32) {
    if out.last().is_some_and(|l| K::unpack(l).0 == start) {
        out.pop();
    }
    if out.last().is_some_and(|l| K::unpack(l).1 == list) {
        return;
    }
    out.push(start.pack(list));
}

/// Interns group lists (hash-consed in one arena): list 0 is empty, lists `1..=G` are the singletons `[g]`
/// (so the common "one group" answer reads a small, cache-resident part of the arena);
/// `child(parent, node)` is the node's groups (sorted by id = name) followed by the parent's list without them.
/// The hash table stores only list ids (4 bytes each) and hashes/compares through the arena.
struct Interner {
    offsets: Vec<u32>,
    arena: Vec<u32>,
    table: hashbrown::HashTable<u32>,
    scratch: Vec<u32>,
}

fn hash_list(list: &[u32]) -> u64 {
    let mut h = FxHasher::default();
    list.hash(&mut h);
    h.finish()
}

impl Interner {
    fn new(groups: u32) -> Interner {
        let mut i = Interner {
            offsets: vec![0],
            arena: Vec::new(),
            table: hashbrown::HashTable::new(),
            scratch: Vec::new(),
        };
        i.intern(&[]);
        for g in 0..groups {
            i.intern(&[g]);
        }
        i
    }

    fn list(&self, id: u32) -> &[u32] {
        slice_of(&self.offsets, &self.arena, id)
    }

    fn child(&mut self, parent: u32, node: &[u32]) -> u32 {
        if parent == EMPTY_LIST {
            if let [g] = node {
                return g + 1;
            }
        }
        let mut list = std::mem::take(&mut self.scratch);
        list.clear();
        list.extend_from_slice(node);
        list.extend(self.list(parent).iter().filter(|g| !node.contains(g)));
        let id = self.intern(&list);
        self.scratch = list;
        id
    }

    fn intern(&mut self, list: &[u32]) -> u32 {
        let hash = hash_list(list);
        let (offsets, arena) = (&self.offsets, &self.arena);
        if let Some(&id) = self
            .table
            .find(hash, |&id| slice_of(offsets, arena, id) == list)
        {
            return id;
        }
        let id = (self.offsets.len() - 1) as u32;
        self.arena.extend_from_slice(list);
        self.offsets.push(self.arena.len() as u32);
        let (offsets, arena) = (&self.offsets, &self.arena);
        self.table.insert_unique(hash, id, |&other| {
            hash_list(slice_of(offsets, arena, other))
        });
        id
    }

    /// Freeze into [`Lists`], computing each list's merged labels: walk its groups most specific first, keep the
    /// first pair seen per key, and sort pair ids (which sorts by key).
    fn finish(mut self, group_pairs: &[Vec<u32>], pairs: &[(String, String)]) -> Lists {
        // The hash-consing table is no longer needed; free it before the label arena grows.
        self.table = hashbrown::HashTable::new();
        let n = self.offsets.len() - 1;
        let mut label_offsets = Vec::with_capacity(n + 1);
        let mut label_arena = Vec::new();
        label_offsets.push(0u32);
        let mut merged: Vec<u32> = Vec::new();
        for id in 0..n as u32 {
            merged.clear();
            for &g in self.list(id) {
                for &p in group_pairs.get(g as usize).map_or(&[][..], |v| &v[..]) {
                    let key = &pairs[p as usize].0;
                    if !merged.iter().any(|&q| &pairs[q as usize].0 == key) {
                        merged.push(p);
                    }
                }
            }
            merged.sort_unstable();
            label_arena.extend_from_slice(&merged);
            label_offsets.push(label_arena.len() as u32);
        }
        let mut by_name_arena: Vec<GroupId> = self.arena.iter().copied().map(GroupId).collect();
        for w in self.offsets.windows(2) {
            by_name_arena[w[0] as usize..w[1] as usize].sort_unstable();
        }
        Lists {
            group_offsets: self.offsets.into_boxed_slice(),
            group_arena: self.arena.into_iter().map(GroupId).collect(),
            by_name_arena: by_name_arena.into_boxed_slice(),
            label_offsets: label_offsets.into_boxed_slice(),
            label_arena: label_arena.into_boxed_slice(),
        }
    }
}

/// First-level index over the populated span `[base, last start]` of the address space (so IPv6 lists that
/// all live in `2000::/3` still use every bucket): bucket `h` holds the ranges whose start `s >= base` has
/// `(s - base) >> shift == h`; `offsets[h]..offsets[h+1]` index the range array. Its width adapts to the range
/// count (about 4 ranges per bucket, 2^8..2^20 buckets), so a lookup reads one offset pair and usually one
/// cache line of ranges. Addresses below `base` are in range 0.
struct Buckets {
    base: u128,
    shift: u32,
    last: usize,
    offsets: Box<[u32]>,
}

impl Buckets {
    /// `start(i)` for `i < len` are the sorted range starts (the first is 0).
    fn new(len: usize, start: impl Fn(usize) -> u128) -> Buckets {
        let want = (len / 4).max(1).next_power_of_two().trailing_zeros();
        let bits = want.clamp(8, 20);
        let base = if len > 1 { start(1) } else { u128::MAX };
        let span = if len > 1 {
            start(len - 1).saturating_sub(base)
        } else {
            0
        };
        let span_bits = 128 - span.leading_zeros();
        let shift = span_bits.saturating_sub(bits);
        let n = 1usize << bits;
        let mut counts = vec![0u32; n + 1];
        counts[0] = 1; // range 0 precedes every bucket
        for i in 1..len {
            let b = Self::bucket_of(base, shift, n - 1, start(i));
            counts[b + 1] += 1;
        }
        for h in 1..counts.len() {
            counts[h] += counts[h - 1];
        }
        Buckets {
            base,
            shift,
            last: n - 1,
            offsets: counts.into_boxed_slice(),
        }
    }

    #[inline]
    fn bucket_of(base: u128, shift: u32, last: usize, addr: u128) -> usize {
        let h = (addr - base) >> shift;
        if h > last as u128 {
            last
        } else {
            h as usize
        }
    }

    /// The index range of ranges to search for `addr`; `None` means "range 0".
    #[inline]
    fn span(&self, addr: u128) -> Option<(usize, usize)> {
        if addr < self.base {
            return None;
        }
        let h = Self::bucket_of(self.base, self.shift, self.last, addr);
        match (self.offsets.get(h), self.offsets.get(h + 1)) {
            (Some(&lo), Some(&hi)) => Some((lo as usize, hi as usize)),
            _ => None,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.offsets.len() * 4
    }
}

/// IPv4 ranges, each one `u64` = start << 32 | list id, so the search and the answer share cache lines.
struct V4Index {
    buckets: Buckets,
    ranges: Box<[u64]>,
}

impl V4Index {
    fn new(ranges: Vec<u64>) -> V4Index {
        let buckets = Buckets::new(ranges.len(), |i| u128::from(ranges[i] >> 32));
        V4Index {
            buckets,
            ranges: ranges.into_boxed_slice(),
        }
    }

    // One out-of-line copy: inlined into both the IPv4 and the mapped-IPv6 paths, LLVM emitted a branchy
    // search for one of them that was 4x slower on random addresses.
    #[inline(never)]
    fn find(&self, addr: u32) -> u32 {
        let Some((lo, hi)) = self.buckets.span(u128::from(addr)) else {
            return self.ranges.first().map_or(EMPTY_LIST, |&x| x as u32);
        };
        let key = u64::from(addr);
        let within = self
            .ranges
            .get(lo..hi)
            .map_or(0, |s| s.partition_point(|&x| (x >> 32) <= key));
        // Ranges start at 0, so the range containing `addr` is the one before the first start above it.
        (lo + within)
            .checked_sub(1)
            .and_then(|i| self.ranges.get(i))
            .map_or(EMPTY_LIST, |&x| x as u32)
    }

    fn heap_bytes(&self) -> usize {
        self.buckets.heap_bytes() + self.ranges.len() * 8
    }
}

/// One IPv6 range: start address split in halves, and its list id (24 bytes).
#[derive(Clone, Copy)]
struct V6Range {
    hi: u64,
    lo: u64,
    list: u32,
}

/// IPv6 ranges with the same first-level index.
struct V6Index {
    buckets: Buckets,
    ranges: Box<[V6Range]>,
}

impl V6Index {
    fn new(ranges: Vec<V6Range>) -> V6Index {
        let buckets = Buckets::new(ranges.len(), |i| {
            (u128::from(ranges[i].hi) << 64) | u128::from(ranges[i].lo)
        });
        V6Index {
            buckets,
            ranges: ranges.into_boxed_slice(),
        }
    }

    #[inline(never)]
    fn find(&self, addr: u128) -> u32 {
        let Some((lo, hi)) = self.buckets.span(addr) else {
            return self.ranges.first().map_or(EMPTY_LIST, |r| r.list);
        };
        // One u128 comparison (cmp/sbb) keeps the search branch-free; a tuple comparison does not.
        let within = self.ranges.get(lo..hi).map_or(0, |s| {
            s.partition_point(|r| ((u128::from(r.hi) << 64) | u128::from(r.lo)) <= addr)
        });
        (lo + within)
            .checked_sub(1)
            .and_then(|i| self.ranges.get(i))
            .map_or(EMPTY_LIST, |r| r.list)
    }

    fn heap_bytes(&self) -> usize {
        self.buckets.heap_bytes() + self.ranges.len() * std::mem::size_of::<V6Range>()
    }
}

/// FxHash (rustc's hasher): the interner hashes short lists of small integers, where SipHash would dominate.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

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

    type Def<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

    fn set(defs: &[Def]) -> GroupSet {
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
            .map(str::to_string)
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
            m.labels().collect::<Vec<_>>(),
            [("feed", "abuse"), ("geo", "ru"), ("scope", "block")]
        );
        assert_eq!(m.groups_json(), r#"["abuse","blocklist","geo-ru","world"]"#);
        assert_eq!(
            m.labels_json(),
            r#"{"feed":"abuse","geo":"ru","scope":"block"}"#
        );
    }

    #[test]
    fn the_same_groups_in_either_specificity_order_read_the_same_by_name() {
        // 198.51.100.0/24 is `ru`'s most specific prefix there, 198.51.200.0/24 is `geo-ru`'s.
        let s = set(&[
            ("geo-ru", &[], &["198.51.0.0/16", "198.51.200.0/24"]),
            (
                "ru",
                &[],
                &["198.51.100.0/24", "198.51.0.0/17", "198.51.128.0/17"],
            ),
        ]);
        let t = PrefixTable::build(&s);
        assert_eq!(names(&t, "198.51.100.1"), ["ru", "geo-ru"]);
        assert_eq!(names(&t, "198.51.200.1"), ["geo-ru", "ru"]);
        for ip in ["198.51.100.1", "198.51.200.1"] {
            let m = t.lookup(ip.parse().unwrap());
            assert_eq!(m.names_by_name().collect::<Vec<_>>(), ["geo-ru", "ru"]);
            assert_eq!(m.groups_by_name().len(), 2);
        }
        let one = t.lookup("198.51.1.1".parse().unwrap());
        assert_eq!(one.names_by_name().collect::<Vec<_>>(), ["geo-ru", "ru"]);
        let none = t.lookup("203.0.113.1".parse().unwrap());
        assert_eq!(none.names_by_name().count(), 0);
        let mut joined = String::from("x");
        t.lookup("198.51.200.1".parse().unwrap())
            .push_names_by_name(", ", &mut joined);
        none.push_names_by_name(", ", &mut joined);
        assert_eq!(joined, "xgeo-ru, ru");
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
            let got: Vec<String> = m.names().map(str::to_string).collect();
            assert_eq!(got, want_names, "{ip}");
            let labels: Vec<(String, String)> = m
                .labels()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(labels, want_labels, "{ip}");
        }
    }
}
