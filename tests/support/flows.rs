//! Lines shaped like cilium-agent output (`fixtures/agent-stdout.log`): exporter flow records, each with a unique
//! uuid, mixed with agent log noise and non-flow exporter records; plus CRI framing as kubelet writes it.
//!
//! The generator remembers which uuids the default filter (policy-deny drops, EGRESS) must keep and which it
//! must not, so a test can compare a sink's content with what was written.

use super::XorShift;

/// Generates lines; every flow gets a fresh uuid tagged with the generator's `run` number.
#[derive(Debug, Default)]
pub struct FlowGen {
    run: u32,
    seq: u64,
    /// Uuids of flows the default filter keeps (egress policy-deny drops), in write order.
    pub kept: Vec<String>,
    /// Uuids of flows the default filter drops.
    pub unkept: Vec<String>,
}

impl FlowGen {
    /// A generator whose uuids carry `run` (use a different one per test so uuids never collide).
    pub fn new(run: u32) -> Self {
        FlowGen {
            run,
            ..FlowGen::default()
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn time(seq: u64) -> String {
        format!(
            "2026-01-01T{:02}:{:02}:{:02}.{:09}Z",
            (seq / 3_600_000) % 24,
            (seq / 60_000) % 60,
            (seq / 1000) % 60,
            (seq % 1000) * 1_000_000 + 7919
        )
    }

    fn uuid(&self, seq: u64) -> String {
        format!("{:08x}-1c80-4066-8bdd-{:012x}", self.run, seq)
    }

    /// A flow the default filter keeps: `event_type {1,181}`, `EGRESS`, `POLICY_DENY`.
    pub fn kept_flow(&mut self) -> String {
        let seq = self.next_seq();
        let uuid = self.uuid(seq);
        let line = flow_line(&uuid, seq, 181, "EGRESS");
        self.kept.push(uuid);
        line
    }

    /// A flow the default filter drops (ingress policy deny, or egress with another drop reason).
    pub fn unkept_flow(&mut self) -> String {
        let seq = self.next_seq();
        let uuid = self.uuid(seq);
        let line = if seq % 2 == 0 {
            flow_line(&uuid, seq, 181, "INGRESS")
        } else {
            flow_line(&uuid, seq, 133, "EGRESS")
        };
        self.unkept.push(uuid);
        line
    }

    /// Agent log noise or a non-flow exporter record (each unique, so no two files start alike).
    pub fn noise(&mut self) -> String {
        let seq = self.next_seq();
        let t = Self::time(seq);
        match seq % 4 {
            0 => format!(
                r#"time="{t}" level=info msg="Regenerating endpoint" endpointID={seq} reason="policy rules added" subsys=endpoint"#
            ),
            1 => format!(
                r#"{{"time":"{t}","level":"info","msg":"Compiled new BPF template","seq":{seq},"subsys":"datapath-loader"}}"#
            ),
            2 => format!(
                r#"{{"lost_events":{{"source":"HUBBLE_RING_BUFFER","num_events_lost":"{seq}","cpu":1}},"node_name":"aks-prod/aks-nodepool1-31337-vmss000002","time":"{t}"}}"#
            ),
            _ => format!(
                r#"level=warning msg="Unable to update ipcache map entry on pod add" seq={seq} error="no such file or directory" subsys=k8s-watcher"#
            ),
        }
    }

    /// A random line: mostly kept flows, some dropped flows, some noise.
    pub fn next_line(&mut self, rng: &mut XorShift) -> String {
        match rng.range(0, 100) {
            0..=59 => self.kept_flow(),
            60..=74 => self.unkept_flow(),
            _ => self.noise(),
        }
    }

    /// The CRI timestamp for the next framed line.
    pub fn cri_time(&mut self) -> String {
        let seq = self.next_seq();
        Self::time(seq)
    }
}

/// One exporter flow record like those in `fixtures/agent-stdout.log`.
pub fn flow_line(uuid: &str, seq: u64, sub_type: u32, direction: &str) -> String {
    let t = FlowGen::time(seq);
    let port = 1024 + seq % 60000;
    let last = seq % 250 + 1;
    let reason = if sub_type == 181 {
        "POLICY_DENY"
    } else {
        "POLICY_DENIED"
    };
    format!(
        concat!(
            r#"{{"flow":{{"time":"{t}","uuid":"{uuid}","verdict":"DROPPED","ethernet":{{"source":"62:6b:d0:a4:c5:63","destination":"6e:d0:ea:78:fc:0a"}},"#,
            r#""IP":{{"source":"10.244.1.{last}","destination":"203.0.113.42","ipVersion":"IPv4"}},"#,
            r#""l4":{{"TCP":{{"source_port":{port},"destination_port":443,"flags":{{"SYN":true}}}}}},"#,
            r#""source":{{"ID":1203,"identity":48213,"cluster_name":"aks-prod","namespace":"payments","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=payments"],"pod_name":"api-7d9f8b6c5-x003","workloads":[{{"name":"api","kind":"Deployment"}}]}},"#,
            r#""destination":{{"identity":2,"labels":["reserved:world"]}},"Type":"L3_L4","node_name":"aks-prod/aks-nodepool1-31337-vmss000002","#,
            r#""event_type":{{"type":1,"sub_type":{sub_type}}},"traffic_direction":"{direction}","drop_reason":{sub_type},"drop_reason_desc":"{reason}","#,
            r#""egress_denied_by":[{{"name":"deny-geo-egress","labels":["k8s:io.cilium.k8s.policy.name=deny-geo-egress"],"revision":"12","kind":"CiliumClusterwideNetworkPolicy"}}],"Summary":"TCP Flags: SYN"}},"#,
            r#""node_name":"aks-prod/aks-nodepool1-31337-vmss000002","time":"{t}"}}"#
        ),
        t = t,
        uuid = uuid,
        last = last,
        port = port,
        sub_type = sub_type,
        direction = direction,
        reason = reason,
    )
}

/// Frames `msg` as kubelet's CRI log format; with `split`, as a `P` chunk followed by the final `F` chunk.
pub fn cri(time: &str, stream: &str, msg: &str, split: bool) -> String {
    if split && msg.len() > 2 {
        let mut cut = msg.len() / 2;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        format!(
            "{time} {stream} P {}\n{time} {stream} F {}\n",
            &msg[..cut],
            &msg[cut..]
        )
    } else {
        format!("{time} {stream} F {msg}\n")
    }
}

/// Uuids (the `Uuid` column) of the complete records in an NDJSON sink file, and how many complete lines did
/// not parse as JSON. A last line without its `\n` is ignored (the daemon may be writing it).
pub fn sink_uuids(text: &str) -> (Vec<String>, Vec<String>) {
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let mut uuids = Vec::new();
    let mut bad = Vec::new();
    for line in complete.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                if let Some(u) = v["Uuid"].as_str() {
                    uuids.push(u.to_owned());
                } else {
                    bad.push(line.to_owned());
                }
            }
            Err(_) => bad.push(line.to_owned()),
        }
    }
    (uuids, bad)
}

