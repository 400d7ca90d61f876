//! The daemon's metrics (Prometheus / OpenMetrics text). See ARCHITECTURE.md ("telemetry").
//!
//! One [`Metrics`] value owns every counter and gauge; pipeline stages hold an `Arc<Metrics>` and update it
//! with relaxed atomics (no locks on the hot path except for the first use of a label value).

use crate::stats::BatchStats;
use hubble_flow::{RecordKind, Skip};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};

type Labels = Vec<(&'static str, String)>;

/// Every metric of the daemon.
pub struct Metrics {
    registry: Registry,
    /// Lines read per input (a followed file under the path it was first read at: a rotated file keeps it).
    pub input_lines: Family<Labels, Counter>,
    /// Bytes read per input, labelled like `input_lines`.
    pub input_bytes: Family<Labels, Counter>,
    /// Parsed records by kind.
    pub records: Family<Labels, Counter>,
    /// Lines rejected by the prefilter without parsing.
    pub prefiltered: Counter,
    /// Flows kept by the filter.
    pub flows_kept: Counter,
    /// Lines skipped, by reason.
    pub skipped: Family<Labels, Counter>,
    /// Batches delivered, per sink.
    pub sink_batches: Family<Labels, Counter>,
    /// Records delivered, per sink.
    pub sink_records: Family<Labels, Counter>,
    /// Bytes delivered, per sink.
    pub sink_bytes: Family<Labels, Counter>,
    /// Batches a sink that is durable on this machine took straight from memory, without a spool write (see
    /// `crate::deliver::DirectSink`).
    pub sink_direct_batches: Counter,
    /// Failed delivery attempts that will be retried, per sink and reason (the ADX client's own retries
    /// included: `throttled`, `http_5xx`, `timeout`, `connect`, `unauthorized`, `token`, `other`; the delivery
    /// loop's: `io` for local sinks, `not_delivered` when a sink's retry budget ran out).
    pub sink_retries: Family<Labels, Counter>,
    /// Dead letters written (one per rejected request), per sink.
    pub dead_letters: Family<Labels, Counter>,
    /// Records in those dead letters, per sink.
    pub dead_lettered_records: Family<Labels, Counter>,
    /// Bytes queued in the spool.
    pub spool_bytes: Gauge,
    /// Segments queued in the spool.
    pub spool_segments: Gauge,
    /// Segments found torn or corrupt and quarantined.
    pub spool_quarantined: Counter,
    /// Times reading paused because the spool was full.
    pub backpressure_pauses: Counter,
    /// Bytes on disk not yet checkpointed, per input (the open files labelled alike, summed; a label goes
    /// when its last file is closed).
    pub checkpoint_lag_bytes: Family<Labels, Gauge>,
    /// Tailer events (rotations, truncations, ...), by kind.
    pub tail_events: Family<Labels, Counter>,
    /// Queued ADX blobs ADX reported as failed (dead-lettered), by ADX error code.
    pub adx_queued_failures: Family<Labels, Counter>,
    /// Queued ADX blobs awaiting ADX's report (kept in `STATE_DIR/adx-queued`).
    pub adx_queued_pending: Gauge,
    /// Azure AD token requests of the ADX sink, by credential and result (`ok`, `error`).
    pub token_requests: Family<Labels, Counter>,
    /// Prefixes in the CIDR-group table.
    pub cidr_prefixes: Gauge,
    /// Groups in the CIDR-group table.
    pub cidr_groups: Gauge,
    /// CIDR-group table reloads, by result.
    pub cidr_reloads: Family<Labels, Counter>,
    /// Filter configuration reloads, by result.
    pub filter_reloads: Family<Labels, Counter>,
    /// Open connections, per network input.
    pub net_connections: Family<Labels, Gauge>,
    /// Connections accepted, per network input.
    pub net_connections_opened: Family<Labels, Counter>,
    /// Messages (Forward messages, HTTP requests) accepted, per network input.
    pub net_messages: Family<Labels, Counter>,
    /// Records accepted, per network input.
    pub net_records: Family<Labels, Counter>,
    /// Bytes received, per network input.
    pub net_bytes: Family<Labels, Counter>,
    /// Acknowledgements sent after the records were spooled (Forward acks, HTTP 2xx), per network input.
    pub net_acks: Family<Labels, Counter>,
    /// Failed authentications (handshake refusals), per network input and reason.
    pub net_auth_failures: Family<Labels, Counter>,
    /// Input rejected (connection closed or request refused), per network input and reason.
    pub net_rejected: Family<Labels, Counter>,
    ready: AtomicBool,
    failing_sinks: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("hubble_ingest");
        macro_rules! reg {
            ($name:literal, $help:literal, $m:expr) => {{
                let m = $m;
                r.register($name, $help, m.clone());
                m
            }};
        }
        Metrics {
            input_lines: reg!(
                "input_lines",
                "Lines read per input (a followed file is counted under the path it was first read at)",
                Family::default()
            ),
            input_bytes: reg!(
                "input_bytes",
                "Bytes read per input (a followed file is counted under the path it was first read at)",
                Family::default()
            ),
            records: reg!(
                "records",
                "Exporter records parsed, by kind",
                Family::default()
            ),
            prefiltered: reg!(
                "prefiltered_lines",
                "Lines rejected by the prefilter without parsing",
                Counter::default()
            ),
            flows_kept: reg!("flows_kept", "Flows kept by the filter", Counter::default()),
            skipped: reg!(
                "skipped_lines",
                "Lines skipped, by reason",
                Family::default()
            ),
            sink_batches: reg!(
                "sink_batches",
                "Batches delivered, per sink",
                Family::default()
            ),
            sink_records: reg!(
                "sink_records",
                "Records delivered, per sink",
                Family::default()
            ),
            sink_bytes: reg!(
                "sink_bytes",
                "Uncompressed bytes delivered, per sink",
                Family::default()
            ),
            sink_retries: reg!(
                "sink_retries",
                "Failed delivery attempts that will be retried, per sink",
                Family::default()
            ),
            dead_letters: reg!(
                "dead_letters",
                "Dead letters written (one per rejected request), per sink",
                Family::default()
            ),
            dead_lettered_records: reg!(
                "dead_lettered_records",
                "Records moved to the dead-letter directory, per sink",
                Family::default()
            ),
            sink_direct_batches: reg!(
                "sink_direct_batches",
                "Batches a sink durable on this machine (a file) took straight from memory, without a spool write",
                Counter::default()
            ),
            spool_bytes: reg!("spool_bytes", "Bytes queued in the spool", Gauge::default()),
            spool_segments: reg!(
                "spool_segments",
                "Segments queued in the spool",
                Gauge::default()
            ),
            spool_quarantined: reg!(
                "spool_quarantined_segments",
                "Torn or corrupt segments quarantined",
                Counter::default()
            ),
            backpressure_pauses: reg!(
                "backpressure_pauses",
                "Times reading paused because the spool was full",
                Counter::default()
            ),
            checkpoint_lag_bytes: reg!(
                "checkpoint_lag_bytes",
                "Bytes on disk not yet checkpointed, per input (its open files, rotated ones included)",
                Family::default()
            ),
            tail_events: reg!(
                "tail_events",
                "Tailer events (new file, rotation, truncation, ...), by kind",
                Family::default()
            ),
            adx_queued_failures: reg!(
                "adx_queued_failures",
                "Queued ADX blobs ADX reported as failed (their records dead-lettered), by ADX error code",
                Family::default()
            ),
            adx_queued_pending: reg!(
                "adx_queued_pending",
                "Queued ADX blobs awaiting ADX's success or failure report",
                Gauge::default()
            ),
            token_requests: reg!(
                "token_requests",
                "Azure AD token requests of the ADX sink (first token and refreshes), by credential and result",
                Family::default()
            ),
            cidr_prefixes: reg!(
                "cidr_prefixes",
                "Prefixes in the CIDR-group table",
                Gauge::default()
            ),
            cidr_groups: reg!(
                "cidr_groups",
                "Groups in the CIDR-group table",
                Gauge::default()
            ),
            cidr_reloads: reg!(
                "cidr_reloads",
                "CIDR-group table reloads, by result",
                Family::default()
            ),
            filter_reloads: reg!(
                "filter_reloads",
                "Filter configuration reloads, by result",
                Family::default()
            ),
            net_connections: reg!(
                "network_connections",
                "Open connections, per network input",
                Family::default()
            ),
            net_connections_opened: reg!(
                "network_connections_opened",
                "Connections accepted, per network input",
                Family::default()
            ),
            net_messages: reg!(
                "network_messages",
                "Messages (Forward messages, HTTP requests) accepted, per network input",
                Family::default()
            ),
            net_records: reg!(
                "network_records",
                "Records accepted, per network input",
                Family::default()
            ),
            net_bytes: reg!(
                "network_bytes",
                "Bytes received, per network input",
                Family::default()
            ),
            net_acks: reg!(
                "network_acks",
                "Acknowledgements sent after spooling (Forward acks, HTTP 2xx), per network input",
                Family::default()
            ),
            net_auth_failures: reg!(
                "network_auth_failures",
                "Refused handshakes, per network input and reason",
                Family::default()
            ),
            net_rejected: reg!(
                "network_rejected",
                "Input rejected (connection closed or request refused), per network input and reason",
                Family::default()
            ),
            registry: r,
            ready: AtomicBool::new(false),
            failing_sinks: std::sync::Mutex::new(Default::default()),
        }
    }

    /// Adds a batch's counters.
    pub fn add_batch(&self, s: &BatchStats) {
        for k in RecordKind::ALL {
            let n = s.record(k);
            if n > 0 {
                self.records
                    .get_or_create(&vec![("kind", k.name().to_owned())])
                    .inc_by(n);
            }
        }
        for k in Skip::ALL {
            let n = s.skip(k);
            if n > 0 {
                self.skipped
                    .get_or_create(&vec![("reason", k.name().to_owned())])
                    .inc_by(n);
            }
        }
        for (reason, n) in [
            ("oversize", s.frame.oversize),
            ("malformed_frame", s.frame.malformed_frame),
            ("invalid_ip", s.invalid_ip),
        ] {
            if n > 0 {
                self.skipped
                    .get_or_create(&vec![("reason", reason.to_owned())])
                    .inc_by(n);
            }
        }
        self.prefiltered.inc_by(s.prefiltered);
        self.flows_kept.inc_by(s.kept_flows);
    }

    /// One label.
    pub fn label(key: &'static str, value: &str) -> Labels {
        vec![(key, value.to_owned())]
    }

    /// Two labels.
    pub fn labels2(k1: &'static str, v1: &str, k2: &'static str, v2: &str) -> Labels {
        vec![(k1, v1.to_owned()), (k2, v2.to_owned())]
    }

    /// Creates every per-input series of a network input at zero.
    pub fn register_network_input(&self, input: &str) {
        let l = Self::label("input", input);
        self.net_connections.get_or_create(&l).set(0);
        for f in [
            &self.net_connections_opened,
            &self.net_messages,
            &self.net_records,
            &self.net_bytes,
            &self.net_acks,
        ] {
            f.get_or_create(&l).inc_by(0);
        }
    }

    /// Counts rejected network input.
    pub fn net_reject(&self, input: &str, reason: &str) {
        self.net_reject_n(input, reason, 1);
    }

    /// Counts `n` inputs of a network input rejected for `reason` (records skipped inside an accepted message).
    pub fn net_reject_n(&self, input: &str, reason: &str, n: u64) {
        self.net_rejected
            .get_or_create(&Self::labels2("input", input, "reason", reason))
            .inc_by(n);
    }

    /// Counts a refused authentication of a network input, by reason.
    pub fn net_auth_failure(&self, input: &str, reason: &str) {
        self.net_auth_failures
            .get_or_create(&Self::labels2("input", input, "reason", reason))
            .inc();
    }

    /// Counts a queued blob ADX reported as failed (and dead-lettered): `adx_queued_failures{code}` and
    /// `dead_letters{sink="adx"}`. The code comes from ADX: only `[A-Za-z0-9_]`, at most 64 characters, are kept.
    pub fn add_adx_queued_failure(&self, code: &str) {
        let mut code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        if code.is_empty() {
            code.push_str("unknown");
        }
        self.adx_queued_failures
            .get_or_create(&Self::label("code", &code))
            .inc();
        self.dead_letters
            .get_or_create(&Self::label("sink", "adx"))
            .inc();
    }

    /// Counts Azure AD token requests of `credential` (`ok` and `error` are increments).
    pub fn add_token_requests(&self, credential: &str, ok: u64, error: u64) {
        for (result, n) in [("ok", ok), ("error", error)] {
            self.token_requests
                .get_or_create(&Self::labels2("credential", credential, "result", result))
                .inc_by(n);
        }
    }

    /// Marks the daemon ready (configuration loaded, pipeline running).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Records whether a sink is failing permanently (its recent batches were all rejected permanently).
    pub fn set_sink_failing(&self, sink: &str, failing: bool) {
        if let Ok(mut set) = self.failing_sinks.lock() {
            if failing {
                set.insert(sink.to_owned());
            } else {
                set.remove(sink);
            }
        }
    }

    /// The `reason` label values of `sink_retries` created at zero for every sink.
    pub const RETRY_REASONS: [&'static str; 2] = ["io", "not_delivered"];

    /// Counts one retry of `sink` for `reason`.
    pub fn sink_retry(&self, sink: &str, reason: &str) {
        self.sink_retries
            .get_or_create(&Self::labels2("sink", sink, "reason", reason))
            .inc();
    }

    /// Creates every per-sink series at zero, so alerts on `increase()` see the first event.
    pub fn register_sink(&self, sink: &str) {
        let l = Self::label("sink", sink);
        self.sink_batches.get_or_create(&l).inc_by(0);
        self.sink_records.get_or_create(&l).inc_by(0);
        self.sink_bytes.get_or_create(&l).inc_by(0);
        for reason in Self::RETRY_REASONS {
            self.sink_retries
                .get_or_create(&Self::labels2("sink", sink, "reason", reason))
                .inc_by(0);
        }
        self.dead_letters.get_or_create(&l).inc_by(0);
        self.dead_lettered_records.get_or_create(&l).inc_by(0);
    }

    /// `/readyz`: configuration loaded and no sink failing permanently.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
            && self
                .failing_sinks
                .lock()
                .map(|s| s.is_empty())
                .unwrap_or(false)
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::new();
        let mut s = BatchStats::default();
        s.records[RecordKind::Flow as usize] = 3;
        s.kept_flows = 2;
        s.skipped[Skip::MalformedJson as usize] = 1;
        m.add_batch(&s);
        m.sink_batches
            .get_or_create(&Metrics::label("sink", "adx"))
            .inc();
        let text = m.render();
        assert!(
            text.contains("hubble_ingest_records_total{kind=\"flow\"} 3"),
            "{text}"
        );
        assert!(text.contains("hubble_ingest_flows_kept_total 2"), "{text}");
        assert!(
            text.contains("hubble_ingest_skipped_lines_total{reason=\"malformed_json\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("hubble_ingest_sink_batches_total{sink=\"adx\"} 1"),
            "{text}"
        );
        assert!(!m.is_ready());
        m.set_ready(true);
        assert!(m.is_ready());
        m.set_sink_failing("adx", true);
        assert!(!m.is_ready());
        m.set_sink_failing("adx", false);
        assert!(m.is_ready());
        m.register_sink("file:/x");
        assert!(m
            .render()
            .contains("hubble_ingest_dead_letters_total{sink=\"file:/x\"} 0"));
        m.add_adx_queued_failure("BadRequest_Mapping\"}\n x");
        assert!(m
            .render()
            .contains("hubble_ingest_adx_queued_failures_total{code=\"BadRequest_Mappingx\"} 1"));
        m.add_token_requests("workload-identity", 2, 1);
        let text = m.render();
        assert!(
            text.contains("hubble_ingest_token_requests_total{credential=\"workload-identity\",result=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("hubble_ingest_token_requests_total{credential=\"workload-identity\",result=\"error\"} 1"),
            "{text}"
        );
    }
}
