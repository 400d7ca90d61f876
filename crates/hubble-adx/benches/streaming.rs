//! Throughput of streaming ingestion into the local stand-in (gzip included), and the cost of
//! compression alone: zlib-rs (flate2) at levels 1/3/6 against miniz_oxide's default level.
//! Records are synthetic ~1 KB flow records with realistic variety (random UUIDs, IPs, ports).

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hubble_adx::{AdxClient, AdxConfig, AuthConfig, Batch, CancellationToken, Secret, Url};

fn flow_record(i: u64) -> String {
    let r = fastrand::u64(..);
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        r as u32,
        (r >> 32) as u16,
        (r >> 48) & 0xfff,
        i & 0xfff,
        fastrand::u64(..) & 0xffff_ffff_ffff
    );
    let src = format!(
        "10.{}.{}.{}",
        fastrand::u8(..),
        fastrand::u8(..),
        fastrand::u8(1..255)
    );
    let dst = format!(
        "{}.{}.{}.{}",
        fastrand::u8(1..224),
        fastrand::u8(..),
        fastrand::u8(..),
        fastrand::u8(1..255)
    );
    let sport = fastrand::u16(1024..);
    let dport = [443u16, 80, 53, 8080, 5432][fastrand::usize(..5)];
    let ns = ["payments", "default", "kube-system", "shop", "monitoring"][fastrand::usize(..5)];
    let pod = format!(
        "{ns}-api-{:x}-{:05x}",
        fastrand::u32(..),
        fastrand::u32(..0xfffff)
    );
    let node = format!(
        "aks-nodepool1-{:08}-vmss{:06x}",
        fastrand::u32(..99_999_999),
        fastrand::u32(..0xffffff)
    );
    let ts = format!(
        "2026-11-25T14:{:02}:{:02}.{:09}Z",
        fastrand::u8(..60),
        fastrand::u8(..60),
        fastrand::u32(..1_000_000_000)
    );
    format!(
        concat!(
            r#"{{"Timestamp":"{ts}","Uuid":"{uuid}","NodeName":"{node}","ClusterName":"prod-weu","#,
            r#""Verdict":"DROPPED","DropReason":181,"DropReasonDesc":"POLICY_DENY","TrafficDirection":"EGRESS","#,
            r#""EventType":1,"EventSubType":181,"IpVersion":"IPv4","Protocol":"TCP","SourceIP":"{src}","#,
            r#""DestinationIP":"{dst}","SourcePort":{sport},"DestinationPort":{dport},"TcpFlags":"SYN","#,
            r#""SourceNamespace":"{ns}","SourcePod":"{pod}","SourceIdentity":{sid},"#,
            r#""SourceLabels":["k8s:app=api","k8s:io.kubernetes.pod.namespace={ns}","k8s:version=v{ver}"],"#,
            r#""SourceWorkloads":[{{"name":"{ns}-api","kind":"Deployment"}}],"DestinationIdentity":2,"#,
            r#""DestinationLabels":["reserved:world"],"DestinationCidrGroups":["internet"],"#,
            r#""PolicyDeniedBy":[{{"name":"deny-egress","namespace":"{ns}"}}],"#,
            r#""Summary":"TCP Flags: SYN","Flow":{{"time":"{ts}","uuid":"{uuid}","verdict":"DROPPED","#,
            r#""IP":{{"source":"{src}","destination":"{dst}","ipVersion":"IPv4"}},"#,
            r#""l4":{{"TCP":{{"source_port":{sport},"destination_port":{dport},"flags":{{"SYN":true}}}}}},"#,
            r#""node_name":"prod-weu/{node}","drop_reason_desc":"POLICY_DENY"}}}}"#
        ),
        ts = ts,
        uuid = uuid,
        node = node,
        src = src,
        dst = dst,
        sport = sport,
        dport = dport,
        ns = ns,
        pod = pod,
        sid = 10_000 + fastrand::u32(..50_000),
        ver = fastrand::u8(1..9),
    )
}

/// About `bytes` of NDJSON; returns (data, records).
fn batch_data(bytes: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(bytes + 2048);
    let mut n = 0u64;
    loop {
        let rec = flow_record(n);
        if out.len() + rec.len() + 1 > bytes {
            break;
        }
        out.extend_from_slice(rec.as_bytes());
        out.push(b'\n');
        n += 1;
    }
    (out, n as usize)
}

fn compression(c: &mut Criterion) {
    let (data, records) = batch_data(4 * 1024 * 1024 - 1024);
    eprintln!(
        "compression input: {} bytes, {records} records, {:.0} bytes/record",
        data.len(),
        data.len() as f64 / records as f64
    );
    let mut group = c.benchmark_group("gzip_4MiB");
    group.throughput(Throughput::Elements(records as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));
    for level in [1u32, 3, 6] {
        let out = hubble_adx::gzip(&data, level).unwrap();
        eprintln!(
            "zlib-rs level {level}: ratio {:.2}",
            data.len() as f64 / out.len() as f64
        );
        group.bench_with_input(BenchmarkId::new("zlib-rs", level), &level, |b, &level| {
            b.iter(|| hubble_adx::gzip(&data, level).unwrap().len())
        });
    }
    let out = miniz_oxide::deflate::compress_to_vec(&data, 6);
    eprintln!(
        "miniz_oxide level 6: ratio {:.2}",
        data.len() as f64 / out.len() as f64
    );
    group.bench_function("miniz_oxide/6", |b| {
        b.iter(|| miniz_oxide::deflate::compress_to_vec(&data, 6).len())
    });
    group.finish();
}

fn streaming(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let standin = rt.block_on(support::StandIn::start());
    standin.state.count_only.store(true, Ordering::Relaxed);
    let mut cfg = AdxConfig::new(
        Url::parse(&standin.url()).unwrap(),
        "Net",
        "T",
        "M",
        AuthConfig::StaticToken(Secret::new("bench")),
    );
    cfg.concurrency = 4;
    let client = AdxClient::new(cfg, CancellationToken::new()).unwrap();
    // 4 batches of ~4 MiB in flight at once, as a busy pipeline would hand them over.
    let batches: Vec<Batch> = (0..4)
        .map(|_| Batch::from_ndjson(batch_data(4 * 1024 * 1024 - 1024).0))
        .collect();
    let records: usize = batches.iter().map(|b| b.records).sum();
    let mut group = c.benchmark_group("streaming_ingest");
    group.throughput(Throughput::Elements(records as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, discard) in [("server_gunzips", false), ("server_discards", true)] {
        standin.state.discard.store(discard, Ordering::Relaxed);
        group.bench_function(format!("4x4MiB_gzip1_concurrency4/{name}"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut tasks = Vec::new();
                for batch in &batches {
                    let client = client.clone();
                    let batch = batch.clone();
                    tasks.push(tokio::spawn(async move { client.ingest(&batch).await }));
                }
                for t in tasks {
                    t.await.unwrap().unwrap();
                }
            })
        });
    }
    group.finish();
    eprintln!(
        "stand-in counted {} records",
        standin.state.counted.load(Ordering::Relaxed)
    );
}

criterion_group!(benches, compression, streaming);
criterion_main!(benches);
