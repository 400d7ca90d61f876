//! JSON parser comparison on this project's workload: decoding one exporter flow line into the fields the
//! pipeline needs. Results and the decision are in `crates/hubble-flow/PARSERS.md`.
//!
//! Corpus: every line of `fixtures/agent-stdout.log` that the production decoder classifies as a flow (~1 KB
//! each), repeated to about 3000 lines; or, with `PARSERS_CORPUS=<file>`, the first 3000 flow lines of that file
//! (realistic 1.6 KB lines: `gen-flows logs --lines 3000 --flow-share 1 --kept-share 1 --seed 2`). Variants
//! (one criterion id each, all decode the same fields; a digest over them is checked equal across variants before
//! measuring):
//! - `a_production_decode`: `hubble_flow::decode`. Since issue 9 (second step) the exporter layout is decoded by
//!   the hand-written scanner (`hubble_flow::scan`) straight from the line, every string borrowed, the raw flow
//!   text kept; anything unusual falls back to the serde paths.
//! - `a1_serde_single_pass_decode`: `decode_str_without_scanner`, the production decoder before the scanner:
//!   one serde_json pass of the flow straight from the line (`StreamDeserializer` byte offset delimits the raw
//!   text), then the envelope tail key by key. The scanner's baseline, same output.
//! - `a2_serde_json_from_str_single_pass`: `from_utf8` + one `from_str` of an envelope holding `Flow` directly
//!   (no raw flow text): what the two-pass design costs.
//! - `a3_serde_json_stream_offset_single_pass`: a sketch that keeps the raw flow text in one serde_json pass
//!   (`StreamDeserializer::byte_offset` after the `{"flow":` prefix, then the short envelope tail).
//! - `b_serde_json_from_slice`: the former two-pass shape with `from_slice` for both passes.
//! - `c1_simd_json_from_slice_copy`: per-line copy into a reused `&mut` scratch, `simd_json::serde::from_slice`
//!   into a mirror of `Flow` without `RawValue` (simd-json cannot produce one): no raw flow text.
//! - `c2_simd_json_reused_buffers`: as c1 with `from_slice_with_buffers` and reused `simd_json::Buffers`.
//! - `d1_sonic_rs_lazy_two_pass`: `sonic_rs::from_slice` of an envelope with the flow as `LazyValue`, then
//!   `sonic_rs::from_str` of its raw text into the mirror (denied-by lists as `LazyValue`). Keeps the raw text.
//! - `d2_sonic_rs_single_pass`: one `sonic_rs::from_slice` of an envelope holding the mirror directly.
//! - `e_serde_json_value_dom`: `serde_json::from_slice::<Value>` and field look-ups (naive baseline).
//!
//! Run: `cargo bench -p hubble-flow --bench parsers -- --warm-up-time 1 --measurement-time 3`.
//! On a shared, loaded machine the interleaved mode is the fairer comparison (all variants see the same load):
//! `PARSERS_INTERLEAVED=100 cargo bench -p hubble-flow --bench parsers` (`PARSERS_VARIANTS=a1` for the scanner
//! against its serde baseline only).

use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use hubble_flow::flow::{
    CiliumEventType, Endpoint, Ip, IpTraceId, Layer4, Layer7, NetworkInterface, Service,
    TraceContext,
};
use hubble_flow::json::{opt_u32, vec_or_null, EnumValue};
use hubble_flow::record::{decode, decode_str_without_scanner, Record};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::hint::black_box;
use std::time::Instant;

const FIXTURE: &str = include_str!("../../../fixtures/agent-stdout.log");
const TARGET_LINES: usize = 3000;

