#!/usr/bin/env bash
# Runs every side-by-side benchmark (P1-P7 of docs/performance.md) against the tool a researcher
# would otherwise use, and prints their result lines together. Build first (Release or
# RelWithDebInfo, benchmarks on): cmake -S . -B build -G Ninja && ninja -C build.
#   bench/run-all.sh [BUILD_DIR=build]
# The Google Benchmark binaries (build/bench/bench_*) measure single components in more detail.
set -uo pipefail
build=$(readlink -f "${1:-build}")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
  local id=$1
  shift
  echo "== $id: $*" >&2
  if ! "$@" | tee -a "$log"; then
    echo "$id FAILED ($*)" | tee -a "$log"
    status=1
  fi
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
run P1 "$py" "$here/keys_vs_mir_eval.py" "$build" 100000
run P2 bash "$here/rubberband_side_by_side.sh" "$build" 8 30 3
[ -f "$here/mcpt_python_side_by_side.py" ] && run P3 "$py" "$here/mcpt_python_side_by_side.py" --build "$build"
run P4 "$py" "$here/probe_vs_sklearn.py" --exe "$build/bench/bench_probe_fit"
run P5-P6 bash "$here/demo_cold_warm.sh" "$build"
run P7 "$build/bench/bench_pipeline" --tracks 16 --seconds 30 --threads 2
# One table of the ratios: each script's summary line ("P<n> ...").
echo
echo "| id | result (goal) |"
echo "|---|---|"
grep -E '^P[0-9]' "$log" | sed -E 's/^(P[0-9]+) /| \1 | /; s/$/ |/'
exit $status
