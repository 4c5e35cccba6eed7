// Probe training time on GiantSteps-sized features (1,043 training rows, as MTG Key's train split
// with one segment per track), for the linear probe and the seed paper's 2048-wide MLP.
#include <random>

#include <benchmark/benchmark.h>

#include "probes/Probe.h"

using mcpt::probes::Matrix;

static void make(int rows, int dim, unsigned seed, Matrix& x, std::vector<int>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  x = Matrix(rows, dim);
  y.resize(size_t(rows));
  for (int r = 0; r < rows; ++r) {
    y[size_t(r)] = r % 24;
    for (int d = 0; d < dim; ++d) x.at(r, d) = n(rng) + (d == r % 24 % dim ? 2.0f : 0.0f);
  }
}

static void BM_ProbeFit(benchmark::State& state, nlohmann::json cfg) {
  const int dim = static_cast<int>(state.range(0));
  Matrix xt, xv;
  std::vector<int> yt, yv;
  make(1043, dim, 1, xt, yt);
  make(116, dim, 2, xv, yv);
  cfg["epochs"] = 50;
  cfg["patience"] = 1000;  // fixed work per iteration
  const auto c = mcpt::probes::ProbeConfig::from_json(cfg, "bench");
  for (auto _ : state) {
    auto p = mcpt::probes::make_probe(c);
    p->fit(xt, yt, xv, yv, 24, 1);
    benchmark::DoNotOptimize(p);
  }
  state.counters["epochs/s"] = benchmark::Counter(50.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_ProbeFit, linear, nlohmann::json{{"type", "linear"}})->Arg(12)->Arg(768)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ProbeFit, mlp2048, nlohmann::json{{"type", "mlp"}, {"hidden", {2048}}, {"dropout", 0.75}, {"batch_size", 64}})
    ->Arg(12)->Arg(768)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