/// Reads an NDJSON sink file's uuids (empty when the file does not exist yet).
pub fn file_uuids(path: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read(path).unwrap_or_default();
    sink_uuids(&String::from_utf8_lossy(&text))
}

/// The expected uuids missing from `got`.
pub fn missing<'a>(expected: &'a [String], got: &[String]) -> Vec<&'a String> {
    let have: std::collections::HashSet<&String> = got.iter().collect();
    expected.iter().filter(|u| !have.contains(u)).collect()
}

/// How many entries of `got` repeat an earlier one.
pub fn duplicates(got: &[String]) -> usize {
    let set: std::collections::HashSet<&String> = got.iter().collect();
    got.len() - set.len()
}

/// Uuids of the complete records in NDJSON text by a plain scan for `"Uuid":"` (cheap enough to poll with; the
/// final checks parse every line with [`sink_uuids`]).
pub fn quick_uuids(text: &[u8]) -> Vec<String> {
    const KEY: &[u8] = br#""Uuid":""#;
    let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for line in text[..end].split(|&b| b == b'\n') {
        if let Some(i) = line.windows(KEY.len()).position(|w| w == KEY) {
            let rest = &line[i + KEY.len()..];
            if let Some(j) = rest.iter().position(|&b| b == b'"') {
                out.push(String::from_utf8_lossy(&rest[..j]).into_owned());
            }
        }
    }
    out
}
