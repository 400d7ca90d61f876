//! Builds the 1 M-prefix synthetic table and times lookups per address kind; prints peak RSS.
//! `cargo run --profile bench -p hubble-cidr --example lookup_profile [N] [geo]` (geo: groups follow address
//! blocks, as country lists do; default: groups assigned at random, so they nest everywhere).

use std::hint::black_box;
use std::time::Instant;

use hubble_cidr::PrefixTable;

#[path = "../benches/support/gen.rs"]
mod gen;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of this thread in seconds (the machine is shared, so wall time over-counts).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let geo = std::env::args().nth(2).as_deref() == Some("geo");
    let pairs = if geo {
        gen::geo_prefixes(n, 250, 7)
    } else {
        gen::prefixes(n, 250, 7)
    };
    let addrs = gen::addresses(&pairs, 2_000_000, 11);
    let t0 = Instant::now();
    let c0 = cpu_secs();
    let set = gen::group_set(&pairs, 250);
    drop(pairs);
    let table = PrefixTable::build(&set);
    println!(
        "build {n} prefixes: {:?} wall, {:.3} s CPU; {:?}",
        t0.elapsed(),
        cpu_secs() - c0,
        table.stats()
    );
    drop(set);
    let as_v4: Vec<std::net::IpAddr> = addrs
        .iter()
        .filter_map(|a| match a {
            std::net::IpAddr::V6(v) => v.to_ipv4_mapped().map(std::net::IpAddr::V4),
            _ => None,
        })
        .collect();
    let t = cpu_secs();
    let mut sum = 0usize;
    for _ in 0..3 {
        for ip in &as_v4 {
            sum += table.lookup(black_box(*ip)).groups().len();
        }
    }
    let per = (cpu_secs() - t) / (3 * as_v4.len()) as f64;
    println!(
        "{:>16}: {} addrs, {:.1} ns/lookup (sum {sum})",
        "mapped as v4",
        as_v4.len(),
        per * 1e9
    );
    type Keep = Box<dyn Fn(&std::net::IpAddr) -> bool>;
    let kinds: [(&str, Keep); 4] = [
        (
            "mapped",
            Box::new(|a| matches!(a, std::net::IpAddr::V6(v) if v.to_ipv4_mapped().is_some())),
        ),
        ("v4", Box::new(|a| a.is_ipv4())),
        (
            "v6 (not mapped)",
            Box::new(|a| matches!(a, std::net::IpAddr::V6(v) if v.to_ipv4_mapped().is_none())),
        ),
        ("all", Box::new(|_| true)),
    ];
    for (name, keep) in kinds {
        let sel: Vec<_> = addrs.iter().copied().filter(|a| keep(a)).collect();
        let t = cpu_secs();
        let mut sum = 0usize;
        for _ in 0..3 {
            for ip in &sel {
                sum += table.lookup(*ip).groups().len();
            }
        }
        let per = (cpu_secs() - t) / (3 * sel.len()) as f64;
        println!(
            "{name:>16}: {} addrs, {:.1} ns/lookup, {:.1} M/s (sum {sum})",
            sel.len(),
            per * 1e9,
            1e-6 / per
        );
    }
    println!("peak RSS {:.1} MiB", peak_rss_mib());
}
