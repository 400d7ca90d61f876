//! Peak RSS of loading N prefixes from a file and building the table, as `cidr-lookup` would.
//! `rss_load gen DIR N` writes `DIR/big.netset` and `DIR/ccg.yaml`; `rss_load load PATH` loads one and prints
//! the time and VmHWM (run each load in a fresh process so the peak is the load's own).

use std::time::Instant;

use hubble_cidr::{load_sources, Source};

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
            let loaded = load_sources(&[Source::parse(&args[2])]).unwrap_or_else(|e| panic!("{e}"));
            let elapsed = t.elapsed();
            let stats = loaded.table.stats();
            drop(loaded.groups);
            println!(
                "{}: {:?}, {} v4 + {} v6 prefixes, {} lists, table heap {:.1} MiB; peak RSS {:.1} MiB, now {:.1} MiB",
                args[2],
                elapsed,
                stats.prefixes_v4,
                stats.prefixes_v6,
                stats.lists,
                stats.heap_bytes as f64 / 1048576.0,
                vm("VmHWM:"),
                vm("VmRSS:")
            );
        }
        _ => eprintln!("usage: rss_load gen DIR N | rss_load load PATH"),
    }
}
