// Key parsing and MIREX scoring throughput (compare: python3-mir-eval's key.weighted_score).
#include <benchmark/benchmark.h>

#include "datasets/Key.h"

using mcpt::datasets::Key;

static void BM_WeightedScore(benchmark::State& state) {
  std::vector<Key> keys;
  for (int i = 0; i < 24; ++i) keys.push_back(Key::from_index(i));
  double total = 0;
  size_t i = 0;
  for (auto _ : state) {
    total += mcpt::datasets::weighted_score(keys[i % 24], keys[(i * 7 + 3) % 24]);
    ++i;
  }
  benchmark::DoNotOptimize(total);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_WeightedScore);

static void BM_ParseKey(benchmark::State& state) {
  const char* labels[] = {"C minor", "Eb major", "c# minor", "A#  minor ", "Am", "A:min", "Bbmaj", "F# Major"};
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(Key::parse(labels[i++ % 8]));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseKey);

BENCHMARK_MAIN();
