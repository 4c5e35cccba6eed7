// Probe training time on GiantSteps-sized features (1,043 training rows, as MTG Key's train split
// with one segment per track), for the linear probe and the seed paper's 2048-wide MLP; and the two
// products of an lbfgs iteration (probes/Kernels.h) against LibTorch's mm (OpenBLAS sgemm) on the
// shapes of the P4 benchmark (docs/performance.md, "P4"); and the MLP probes' dropout mask.
#include <random>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/Allocator.h"
#include "probes/Kernels.h"
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

BENCHMARK_CAPTURE(BM_ProbeFit, linear_lbfgs, nlohmann::json{{"type", "linear"}, {"solver", "lbfgs"}})
    ->Arg(768)->Unit(benchmark::kMillisecond);

// X (rows x dim) times a 24-column operand, and X^T times a rows x 24 one: ours read X in place;
// OpenBLAS packs X for every product. One thread each (probes::set_compute_threads(1)).
static void BM_Product(benchmark::State& state, bool ours, bool transposed) {
  const int64_t rows = state.range(0), dim = state.range(1), k = 24;
  if (ours && !mcpt::probes::kernels::skinny_products()) {
    state.SkipWithError("this CPU has no AVX2 + FMA");
    return;
  }
  mcpt::probes::set_compute_threads(1);
  torch::manual_seed(1);
  const auto x = torch::randn({rows, dim}), b = torch::randn({dim, k}), r = torch::randn({rows, k});
  auto out = torch::empty({transposed ? dim : rows, k});
  for (auto _ : state) {
    if (ours && transposed)
      mcpt::probes::kernels::product_xtr(x.data_ptr<float>(), size_t(rows), size_t(dim), r.data_ptr<float>(), size_t(k),
                                         out.data_ptr<float>());
    else if (ours)
      mcpt::probes::kernels::product_xb(x.data_ptr<float>(), size_t(rows), size_t(dim), b.data_ptr<float>(), size_t(k),
                                        out.data_ptr<float>());
    else if (transposed)
      at::mm_out(out, x.t(), r);
    else
      at::mm_out(out, x, b);
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2e-9 * double(rows * dim * k) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Product, ours_xb, true, false)->Args({1000, 512})->Args({1763, 768})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Product, openblas_xb, false, false)->Args({1000, 512})->Args({1763, 768})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Product, ours_xtr, true, true)->Args({1000, 512})->Args({1763, 768})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Product, openblas_xtr, false, true)->Args({1000, 512})->Args({1763, 768})->Unit(benchmark::kMicrosecond);

// The MLP probes' dropout mask (64 x 2048, the seed paper's probe batch): ours (kernels::dropout_mask,
// vectorised xoshiro256**) against the torch::bernoulli draw it replaced (mt19937 per element).
static void BM_DropoutMask(benchmark::State& state, bool ours) {
  const int64_t n = 64 * 2048;
  auto mask = torch::empty({n}, torch::kFloat32);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto p = torch::full({n}, 0.25f);
  std::uint64_t seed = 1;
  for (auto _ : state) {
    if (ours)
      mcpt::probes::kernels::dropout_mask(mask.data_ptr<float>(), size_t(n), 0.25, seed++);
    else
      mask = torch::bernoulli(p, gen) / 0.25;
    benchmark::DoNotOptimize(mask.data_ptr<float>());
  }
  state.counters["elements/s"] = benchmark::Counter(double(n) * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_DropoutMask, ours, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DropoutMask, torch_bernoulli, false)->Unit(benchmark::kMicrosecond);

// mcpt-eval's heap policy (harness/Allocator.h), so the fits are timed as it runs them.
int main(int argc, char** argv) {
  mcpt::harness::use_steady_heap();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
