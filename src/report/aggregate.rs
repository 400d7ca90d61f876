//! Streaming, bounded aggregation of kept flows for `replay --report`.
//!
//! [`FlowAggregate`] owns everything the report shows about kept flows: a [`Timeline`] of flows per time bucket
//! stacked by drop reason (or verdict), and [`TopCounter`]s for source workloads, namespaces and pods,
//! destination IPs, CIDR groups and FQDNs, ports and protocols, nodes, denying policies, and the source ×
//! destination matrix. It is fed one decoded flow at a time on the worker threads and merged at the end.
//!
//! Guarantees:
//! - **Bounded memory, whatever the input.** A [`TopCounter`] holds at most `2 × capacity` keys of at most
//!   [`MAX_KEY_BYTES`] bytes each (and, once it has pruned, a bitset of `64 × capacity` bits); the timeline
//!   holds at most [`MAX_BUCKETS`] + 1 buckets of at most [`MAX_CATEGORIES`] categories. 10 M kept flows with
//!   10 M distinct keys use the same memory as 10 k.
//! - **Exact totals.** Every counter's `total` is the exact number of counted values, and
//!   `sum(counts) + other == total` always holds, so shares and the "other" bucket add up.
//! - **Known error.** Counts are exact while a counter has seen at most `2 × capacity` distinct keys. Beyond
//!   that it is a Misra–Gries summary: a shown count is at most [`TopCounter::max_error`] below the true count
//!   (never above), `max_error ≤ total / (capacity + 1)`, and every key with more than that many flows is kept.
//! - **Cheap per flow.** [`FlowAggregate::add_flow`] hashes every key from its parts, borrowed from the flow
//!   (nothing is built or copied for a key already held), which prefetches its table slot, then counts them
//!   all; a key seen once in a counter that has pruned costs one bit (see [`TopCounter`]). The per-flow cost
//!   and its budget (≤ 10 % of a replay) are in BENCHMARKS.md ("Report overhead"); `benches/report.rs` times
//!   it.
//! - **No allocation per flow in the steady state.** A new key's text is written into a reused scratch
//!   buffer and its bytes go to the counter's arena, which pruning compacts into a second one; hashing is
//!   foldhash, and a key is identified by the hash of its parts (see [`KeyHash`]).

use crate::enrich::Enrichment;
use hubble_flow::enums::VERDICT;
use hubble_flow::flow::{Endpoint, Flow};
use std::collections::HashMap;

/// Keys come from flows (attacker-influenced), so the hasher is seeded per map: fast, and not open to crafted
/// collisions.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::hash::{BuildHasher as _, Hasher as _};

/// Longest key kept, in bytes; longer values (attacker-influenced) are cut at a character boundary and marked
/// with `…`.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest denying-policy key (the raw `*_denied_by` JSON), in bytes.
pub const MAX_POLICY_KEY_BYTES: usize = 2048;
/// Most timeline buckets held; more widen the buckets (see [`Timeline`]).
pub const MAX_BUCKETS: usize = 2048;
/// Most stack categories in the timeline; further ones are counted as [`OTHER_CATEGORY`].
pub const MAX_CATEGORIES: usize = 12;
/// The timeline category for flows beyond [`MAX_CATEGORIES`].
pub const OTHER_CATEGORY: &str = "(other)";
/// Default number of keys a [`TopCounter`] keeps after pruning.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Capacity of the source × destination pair counter.
pub const MATRIX_CAPACITY: usize = 1024;

/// A bounded frequency summary of string keys (Misra–Gries with batched decrements).
///
/// Up to `2 × capacity` keys are counted exactly. When a new key would exceed that, the counter subtracts the
/// `(capacity + 1)`-th largest count `c` from every key and drops the keys left at zero or below; what was
/// subtracted goes to [`TopCounter::other`], and `c` adds to [`TopCounter::max_error`]. Amortised cost is
/// O(1) per value. Once it has pruned, a key is looked up only from its second sighting on (a [`Doorkeeper`]
/// bitset remembers first sightings), so keys seen once cost no table work; the error bound is the same.
///
/// Cost per value, which the report's overhead budget depends on (`benches/report.rs`): the key is hashed
/// once and looked up in an open-addressing table with linear probing whose 16-byte slots hold only the hash
/// and the count, four to a cache line. A full table of a counter with `capacity` 1,024 is 64 KiB, so the
/// tables of the counters whose keys churn stay in the core's L2 cache. The key bytes are appended to an
/// arena, written in order, and found through a parallel array of 8-byte references; only an insertion,
/// pruning and reading the results touch them. The table is at most 5/8 full; pruning empties it, re-inserts
/// the survivors in place and copies their keys into a second arena, without allocating once both have grown.
///
/// **A key is identified by the 64-bit hash of its parts.** Lookups compare hashes, not key bytes (comparing
/// the bytes was a tenth of the report's cost). A key made of several values (`namespace/pod`, a label set) is
/// hashed from those values, borrowed from the flow, and its text is built only when it is inserted (building
/// every key was a fifth of the report's cost): see [`KeyHash`]. The hasher is seeded from the OS's randomness
/// once per process ([`key_hasher`]), so keys from flows cannot be chosen to collide, and counters merge by
/// hash; two distinct keys share a hash with probability about 2⁻⁶⁴, which over 10 M distinct keys, each
/// checked against the at most `2 × capacity` held, is about 10⁻⁹. Should it happen, the two keys are counted
/// as the first one seen. Keys that differ only beyond [`MAX_KEY_BYTES`] are counted apart but shown alike.
///
/// **Layout.** Everything counting a value reads or writes (the table, the filter, `total`, `other`) is in
/// the struct's first cache line, so the twelve counters of a [`FlowAggregate`] take twelve lines of the L1
/// cache per flow instead of about thirty, and evict less of the replay's own working set (BENCHMARKS.md,
/// "Report overhead").
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct TopCounter {
    /// Power-of-two many slots; a slot with `count == 0` is empty.
    slots: Box<[Slot]>,
    /// The filter new keys pass once the counter has pruned (see [`Doorkeeper`]).
    door: Doorkeeper,
    total: u64,
    other: u64,
    // The first cache line ends here.
    /// `refs[i]` is where in `arena` the key of `slots[i]` is (stale when that slot is empty).
    refs: Vec<KeyRef>,
    /// The held keys' bytes (and those of keys dropped since the last pruning).
    arena: Vec<u8>,
    /// The arena pruning copies the survivors' keys into, then swaps with `arena`.
    next_arena: Vec<u8>,
    /// Live slots.
    len: usize,
    capacity: usize,
    max_key_bytes: usize,
    max_error: u64,
    /// Scratch for pruning (kept to avoid reallocating).
    counts: Vec<u64>,
    survivors: Vec<(Slot, KeyRef)>,
    /// Scratch a new key's text is built in before it goes to the arena.
    built: String,
}

/// A bitset in front of a [`TopCounter`] that has pruned, so that a key seen once costs no table work.
///
/// Every held key's bit is set. A value whose key's bit is clear is therefore a key not held, seen for the
/// first time since the bits were last cleared: its bit is set and the value goes to `other`, without
/// touching the table, the key arena or pruning (a random world IP or its matrix pair: most flows, for the
/// counters whose keys churn, whose tables would otherwise miss the cache on every flow). A value whose bit is
/// set is looked up and counted as before (a second sighting, or another key's bit: a false positive, which
/// costs table work, not accuracy).
///
/// The error bound is kept (the model test checks it). With `E` = `max_error`: every key not held has a true
/// count of at most `E`, and of at most `E − 1` while its bit is clear. A first sighting sets the bit;
/// pruning sets the bits of the keys it drops (their true counts are at most the new `E`); clearing the bits
/// adds 1 to `E` (and sets the held keys' bits again). The bits are cleared after `2 × capacity` first
/// sightings, or once pruning (at least twice since the last clearing) has set `4 × capacity` bits. Every
/// step that raises `E` by `d` moved at least `d × (capacity + 1)` values into `other`, so `max_error ≤
/// total / (capacity + 1)` as for plain Misra–Gries. Before the first pruning there is no filter: counts are
/// exact while at most `2 × capacity` distinct keys were seen. (Setting the held keys' bits, on insertion and
/// after a clearing, keeps their counts whole; the bound does not need it: a held key with a clear bit would
/// lose one value to `other`, which the clearing's + 1 covers. So the model test checks it directly: every
/// held key passes the filter.)
#[derive(Debug, Clone, Default)]
#[repr(C)]
struct Doorkeeper {
    /// `64 × capacity` bits (a power of two); empty until the counter first prunes.
    words: Box<[u64]>,
    /// `64 − log2(bits)`: a key's bit is the top bits of its hash.
    shift: u32,
    /// First sightings since the bits were last cleared.
    misses: u32,
    /// Bits set by pruning since then.
    marks: u32,
    /// The first sightings that clear the bits: `2 × capacity` ([`MAX_CAPACITY`] keeps it in a `u32`).
    miss_limit: u32,
}

impl Doorkeeper {
    /// Starts filtering (once) for a counter of `capacity`.
    fn activate(&mut self, capacity: usize) {
        if self.words.is_empty() {
            let bits = (64 * capacity).next_power_of_two();
            self.words = vec![0; bits / 64].into_boxed_slice();
            self.shift = 64 - bits.trailing_zeros();
            self.miss_limit = (2 * capacity) as u32;
        }
    }

    #[inline(always)]
    fn is_active(&self) -> bool {
        !self.words.is_empty()
    }

    /// The word holding `hash`'s bit, and the bit's mask in it.
    #[inline(always)]
    fn locate(&self, hash: u64) -> (usize, u64) {
        let bit = (hash >> self.shift) as usize;
        (bit / 64, 1u64 << (bit % 64))
    }

    /// Whether a value of `hash`'s key would be looked up in the table: the filter is off, or the bit is set.
    #[cfg(test)]
    fn admits(&self, hash: u64) -> bool {
        let (word, mask) = self.locate(hash);
        self.words.get(word).is_none_or(|w| w & mask != 0)
    }

    /// Starts fetching the word holding `hash`'s bit (the filter is active).
    #[inline(always)]
    fn prefetch(&self, hash: u64) {
        let (word, _) = self.locate(hash);
        if let Some(w) = self.words.get(word) {
            prefetch_line(w);
        }
    }

    /// Sets `hash`'s bit; whether it was set already.
    #[inline(always)]
    fn test_and_set(&mut self, hash: u64) -> bool {
        let (word, mask) = self.locate(hash);
        match self.words.get_mut(word) {
            Some(word) => {
                let seen = *word & mask != 0;
                *word |= mask;
                seen
            }
            None => true,
        }
    }

