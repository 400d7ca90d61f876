#!/usr/bin/env bash
# A/B end-to-end comparison of two hubble-ingest binaries on the same warm files, interleaved in the same run
# (this machine is noisy: only ratios measured together mean anything). Uses the inputs of bench-e2e.sh.
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [SIZE]
#
# Build OLD_BIN from another checkout, e.g.
#   git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
NEW=$2
SIZE=${3:-500MB}
DATA=${BENCH_DATA:-target/bench-data}
mkdir -p "$DATA"
cargo build --release --quiet --example gen-flows
GEN=target/release/examples/gen-flows
mixed="$DATA/mixed-$SIZE.log"
allkept="$DATA/allkept-$SIZE.log"
groups="$DATA/groups-200k.yaml"
[ -s "$mixed" ] || "$GEN" logs --bytes "$SIZE" --flow-share 0.8 --kept-share 0.02 --seed 1 > "$mixed"
[ -s "$allkept" ] || "$GEN" logs --bytes "$SIZE" --flow-share 1 --kept-share 1 --seed 2 > "$allkept"
[ -s "$groups" ] || "$GEN" cidr-groups --prefixes 200000 --groups 50 > "$groups"
for f in "$mixed" "$allkept"; do cat "$f" > /dev/null; done
out="$DATA/out-compare.ndjson"

time_once() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
mean_len() { awk '{n++; s+=length($0)+1} END {printf "%.0f", s/n}' "$1"; }

compare() { # name, runs, args... (the binary is inserted first)
  local name=$1 runs=$2; shift 2
  local a=() b=()
  for _ in $(seq "$runs"); do
    a+=("$(time_once sh -c "rm -f $out; exec $OLD $*")")
    b+=("$(time_once sh -c "rm -f $out; exec $NEW $*")")
  done
  local ba bb; ba=$(min "${a[@]}"); bb=$(min "${b[@]}")
  echo "$name: old ${ba}s | new ${bb}s | new/old $(echo "$bb $ba" | awk '{printf "%.2f", $1/$2}')"
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); old $OLD; new $NEW"
echo "mean line length: mixed $(mean_len "$mixed") B, all kept $(mean_len "$allkept") B"
echo "wc -l mixed: $(min "$(time_once wc -l "$mixed")" "$(time_once wc -l "$mixed")" "$(time_once wc -l "$mixed")")s"
compare "mixed $SIZE, default filter" 5 replay --progress never --sink "file:$out" "$mixed"
compare "all kept $SIZE" 3 replay --progress never --sink "file:$out" "$allkept"
compare "all kept $SIZE, 200k prefixes" 3 replay --progress never --cidr-groups "$groups" --sink "file:$out" "$allkept"
rm -f "$out"
