#!/usr/bin/env bash
# Builds mcpt-eval and runs the whole test suite (ctest), then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Installs missing Debian packages first. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCPT_WERROR=ON
cmake --build build -j "$jobs"
# ctest runs tests side by side: one compute thread each avoids oversubscribing the cores.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ctest --test-dir build --output-on-failure -j "$jobs" --timeout 1800
if [ "${MCPT_SKIP_SANITIZERS:-0}" != 1 ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMCPT_SANITIZE=ON -DMCPT_BUILD_BENCH=OFF -DMCPT_BUILD_E2E_TESTS=OFF -DMCPT_WERROR=ON
  cmake --build build-asan -j "$jobs"
  # LeakSanitizer stays off until the reliability issue checks LibTorch and FluidSynth for
  # process-lifetime allocations; ASan (memory errors) and UBSan are on.
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs" --timeout 1200
fi
