//! End-to-end file loads: a 200,000-prefix CiliumCIDRGroup YAML file (and the same as a plain list).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hubble_cidr::{load_sources, Source};

#[path = "support/gen.rs"]
mod gen;

fn load(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("hubble-cidr-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let yaml = dir.join("ccg-200k.yaml");
    let text = gen::ccg_yaml(200_000, 50, 3);
    std::fs::write(&yaml, &text).expect("write bench file");
    let list = dir.join("big.netset");
    let plain: String = gen::prefixes(200_000, 1, 3)
        .iter()
        .map(|(p, _)| format!("{p}\n"))
        .collect();
    std::fs::write(&list, plain).expect("write bench file");

    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.throughput(Throughput::Elements(200_000));
    g.bench_function("ccg_yaml_200k_end_to_end", |b| {
        b.iter(|| {
            load_sources(black_box(&[Source::Path(yaml.clone())]))
                .map(|t| t.table.stats().prefixes_v4)
        })
    });
    g.bench_function("plain_list_200k_end_to_end", |b| {
        b.iter(|| {
            load_sources(black_box(&[Source::Path(list.clone())]))
                .map(|t| t.table.stats().prefixes_v4)
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, load);
criterion_main!(benches);