    /// Clears every bit and the counts since the last clearing.
    fn clear(&mut self) {
        self.words.fill(0);
        self.misses = 0;
        self.marks = 0;
    }
}

/// Most keys a [`TopCounter`] keeps: with keys of up to [`MAX_POLICY_KEY_BYTES`], its arena (at most
/// `2 × capacity + 1` keys between prunings) stays addressable by a `u32`.
pub const MAX_CAPACITY: usize = 1 << 18;

/// A foldhash hasher whose seeds come from the operating system's randomness (through std's `RandomState`,
/// whose SipHash keys it draws from the OS), not from foldhash's default of addresses and the address-space
/// layout: a [`TopCounter`] identifies keys by their hash, so flows must not be able to guess the seed and aim
/// a collision. Each call draws new seeds (and leaks the 48-byte shared one: [`key_hasher`] calls it once per
/// process).
fn secret_hasher() -> foldhash::fast::SeedableRandomState {
    let os_random = || std::hash::RandomState::new().hash_one(0u8);
    let shared: &'static foldhash::SharedSeed =
        Box::leak(Box::new(foldhash::SharedSeed::from_u64(os_random())));
    foldhash::fast::SeedableRandomState::with_seed(os_random(), shared)
}

/// The one key hasher of the process ([`secret_hasher`], drawn once): every counter hashes with it, so the
/// workers' counters merge by hash.
fn key_hasher() -> &'static KeyHasher {
    static KEYS: std::sync::OnceLock<KeyHasher> = std::sync::OnceLock::new();
    KEYS.get_or_init(secret_hasher)
}

/// Slots a new counter starts with (it doubles as keys arrive).
const INITIAL_SLOTS: usize = 16;

/// Where a held key's bytes are in its counter's arena.
#[derive(Debug, Clone, Copy, Default)]
struct KeyRef {
    start: u32,
    len: u32,
}

impl KeyRef {
    /// Appends `key` to `arena` and says where it is.
    #[inline]
    fn append(arena: &mut Vec<u8>, key: &[u8]) -> KeyRef {
        let r = KeyRef {
            start: arena.len() as u32,
            len: key.len() as u32,
        };
        arena.extend_from_slice(key);
        r
    }

    #[inline]
    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// One slot of the table: a key's hash and count, or empty when `count == 0`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    count: u64,
}

impl Slot {
    const EMPTY: Slot = Slot { hash: 0, count: 0 };
}

/// A key's identity: the [`key_hasher`] hash of the sequence of its parts, each written to the hasher as its
/// bytes (foldhash mixes each write's length in, so parts are not run together: `("ab", "c")` is not
/// `("a", "bc")`) or as a number. A one-part key hashes as [`KeyHash::of`] its text, so [`TopCounter::add`] and
/// [`TopCounter::merge`] agree with the parts hashed in [`FlowAggregate::add_flow`]. Each counter's keys have
/// one shape per kind of key, so two keys are the same exactly when their text is (but for a part that
/// contains its key's separator, which Kubernetes names and label keys cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyHash(u64);

/// The hasher of every [`KeyHash`]: [`key_hasher`].
type KeyHasher = foldhash::fast::SeedableRandomState;

impl KeyHash {
    /// A one-part key.
    #[inline(always)]
    fn of(keys: &KeyHasher, key: &str) -> KeyHash {
        KeyHash::of_parts(keys, |h| h.write(key.as_bytes()))
    }

    /// A key of parts: whatever `parts` feeds the hasher.
    #[inline(always)]
    fn of_parts(
        keys: &KeyHasher,
        parts: impl FnOnce(&mut foldhash::fast::FoldHasher<'static>),
    ) -> KeyHash {
        let mut h = keys.build_hasher();
        parts(&mut h);
        KeyHash(h.finish())
    }
}

/// Asks the CPU to bring the cache line holding `value` in; a hint that changes no result.
#[inline(always)]
fn prefetch_line<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program can observe and cannot fault, and the pointer
    // comes from a live reference. SSE, which provides it, is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Where a lookup for `hash` ended: the key's slot, or the empty slot where it would go.
enum Probe {
    Found(usize),
    Vacant(usize),
}

impl TopCounter {
    /// A counter keeping at least the `capacity` most frequent keys.
    pub fn new(capacity: usize) -> Self {
        Self::with_key_limit(capacity, MAX_KEY_BYTES)
    }

    /// A counter whose keys are cut to `max_key_bytes` (at most [`MAX_POLICY_KEY_BYTES`]; `capacity` at most
    /// [`MAX_CAPACITY`]).
    pub fn with_key_limit(capacity: usize, max_key_bytes: usize) -> Self {
        TopCounter {
            slots: vec![Slot::EMPTY; INITIAL_SLOTS].into_boxed_slice(),
            refs: vec![KeyRef::default(); INITIAL_SLOTS],
            arena: Vec::new(),
            next_arena: Vec::new(),
            len: 0,
            capacity: capacity.clamp(1, MAX_CAPACITY),
            max_key_bytes: max_key_bytes.min(MAX_POLICY_KEY_BYTES),
            total: 0,
            other: 0,
            max_error: 0,
            counts: Vec::new(),
            survivors: Vec::new(),
            built: String::new(),
            door: Doorkeeper::default(),
        }
    }

