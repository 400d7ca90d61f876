#!/usr/bin/env bash
# Reproducible Forward-input benchmark: realistic exporter flows (gen-flows, every line a kept flow) sent by a Rust
# load generator (examples/forward-sender.rs: PackedForward, gzip, a chunk id per message, waits for each ack like
# Fluent Bit's Require_ack_response) over loopback with C concurrent connections into
# `run --input forward://... --sink file:`. Baseline in the same run: `replay` of the same records from a file
# into the same kind of sink. Prints records/s, the ratio to the baseline, the daemon's peak RSS (VmHWM) and the
# mean line length. Results go into BENCHMARKS.md by hand.
#
#   scripts/bench-forward.sh [RECORDS] [CONNECTIONS] [PER_MESSAGE]     defaults: 1000000 100 500
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-1000000}
CONNS=${2:-100}
PER=${3:-500}
DATA=${BENCH_DATA:-target/bench-data}
mkdir -p "$DATA"
cargo build --release --quiet --example gen-flows --example forward-sender
cargo build --release --quiet
BIN=target/release/hubble-ingest
lines="$DATA/forward-flows.log"
[ -s "$lines" ] || target/release/examples/gen-flows logs --lines 20000 --flow-share 1 --kept-share 1 --seed 7 > "$lines"
mean=$(awk '{n++; b+=length($0)} END {printf "%.0f", b/n}' "$lines")

# Baseline: the same number of records replayed from a file.
file="$DATA/forward-baseline.log"
reps=$(( (RECORDS + 19999) / 20000 ))
: > "$file"; for _ in $(seq "$reps"); do cat "$lines" >> "$file"; done
head -n "$RECORDS" "$file" > "$file.tmp" && mv "$file.tmp" "$file"
out="$DATA/forward-out.ndjson"
rm -f "$out"
s=$(date +%s.%N)
"$BIN" replay --progress never --format raw --sink "file:$out" "$file" 2>/dev/null
e=$(date +%s.%N)
base_rps=$(echo "$RECORDS $s $e" | awk '{printf "%.0f", $1/($3-$2)}')
base_lines=$(wc -l < "$out")

# The daemon.
state=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$state"' EXIT
rm -f "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" run --input "forward://127.0.0.1:$port" --sink "file:$out" --state-dir "$state" \
  --max-connections $((CONNS + 10)) --log-level warn 2>"$state/log" &
pid=$!
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
result=$(target/release/examples/forward-sender --target "127.0.0.1:$port" --lines "$lines" \
  --connections "$CONNS" --records "$RECORDS" --per-message "$PER" --compress gzip)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
# Everything acknowledged must reach the sink.
want=$(( (RECORDS + PER - 1) / PER * PER ))
for _ in $(seq 300); do [ "$(wc -l < "$out" 2>/dev/null || echo 0)" -ge "$want" ] && break; sleep 0.1; done
got=$(wc -l < "$out")
kill -TERM "$pid"; wait "$pid" || true
rps=$(echo "$result" | sed 's/.*"records_per_s":\([0-9]*\).*/\1/')
echo "records=$want connections=$CONNS per_message=$PER compress=gzip mean_line_bytes=$mean"
echo "forward: $result"
echo "forward records/s: $rps  (sink lines $got)"
echo "baseline replay records/s: $base_rps  (sink lines $base_lines)"
echo "ratio forward/replay: $(echo "$rps $base_rps" | awk '{printf "%.2f", $1/$2}')"
echo "daemon peak RSS (VmHWM): $((hwm / 1024)) MiB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
[ "$got" -ge "$want" ] || { echo "MISSING RECORDS: sink has $got of $want" >&2; exit 1; }