/// `hubble_flow::Flow` with the two pass-through fields generic: `IgnoredAny` for simd-json (which cannot
/// deserialize `RawValue`), `sonic_rs::LazyValue` for sonic-rs. Every other field has the production type.
#[derive(Debug, Deserialize)]
#[serde(default, bound(deserialize = "R: Deserialize<'de>"))]
#[allow(dead_code)]
struct MirrorFlow<'a, R> {
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    verdict: Option<EnumValue<'a>>,
    #[serde(alias = "dropReason", deserialize_with = "opt_u32")]
    drop_reason: Option<u32>,
    #[serde(rename = "IP", borrow)]
    ip: Option<Ip<'a>>,
    l4: Option<Layer4>,
    #[serde(borrow)]
    source: Option<Endpoint<'a>>,
    #[serde(borrow)]
    destination: Option<Endpoint<'a>>,
    #[serde(rename = "Type", borrow)]
    flow_type: Option<EnumValue<'a>>,
    #[serde(alias = "nodeName", borrow)]
    node_name: Option<Cow<'a, str>>,
    #[serde(alias = "nodeLabels", borrow, deserialize_with = "vec_or_null")]
    node_labels: Vec<Cow<'a, str>>,
    #[serde(alias = "sourceNames", borrow, deserialize_with = "vec_or_null")]
    source_names: Vec<Cow<'a, str>>,
    #[serde(alias = "destinationNames", borrow, deserialize_with = "vec_or_null")]
    destination_names: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    l7: Option<Layer7<'a>>,
    reply: Option<bool>,
    #[serde(alias = "eventType")]
    event_type: Option<CiliumEventType>,
    #[serde(alias = "sourceService", borrow)]
    source_service: Option<Service<'a>>,
    #[serde(alias = "destinationService", borrow)]
    destination_service: Option<Service<'a>>,
    #[serde(alias = "trafficDirection", borrow)]
    traffic_direction: Option<EnumValue<'a>>,
    #[serde(alias = "traceObservationPoint", borrow)]
    trace_observation_point: Option<EnumValue<'a>>,
    #[serde(alias = "ipTraceId")]
    ip_trace_id: Option<IpTraceId>,
    #[serde(alias = "dropReasonDesc", borrow)]
    drop_reason_desc: Option<EnumValue<'a>>,
    #[serde(alias = "isReply")]
    is_reply: Option<bool>,
    #[serde(borrow)]
    interface: Option<NetworkInterface<'a>>,
    #[serde(alias = "traceContext", borrow)]
    trace_context: Option<TraceContext<'a>>,
    #[serde(rename = "Summary", alias = "summary", borrow)]
    summary: Option<Cow<'a, str>>,
    #[serde(alias = "egressDeniedBy")]
    egress_denied_by: Option<R>,
    #[serde(alias = "ingressDeniedBy")]
    ingress_denied_by: Option<R>,
}

// By hand: derive(Default) would require `R: Default`, which `LazyValue` is not.
impl<R> Default for MirrorFlow<'_, R> {
    fn default() -> Self {
        Self {
            time: Default::default(),
            uuid: Default::default(),
            verdict: Default::default(),
            drop_reason: Default::default(),
            ip: Default::default(),
            l4: Default::default(),
            source: Default::default(),
            destination: Default::default(),
            flow_type: Default::default(),
            node_name: Default::default(),
            node_labels: Default::default(),
            source_names: Default::default(),
            destination_names: Default::default(),
            l7: Default::default(),
            reply: Default::default(),
            event_type: Default::default(),
            source_service: Default::default(),
            destination_service: Default::default(),
            traffic_direction: Default::default(),
            trace_observation_point: Default::default(),
            ip_trace_id: Default::default(),
            drop_reason_desc: Default::default(),
            is_reply: Default::default(),
            interface: Default::default(),
            trace_context: Default::default(),
            summary: Default::default(),
            egress_denied_by: Default::default(),
            ingress_denied_by: Default::default(),
        }
    }
}

/// The exporter envelope with the flow as `F`: `&RawValue`/`LazyValue` (two-pass, raw text kept) or a decoded
/// flow struct (single pass). The other record kinds are only recognised, as in production.
#[derive(Deserialize)]
#[serde(bound(deserialize = "F: Deserialize<'de>"))]
struct Envelope<'a, F> {
    #[serde(default, alias = "Flow")]
    flow: Option<F>,
    #[serde(default, alias = "lostEvents")]
    lost_events: Option<IgnoredAny>,
    #[serde(default, alias = "agentEvent")]
    agent_event: Option<IgnoredAny>,
    #[serde(default, alias = "debugEvent")]
    debug_event: Option<IgnoredAny>,
    #[serde(default, alias = "nodeStatus")]
    node_status: Option<IgnoredAny>,
    #[serde(borrow, default, alias = "nodeName")]
    node_name: Option<Cow<'a, str>>,
}

impl<F> Envelope<'_, F> {
    /// Whether the envelope is some other record kind (never, on this corpus; read so it is not dead).
    fn other_kind(&self) -> bool {
        self.lost_events.is_some()
            || self.agent_event.is_some()
            || self.debug_event.is_some()
            || self.node_status.is_some()
    }
}