    /// The slot holding the key whose hash is `hash`, or the empty slot that ends its probe sequence.
    #[inline(always)]
    fn probe(&self, hash: u64) -> Probe {
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let s = &self.slots[i];
            if s.count == 0 {
                return Probe::Vacant(i);
            }
            if s.hash == hash {
                return Probe::Found(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Counts `n` occurrences of `key` (`n == 0` counts nothing and holds no key).
    #[inline]
    pub fn add(&mut self, key: &str, n: u64) {
        self.count(KeyHash::of(key_hasher(), key), n, KeyText::Str(key));
    }

    /// Starts fetching what [`TopCounter::count`] reads first, so that other work can run while it arrives: the
    /// [`Doorkeeper`]'s word once the filter is active (loading it here to decide whether to fetch the slot
    /// stalled on most flows: the words of the counters whose keys churn are rarely in the L1 cache), else the
    /// slot the lookup begins at. A hint that changes no result.
    #[inline(always)]
    fn prefetch(&self, h: KeyHash) -> KeyHash {
        if self.door.is_active() {
            self.door.prefetch(h.0);
        } else {
            prefetch_line(&self.slots[self.home(h.0)]);
        }
        h
    }

    /// Counts `n` occurrences of the key `h` identifies; `text` is written only when the key is inserted.
    /// (Inlined: one out-of-line copy for all counters measured 300 more instructions per flow and no gain in
    /// time; BENCHMARKS.md.)
    #[inline(always)]
    fn count(&mut self, h: KeyHash, n: u64, text: KeyText<'_, '_>) {
        if n == 0 {
            return;
        }
        self.total += n;
        let hash = h.0;
        if n == 1 && self.door.is_active() && !self.door.test_and_set(hash) {
            self.first_sighting();
            return;
        }
        match self.probe(hash) {
            Probe::Found(i) => self.slots[i].count += n,
            Probe::Vacant(i) => self.insert_new(i, hash, n, text),
        }
    }

    /// Writes a new key's text and holds it in the empty slot `i` (out of line: the inlined [`TopCounter::count`]
    /// stays small in the instruction cache).
    #[cold]
    #[inline(never)]
    fn insert_new(&mut self, i: usize, hash: u64, n: u64, text: KeyText<'_, '_>) {
        let mut built = std::mem::take(&mut self.built);
        built.clear();
        text.write(&mut built);
        self.insert(i, hash, &built, n);
        self.built = built;
    }

    /// A value whose key is not held and was not seen since the [`Doorkeeper`]'s bits were cleared: it goes
    /// to `other`.
    #[inline]
    fn first_sighting(&mut self) {
        self.other += 1;
        self.door.misses += 1;
        if self.door.misses >= self.door.miss_limit {
            self.clear_door();
        }
    }

    /// Clears the [`Doorkeeper`]'s bits but the held keys', which adds 1 to the error bound.
    #[cold]
    fn clear_door(&mut self) {
        self.door.clear();
        for s in &self.slots {
            if s.count != 0 {
                self.door.test_and_set(s.hash);
            }
        }
        self.max_error += 1;
    }

    /// Holds a new key in the empty slot `i` that ended its probe.
    fn insert(&mut self, i: usize, hash: u64, key: &str, n: u64) {
        if self.door.is_active() {
            self.door.test_and_set(hash);
        }
        let slot = Slot { hash, count: n };
        let key = KeyRef::append(&mut self.arena, cut(key, self.max_key_bytes).as_bytes());
        if (self.len + 1) * 8 > self.slots.len() * 5 {
            self.grow();
            self.place(slot, key);
        } else {
            self.slots[i] = slot;
            self.refs[i] = key;
            self.len += 1;
        }
        if self.len > 2 * self.capacity {
            self.prune();
        }
    }

    /// A held key.
    #[inline]
    fn key(&self, r: KeyRef) -> &str {
        // Keys are appended whole from `&str`s cut at character boundaries: always valid.
        self.arena
            .get(r.range())
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// The slot a lookup for `hash` starts at (the high bits: foldhash mixes them best).
    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.slots.len() - 1)
    }

    /// Puts a slot whose key is not held into the first empty slot of its probe sequence.
    fn place(&mut self, slot: Slot, key: KeyRef) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(slot.hash);
        while self.slots[i].count != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        self.refs[i] = key;
        self.len += 1;
    }

    /// Doubles the table and re-inserts every held key.
    fn grow(&mut self) {
        let n = 2 * self.slots.len();
        let slots = std::mem::replace(&mut self.slots, vec![Slot::EMPTY; n].into_boxed_slice());
        let refs = std::mem::replace(&mut self.refs, vec![KeyRef::default(); n]);
        self.len = 0;
        for (&s, k) in slots.iter().zip(refs).filter(|(s, _)| s.count != 0) {
            self.place(s, k);
        }
    }

    /// Counts one occurrence of `key`.
    #[inline]
    pub fn bump(&mut self, key: &str) {
        self.add(key, 1);
    }

    fn prune(&mut self) {
        let k = self.capacity;
        if self.len <= k {
            return;
        }
        let mut counts = std::mem::take(&mut self.counts);
        counts.clear();
        counts.extend(self.slots.iter().filter(|s| s.count != 0).map(|s| s.count));
        counts.select_nth_unstable_by(k, |a, b| b.cmp(a));
        let threshold = counts[k];
        self.counts = counts;
        // From now on new keys pass the doorkeeper: the survivors' bits are set, and the dropped keys'.
        self.door.activate(k);
        let mut other = 0;
        let mut survivors = std::mem::take(&mut self.survivors);
        survivors.clear();
        // The survivors' keys move to the other arena, so the bytes of dropped keys are freed for reuse.
        let mut next = std::mem::take(&mut self.next_arena);
        next.clear();
        for (s, r) in self
            .slots
            .iter_mut()
            .zip(&self.refs)
            .filter(|(s, _)| s.count != 0)
        {
            self.door.test_and_set(s.hash);
            if s.count > threshold {
                other += threshold;
                let mut kept = std::mem::replace(s, Slot::EMPTY);
                kept.count -= threshold;
                let moved =
                    KeyRef::append(&mut next, self.arena.get(r.range()).unwrap_or_default());
                survivors.push((kept, moved));
            } else {
                other += s.count;
                s.count = 0;
                self.door.marks += 1;
            }
        }
        self.next_arena = std::mem::replace(&mut self.arena, next);
        // Every slot is empty now: re-insert the survivors (at most `capacity`, so no growth).
        self.len = 0;
        for (s, key) in survivors.drain(..) {
            self.place(s, key);
        }
        self.survivors = survivors;
        self.other += other;
        self.max_error += threshold;
        if self.door.marks as usize >= 4 * k {
            self.clear_door();
        }
    }

    /// Adds another counter's counts (summaries merge: the error bounds add).
    pub fn merge(&mut self, o: &TopCounter) {
        let total = self.total;
        for ((hash, key), count) in o.live_hashed() {
            self.count(hash, count, KeyText::Str(key));
        }
        // `count` added the held counts to the total; the other counter's total is the exact one.
        self.total = total + o.total;
        self.other += o.other;
        self.max_error += o.max_error;
    }

    /// The held keys and their counts.
    fn live(&self) -> impl Iterator<Item = (&str, u64)> {
        self.live_hashed().map(|((_, key), count)| (key, count))
    }

    /// The held keys with their hashes, and their counts.
    fn live_hashed(&self) -> impl Iterator<Item = ((KeyHash, &str), u64)> {
        self.slots
            .iter()
            .zip(&self.refs)
            .filter(|(s, _)| s.count != 0)
            .map(|(s, r)| ((KeyHash(s.hash), self.key(*r)), s.count))
    }

    /// Exact number of values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts subtracted by pruning (part of no shown key).
    pub fn other(&self) -> u64 {
        self.other
    }

    /// Largest amount by which any shown count may be below its true count (0: counts are exact).
    pub fn max_error(&self) -> u64 {
        self.max_error
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The keys it keeps after pruning.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The count held for the key shown as `key` (cut to the limit as held; 0 if not held; the sum if several
    /// keys show alike). A scan of the held keys: for tests and rendering, not per flow.
    pub fn get(&self, key: &str) -> u64 {
        let key = cut(key, self.max_key_bytes);
        self.live().filter(|(k, _)| *k == key).map(|(_, n)| n).sum()
    }

    /// The `n` largest counts, largest first, ties by key.
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.live().collect();
        v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Every held key (tests).
    #[cfg(test)]
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.live().map(|(k, _)| k)
    }

    /// Slots reserved (tests).
    #[cfg(test)]
    fn slot_capacity(&self) -> usize {
        self.slots.len()
    }
}

/// `s` cut to at most `max` bytes at a character boundary, with `…` appended when cut.
#[inline(always)]
fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(cut_long(s, max))
    }
}

/// [`cut`] of a key over the limit (rare: attacker-sized values).
#[cold]
fn cut_long(s: &str, max: usize) -> String {
    let mut end = max.saturating_sub('…'.len_utf8());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut o = String::with_capacity(end + 3);
    o.push_str(&s[..end]);
    o.push('…');
    o
}

/// Bucket widths the timeline steps through, in seconds: 1 min, 5 min, 15 min, 1 h, 6 h, 1 day, 7 days; then
/// doubling.
pub const BUCKET_WIDTHS: [i64; 7] = [60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400];

/// Kept flows per time bucket and category (drop reason, or verdict for flows without one).
///
/// Buckets start one minute wide; when more than [`MAX_BUCKETS`] would exist, every bucket is widened to the
/// next of [`BUCKET_WIDTHS`] (whole buckets merge, nothing is lost), so the span decides the width.
#[derive(Debug, Clone)]
pub struct Timeline {
    width: i64,
    categories: Vec<Box<str>>,
    buckets: FastMap<i64, [u64; MAX_CATEGORIES]>,
    /// Category totals over all buckets and flows without a usable time.
    category_totals: [u64; MAX_CATEGORIES],
    /// Flows without a parsable `time`.
    pub untimed: u64,
    /// Earliest flow time seen (Unix nanoseconds).
    pub first_ns: Option<i128>,
    /// Latest flow time seen (Unix nanoseconds).
    pub last_ns: Option<i128>,
    /// The bucket flows are arriving in now (flows come mostly in time order), kept out of the map until the
    /// next bucket starts: `i64::MIN` when none.
    cur_start: i64,
    cur: [u64; MAX_CATEGORIES],
    /// The category of the previous flow (an index into `categories`).
    last_category: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width: BUCKET_WIDTHS[0],
            categories: Vec::new(),
            buckets: FastMap::default(),
            category_totals: [0; MAX_CATEGORIES],
            untimed: 0,
            first_ns: None,
            last_ns: None,
            cur_start: i64::MIN,
            cur: [0; MAX_CATEGORIES],
            last_category: 0,
        }
    }
}

impl Timeline {
    /// The index of `name` among the categories (the last slot is [`OTHER_CATEGORY`] once full).
    fn category(&mut self, name: &str) -> usize {
        // Most flows share the previous flow's category.
        if self
            .categories
            .get(self.last_category)
            .is_some_and(|c| &**c == name)
        {
            return self.last_category;
        }
        let i = self.find_category(name);
        self.last_category = i;
        i
    }

    fn find_category(&mut self, name: &str) -> usize {
        if let Some(i) = self.categories.iter().position(|c| &**c == name) {
            return i;
        }
        if self.categories.len() < MAX_CATEGORIES - 1 {
            self.categories.push(name.into());
            return self.categories.len() - 1;
        }
        if self.categories.len() == MAX_CATEGORIES - 1 {
            self.categories.push(OTHER_CATEGORY.into());
        }
        MAX_CATEGORIES - 1
    }

    /// Counts `n` flows of `category` at `time_ns` (Unix nanoseconds; `None` when the flow has no time).
    pub fn add(&mut self, time_ns: Option<i128>, category: &str, n: u64) {
        let time = time_ns.map(|t| {
            (
                i64::try_from(t.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
                t,
            )
        });
        self.add_at(time, category, n);
    }

    /// [`Timeline::add`] with the time as (Unix seconds, Unix nanoseconds), avoiding a 128-bit division.
    #[inline]
    pub fn add_at(&mut self, time: Option<(i64, i128)>, category: &str, n: u64) {
        let c = self.category(category);
        self.category_totals[c] += n;
        let Some((secs, t)) = time else {
            self.untimed += n;
            return;
        };
        if self.first_ns.is_none_or(|f| t < f) {
            self.first_ns = Some(t);
        }
        if self.last_ns.is_none_or(|l| t > l) {
            self.last_ns = Some(t);
        }
        // Flows come mostly in time order: a time in the current bucket needs no (slow, 64-bit) division.
        // `cur_start` is `i64::MIN` or a bucket start of a parsed time (years 0000–9999), so the wrapping
        // difference is below `width` exactly when `secs` is in it.
        if secs.wrapping_sub(self.cur_start) as u64 >= self.width as u64 {
            self.flush();
            self.cur_start = secs.div_euclid(self.width) * self.width;
        }
        self.cur[c] += n;
    }

    /// Moves the current bucket into the map (and widens if the map is over its bound).
    fn flush(&mut self) {
        if self.cur_start == i64::MIN {
            return;
        }
        let b = self
            .buckets
            .entry(self.cur_start)
            .or_insert([0; MAX_CATEGORIES]);
        for (a, c) in b.iter_mut().zip(self.cur) {
            *a += c;
        }
        self.cur = [0; MAX_CATEGORIES];
        self.cur_start = i64::MIN;
        if self.buckets.len() > MAX_BUCKETS {
            self.widen(next_width(self.width));
        }
    }

    /// Re-buckets at `width` seconds (a multiple of the current width), repeating until the bound holds.
    fn widen(&mut self, mut width: i64) {
        self.flush();
        loop {
            if width <= self.width {
                return;
            }
            let old = std::mem::take(&mut self.buckets);
            for (start, counts) in old {
                let s = start.div_euclid(width) * width;
                let b = self.buckets.entry(s).or_insert([0; MAX_CATEGORIES]);
                for (a, c) in b.iter_mut().zip(counts) {
                    *a += c;
                }
            }
            self.width = width;
            if self.buckets.len() <= MAX_BUCKETS {
                return;
            }
            width = next_width(width);
        }
    }

    /// Adds another timeline (widening to the wider of the two).
    pub fn merge(&mut self, o: &Timeline) {
        self.flush();
        let mut o = o.clone();
        o.flush();
        if o.width < self.width {
            o.widen(self.width);
        }
        // Widths step through the same sequence, so the wider one is a multiple of the narrower.
        self.widen(o.width);
        let map: Vec<usize> = o.categories.iter().map(|c| self.category(c)).collect();
        for (i, &n) in o.category_totals.iter().enumerate() {
            if let Some(&c) = map.get(i) {
                self.category_totals[c] += n;
            }
        }
        for (start, counts) in &o.buckets {
            let b = self.buckets.entry(*start).or_insert([0; MAX_CATEGORIES]);
            for (i, &n) in counts.iter().enumerate() {
                if let Some(&c) = map.get(i) {
                    b[c] += n;
                }
            }
        }
        self.untimed += o.untimed;
        for t in [o.first_ns, o.last_ns].into_iter().flatten() {
            self.first_ns = Some(self.first_ns.map_or(t, |f| f.min(t)));
            self.last_ns = Some(self.last_ns.map_or(t, |l| l.max(t)));
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.widen(next_width(self.width));
        }
    }

    /// Current bucket width in seconds.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.len()
            + usize::from(self.cur_start != i64::MIN && !self.buckets.contains_key(&self.cur_start))
    }

    /// Whether no timed flow was counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Category names, in first-seen order.
    pub fn categories(&self) -> &[Box<str>] {
        &self.categories
    }

    /// Flows per category (same order as [`Timeline::categories`]), timed or not.
    pub fn category_totals(&self) -> &[u64] {
        &self.category_totals[..self.categories.len()]
    }

