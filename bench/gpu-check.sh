#!/usr/bin/env bash
# The CUDA checks, in one run on a machine with a GPU and a build against a CUDA LibTorch
# (PyTorch 2.x's bundled one works: cmake -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch;
# print(torch.utils.cmake_prefix_path)') ...). Everything else in the project is checked on the CPU.
#   bench/gpu-check.sh [BUILD_DIR=build-gpu] [PEAK_BF16_TFLOPS]
# 1. The tests that run only where LibTorch sees a CUDA device (they skip elsewhere): the mcpt encoder,
#    the TorchScript encoder, every probe kind including L-BFGS, and pre-training in float32 and under
#    bf16 autocast, each against the CPU. A skip here is a failure: this script is the GPU check.
# 2. P3 on the GPU (docs/performance.md): the MCPT ViT forward (MCPT-base: vertical, dim 384, depth 12)
#    at batches 256 and 512 in bfloat16, and 256 in float32, each beside an 8192^3 matmul of the same
#    dtype. PEAK_BF16_TFLOPS is the GPU's dense bf16 peak from its data sheet (e.g. 989 for an H100 or
#    H200 SXM); given it, the bf16 lines report MFU (goal: >= 25 % at batch >= 256).
# 3. The stand-in run's shape at a size that fits one device call: bench_pipeline with STANDIN_TRACKS
#    (default 128; issue 9's full run is 1763) tracks x 120 s, 5 pitch shifts, the ViT on the GPU, all
#    CPU cores for decoding and Rubber Band; goal: pipeline wall <= 1.5x the slowest stage alone.
# Prints one line per check and "gpu-check: PASS" or "gpu-check: FAIL (...)"; exit status 0 or 1.
set -uo pipefail
build=${1:-build-gpu}
peak=${2:-}
fail=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader |
  sed 's/^/gpu-check: device: /'

# 1. CUDA tests.
run_tests() {
  local program=$1 filter=$2
  if [ ! -x "$build/tests/$program" ]; then
    echo "gpu-check: $program: not built in $build"
    fail+=("$program missing")
    return
  fi
  "$build/tests/$program" --gtest_filter="$filter" >"$log" 2>&1
  local rc=$? passed skipped
  passed=$(grep -c '^\[       OK \]' "$log")
  skipped=$(grep -cE '^\[  SKIPPED \] [A-Za-z].* \([0-9]+ ms\)' "$log")
  echo "gpu-check: $program ($filter): exit $rc, $passed passed, $skipped skipped"
  if [ "$rc" -ne 0 ] || [ "$skipped" -ne 0 ] || [ "$passed" -eq 0 ]; then
    grep -E 'Failure|Expected|Which is|SKIPPED|error' "$log" | head -20
    fail+=("$program")
  fi
}
run_tests test_harness_mcpt_test 'Mcpt.OnACudaDevice*:Mcpt.BFloat16*'
run_tests test_harness_torchscript_test 'TorchScript.OnACudaDevice*'
run_tests test_probes_probe_test 'Probe.OnACudaDevice*'
run_tests test_harness_pretrain_test 'Pretraining.OnACudaDevice*'

# 2. P3 on the GPU.
bench() {
  local dtype=$1 batch=$2 extra=()
  [ -n "$peak" ] && [ "$dtype" = bfloat16 ] && extra=(--peak-tflops "$peak")
  if ! "$build/bench/bench_mcpt" --device cuda --dtype "$dtype" --batch "$batch" "${extra[@]}" \
      --benchmark_filter='forward|gemm' --benchmark_min_time=2 >"$log" 2>&1; then
    tail -5 "$log"
    fail+=("bench_mcpt $dtype $batch")
    return
  fi
  grep -E '^(mcpt_forward_layers|gemm_peak)' "$log" | sed 's/^/gpu-check:   /'
  grep '^P3' "$log" | sed 's/^/gpu-check: /'
}
if [ -x "$build/bench/bench_mcpt" ]; then
  bench bfloat16 256
  bench bfloat16 512
  bench float32 256
else
  echo "gpu-check: bench_mcpt: not built in $build"
  fail+=("bench_mcpt missing")
fi

# 3. The stand-in run.
if [ -x "$build/bench/bench_pipeline" ]; then
  if "$build/bench/bench_pipeline" --tracks "${STANDIN_TRACKS:-128}" --seconds 120 --shifts -2,-1,1,2,3 \
      --device cuda --threads "$(nproc)" --repeats 1 >"$log" 2>&1; then
    sed 's/^/gpu-check:   /' "$log"
  else
    tail -5 "$log"
    fail+=("bench_pipeline")
  fi
else
  echo "gpu-check: bench_pipeline: not built in $build"
  fail+=("bench_pipeline missing")
fi

if [ ${#fail[@]} -eq 0 ]; then
  echo "gpu-check: PASS"
else
  echo "gpu-check: FAIL (${fail[*]})"
  exit 1
fi
