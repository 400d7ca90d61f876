#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs cut from fixtures/ (the corpus directories are git-ignored).
#
#   framers (frame_cri, frame_docker, frame_auto): every line alone, and chunks of 3 consecutive lines (so
#     partial/full sequences and interleaved streams are in the seeds);
#   decode_record: one file per line of the exporter output, the bad-input file and the Fluent Bit records;
#   scan_flow: the same seeds as decode_record;
#   filter_spec: the JSON filters below plus every JSON filter literal in hubble-flow's filter tests;
#   flowlogs_yaml: fixtures/flowlogs.yaml, each of its entries alone, and the YAML examples below;
#   report_flows: the exporter output in chunks of 20 lines (several flows per input, so counters prune).
#
# Usage: fuzz/seed.sh   (from anywhere; re-running replaces the seed files, keeps what fuzzing added)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../fixtures"
corpus="$here/corpus"

# split_lines FILE DIR PREFIX N: writes FILE's lines in chunks of N lines to DIR/PREFIX.NNNNN.
split_lines() {
    mkdir -p "$2"
    split --lines="$4" --numeric-suffixes=1 --suffix-length=5 "$1" "$2/$3."
}

for target in frame_cri frame_docker frame_auto decode_record scan_flow filter_spec flowlogs_yaml report_flows; do
    mkdir -p "$corpus/$target"
    rm -f "$corpus/$target"/seed-*
done

split_lines "$fixtures/cri-0.log" "$corpus/frame_cri" seed-cri-l1 1
split_lines "$fixtures/cri-0.log" "$corpus/frame_cri" seed-cri-l3 3
split_lines "$fixtures/docker-json.log" "$corpus/frame_docker" seed-docker-l1 1
split_lines "$fixtures/docker-json.log" "$corpus/frame_docker" seed-docker-l3 3
for f in cri-0.log docker-json.log fluentbit.jsonl agent-stdout.log bad-input.log; do
    split_lines "$fixtures/$f" "$corpus/frame_auto" "seed-${f%%.*}-l3" 3
done
for f in agent-stdout.log bad-input.log fluentbit.jsonl; do
    split_lines "$fixtures/$f" "$corpus/decode_record" "seed-${f%%.*}" 1
done
# Lines without their newline too: decode gets logical lines, which have none.
for s in "$corpus/decode_record"/seed-*; do
    if [ "$(tail -c 1 "$s" | od -An -tx1 | tr -d ' ')" = "0a" ]; then
        cp "$s" "$s.nonl" && truncate --size=-1 "$s.nonl"
    fi
done
# scan_flow: the same lines as decode_record.
cp "$corpus/decode_record"/seed-* "$corpus/scan_flow/"
split_lines "$fixtures/agent-stdout.log" "$corpus/report_flows" seed-agent-l20 20

n=0
write_filter() {
    n=$((n + 1))
    printf '%s' "$1" > "$corpus/filter_spec/seed-filter-$(printf '%04d' "$n")"
}
while IFS= read -r spec; do
    [ -n "$spec" ] && write_filter "$spec"
done <<'SPECS'
{"event_type":[{"type":1,"match_sub_type":true,"sub_type":181}],"traffic_direction":["EGRESS"]}
{"event_type":[{"type":1,"sub_type":181}],"traffic_direction":["EGRESS"]} {"source_pod":["kube-system/"]}
[{"eventType":[{"type":1,"matchSubType":true,"subType":"181"}],"trafficDirection":[2]}]
{"source_ip":["10.244.0.0/16","1.1.1.1"],"destination_port":["53","443"]}
{"destination_ip":["203.0.113.8","2001:db8::/32"],"ip_version":["IPv4","IPv6"]}
{"source_pod":["kube-system/","default/web-"],"verdict":["DROPPED","FORWARDED"]}
{"source_label":["k8s:app=web","!k8s:tier"],"destination_label":["k8s:app in (db, cache)","reserved:world"]}
{"source_fqdn":["*.example.com"],"destination_fqdn":["api.*.svc.cluster.local"]}
{"http_method":["GET"],"http_status_code":["2+","404"],"http_path":["/api/.*"],"http_url":["https?://.*"]}
{"http_header":[{"key":"x-user","value":"a"}]}
{"tcp_flags":[{"SYN":true},{"FIN":true,"ACK":true}],"protocol":["tcp","udp","icmp"]}
{"node_name":["aks-*/aks-nodepool1-*"],"node_labels":["kubernetes.io/os=linux"],"reply":[true]}
{"dns_query":[".*\\.com"],"source_identity":[2],"destination_identity":["16777217"]}
{"drop_reason_desc":["POLICY_DENIED"],"source_service":["default/"],"destination_workload":[{"kind":"Deployment","name":"web"}]}
{"uuid":["a3b1799d-1c80-4066-8bdd-3eb146600000"],"trace_id":["abc"],"source_cluster_name":["c1"],"encrypted":[true]}
{"interface":[{"name":"eth0"},{"index":3}],"source_workload":[{"name":"cilium"}],"ip_trace_id":["7"]}
{"experimental":{"cel_expression":["true"]}}
{"source_ip_xlated":["10.0.0.1"],"sourceIpXlated":null}
SPECS
# Every single-line JSON literal passed to parse_filter_list / set(...) in hubble-flow's filter tests.
tests="$here/../crates/hubble-flow/src/filter/tests.rs"
if [ -f "$tests" ]; then
    while IFS= read -r spec; do
        write_filter "$spec"
    done < <(grep -oE 'r#"[[{][^#]*"#' "$tests" | sed -e 's/^r#"//' -e 's/"#$//' | sort -u)
fi

y="$corpus/flowlogs_yaml"
cp "$fixtures/flowlogs.yaml" "$y/seed-flowlogs"
# Each entry alone: the header line, then the lines from one "- name:" up to the next.
awk -v dir="$y" '/^- name:/ { n++ } n > 0 { print > (dir "/seed-flowlogs-entry-" n) }' "$fixtures/flowlogs.yaml"
for f in "$y"/seed-flowlogs-entry-*; do
    { echo "flowLogs:"; cat "$f"; } > "$f.tmp" && mv "$f.tmp" "$f"
done
cat > "$y/seed-doc-example" <<'YAML'
flowLogs:
- name: test002
  filePath: /var/log/network/flow-log/pa/test002.log
  fieldMask: [source.namespace, verdict]
  includeFilters: [{source_pod: ["default/"], event_type: [{type: 1}]}]
  excludeFilters: []
  end: "2023-10-09T23:59:59-07:00"
YAML
cat > "$y/seed-anchors" <<'YAML'
flowLogs:
- name: a
  filePath: /tmp/a.log
  includeFilters: &f [{verdict: [DROPPED], traffic_direction: [EGRESS], source_label: ["k8s:app=web"]}]
- name: b
  filePath: /tmp/b.log
  includeFilters: *f
  excludeFilters: [{destination_ip: ["10.0.0.0/8"], tcp_flags: [{SYN: true}]}]
YAML

for target in frame_cri frame_docker frame_auto decode_record scan_flow filter_spec flowlogs_yaml report_flows; do
    echo "$target: $(find "$corpus/$target" -type f | wc -l) files"
done
