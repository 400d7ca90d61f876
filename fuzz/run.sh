#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 180), niced, with the seed corpus and the
# matching dictionary; crashes go to fuzz/artifacts/<target>/, logs to fuzz/artifacts/<target>.log.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]      (build first: see README.md)
# BIN_DIR overrides where the built targets are (default: fuzz/target/x86_64-unknown-linux-gnu/release).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-180}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame_cri frame_docker frame_auto decode_record scan_flow filter_spec flowlogs_yaml go_regex forward_decode report_flows)
bin_dir="${BIN_DIR:-$here/target/x86_64-unknown-linux-gnu/release}"

dict_for() {
    case "$1" in
        frame_*) echo "$here/dict/framers.dict" ;;
        scan_flow | report_flows) echo "$here/dict/decode_record.dict" ;;
        *) echo "$here/dict/$1.dict" ;;
    esac
}

for t in "${targets[@]}"; do
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
    echo "== $t: ${seconds}s"
    status=0
    dict=()
    [ -f "$(dict_for "$t")" ] && dict=(-dict="$(dict_for "$t")")
    nice -n 10 "$bin_dir/$t" -max_total_time="$seconds" -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$here/artifacts/$t/" \
        "$here/corpus/$t" > "$here/artifacts/$t.log" 2>&1 || status=$?
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)|DONE|panicked|SUMMARY' \
        "$here/artifacts/$t.log" || true
    [ "$status" -eq 0 ] || echo "$t: exit $status (crash?): see artifacts/$t.log and artifacts/$t/"
done