/// A checksum over the decoded fields the filter and the output record use, identical across variants when
/// they decode the same values.
macro_rules! digest {
    ($f:expr) => {{
        let f = &$f;
        let s = |v: &Option<Cow<str>>| v.as_deref().map_or(0u64, |x| x.len() as u64 + 1);
        let e = |v: &Option<EnumValue>| match v {
            Some(EnumValue::Name(n)) => n.len() as u64 + 1,
            Some(EnumValue::Number(n)) => *n as u64 + 1000,
            None => 0,
        };
        let ep = |v: &Option<Endpoint>| {
            v.as_ref().map_or(0u64, |x| {
                u64::from(x.identity.unwrap_or(0))
                    + s(&x.namespace)
                    + s(&x.pod_name)
                    + x.labels.iter().map(|l| l.len() as u64).sum::<u64>()
                    + x.workloads.len() as u64
            })
        };
        let ports =
            f.l4.as_ref()
                .and_then(|l| l.ports())
                .map_or(0u64, |(a, b)| u64::from(a) * 3 + u64::from(b));
        let ip =
            f.ip.as_ref()
                .map_or(0u64, |i| s(&i.source) + 7 * s(&i.destination));
        let et = f
            .event_type
            .map_or(0u64, |t| (t.event_type * 1000 + t.sub_type) as u64);
        s(&f.time)
            + s(&f.uuid)
            + e(&f.verdict)
            + u64::from(f.drop_reason.unwrap_or(0))
            + ip
            + ports
            + 11 * ep(&f.source)
            + 13 * ep(&f.destination)
            + e(&f.flow_type)
            + s(&f.node_name)
            + et
            + e(&f.traffic_direction)
            + e(&f.drop_reason_desc)
            + s(&f.summary)
            + u64::from(f.egress_denied_by.is_some())
    }};
}

/// The envelope's `node_name`, folded into the digest.
fn envelope_node(n: &Option<Cow<str>>) -> u64 {
    n.as_deref().map_or(0, |x| 17 * x.len() as u64)
}

/// The flow lines of the corpus (those the production decoder classifies as flows), repeated to
/// [`TARGET_LINES`]: the fixture, or the first lines of the file `PARSERS_CORPUS` names.
fn corpus() -> Vec<&'static [u8]> {
    let text: &'static str = match std::env::var_os("PARSERS_CORPUS") {
        Some(path) => {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("PARSERS_CORPUS {}: {e}", path.to_string_lossy()));
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Box::leak(text.into_boxed_str())
        }
        None => FIXTURE,
    };
    let flows: Vec<&'static [u8]> = text
        .lines()
        .map(str::as_bytes)
        .filter(|l| matches!(decode(l), Ok(Record::Flow { .. })))
        .take(TARGET_LINES)
        .collect();
    assert!(!flows.is_empty(), "corpus has no flow lines");
    flows.iter().copied().cycle().take(TARGET_LINES).collect()
}

/// The digest of a decoded flow record (`u64::MAX` for anything else).
fn record_digest(r: Result<Record<'_>, hubble_flow::Skip>) -> u64 {
    match r {
        Ok(Record::Flow {
            flow,
            raw,
            node_name,
        }) => {
            black_box(raw);
            digest!(flow) + envelope_node(&node_name)
        }
        _ => u64::MAX,
    }
}

fn a_production(line: &[u8]) -> u64 {
    record_digest(decode(line))
}

fn a1_serde_single_pass(line: &[u8]) -> u64 {
    let Ok(text) = std::str::from_utf8(line) else {
        return u64::MAX;
    };
    record_digest(decode_str_without_scanner(text))
}

fn a2_serde_json_single_pass(line: &[u8]) -> u64 {
    let Ok(text) = std::str::from_utf8(line) else {
        return u64::MAX;
    };
    match serde_json::from_str::<Envelope<hubble_flow::Flow>>(text) {
        Ok(env) if !env.other_kind() => {
            let node = envelope_node(&env.node_name);
            env.flow.map_or(u64::MAX, |f| digest!(f) + node)
        }
        _ => u64::MAX,
    }
}

