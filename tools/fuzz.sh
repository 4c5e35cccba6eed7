#!/usr/bin/env bash
# libFuzzer runs of the parsers and the audio loader (tests/fuzz), built with clang + ASan + UBSan
# in their own build dir.
#   tools/fuzz.sh smoke [SECONDS]   each target for SECONDS (default 25) seconds: the CI run
#   tools/fuzz.sh long [RUNS]       each target for RUNS executions (default 1000000), one after
#                                   the other, under nice -n 19: the figures in docs/reliability.md
# Environment: MCPT_FUZZ_NICE (niceness of long runs, default 19), MCPT_FUZZ_TARGETS (default
# "key manifest giantsteps audio suite"; suite needs the harness library, the others only
# datasets), MCPT_FUZZ_BUILD (default build-fuzz). Seeds come from tests/fuzz/corpus/<target>
# (read only); what a run learns goes to $MCPT_FUZZ_BUILD/fuzz-corpus/<target>, crashing inputs to
# $MCPT_FUZZ_BUILD/fuzz-artifacts/<target>/, logs to $MCPT_FUZZ_BUILD/fuzz-logs/. Prints one line
# per target (executions, seconds, result) and exits 1 if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
case "$mode" in
  # A fixed seed in smoke runs: CI explores the same inputs each time, so a red run is reproducible.
  smoke) seconds=${2:-25}; limit=(-max_total_time="$seconds" -seed=1) ;;
  long) runs=${2:-1000000}; limit=(-runs="$runs")
    # MCPT_FUZZ_MAX_SECONDS caps each target's time (a shared machine); the log says where it stopped.
    [ -n "${MCPT_FUZZ_MAX_SECONDS:-}" ] && limit+=(-max_total_time="$MCPT_FUZZ_MAX_SECONDS") ;;
  *) echo "usage: tools/fuzz.sh smoke [SECONDS] | long [RUNS]" >&2; exit 2 ;;
esac
build=${MCPT_FUZZ_BUILD:-build-fuzz}
read -r -a targets <<< "${MCPT_FUZZ_TARGETS:-key manifest giantsteps audio suite}"
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 2; }

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCPT_SANITIZE=ON \
  -DMCPT_FUZZ=ON -DMCPT_BUILD_BENCH=OFF -DMCPT_BUILD_E2E_TESTS=OFF -DMCPT_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Leaks count as findings (libFuzzer checks each input that grows the heap), except those proven to
# be inside third-party libraries (tests/lsan.supp says which and why). One thread for any BLAS or
# OpenMP pool a target starts.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
failed=0
mkdir -p "$build/fuzz-logs"
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t" artifacts="$build/fuzz-artifacts/$t" log="$build/fuzz-logs/$t-$mode.log"
  mkdir -p "$corpus" "$artifacts"
  start=$(date +%s)
  rc=0
  # -timeout: an input that takes this long is a hang (a finding); -rss_limit_mb: runaway memory too.
  # Long runs at nice 19 on a busy machine get starved for seconds at a time: 60 s there, so that a
  # timeout means a hang and not the scheduler (seen: a 58-byte key input "timed out" after 13 s).
  # The writable corpus comes first: libFuzzer adds what it learns there, never to the seeds.
  nice -n "$([ "$mode" = long ] && echo "${MCPT_FUZZ_NICE:-19}" || echo 0)" "$build/tests/fuzz/fuzz_$t" "${limit[@]}" -timeout="${MCPT_FUZZ_TIMEOUT:-$([ "$mode" = long ] && echo 60 || echo 10)}" \
    -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" = 0 ]; then
    result="ok, 0 crashes"
  else
    failed=1
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR|SUMMARY|finding' "$log" || true); input in $artifacts, log $log"
  fi
  printf 'fuzz %-10s %10s executions %5s s  %s\n' "$t" "${execs:-?}" "$secs" "$result"
done
exit "$failed"
