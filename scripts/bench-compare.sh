#!/usr/bin/env bash
# A/B end-to-end comparison of two hubble-ingest binaries on the same warm files, interleaved in the same run
# (this machine is noisy: only ratios measured together mean anything), with `wc -l` and `cat > /dev/null` of
# the same files timed in the same run as baselines. Inputs: realistic flows from gen-flows (the default shape).
#
#   scripts/bench-compare.sh OLD_BIN NEW_BIN [ALLKEPT_SIZE [MIXED_SIZE]]     defaults 300MB and 730MB
#
# Build OLD_BIN from another checkout, e.g.
#   git worktree add /tmp/base <commit> && (cd /tmp/base && cargo build --release)
# RUNS (default 5) sets the runs per binary and workload; the best of them is reported, plus CPU time
# (user + system, all threads) of that best run.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
NEW=$2
ALLKEPT_SIZE=${3:-300MB}
MIXED_SIZE=${4:-730MB}
RUNS=${RUNS:-5}
DATA=${BENCH_DATA:-target/bench-data}
mkdir -p "$DATA"
GEN=target/release/examples/gen-flows
if [ ! -s "$DATA/mixed-realistic-$MIXED_SIZE.log" ] || [ ! -s "$DATA/allkept-realistic-$ALLKEPT_SIZE.log" ] \
  || [ ! -s "$DATA/groups-200k.yaml" ]; then
  cargo build --release --quiet --example gen-flows
fi
mixed="$DATA/mixed-realistic-$MIXED_SIZE.log"
allkept="$DATA/allkept-realistic-$ALLKEPT_SIZE.log"
groups="$DATA/groups-200k.yaml"
[ -s "$mixed" ] || "$GEN" logs --bytes "$MIXED_SIZE" --flow-share 0.8 --kept-share 0.02 --seed 1 > "$mixed"
[ -s "$allkept" ] || "$GEN" logs --bytes "$ALLKEPT_SIZE" --flow-share 1 --kept-share 1 --seed 2 > "$allkept"
[ -s "$groups" ] || "$GEN" cidr-groups --prefixes 200000 --groups 50 > "$groups"
for f in "$mixed" "$allkept"; do cat "$f" > /dev/null; done
out="$DATA/out-compare.ndjson"

# "wall cpu" of one run: wall seconds, and user + system CPU seconds of all its threads.
time_once() {
  local tf; tf=$(mktemp)
  /usr/bin/time -o "$tf" -f '%e %U %S' "$@" >/dev/null 2>&1 || true
  tail -1 "$tf" | awk '{printf "%.3f %.2f", $1, $2 + $3}'
  rm -f "$tf"
}
best() { printf '%s\n' "$@" | sort -g -k1,1 | head -1; }
mean_len() { LC_ALL=C awk '{n++; s+=length($0)+1} END {printf "%.0f", s/n}' "$1"; }
mbps() { echo "$1 $2" | awk '{printf "%.0f", $1/1e6/$2}'; }

baseline() { # name file -> "wc -l" and "cat" best walls
  local f=$1 w=() c=()
  for _ in $(seq "$RUNS"); do
    w+=("$(time_once wc -l "$f")")
    c+=("$(time_once sh -c "cat '$f' > /dev/null")")
  done
  echo "$(best "${w[@]}" | cut -d' ' -f1) $(best "${c[@]}" | cut -d' ' -f1)"
}

compare() { # name file args... (the binary is inserted first)
  local name=$1 file=$2; shift 2
  local a=() b=()
  read -r wc cat <<< "$(baseline "$file")"
  for _ in $(seq "$RUNS"); do
    a+=("$(time_once sh -c "rm -f $out; exec $OLD $*")")
    b+=("$(time_once sh -c "rm -f $out; exec $NEW $*")")
  done
  local ba bb; ba=$(best "${a[@]}"); bb=$(best "${b[@]}")
  local bytes; bytes=$(stat -c %s "$file")
  echo "$name: wc -l ${wc}s, cat ${cat}s | old ${ba% *}s (cpu ${ba#* }s, $(mbps "$bytes" "${ba% *}") MB/s, $(echo "${ba% *} $wc" | awk '{printf "%.2f", $1/$2}')x wc -l) | new ${bb% *}s (cpu ${bb#* }s, $(mbps "$bytes" "${bb% *}") MB/s, $(echo "${bb% *} $wc" | awk '{printf "%.2f", $1/$2}')x wc -l) | new/old $(echo "${bb% *} ${ba% *}" | awk '{printf "%.2f", $1/$2}')"
}

echo "machine: $(nproc) cores; $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg); old $OLD; new $NEW"
echo "mean line length: all kept $(mean_len "$allkept") B, mixed $(mean_len "$mixed") B"
compare "all kept $ALLKEPT_SIZE, file sink" "$allkept" replay --progress never --sink "file:$out" "$allkept"
compare "mixed $MIXED_SIZE (2% kept), default filter" "$mixed" replay --progress never --sink "file:$out" "$mixed"
compare "all kept $ALLKEPT_SIZE, 200k prefixes" "$allkept" replay --progress never --cidr-groups "$groups" --sink "file:$out" "$allkept"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$out"