/// Sketch of a single serde_json pass that still keeps the raw flow text, for the canonical exporter shape
/// `{"flow":{...},"node_name":..,"time":..}`: a `StreamDeserializer` decodes the flow object that follows the
/// `{"flow":` prefix and its `byte_offset()` gives where that object ends; the short envelope tail is then parsed
/// on its own (copied into a scratch `String` behind a `{`). Other shapes fall back to `decode`.
fn a3_serde_json_stream_offset(line: &[u8], tail_scratch: &mut String) -> u64 {
    const PREFIX: &str = "{\"flow\":";
    let Ok(text) = std::str::from_utf8(line) else {
        return u64::MAX;
    };
    let Some(rest) = text.strip_prefix(PREFIX) else {
        return a_production(line);
    };
    let Some((flow, raw, tail)) = split_flow(rest) else {
        return u64::MAX;
    };
    black_box(raw);
    tail_scratch.clear();
    tail_scratch.push('{');
    match tail.trim_start().strip_prefix(',') {
        Some(fields) => tail_scratch.push_str(fields),
        None => tail_scratch.push_str(tail),
    }
    match serde_json::from_str::<Envelope<&RawValue>>(tail_scratch) {
        Ok(env) if env.flow.is_none() && !env.other_kind() => {
            digest!(flow) + envelope_node(&env.node_name)
        }
        _ => u64::MAX,
    }
}

/// Decodes the flow object at the start of `rest`; returns it, its raw text and what follows it.
fn split_flow(rest: &str) -> Option<(hubble_flow::Flow<'_>, &str, &str)> {
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<hubble_flow::Flow>();
    let flow = stream.next()?.ok()?;
    let (raw, tail) = rest.split_at(stream.byte_offset());
    Some((flow, raw, tail))
}

fn b_serde_json_from_slice(line: &[u8]) -> u64 {
    let Ok(env) = serde_json::from_slice::<Envelope<&RawValue>>(line) else {
        return u64::MAX;
    };
    let Some(raw) = env.flow else {
        return u64::MAX;
    };
    match serde_json::from_slice::<hubble_flow::Flow>(raw.get().as_bytes()) {
        Ok(f) => {
            black_box(raw);
            digest!(f) + envelope_node(&env.node_name)
        }
        Err(_) => u64::MAX,
    }
}

fn c1_simd_json_copy(line: &[u8], scratch: &mut Vec<u8>) -> u64 {
    scratch.clear();
    scratch.extend_from_slice(line);
    match simd_json::serde::from_slice::<Envelope<MirrorFlow<IgnoredAny>>>(scratch) {
        Ok(env) if !env.other_kind() => {
            let node = envelope_node(&env.node_name);
            env.flow.map_or(u64::MAX, |f| digest!(f) + node)
        }
        _ => u64::MAX,
    }
}

fn c2_simd_json_buffers(
    line: &[u8],
    scratch: &mut Vec<u8>,
    buffers: &mut simd_json::Buffers,
) -> u64 {
    scratch.clear();
    scratch.extend_from_slice(line);
    match simd_json::serde::from_slice_with_buffers::<Envelope<MirrorFlow<IgnoredAny>>>(
        scratch, buffers,
    ) {
        Ok(env) if !env.other_kind() => {
            let node = envelope_node(&env.node_name);
            env.flow.map_or(u64::MAX, |f| digest!(f) + node)
        }
        _ => u64::MAX,
    }
}

fn d1_sonic_lazy_two_pass(line: &[u8]) -> u64 {
    let Ok(env) = sonic_rs::from_slice::<Envelope<sonic_rs::LazyValue>>(line) else {
        return u64::MAX;
    };
    let Some(raw) = env.flow.as_ref() else {
        return u64::MAX;
    };
    let raw = raw.as_raw_str();
    match sonic_rs::from_str::<MirrorFlow<sonic_rs::LazyValue>>(raw) {
        Ok(f) => {
            black_box(raw);
            digest!(f) + envelope_node(&env.node_name)
        }
        Err(_) => u64::MAX,
    }
}

fn d2_sonic_single_pass(line: &[u8]) -> u64 {
    match sonic_rs::from_slice::<Envelope<MirrorFlow<sonic_rs::LazyValue>>>(line) {
        Ok(env) if !env.other_kind() => {
            let node = envelope_node(&env.node_name);
            env.flow.map_or(u64::MAX, |f| digest!(f) + node)
        }
        _ => u64::MAX,
    }
}

