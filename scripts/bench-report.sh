#!/usr/bin/env bash
# Overhead of `replay --report`: times `replay` with and without `--report` on the same realistic all-kept file
# in the same run (runs interleaved; best of RUNS each and the median per-pair ratio), `wc -l` on the file as a baseline, and peak RSS of both
# (`/usr/bin/time -v`). Prints the mean line length of the input. Results go into BENCHMARKS.md by hand.
#
#   scripts/bench-report.sh [SIZE]        SIZE like 300MB (default)
#
# The input is `gen-flows logs --flow-share 1 --kept-share 1` in its default realistic shape (every line an
# egress policy-deny drop shaped like real exporter output), cached in target/bench-data/.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-300MB}
RUNS=${RUNS:-3}
DATA=${BENCH_DATA:-target/bench-data}
mkdir -p "$DATA"
nice -n 10 cargo build --release --quiet --example gen-flows
nice -n 10 cargo build --release --quiet
BIN=target/release/hubble-ingest
GEN=target/release/examples/gen-flows

input="$DATA/allkept-realistic-$SIZE.log"
[ -s "$input" ] || "$GEN" logs --bytes "$SIZE" --flow-share 1 --kept-share 1 --shape realistic --seed 2 > "$input"
# The sink's output goes to tmpfs when there is one: 511 MB written to disk per run leaves dirty pages whose
# writeback lands on whichever run comes next, which skewed the comparison by up to 40 % on this VM.
OUT_DIR=${BENCH_OUT:-$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "$DATA")}
out="$OUT_DIR/report-bench.ndjson"
html="$DATA/report-bench.html"
cat "$input" > /dev/null   # warm the page cache

secs() { # wall seconds of one run of a command
  local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'; }

plain=(sh -c "rm -f $out; exec $BIN replay --progress never --sink file:$out $input")
report=(sh -c "rm -f $out $html; exec $BIN replay --progress never --sink file:$out --report $html $input")

wc_best=999999; plain_best=999999; report_best=999999; ratios=()
for _ in $(seq "$RUNS"); do
  wc_best=$(min "$wc_best" "$(secs wc -l "$input")")
  p=$(secs "${plain[@]}"); r=$(secs "${report[@]}")
  plain_best=$(min "$plain_best" "$p"); report_best=$(min "$report_best" "$r")
  ratios+=("$(awk -v a="$p" -v b="$r" 'BEGIN { print b / a }')")
done
# The median of the per-run ratios (each pair ran back to back) is steadier than a ratio of bests on a VM.
median_ratio=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
rss_plain=$(rss "${plain[@]}")
rss_report=$(rss "${report[@]}")
bytes=$(stat -c %s "$input")
lines=$(wc -l < "$input")
mean=$(LC_ALL=C awk '{ s += length($0) } END { printf "%.0f", s / NR }' "$input")
report_bytes=$(stat -c %s "$html")
rm -f "$out"

mbps() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.0f", b / 1e6 / t }'; }
echo "machine: $(nproc) cores; $(date -u +%FT%TZ); commit $(git rev-parse --short HEAD 2>/dev/null || echo -); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $input, $bytes bytes, $lines lines, mean line $mean bytes"
echo "wc -l:            ${wc_best}s"
echo "replay:           ${plain_best}s = $(mbps "$plain_best") MB/s, peak RSS ${rss_plain} KiB"
echo "replay --report:  ${report_best}s = $(mbps "$report_best") MB/s, peak RSS ${rss_report} KiB, report $report_bytes bytes"
awk -v a="$plain_best" -v b="$report_best" -v w="$wc_best" 'BEGIN {
  printf "report overhead: %+.1f %% best to best (replay %.2fx wc -l, with --report %.2fx wc -l)\n", (b / a - 1) * 100, a / w, b / w }'
awk -v m="$median_ratio" -v n="$RUNS" 'BEGIN { printf "report overhead: %+.1f %% median of %d back-to-back pairs\n", (m - 1) * 100, n }'
