#!/usr/bin/env bash
# The daemon's CPU per kept flow, without a rate-controlled harness on the same cores: `run --input -` reads the
# realistic all-kept file from stdin to its end, spools every batch, delivers it to a file sink and exits;
# `replay` of the same file and `wc -l` run in the same rounds (scripts/ab.py, interleaved, median per-round
# ratios). With OLD_BIN set, that build's `run` is timed in the same rounds too, for a before/after ratio.
# Prints the mean line length of the input. Results go into BENCHMARKS.md by hand.
#
#   [OLD_BIN=/path/to/old/hubble-ingest] scripts/bench-daemon.sh [SIZE] [ROUNDS]   SIZE like 300MB (default), ROUNDS 21
#
# State directory and sink go to tmpfs when there is one (the VM's disk adds fsync and writeback noise that
# hides differences of a few percent); set BENCH_OUT to measure on a disk instead.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-300MB}
ROUNDS=${2:-21}
DATA=${BENCH_DATA:-target/bench-data}
mkdir -p "$DATA"
nice -n 10 cargo build --release --quiet --example gen-flows
nice -n 10 cargo build --release --quiet
BIN=$PWD/target/release/hubble-ingest
GEN=target/release/examples/gen-flows

input="$DATA/allkept-realistic-$SIZE.log"
[ -s "$input" ] || "$GEN" logs --bytes "$SIZE" --flow-share 1 --kept-share 1 --shape realistic --seed 2 > "$input"
OUT=${BENCH_OUT:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "$DATA")}/daemon-bench
mkdir -p "$OUT"
cat "$input" > /dev/null   # warm the page cache
awk '{ n++; s += length($0) } END { printf "input: %s, %d lines, mean line %.0f bytes\n", FILENAME, n, s / n }' "$input"

run_cmd() { # $1 = binary, $2 = tag
  echo "rm -rf $OUT/state-$2 $OUT/sink-$2.ndjson ;; $1 run --input - --state-dir $OUT/state-$2 --sink file:$OUT/sink-$2.ndjson < $input"
}
cmds=()
if [ -n "${OLD_BIN:-}" ]; then
  cmds+=("$(run_cmd "$OLD_BIN" old)")
fi
cmds+=(
  "$(run_cmd "$BIN" new)"
  "rm -f $OUT/sink-replay.ndjson ;; $BIN replay --progress never --sink file:$OUT/sink-replay.ndjson $input"
  "wc -l $input"
)
python3 scripts/ab.py "$ROUNDS" "${cmds[@]}"
lines=$(wc -l < "$input")
echo "lines: $lines (CPU per flow = the CPU median above / $lines)"
rm -rf "$OUT"