/// Naive baseline: a DOM, then the look-ups the filter would do.
fn e_value_dom(line: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
        return u64::MAX;
    };
    let Some(f) = v.get("flow") else {
        return u64::MAX;
    };
    let len = |p: &str| f.pointer(p).and_then(|x| x.as_str()).map_or(0, str::len) as u64;
    let num = |p: &str| f.pointer(p).and_then(|x| x.as_u64()).unwrap_or(0);
    len("/time")
        + len("/uuid")
        + len("/verdict")
        + len("/IP/source")
        + len("/IP/destination")
        + num("/l4/TCP/destination_port")
        + len("/source/namespace")
        + len("/source/pod_name")
        + len("/destination/namespace")
        + len("/destination/pod_name")
        + num("/event_type/type")
        + num("/event_type/sub_type")
        + len("/traffic_direction")
        + len("/drop_reason_desc")
        + len("/Summary")
}

fn parsers(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut scratch = Vec::with_capacity(4096);
    let mut buffers = simd_json::Buffers::default();

    // Every typed variant must decode the same values before its speed means anything.
    let reference: u64 = lines.iter().map(|l| a_production(l)).sum();
    assert!(lines.iter().all(|l| a_production(l) != u64::MAX));
    let mut tail_scratch = String::with_capacity(256);
    let typed: [(&str, u64); 8] = [
        ("a1", lines.iter().map(|l| a1_serde_single_pass(l)).sum()),
        (
            "a3",
            lines
                .iter()
                .map(|l| a3_serde_json_stream_offset(l, &mut tail_scratch))
                .sum(),
        ),
        (
            "a2",
            lines.iter().map(|l| a2_serde_json_single_pass(l)).sum(),
        ),
        ("b", lines.iter().map(|l| b_serde_json_from_slice(l)).sum()),
        (
            "c1",
            lines
                .iter()
                .map(|l| c1_simd_json_copy(l, &mut scratch))
                .sum(),
        ),
        (
            "c2",
            lines
                .iter()
                .map(|l| c2_simd_json_buffers(l, &mut scratch, &mut buffers))
                .sum(),
        ),
        ("d1", lines.iter().map(|l| d1_sonic_lazy_two_pass(l)).sum()),
        ("d2", lines.iter().map(|l| d2_sonic_single_pass(l)).sum()),
    ];
    for (name, got) in typed {
        assert_eq!(got, reference, "variant {name} decoded different values");
    }
    assert!(lines.iter().all(|l| e_value_dom(l) != u64::MAX));
    // The a3 sketch must find exactly the raw flow text the production decoder passes through.
    for l in &lines {
        let (Ok(Record::Flow { raw, .. }), Ok(text)) = (decode(l), std::str::from_utf8(l)) else {
            unreachable!("corpus lines are flows");
        };
        if let Some(rest) = text.strip_prefix("{\"flow\":") {
            assert_eq!(split_flow(rest).map(|(_, r, _)| r), Some(raw));
        }
    }
    eprintln!(
        "parsers corpus: {} lines, {} bytes, {:.0} bytes/line",
        lines.len(),
        bytes,
        bytes as f64 / lines.len() as f64
    );

    let mut g = c.benchmark_group("parsers");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
    let run = |f: &mut dyn FnMut(&[u8]) -> u64| lines.iter().map(|l| f(black_box(l))).sum::<u64>();
    g.bench_function("a_production_decode", |b| b.iter(|| run(&mut a_production)));
    g.bench_function("a1_serde_single_pass_decode", |b| {
        b.iter(|| run(&mut a1_serde_single_pass))
    });
    g.bench_function("a2_serde_json_from_str_single_pass", |b| {
        b.iter(|| run(&mut a2_serde_json_single_pass))
    });
    g.bench_function("a3_serde_json_stream_offset_single_pass", |b| {
        b.iter(|| run(&mut |l| a3_serde_json_stream_offset(l, &mut tail_scratch)))
    });
    g.bench_function("b_serde_json_from_slice", |b| {
        b.iter(|| run(&mut b_serde_json_from_slice))
    });
    g.bench_function("c1_simd_json_from_slice_copy", |b| {
        b.iter(|| run(&mut |l| c1_simd_json_copy(l, &mut scratch)))
    });
    g.bench_function("c2_simd_json_reused_buffers", |b| {
        b.iter(|| run(&mut |l| c2_simd_json_buffers(l, &mut scratch, &mut buffers)))
    });
    g.bench_function("d1_sonic_rs_lazy_two_pass", |b| {
        b.iter(|| run(&mut d1_sonic_lazy_two_pass))
    });
    g.bench_function("d2_sonic_rs_single_pass", |b| {
        b.iter(|| run(&mut d2_sonic_single_pass))
    });
    g.bench_function("e_serde_json_value_dom", |b| {
        b.iter(|| run(&mut e_value_dom))
    });
    g.finish();
}

