//! Peak RSS of loading N prefixes from a file and building the table, as `cidr-lookup` would.
//! `rss_load gen DIR N` writes `DIR/big.netset` and `DIR/ccg.yaml`; `rss_load load PATH` loads one and prints
//! the time and VmHWM (run each load in a fresh process so the peak is the load's own).

use std::time::Instant;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hubble_cidr::{load_groups, PrefixTable, Source};

/// Counts live heap bytes and their peak (to tell the load's peak from the build's).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let live = LIVE.fetch_add(new, Ordering::Relaxed) + new;
        PEAK.fetch_max(live, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mib(b: usize) -> f64 {
    b as f64 / 1048576.0
}

#[path = "../benches/support/gen.rs"]
mod gen;

fn vm(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let dir = std::path::PathBuf::from(&args[2]);
            let n: usize = args[3].parse().unwrap_or(1_000_000);
            let list: String = gen::prefixes(n, 1, 3)
                .iter()
                .map(|(p, _)| format!("{p}\n"))
                .collect();
            std::fs::write(dir.join("big.netset"), list).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(dir.join("ccg.yaml"), gen::ccg_yaml(n, 250, 3))
                .unwrap_or_else(|e| panic!("{e}"));
            let geo = gen::ccg_yaml_of(gen::geo_prefixes(n, 250, 3), 250);
            std::fs::write(dir.join("ccg-geo.yaml"), geo).unwrap_or_else(|e| panic!("{e}"));
        }
        Some("load") => {
            let t = Instant::now();
            let loaded = load_groups(&[Source::parse(&args[2])]).unwrap_or_else(|e| panic!("{e}"));
            let load_peak = PEAK.load(Ordering::Relaxed);
            let after_load = LIVE.load(Ordering::Relaxed);
            PEAK.store(after_load, Ordering::Relaxed);
            let table = PrefixTable::build(&loaded.groups);
            let elapsed = t.elapsed();
            let stats = table.stats();
            println!(
                "{}: {:?}, {} v4 + {} v6 prefixes, {} lists, table heap {:.1} MiB; heap peak: load {:.1} MiB, \
                 build {:.1} MiB (groups held {:.1} MiB); peak RSS {:.1} MiB",
                args[2],
                elapsed,
                stats.prefixes_v4,
                stats.prefixes_v6,
                stats.lists,
                mib(stats.heap_bytes),
                mib(load_peak),
                mib(PEAK.load(Ordering::Relaxed)),
                mib(after_load),
                vm("VmHWM:"),
            );
        }
        _ => eprintln!("usage: rss_load gen DIR N | rss_load load PATH"),
    }
}