    /// Buckets at `width` seconds (at least the held width), from the first to the last bucket with flows,
    /// empty buckets included: (bucket start in Unix seconds, counts per category).
    pub fn series(&self, width: i64) -> Vec<(i64, Vec<u64>)> {
        let width = width.max(self.width);
        let ncat = self.categories.len();
        let mut merged: std::collections::BTreeMap<i64, Vec<u64>> = Default::default();
        let pending = (self.cur_start != i64::MIN).then_some((&self.cur_start, &self.cur));
        for (start, counts) in self.buckets.iter().chain(pending) {
            let s = start.div_euclid(width) * width;
            let e = merged.entry(s).or_insert_with(|| vec![0; ncat]);
            for (a, c) in e.iter_mut().zip(counts.iter()) {
                *a += c;
            }
        }
        let (Some((&first, _)), Some((&last, _))) =
            (merged.first_key_value(), merged.last_key_value())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut s = first;
        while s <= last {
            out.push((s, merged.remove(&s).unwrap_or_else(|| vec![0; ncat])));
            s = s.saturating_add(width);
            if out.len() > 4 * MAX_BUCKETS {
                break;
            }
        }
        out
    }
}

fn next_width(w: i64) -> i64 {
    BUCKET_WIDTHS
        .iter()
        .copied()
        .find(|&x| x > w)
        .unwrap_or_else(|| w.saturating_mul(2))
}

/// Parses an RFC 3339 timestamp (`2025-11-25T12:00:01.000007919Z`, `...+02:00`) to Unix nanoseconds.
pub fn parse_rfc3339_ns(s: &str) -> Option<i128> {
    parse_rfc3339(s).map(|(_, ns)| ns)
}

/// Parses an RFC 3339 timestamp to (Unix seconds, Unix nanoseconds).
pub fn parse_rfc3339(s: &str) -> Option<(i64, i128)> {
    MinuteCache::default().parse(s)
}

/// [`parse_rfc3339`] for timestamps that mostly share their minute with the one before (a flow log): the
/// date and time up to the minute (`2025-11-25T12:00`) are converted once per minute, not once per flow.
#[derive(Debug, Clone, Default)]
pub struct MinuteCache {
    /// The last minute converted (its first 16 bytes, as one number to compare at once) and its Unix seconds;
    /// `None` before the first.
    last: Option<(u128, i64)>,
}

impl MinuteCache {
    /// The same result as [`parse_rfc3339`].
    pub fn parse(&mut self, s: &str) -> Option<(i64, i128)> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let mut v = 0i64;
            for &c in b.get(r)? {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + i64::from(c - b'0');
            }
            Some(v)
        };
        if b.len() < 20 || b[16] != b':' {
            return None;
        }
        let minute = u128::from_le_bytes(b[..16].try_into().ok()?);
        let minute_secs = match self.last {
            Some((m, secs)) if m == minute => secs,
            _ => {
                let secs = minute_seconds(b, num)?;
                self.last = Some((minute, secs));
                secs
            }
        };
        let (s1, s2) = (b[17].wrapping_sub(b'0'), b[18].wrapping_sub(b'0'));
        if s1 > 9 || s2 > 9 {
            return None;
        }
        let se = i64::from(s1 * 10 + s2);
        if se > 60 {
            return None;
        }
        // The exporter's form, nine digits and `Z`, is checked and converted at once.
        let exporter_form = match &b[19..] {
            [b'.', digits @ .., b'Z'] => <[u8; 9]>::try_from(digits).ok().and_then(nine_digits),
            _ => None,
        };
        let (nanos, i) = match exporter_form {
            Some(n) => (n, 29),
            None if b.get(19) == Some(&b'.') => fraction(b, 20)?,
            None => (0, 19),
        };
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            &sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
                if sign == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        let secs = minute_secs + se - offset;
        Some((secs, i128::from(secs) * 1_000_000_000 + i128::from(nanos)))
    }
}

/// Eight ASCII `0`s in one little-endian word.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The bytes of the word `x` that are not ASCII digits, as high nibbles: a byte is a digit when its high
/// nibble is 3 and adding 6 keeps it so. Exact for the lowest non-digit byte (a carry out of it only disturbs
/// the bytes after it), so the result is 0 exactly when all eight bytes are digits.
#[inline(always)]
fn non_digit_bytes(x: u64) -> u64 {
    let high = x & 0xF0F0_F0F0_F0F0_F0F0;
    let plus6 = x.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    (high ^ ASCII_ZEROS) | (plus6 ^ ASCII_ZEROS)
}

/// The fraction of a second whose digits start at `b[start]`, in nanoseconds (digits past the ninth are
/// read and ignored), and the index after its last digit; `None` without a digit. Eight digits at a time
/// (a flow's time has nine, or fewer when Go trimmed trailing zeros), one byte at a time near the end of `b`.
#[inline]
fn fraction(b: &[u8], start: usize) -> Option<(i64, usize)> {
    let (nanos, mut i) = match b.get(start..start + 8) {
        Some(chunk) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let x = u64::from_le_bytes(word);
            // The digits before the first non-digit byte (the bytes after it are not counted).
            let n = (non_digit_bytes(x).trailing_zeros() / 8) as usize;
            if n == 0 {
                return None;
            }
            // The `n` digits, then '0's to eight places: their value in units of 10 ns.
            let kept = if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            };
            let digits = ((x & kept) | (ASCII_ZEROS & !kept)) - ASCII_ZEROS;
            let v = eight_digits(digits) as i64;
            if n < 8 {
                (v * 10, start + n)
            } else {
                match b.get(start + 8) {
                    Some(&c) if c.is_ascii_digit() => (v * 10 + i64::from(c - b'0'), start + 9),
                    _ => (v * 10, start + 8),
                }
            }
        }
        None => {
            let mut nanos = 0i64;
            let mut i = start;
            while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                nanos = nanos * 10 + i64::from(c - b'0');
                i += 1;
            }
            if i == start {
                return None;
            }
            // At most seven digits here (fewer than eight bytes were left).
            for _ in i - start..9 {
                nanos *= 10;
            }
            (nanos, i)
        }
    };
    // Digits past the ninth.
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    Some((nanos, i))
}

/// The value of nine ASCII digits (`None` if any byte is not a digit).
#[inline(always)]
fn nine_digits(b: [u8; 9]) -> Option<i64> {
    let x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let last = b[8].wrapping_sub(b'0');
    if non_digit_bytes(x) != 0 || last > 9 {
        return None;
    }
    Some(eight_digits(x - ASCII_ZEROS) as i64 * 10 + i64::from(last))
}

/// The number eight decimal digit values (0–9, first digit in the lowest byte) spell.
#[inline(always)]
fn eight_digits(d: u64) -> u64 {
    // Pairs, then quadruples, then the eight (each step multiplies the left part up and adds the right).
    let pairs = (d * 10 + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    (quads * 10_000 + (quads >> 32)) & 0xFFFF_FFFF
}

/// Unix seconds of the minute `b[..16]` names (`YYYY-MM-DDTHH:MM`, validated), before any UTC offset.
fn minute_seconds(b: &[u8], num: impl Fn(std::ops::Range<usize>) -> Option<i64>) -> Option<i64> {
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi) = (num(11..13)?, num(14..16)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_minute(secs: i64) -> String {
    let full = format_rfc3339(i128::from(secs) * 1_000_000_000);
    full.get(..16).unwrap_or(&full).replacen('T', " ", 1)
}

/// Formats Unix nanoseconds as RFC 3339 UTC with nanoseconds.
pub fn format_rfc3339(ns: i128) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Everything the report shows about kept flows, aggregated while streaming. See the module docs.
#[derive(Debug, Clone)]
pub struct FlowAggregate {
    /// Kept flows counted.
    pub flows: u64,
    /// Flows per time bucket, stacked by drop reason or verdict.
    pub timeline: Timeline,
    /// Kept flows by verdict.
    pub verdicts: TopCounter,
    /// By source workload (`namespace/workload`, else `namespace/pod`, else the source IP).
    pub source_workloads: TopCounter,
    /// By source namespace.
    pub source_namespaces: TopCounter,
    /// By source pod (`namespace/pod`).
    pub source_pods: TopCounter,
    /// By source label set: the source's identity labels joined by `, ` (`k8s:app=web, k8s:version=v1`;
    /// labels Cilium derives from the namespace or policy machinery left out).
    pub source_labels: TopCounter,
    /// By destination IP.
    pub destination_ips: TopCounter,
    /// By destination CIDR groups (names in name order joined by `, `; only with a CIDR-group table).
    pub destination_groups: TopCounter,
    /// By destination FQDN (`destination_names`; a flow with several names counts once per name).
    pub destination_names: TopCounter,
    /// By protocol and destination port (`TCP/443`, `ICMPv4 type 8`).
    pub ports: TopCounter,
    /// By node.
    pub nodes: TopCounter,
    /// By denying policy list: `E` or `I` (egress/ingress) followed by the raw `*_denied_by` JSON.
    pub policies: TopCounter,
    /// By (source workload, destination) pair, keyed by [`pair_key`]. The destination is the in-cluster
    /// `namespace/workload`, else the CIDR groups, else the first FQDN, else the IP (the matrix columns, whose
    /// totals are summed from these pairs).
    pub matrix: TopCounter,
    k_groups: String,
    /// Flow times mostly share their minute with the flow before.
    minutes: MinuteCache,
}

/// The keys a flow gives without building anything (borrowed from the flow).
struct FlowKeys<'f> {
    src_ip: Option<&'f str>,
    dst_ip: Option<&'f str>,
    ns: Option<&'f str>,
    verdict: &'f str,
    node: &'f str,
}

impl<'f> FlowKeys<'f> {
    fn of(flow: &'f Flow<'_>, envelope_node: Option<&'f str>) -> Self {
        let (src_ip, dst_ip) = addresses(flow);
        FlowKeys {
            src_ip,
            dst_ip,
            ns: nonempty(flow.source.as_ref().and_then(|e| e.namespace.as_deref())),
            verdict: flow
                .verdict
                .as_ref()
                .and_then(|v| VERDICT.name(v))
                .unwrap_or("(no verdict)"),
            node: nonempty(flow.node_name.as_deref())
                .or(nonempty(envelope_node))
                .unwrap_or("(no node)"),
        }
    }

    fn namespace(&self) -> &'f str {
        self.ns.unwrap_or("(no namespace)")
    }

    fn destination_ip(&self) -> &'f str {
        self.dst_ip.unwrap_or(NO_DESTINATION_IP)
    }
}

