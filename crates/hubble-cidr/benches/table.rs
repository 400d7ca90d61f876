//! Table build (1 M mixed prefixes from memory) and lookup (random addresses, all containing groups).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hubble_cidr::PrefixTable;

#[path = "support/gen.rs"]
mod gen;

fn build(c: &mut Criterion) {
    let pairs = gen::prefixes(1_000_000, 250, 7);
    let mut g = c.benchmark_group("build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("groupset_and_table_1M", |b| {
        b.iter(|| {
            let set = gen::group_set(black_box(&pairs), 250);
            PrefixTable::build(&set)
        })
    });
    let set = gen::group_set(&pairs, 250);
    g.bench_function("table_from_groupset_1M", |b| {
        b.iter_batched(
            || (),
            |_| PrefixTable::build(black_box(&set)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let pairs = gen::prefixes(1_000_000, 250, 7);
    let table = PrefixTable::build(&gen::group_set(&pairs, 250));
    eprintln!("table stats: {:?}", table.stats());
    let addrs = gen::addresses(&pairs, 1_000_000, 11);
    let mut g = c.benchmark_group("lookup");
    g.sample_size(10);
    g.throughput(Throughput::Elements(addrs.len() as u64));
    g.bench_function("mixed_1M_addresses_in_1M_prefixes", |b| {
        b.iter(|| {
            // black_box the slice, not each address: black-boxing a 17-byte `IpAddr::V6` per call adds a memory
            // round trip that cost more than the lookup itself.
            let mut groups = 0usize;
            for ip in black_box(&addrs) {
                groups += table.lookup(*ip).groups().len();
            }
            groups
        })
    });
    let v4: Vec<std::net::IpAddr> = addrs.iter().copied().filter(|a| a.is_ipv4()).collect();
    g.throughput(Throughput::Elements(v4.len() as u64));
    g.bench_function("ipv4_only", |b| {
        b.iter(|| {
            black_box(&v4)
                .iter()
                .map(|ip| table.lookup(*ip).groups().len())
                .sum::<usize>()
        })
    });
    let v6: Vec<std::net::IpAddr> = addrs.iter().copied().filter(|a| a.is_ipv6()).collect();
    g.throughput(Throughput::Elements(v6.len() as u64));
    g.bench_function("ipv6_and_mapped_only", |b| {
        b.iter(|| {
            black_box(&v6)
                .iter()
                .map(|ip| table.lookup(*ip).groups().len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, build, lookup);
criterion_main!(benches);