/// A named per-line decoder, for the interleaved run.
type Variant = (&'static str, Box<dyn FnMut(&[u8]) -> u64>);

fn variants() -> Vec<Variant> {
    let mut c1_scratch = Vec::with_capacity(4096);
    let mut c2_scratch = Vec::with_capacity(4096);
    let mut c2_buffers = simd_json::Buffers::default();
    let mut a3_tail = String::with_capacity(256);
    vec![
        ("a_production_decode", Box::new(a_production)),
        (
            "a1_serde_single_pass_decode",
            Box::new(a1_serde_single_pass),
        ),
        (
            "a2_serde_json_from_str_single_pass",
            Box::new(a2_serde_json_single_pass),
        ),
        (
            "a3_serde_json_stream_offset_single_pass",
            Box::new(move |l| a3_serde_json_stream_offset(l, &mut a3_tail)),
        ),
        ("b_serde_json_from_slice", Box::new(b_serde_json_from_slice)),
        (
            "c1_simd_json_from_slice_copy",
            Box::new(move |l| c1_simd_json_copy(l, &mut c1_scratch)),
        ),
        (
            "c2_simd_json_reused_buffers",
            Box::new(move |l| c2_simd_json_buffers(l, &mut c2_scratch, &mut c2_buffers)),
        ),
        (
            "d1_sonic_rs_lazy_two_pass",
            Box::new(d1_sonic_lazy_two_pass),
        ),
        ("d2_sonic_rs_single_pass", Box::new(d2_sonic_single_pass)),
        ("e_serde_json_value_dom", Box::new(e_value_dom)),
    ]
}

/// Interleaved rounds: every round decodes the whole corpus once with each variant, in a rotating order, so load
/// from other processes on a shared machine falls on all variants alike. Prints, per variant, the median and best
/// round in ns/line and MB/s and the median of the per-round ratio to the production decoder.
fn interleaved(rounds: usize) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut vs = variants();
    // `PARSERS_VARIANTS=a1,c2` keeps only those (by id prefix), besides the production decoder.
    if let Ok(only) = std::env::var("PARSERS_VARIANTS") {
        let keep: Vec<&str> = only.split(',').map(str::trim).collect();
        vs.retain(|(name, _)| {
            *name == "a_production_decode" || keep.iter().any(|k| name.starts_with(k))
        });
    }
    let n = vs.len();
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds + 2 {
        for k in 0..n {
            let i = (k + round) % n;
            let f = &mut vs[i].1;
            let start = Instant::now();
            let sum: u64 = lines.iter().map(|l| f(black_box(l))).sum();
            let elapsed = start.elapsed().as_nanos() as f64;
            black_box(sum);
            // The first two rounds warm caches and allocators.
            if round >= 2 {
                ns[i].push(elapsed / lines.len() as f64);
            }
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mb_s = |ns_per_line: f64| bytes as f64 / lines.len() as f64 / ns_per_line * 1e3;
    println!(
        "interleaved: {rounds} rounds x {} lines ({bytes} bytes)",
        lines.len()
    );
    println!(
        "| variant | median ns/line | median MB/s | best ns/line | best MB/s | median ratio to a |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for i in 0..n {
        let ratios: Vec<f64> = ns[i].iter().zip(&ns[0]).map(|(x, a)| x / a).collect();
        let med = median(&ns[i]);
        let best = ns[i].iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} |",
            vs[i].0,
            med,
            mb_s(med),
            best,
            mb_s(best),
            median(&ratios)
        );
    }
}

criterion_group!(benches, parsers);

/// `PARSERS_INTERLEAVED=<rounds>` runs the interleaved comparison instead of criterion (`PARSERS_VARIANTS`
/// narrows it).
fn main() {
    if let Some(rounds) = std::env::var("PARSERS_INTERLEAVED")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        interleaved(rounds.max(1));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