/// A `*_denied_by` list worth counting: present, not `null`, not empty.
fn denied_by(raw: Option<hubble_flow::json::RawJson<'_>>) -> Option<&str> {
    raw.map(|r| r.get()).filter(|t| *t != "null" && *t != "[]")
}

/// A key built in a scratch buffer, or `placeholder` when nothing was built (no labels, no group, no pod).
fn built_or<'a>(built: &'a str, placeholder: &'static str) -> &'a str {
    if built.is_empty() {
        placeholder
    } else {
        built
    }
}

/// How a key's text is written when a counter inserts it (the key is identified by its [`KeyHash`]).
#[derive(Debug, Clone, Copy)]
enum KeyText<'k, 'f> {
    Str(&'k str),
    Slash(Slash<'k>),
    Labels(LabelSet<'k, 'f>),
    Port(PortKey),
    /// A direction (`E`, `I`) and a raw `*_denied_by` list.
    Policy(&'static str, &'k str),
    /// A matrix cell, written as [`pair_key`].
    Pair(Slash<'k>, Slash<'k>),
}

impl KeyText<'_, '_> {
    fn write(self, out: &mut String) {
        match self {
            KeyText::Str(s) => out.push_str(s),
            KeyText::Slash(k) => k.write(out),
            KeyText::Labels(l) => l.write(out),
            KeyText::Port(p) => p.write(out),
            KeyText::Policy(direction, text) => join3(out, direction, "", text),
            KeyText::Pair(source, column) => {
                write_pair_key(out, |o| source.write(o), |o| column.write(o))
            }
        }
    }
}

/// A key of one or two parts, shown as `a`, `a/b` (`namespace/workload`) or `a b` (`world 1.2.3.4`), hashed
/// from its parts.
#[derive(Debug, Clone, Copy)]
enum Slash<'k> {
    One(&'k str),
    Two(&'k str, &'k str),
    Spaced(&'k str, &'k str),
}

impl Slash<'_> {
    #[inline(always)]
    fn hash(self, keys: &KeyHasher) -> KeyHash {
        match self {
            Slash::One(a) => KeyHash::of(keys, a),
            Slash::Two(a, b) => KeyHash::of_parts(keys, |h| {
                h.write(a.as_bytes());
                h.write(b.as_bytes());
            }),
            Slash::Spaced(a, b) => KeyHash::of_parts(keys, |h| {
                h.write(a.as_bytes());
                h.write(b.as_bytes());
                h.write_u8(b' ');
            }),
        }
    }

    fn write(self, out: &mut String) {
        match self {
            Slash::One(a) => out.push_str(a),
            Slash::Two(a, b) => join3(out, a, "/", b),
            Slash::Spaced(a, b) => join3(out, a, " ", b),
        }
    }
}

/// A source's label set: its identity labels but those Cilium derives ([`is_derived_label`]), shown joined by
/// `, `, or [`NO_LABELS`] when none is left.
#[derive(Debug, Clone, Copy)]
struct LabelSet<'k, 'f>(&'k hubble_flow::flow::StrList<'f>);

impl<'k> LabelSet<'k, '_> {
    fn shown(self) -> impl Iterator<Item = &'k str> {
        self.0.iter().filter(|l| !is_derived_label(l))
    }

    #[inline(always)]
    fn hash(self, keys: &KeyHasher) -> KeyHash {
        let mut any = false;
        let h = KeyHash::of_parts(keys, |h| {
            for l in self.shown() {
                h.write(l.as_bytes());
                any = true;
            }
        });
        if any {
            h
        } else {
            KeyHash::of(keys, NO_LABELS)
        }
    }

    fn write(self, out: &mut String) {
        for l in self.shown() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(l);
        }
        if out.is_empty() {
            out.push_str(NO_LABELS);
        }
    }
}

/// A flow's protocol and destination port (`TCP/443`), ICMP type (`ICMPv4 type 8`), or `(no L4)`.
#[derive(Debug, Clone, Copy)]
enum PortKey {
    Port(&'static str, u32),
    Icmp(&'static str, u32),
    Protocol(&'static str),
    NoL4,
}

impl PortKey {
    #[inline(always)]
    fn of(flow: &Flow<'_>) -> PortKey {
        let Some((l4, p)) = flow
            .l4
            .as_ref()
            .and_then(|l4| l4.protocol().map(|p| (l4, p)))
        else {
            return PortKey::NoL4;
        };
        if let Some((_, dport)) = l4.ports() {
            PortKey::Port(p.name(), dport)
        } else if let Some(i) = l4.icmpv4.as_ref().or(l4.icmpv6.as_ref()) {
            PortKey::Icmp(p.name(), i.icmp_type)
        } else {
            PortKey::Protocol(p.name())
        }
    }

    #[inline(always)]
    fn hash(self, keys: &KeyHasher) -> KeyHash {
        match self {
            PortKey::Port(name, n) | PortKey::Icmp(name, n) => KeyHash::of_parts(keys, |h| {
                h.write(name.as_bytes());
                h.write_u8(matches!(self, PortKey::Icmp(..)) as u8);
                h.write_u32(n);
            }),
            PortKey::Protocol(name) => KeyHash::of(keys, name),
            PortKey::NoL4 => KeyHash::of(keys, NO_L4),
        }
    }

    fn write(self, out: &mut String) {
        match self {
            PortKey::Port(name, n) => {
                join3(out, name, "/", itoa::Buffer::new().format(n));
            }
            PortKey::Icmp(name, n) => {
                join3(out, name, " type ", itoa::Buffer::new().format(n));
            }
            PortKey::Protocol(name) => out.push_str(name),
            PortKey::NoL4 => out.push_str(NO_L4),
        }
    }
}

/// A denying-policy key: the direction (`E`, `I`) and the raw `*_denied_by` JSON, shown one after the other.
#[inline(always)]
fn policy_hash(keys: &KeyHasher, direction: u8, text: &str) -> KeyHash {
    KeyHash::of_parts(keys, |h| {
        h.write_u8(direction);
        h.write(text.as_bytes());
    })
}

const NO_L4: &str = "(no L4)";
const NO_DESTINATION_IP: &str = "(no destination IP)";
const NO_LABELS: &str = "(no labels)";
const NO_GROUP: &str = "(no group)";
const NO_POD: &str = "(no pod)";

/// A flow's non-empty source and destination addresses.
fn addresses<'f>(flow: &'f Flow<'_>) -> (Option<&'f str>, Option<&'f str>) {
    match &flow.ip {
        Some(ip) => (
            nonempty(ip.source.as_deref()),
            nonempty(ip.destination.as_deref()),
        ),
        None => (None, None),
    }
}

impl Default for FlowAggregate {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

/// `(a, b)` as one key: `len(a):a` followed by `b`, so no value of `a` can fake the split.
pub fn pair_key(out: &mut String, a: &str, b: &str) {
    out.clear();
    write_pair_key(out, |o| o.push_str(a), |o| o.push_str(b));
}

/// Appends the [`pair_key`] of the texts `a` and `b` write, without a second buffer: the length of `a`'s text
/// goes in front once it is written.
fn write_pair_key(out: &mut String, a: impl FnOnce(&mut String), b: impl FnOnce(&mut String)) {
    let start = out.len();
    a(out);
    let len = out.len() - start;
    b(out);
    out.insert(start, ':');
    out.insert_str(start, itoa::Buffer::new().format(len));
}

/// Splits a [`pair_key`] (`None` if it is not one, e.g. cut short by [`MAX_KEY_BYTES`]).
pub fn split_pair_key(k: &str) -> Option<(&str, &str)> {
    let (len, rest) = k.split_once(':')?;
    let len: usize = len.parse().ok()?;
    if !rest.is_char_boundary(len.min(rest.len())) || len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

#[inline(always)]
fn join3(out: &mut String, a: &str, sep: &str, b: &str) {
    out.push_str(a);
    out.push_str(sep);
    out.push_str(b);
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl FlowAggregate {
    /// An aggregate whose counters keep `capacity` keys (the matrix keeps four times as many).
    pub fn with_capacity(capacity: usize) -> Self {
        let c = || TopCounter::new(capacity);
        FlowAggregate {
            flows: 0,
            timeline: Timeline::default(),
            verdicts: TopCounter::new(64),
            source_workloads: c(),
            source_namespaces: c(),
            source_pods: c(),
            source_labels: TopCounter::with_key_limit(capacity, 2 * MAX_KEY_BYTES),
            destination_ips: c(),
            destination_groups: c(),
            destination_names: c(),
            ports: c(),
            nodes: c(),
            policies: TopCounter::with_key_limit(capacity, MAX_POLICY_KEY_BYTES),
            matrix: TopCounter::new(
                capacity
                    .saturating_mul(4)
                    .min(MATRIX_CAPACITY.max(capacity)),
            ),
            k_groups: String::with_capacity(256),
            minutes: MinuteCache::default(),
        }
    }

    /// Counts one kept flow. `envelope_node` is the exporter envelope's `node_name`; `tags` what the enrich
    /// stage found for the flow's addresses (destination groups are counted only when a table was consulted).
    ///
    /// Every key is hashed first from its parts, borrowed from the flow (see [`KeyHash`]; only the rare
    /// fallback keys are built), which also starts fetching its table slot in each counter (twelve counters,
    /// three of which see a new key on most flows); then all are counted, and a key's text is written only
    /// when a counter inserts it.
    pub fn add_flow(
        &mut self,
        flow: &Flow<'_>,
        envelope_node: Option<&str>,
        tags: &Enrichment<'_>,
    ) {
        let keys = FlowKeys::of(flow, envelope_node);
        let kh = key_hasher();

        // Source: workload, pod, label set.
        let src = flow.source.as_ref();
        let pod = nonempty(src.and_then(|e| e.pod_name.as_deref()));
        let workload = src
            .and_then(|e| e.workloads.first())
            .and_then(|w| nonempty(w.name));
        // Destination: CIDR groups (their names joined once, for the groups key and the matrix column).
        self.k_groups.clear();
        let groups = tags
            .destination_looked_up()
            .then(|| tags.destination_groups());
        if let Some(Some(m)) = groups {
            // By name: one key per set of groups (the specificity order differs between addresses).
            m.push_names_by_name(", ", &mut self.k_groups);
        }
        let dst = flow.destination.as_ref();
        let dst_ns = nonempty(dst.and_then(|e| e.namespace.as_deref()));
        let dst_pod = nonempty(dst.and_then(|e| e.pod_name.as_deref()));
        let dst_workload = dst
            .and_then(|e| e.workloads.first())
            .and_then(|w| nonempty(w.name));
        let dst_name = flow.destination_names.first().filter(|n| !n.is_empty());
        let in_cluster = dst_ns.zip(dst_workload.or(dst_pod));

        let source = match (keys.ns, workload.or(pod)) {
            (Some(ns), Some(w)) => Slash::Two(ns, w),
            (None, Some(w)) => Slash::One(w),
            (_, None) => endpoint_fallback(src, keys.src_ip),
        };
        let source_pod = match (keys.ns, pod) {
            (Some(ns), Some(pod)) => Slash::Two(ns, pod),
            _ => Slash::One(NO_POD),
        };
        let column = match in_cluster {
            Some((n, p)) => Slash::Two(n, p),
            None if !self.k_groups.is_empty() => Slash::One(&self.k_groups),
            None => dst_name.map_or_else(|| endpoint_fallback(dst, keys.dst_ip), Slash::One),
        };
        let labels = src.map(|e| LabelSet(&e.labels));
        let port = PortKey::of(flow);
        let policy = denied_by(flow.egress_denied_by);

        // The namespace is the first part of the source and pod keys: hashed once, its hasher state forked.
        let ns_state = keys.ns.map(|ns| {
            let mut h = kh.build_hasher();
            h.write(ns.as_bytes());
            h
        });
        let after_ns = |key: Slash<'_>| match (&ns_state, key) {
            (Some(state), Slash::Two(_, b)) => {
                let mut h = state.clone();
                h.write(b.as_bytes());
                KeyHash(h.finish())
            }
            _ => key.hash(kh),
        };
        let source_h = after_ns(source);
        debug_assert_eq!(source_h, source.hash(kh));
        let pod_key_h = after_ns(source_pod);
        debug_assert_eq!(pod_key_h, source_pod.hash(kh));
        let namespace_key_h = match &ns_state {
            Some(state) => KeyHash(state.finish()),
            None => KeyHash::of(kh, keys.namespace()),
        };
        debug_assert_eq!(namespace_key_h, KeyHash::of(kh, keys.namespace()));
        let column_h = column.hash(kh);
        let dst_ip_h = self
            .destination_ips
            .prefetch(KeyHash::of(kh, keys.destination_ip()));
        let pod_h = self.source_pods.prefetch(pod_key_h);
        let pair_h = self.matrix.prefetch(KeyHash::of_parts(kh, |h| {
            h.write_u64(source_h.0);
            h.write_u64(column_h.0);
        }));
        let workload_h = self.source_workloads.prefetch(source_h);
        let verdict_h = self.verdicts.prefetch(KeyHash::of(kh, keys.verdict));
        let namespace_h = self.source_namespaces.prefetch(namespace_key_h);
        let labels_h = labels.map(|l| self.source_labels.prefetch(l.hash(kh)));
        let groups_text = built_or(&self.k_groups, NO_GROUP);
        let groups_h = groups.is_some().then(|| {
            self.destination_groups
                .prefetch(KeyHash::of(kh, groups_text))
        });
        let port_h = self.ports.prefetch(port.hash(kh));
        let node_h = self.nodes.prefetch(KeyHash::of(kh, keys.node));
        let policy_h = policy.map(|text| self.policies.prefetch(policy_hash(kh, b'E', text)));

        self.flows += 1;

        // Timeline.
        let reason = flow.drop_reason_name();
        let time = flow.time.as_deref().and_then(|t| self.minutes.parse(t));
        self.timeline
            .add_at(time, reason.unwrap_or(keys.verdict), 1);

        self.destination_ips
            .count(dst_ip_h, 1, KeyText::Str(keys.destination_ip()));
        self.source_pods.count(pod_h, 1, KeyText::Slash(source_pod));
        self.matrix.count(pair_h, 1, KeyText::Pair(source, column));
        self.source_workloads
            .count(workload_h, 1, KeyText::Slash(source));
        self.verdicts
            .count(verdict_h, 1, KeyText::Str(keys.verdict));
        self.source_namespaces
            .count(namespace_h, 1, KeyText::Str(keys.namespace()));
        if let (Some(h), Some(l)) = (labels_h, labels) {
            self.source_labels.count(h, 1, KeyText::Labels(l));
        }
        if let Some(h) = groups_h {
            self.destination_groups
                .count(h, 1, KeyText::Str(groups_text));
        }
        for n in &flow.destination_names {
            self.destination_names.bump(n);
        }
        self.ports.count(port_h, 1, KeyText::Port(port));
        self.nodes.count(node_h, 1, KeyText::Str(keys.node));
        // Denying policies: the raw JSON is the key, parsed once per distinct key when rendering. A flow denied
        // both ways is counted under each.
        if let (Some(h), Some(text)) = (policy_h, policy) {
            self.policies.count(h, 1, KeyText::Policy("E", text));
        }
        if let Some(text) = denied_by(flow.ingress_denied_by) {
            self.policies
                .count(policy_hash(kh, b'I', text), 1, KeyText::Policy("I", text));
        }
    }

    /// Adds another aggregate (a worker's share).
    pub fn merge(&mut self, o: &FlowAggregate) {
        self.flows += o.flows;
        self.timeline.merge(&o.timeline);
        for (a, b) in self.counters_mut().into_iter().zip(o.counters()) {
            a.merge(b);
        }
    }

    /// Every counter (for checks over all of them, e.g. the `report_flows` fuzz target's).
    pub fn counters(&self) -> [&TopCounter; 12] {
        [
            &self.verdicts,
            &self.source_labels,
            &self.source_workloads,
            &self.source_namespaces,
            &self.source_pods,
            &self.destination_ips,
            &self.destination_groups,
            &self.destination_names,
            &self.ports,
            &self.nodes,
            &self.policies,
            &self.matrix,
        ]
    }

    fn counters_mut(&mut self) -> [&mut TopCounter; 12] {
        [
            &mut self.verdicts,
            &mut self.source_labels,
            &mut self.source_workloads,
            &mut self.source_namespaces,
            &mut self.source_pods,
            &mut self.destination_ips,
            &mut self.destination_groups,
            &mut self.destination_names,
            &mut self.ports,
            &mut self.nodes,
            &mut self.policies,
            &mut self.matrix,
        ]
    }

    /// The most keys any counter holds (for the boundedness test).
    pub fn max_keys_held(&self) -> usize {
        self.counters().iter().map(|c| c.len()).max().unwrap_or(0)
    }
}

/// Labels Cilium derives from the namespace or the policy machinery (same for every pod of a namespace).
#[inline]
fn is_derived_label(l: &str) -> bool {
    // Most labels differ from all three at the fifth byte: one comparison instead of three.
    match l.as_bytes().get(4) {
        Some(b'i') => {
            l.starts_with("k8s:io.cilium.k8s.") || l.starts_with("k8s:io.kubernetes.pod.namespace=")
        }
        Some(b'p') => l.starts_with("k8s:pod-template-hash="),
        _ => false,
    }
}

/// A source or destination without namespace/pod: its `reserved:` identity label and IP (`world 1.2.3.4`),
/// or the IP alone.
fn endpoint_fallback<'k>(ep: Option<&'k Endpoint<'_>>, ip: Option<&'k str>) -> Slash<'k> {
    let reserved = ep.and_then(|e| {
        e.labels
            .iter()
            .find_map(|l| l.strip_prefix("reserved:"))
            .filter(|l| !l.is_empty())
    });
    match (reserved, ip) {
        (Some(r), Some(ip)) => Slash::Spaced(r, ip),
        (Some(r), None) => Slash::One(r),
        (None, Some(ip)) => Slash::One(ip),
        (None, None) => Slash::One("(unknown source)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn what_counting_touches_is_in_the_first_cache_line() {
        use std::mem::offset_of;
        assert_eq!(std::mem::align_of::<TopCounter>(), 64);
        for end in [
            offset_of!(TopCounter, slots) + std::mem::size_of::<Box<[Slot]>>(),
            offset_of!(TopCounter, door) + std::mem::size_of::<Doorkeeper>(),
            offset_of!(TopCounter, total) + 8,
            offset_of!(TopCounter, other) + 8,
        ] {
            assert!(end <= 64, "a hot field ends at byte {end}");
        }
    }

    #[test]
    fn keys_hashed_from_parts_are_written_as_their_text() {
        let mut out = String::new();
        let mut text = |t: KeyText<'_, '_>| {
            out.clear();
            t.write(&mut out);
            out.clone()
        };
        let (pod, ip) = (Slash::Two("ns1", "web"), Slash::One("203.0.113.9"));
        assert_eq!(text(KeyText::Slash(pod)), "ns1/web");
        assert_eq!(
            text(KeyText::Slash(Slash::Spaced("world", "203.0.113.9"))),
            "world 203.0.113.9"
        );
        let mut pair = String::new();
        pair_key(&mut pair, "ns1/web", "203.0.113.9");
        assert_eq!(text(KeyText::Pair(pod, ip)), pair);
        assert_eq!(split_pair_key(&pair), Some(("ns1/web", "203.0.113.9")));
        assert_eq!(text(KeyText::Port(PortKey::Port("TCP", 443))), "TCP/443");
        assert_eq!(
            text(KeyText::Port(PortKey::Icmp("ICMPv4", 8))),
            "ICMPv4 type 8"
        );
        assert_eq!(text(KeyText::Policy("E", "[]")), "E[]");
        let labels: hubble_flow::flow::StrList<'_> = vec![
            "k8s:app=web".into(),
            "k8s:io.kubernetes.pod.namespace=ns1".into(),
            "k8s:tier=front".into(),
        ]
        .into();
        assert_eq!(
            text(KeyText::Labels(LabelSet(&labels))),
            "k8s:app=web, k8s:tier=front"
        );
        let derived_only: hubble_flow::flow::StrList<'_> =
            vec!["k8s:io.kubernetes.pod.namespace=ns1".into()].into();
        assert_eq!(text(KeyText::Labels(LabelSet(&derived_only))), NO_LABELS);
    }

    #[test]
    fn a_key_of_parts_is_one_key_whatever_else_differs() {
        let k = key_hasher();
        // The same parts hash alike; a one-part key hashes as its text, so `add` and `merge` agree with it.
        assert_eq!(Slash::Two("a", "b").hash(k), Slash::Two("a", "b").hash(k));
        assert_eq!(Slash::One("a/b").hash(k), KeyHash::of(k, "a/b"));
        // Parts are not run together: ("ab", "c") is not ("a", "bc"), nor one part "abc".
        assert_ne!(Slash::Two("ab", "c").hash(k), Slash::Two("a", "bc").hash(k));
        assert_ne!(Slash::Two("ab", "c").hash(k), KeyHash::of(k, "abc"));
        assert_ne!(
            Slash::Spaced("a", "b").hash(k),
            Slash::Two("a", "b").hash(k)
        );
        let no_labels: hubble_flow::flow::StrList<'_> =
            vec!["k8s:pod-template-hash=1".into()].into();
        assert_eq!(LabelSet(&no_labels).hash(k), KeyHash::of(k, NO_LABELS));
        assert_ne!(
            PortKey::Port("ICMPv4", 8).hash(k),
            PortKey::Icmp("ICMPv4", 8).hash(k)
        );
        assert_ne!(policy_hash(k, b'E', "[]"), policy_hash(k, b'I', "[]"));
    }

    #[test]
    fn four_slots_fill_a_cache_line() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
        assert_eq!(64 % std::mem::align_of::<Slot>(), 0);
    }

    #[test]
    fn key_hashers_are_seeded_from_the_os() {
        // Keys are identified by their hash: the seed must not be guessable (foldhash's default seeds come
        // from addresses). Two hashers drawn back to back hash the same key differently; the process keeps one.
        let (a, b) = (secret_hasher(), secret_hasher());
        assert_ne!(a.hash_one("10.0.0.1"), b.hash_one("10.0.0.1"));
        assert!(std::ptr::eq(key_hasher(), key_hasher()));
    }

    #[test]
    fn limits_keep_the_arena_addressable_by_u32() {
        let c = TopCounter::with_key_limit(usize::MAX, usize::MAX);
        assert_eq!(c.capacity(), MAX_CAPACITY);
        assert_eq!(c.max_key_bytes, MAX_POLICY_KEY_BYTES);
        // Between prunings the arena holds at most 2 × capacity + 1 keys of at most the limit.
        assert!((2 * MAX_CAPACITY + 1) * MAX_POLICY_KEY_BYTES < u32::MAX as usize);
    }

    #[test]
    fn counts_exactly_below_capacity() {
        let mut c = TopCounter::new(4);
        for (k, n) in [
            ("a", 5),
            ("b", 3),
            ("c", 1),
            ("d", 7),
            ("e", 2),
            ("f", 2),
            ("g", 1),
            ("h", 9),
        ] {
            c.add(k, n);
        }
        assert_eq!(c.total(), 30);
        assert_eq!(c.max_error(), 0);
        assert_eq!(c.other(), 0);
        assert_eq!(c.top(3), vec![("h", 9), ("d", 7), ("a", 5)]);
        assert_eq!(c.get("e"), 2);
    }

    #[test]
    fn top_n_with_other_bucket_beyond_capacity() {
        let mut c = TopCounter::new(8);
        // Two heavy keys among 1,000 singletons: 1,000 + 500 + 334 values.
        for i in 0..1000u32 {
            c.bump(&format!("k{i}"));
            if i % 2 == 0 {
                c.bump("heavy-a");
            }
            if i % 3 == 0 {
                c.bump("heavy-b");
            }
        }
        let n = 1000 + 500 + 334;
        assert_eq!(c.total(), n);
        let held: u64 = c.top(usize::MAX).iter().map(|&(_, n)| n).sum();
        assert_eq!(
            held + c.other(),
            c.total(),
            "counts and other add up exactly"
        );
        assert!(c.other() > 0);
        // Keys above total / (capacity + 1) are kept, and lead.
        let top = c.top(2);
        assert_eq!(top[0].0, "heavy-a");
        assert_eq!(top[1].0, "heavy-b");
        assert!(c.max_error() > 0);
        assert!(c.max_error() <= n / 9, "Misra–Gries bound");
        // Never above the truth, at most max_error below.
        assert!(
            top[0].1 <= 500 && top[0].1 + c.max_error() >= 500,
            "{top:?} {}",
            c.max_error()
        );
        assert!(top[1].1 <= 334 && top[1].1 + c.max_error() >= 334);
        assert!(c.len() <= 16);
    }

    #[test]
    fn stays_bounded_with_many_distinct_keys() {
        let mut c = TopCounter::new(DEFAULT_CAPACITY);
        let mut key = String::new();
        for i in 0..2_000_000u64 {
            key.clear();
            let _ = write!(key, "10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            c.bump(&key);
            assert!(c.len() <= 2 * DEFAULT_CAPACITY);
        }
        assert_eq!(c.total(), 2_000_000);
        assert!(c.len() <= 2 * DEFAULT_CAPACITY);
        // The arena holds the kept keys and those added since the last pruning: at most 2 × capacity + 1.
        assert!(c.arena.len() <= (2 * DEFAULT_CAPACITY + 1) * "10.255.255.255".len());
        assert!(
            c.slot_capacity() <= 8 * DEFAULT_CAPACITY,
            "{}",
            c.slot_capacity()
        );
        // Long attacker-chosen keys are cut, so the bytes held are bounded too (seen twice: the counter has
        // pruned, so a first sighting is not held).
        let long = "x".repeat(100_000);
        c.bump(&long);
        c.bump(&long);
        assert!(c.keys().all(|k| k.len() <= MAX_KEY_BYTES));
        assert!(c.keys().any(|k| k.ends_with('…')));
    }

    /// Model test: the counter and an exact map see the same random adds (few or many distinct keys, counts of
    /// 1 or more, capacities small enough that pruning happens), split over two counters that are then merged.
    /// Whatever the table did (growth, pruning, re-insertion), the Misra–Gries guarantees hold against the
    /// exact counts. Key lengths vary from 2 bytes to past [`MAX_KEY_BYTES`] (cut), so the arena holds keys of
    /// every size through its compactions.
    fn check_against_model(capacity: usize, ops: &[(u16, u64, bool)]) {
        let mut a = TopCounter::new(capacity);
        let mut b = TopCounter::new(capacity);
        let mut model: std::collections::HashMap<String, u64> = Default::default();
        for &(k, n, to_b) in ops {
            let key = format!("k{k}{}", "é".repeat(usize::from(k) * 37 % 160));
            if to_b {
                b.add(&key, n);
            } else {
                a.add(&key, n);
            }
            *model.entry(key).or_default() += n;
            assert!(a.len() <= 2 * capacity && b.len() <= 2 * capacity);
        }
        a.merge(&b);
        let total: u64 = model.values().sum();
        assert_eq!(a.total(), total);
        let held: Vec<(&str, u64)> = a.top(usize::MAX);
        assert_eq!(held.len(), a.len());
        assert_eq!(held.iter().map(|&(_, n)| n).sum::<u64>() + a.other(), total);
        let err = a.max_error();
        // Misra–Gries's bound: every unit of error moved at least `capacity + 1` values into `other`.
        assert!(
            err * (capacity as u64 + 1) <= a.other(),
            "max error {err}, other {}",
            a.other()
        );
        for (key, &truth) in &model {
            let shown = a.get(key);
            assert!(
                shown <= truth && shown + err >= truth,
                "{key}: shown {shown}, true {truth}, max error {err}"
            );
            if truth > err {
                assert!(shown > 0, "{key} ({truth} > {err}) must be held");
            }
        }
        // Every held key is found by `get` with the count `top` shows (the probe sequences are intact), and is
        // one of the keys added, as held (cut to the limit): the arena's bytes survived every compaction.
        for ((hash, key), n) in a.live_hashed() {
            assert_eq!(a.get(key), n, "{key}");
            // Every held key passes the doorkeeper, so none loses a value to `other`.
            assert!(a.door.admits(hash.0), "{key} held but filtered out");
            assert!(
                model.keys().any(|m| cut(m, MAX_KEY_BYTES) == key),
                "{key} was never added"
            );
        }
    }

    #[test]
    fn a_set_of_groups_is_one_key_whichever_prefix_is_more_specific() {
        // `ru` is the more specific group for 203.0.113.1, `geo-ru` for 203.0.113.2.
        let set = hubble_cidr::GroupSet::from_prefixes([
            ("geo-ru", &["203.0.113.0/24", "203.0.113.2/32"][..]),
            ("ru", &["203.0.113.0/24", "203.0.113.1/32"][..]),
        ])
        .unwrap();
        let table = hubble_cidr::PrefixTable::build(&set);
        let lines: Vec<String> = [1, 2, 6].iter().map(|&i| flow_line(i)).collect();
        let mut a = FlowAggregate::default();
        for l in &lines {
            let f: Flow = serde_json::from_str(l).unwrap();
            let tags = crate::enrich::enrich(&f, Some(&table)).unwrap();
            a.add_flow(&f, None, &tags);
        }
        assert_eq!(a.destination_groups.top(9), [("geo-ru, ru", 3)]);
    }

    #[test]
    fn derived_labels_are_told_apart_from_the_pods_own() {
        for l in [
            "k8s:io.cilium.k8s.policy.cluster=aks-prod",
            "k8s:io.cilium.k8s.namespace.labels.team=payments",
            "k8s:io.kubernetes.pod.namespace=checkout",
            "k8s:pod-template-hash=4e18bf0af4",
        ] {
            assert!(is_derived_label(l), "{l}");
        }
        for l in [
            "k8s:app=frontend",
            "k8s:io.kubernetes.other=x",
            "k8s:io.cilium.k8sx",
            "k8s:pod-name=x",
            "k8s:",
            "k8s",
            "",
            "reserved:world",
            "cidr:10.0.0.0/8",
        ] {
            assert!(!is_derived_label(l), "{l}");
        }
    }

    #[test]
    fn a_prepared_key_counts_after_the_table_grew_and_was_pruned() {
        let mut c = TopCounter::new(16);
        let key = String::from("late");
        let h = c.prefetch(KeyHash::of(key_hasher(), &key));
        for i in 0..100u32 {
            c.bump(&format!("k{i}"));
        }
        assert!(c.slot_capacity() > INITIAL_SLOTS && c.max_error() > 0);
        c.count(h, 3, KeyText::Str(&key));
        assert_eq!(c.total(), 103);
        assert_eq!(c.get("late"), 3);
        c.add("nothing", 0);
        assert_eq!((c.total(), c.get("nothing")), (103, 0));
    }

    proptest::proptest! {
        #[test]
        fn counter_agrees_with_exact_counts(
            capacity in 1usize..12,
            ops in proptest::collection::vec((0u16..60, 1u64..5, proptest::bool::ANY), 0..600),
        ) {
            check_against_model(capacity, &ops);
        }

        #[test]
        fn counter_agrees_with_exact_counts_on_skewed_keys(
            capacity in 1usize..6,
            ops in proptest::collection::vec(
                (proptest::prop_oneof![4 => 0u16..3, 1 => 0u16..2000], 1u64..3, proptest::bool::ANY),
                0..800,
            ),
        ) {
            check_against_model(capacity, &ops);
        }
    }

    #[test]
    fn merge_adds_counts_and_bounds() {
        let mut a = TopCounter::new(2);
        let mut b = TopCounter::new(2);
        a.add("x", 3);
        a.add("y", 1);
        b.add("x", 2);
        b.add("z", 4);
        a.merge(&b);
        assert_eq!(a.get("x"), 5);
        assert_eq!(a.get("z"), 4);
        assert_eq!(a.total(), 10);
        assert_eq!(a.max_error(), 0);
    }

    proptest::proptest! {
        /// One [`MinuteCache`] fed a flow log's worth of timestamps (runs in the same minute, others not,
        /// some broken by one byte) gives what a fresh parse gives each, and times round-trip through
        /// [`format_rfc3339`].
        #[test]
        fn cached_minutes_parse_like_a_fresh_parse(
            times in proptest::collection::vec(
                (0i64..4_000_000_000, 0u32..1_000_000_000, 0usize..40, 0u8..3), 1..60),
        ) {
            let mut cache = MinuteCache::default();
            let mut minute = 0i64;
            for (secs, nanos, at, kind) in times {
                // Half the time, stay in the previous minute.
                let secs = if kind == 0 { minute + secs % 60 } else { secs };
                minute = secs - secs % 60;
                let ns = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
                let mut text = format_rfc3339(ns).into_bytes();
                if kind == 2 {
                    let i = at % text.len();
                    text[i] = if text[i] == b'9' { b'x' } else { b'9' };
                }
                let text = String::from_utf8(text).unwrap();
                proptest::prop_assert_eq!(cache.parse(&text), parse_rfc3339(&text), "{}", text);
                if kind != 2 {
                    proptest::prop_assert_eq!(cache.parse(&text), Some((secs, ns)));
                }
            }
        }
    }

    proptest::proptest! {
        /// [`nine_digits`] against a byte-by-byte reading, on digit strings with any byte spliced in.
        #[test]
        fn nine_digits_reads_like_one_byte_at_a_time(
            digits in proptest::array::uniform9(b'0'..=b'9'),
            at in 0usize..12,
            byte in proptest::num::u8::ANY,
        ) {
            let mut b = digits;
            if at < 9 {
                b[at] = byte;
            }
            let model = b.iter().try_fold(0i64, |v, &c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')));
            proptest::prop_assert_eq!(nine_digits(b), model);
        }
    }

    /// The fraction parser as it was written first, one byte at a time: the model for [`fraction`].
    fn fraction_bytewise(b: &[u8], start: usize) -> Option<(i64, usize)> {
        let (mut nanos, mut digits, mut i) = (0i64, 0, start);
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
                digits += 1;
            }
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        Some((nanos, i))
    }

    proptest::proptest! {
        /// Digit runs of every length (none, fewer than eight, eight, nine, past nine), each followed by
        /// anything (a zone, a byte just outside the digits, the end), at any distance from the end of input.
        #[test]
        fn fraction_parses_like_the_bytewise_model(
            digits in "[0-9]{0,14}",
            after in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        ) {
            let mut b = b".".to_vec();
            b.extend_from_slice(digits.as_bytes());
            b.extend_from_slice(&after);
            proptest::prop_assert_eq!(fraction(&b, 1), fraction_bytewise(&b, 1), "{:?}", b);
        }
    }

    #[test]
    fn parses_and_formats_times() {
        let t = parse_rfc3339_ns("2025-11-25T12:00:01.000007919Z").unwrap();
        assert_eq!(t, 1_764_072_001_000_007_919);
        assert_eq!(format_rfc3339(t), "2025-11-25T12:00:01.000007919Z");
        assert_eq!(
            parse_rfc3339_ns("2025-11-25T13:00:01.5+01:00").unwrap(),
            1_764_072_001_500_000_000
        );
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2025-11-25",
            "2025-13-25T12:00:01Z",
            "2025-11-25T12:00:01",
            "2025-11-25T12:00:01.Z",
            "2025-11-25T12:00:01Zjunk",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
        }
        assert_eq!(format_minute(1_764_072_001), "2025-11-25 12:00");
    }

    #[test]
    fn timeline_coarsens_and_keeps_totals() {
        let mut t = Timeline::default();
        let base: i128 = 1_764_072_000 * 1_000_000_000;
        let minute: i128 = 60 * 1_000_000_000;
        // Three flows in the first minute, one in the third.
        t.add(Some(base), "POLICY_DENY", 1);
        t.add(Some(base + 1), "POLICY_DENY", 2);
        t.add(Some(base + 2 * minute), "FORWARDED", 1);
        t.add(None, "POLICY_DENY", 1);
        assert_eq!(t.width(), 60);
        let s = t.series(60);
        assert_eq!(s.len(), 3, "empty minute included");
        assert_eq!(s[0].1, vec![3, 0]);
        assert_eq!(s[1].1, vec![0, 0]);
        assert_eq!(s[2].1, vec![0, 1]);
        assert_eq!(t.untimed, 1);
        assert_eq!(t.category_totals(), &[4, 1]);
        // Ten days of one flow per minute: more than MAX_BUCKETS minutes, so buckets widen.
        let mut t = Timeline::default();
        for i in 0..(10 * 1440) {
            t.add(Some(base + i * minute), "POLICY_DENY", 1);
            assert!(
                t.len() <= MAX_BUCKETS + 1,
                "the current bucket is held outside the map"
            );
        }
        assert!(t.width() > 60);
        let total: u64 = t.series(t.width()).iter().map(|(_, c)| c[0]).sum();
        assert_eq!(total, 10 * 1440);
        assert_eq!(t.series(3600).len(), 240);
        // Merging a minute-wide timeline into a wider one widens it.
        let mut m = Timeline::default();
        m.add(Some(base), "AUTH_REQUIRED", 5);
        t.merge(&m);
        assert_eq!(t.category_totals(), &[10 * 1440, 5]);
    }

    #[test]
    fn timeline_categories_are_bounded() {
        let mut t = Timeline::default();
        for i in 0..100 {
            t.add(Some(0), &format!("R{i}"), 1);
        }
        assert_eq!(t.categories().len(), MAX_CATEGORIES);
        assert_eq!(&*t.categories()[MAX_CATEGORIES - 1], OTHER_CATEGORY);
        assert_eq!(t.category_totals().iter().sum::<u64>(), 100);
        assert_eq!(
            t.category_totals()[MAX_CATEGORIES - 1],
            100 - (MAX_CATEGORIES as u64 - 1)
        );
    }

    #[test]
    fn pair_keys_cannot_be_faked() {
        let mut k = String::new();
        pair_key(&mut k, "a:1", "b");
        assert_eq!(split_pair_key(&k), Some(("a:1", "b")));
        pair_key(&mut k, "", "ü");
        assert_eq!(split_pair_key(&k), Some(("", "ü")));
        assert_eq!(split_pair_key("9:abc"), None);
        assert_eq!(split_pair_key("x:abc"), None);
    }

    fn flow_line(i: u32) -> String {
        format!(
            r#"{{"time":"2025-11-25T12:0{m}:00Z","verdict":"DROPPED","drop_reason_desc":"POLICY_DENY","IP":{{"source":"10.0.0.{i}","destination":"203.0.113.{d}"}},"l4":{{"TCP":{{"source_port":1,"destination_port":443}}}},"source":{{"namespace":"ns{n}","pod_name":"p{i}","workloads":[{{"name":"w{n}","kind":"Deployment"}}]}},"destination":{{"labels":["reserved:world"]}},"destination_names":["api.example.com"],"node_name":"c/n1","traffic_direction":"EGRESS","egress_denied_by":[{{"name":"deny","kind":"CiliumNetworkPolicy"}}]}}"#,
            m = i % 3,
            n = i % 2,
            d = i % 5
        )
    }

    #[test]
    fn aggregates_flows_exactly() {
        let mut a = FlowAggregate::default();
        let mut b = FlowAggregate::default();
        for i in 0..20u32 {
            let line = flow_line(i);
            let f: Flow = serde_json::from_str(&line).unwrap();
            if i < 7 { &mut a } else { &mut b }.add_flow(&f, None, &Enrichment::default());
        }
        a.merge(&b);
        assert_eq!(a.flows, 20);
        assert_eq!(
            a.source_workloads.top(5),
            vec![("ns0/w0", 10), ("ns1/w1", 10)]
        );
        assert_eq!(a.source_namespaces.get("ns0"), 10);
        assert_eq!(a.source_pods.get("ns1/p3"), 1);
        assert_eq!(a.source_labels.top(5), vec![("(no labels)", 20)]);
        assert_eq!(a.destination_ips.get("203.0.113.0"), 4);
        assert_eq!(a.destination_names.get("api.example.com"), 20);
        assert_eq!(a.ports.top(5), vec![("TCP/443", 20)]);
        assert_eq!(a.nodes.top(5), vec![("c/n1", 20)]);
        assert_eq!(a.verdicts.top(5), vec![("DROPPED", 20)]);
        assert_eq!(
            a.policies.top(5),
            vec![(r#"E[{"name":"deny","kind":"CiliumNetworkPolicy"}]"#, 20)]
        );
        let mut k = String::new();
        pair_key(&mut k, "ns0/w0", "api.example.com");
        assert_eq!(a.matrix.get(&k), 10);
        assert_eq!(a.timeline.category_totals(), &[20]);
        let s = a.timeline.series(60);
        assert_eq!(
            s.iter().map(|(_, c)| c[0]).collect::<Vec<_>>(),
            vec![7, 7, 6]
        );
    }

    #[test]
    fn aggregate_memory_stays_bounded_for_many_distinct_flows() {
        let mut a = FlowAggregate::with_capacity(64);
        for i in 0..20_000u32 {
            let line = format!(
                r#"{{"time":"2025-11-{d:02}T{h:02}:00:00Z","IP":{{"source":"10.{a}.{b}.1","destination":"198.51.{a}.{b}"}},"source":{{"namespace":"ns{i}","pod_name":"p{i}"}},"destination_names":["h{i}.example"],"node_name":"n{i}"}}"#,
                d = 1 + i % 28,
                h = i % 24,
                a = i / 256 % 256,
                b = i % 256
            );
            let f: Flow = serde_json::from_str(&line).unwrap();
            a.add_flow(&f, None, &Enrichment::default());
            assert!(a.max_keys_held() <= 2 * MATRIX_CAPACITY.min(4 * 64));
        }
        assert_eq!(a.flows, 20_000);
        assert!(a.source_pods.len() <= 128);
        assert!(a.destination_ips.len() <= 128);
        assert_eq!(a.source_pods.total(), 20_000);
    }
}
