// CPU (or CUDA) forward of the mcpt ViT and its mel front end (Google Benchmark).
// Our flags come first and are removed before Google Benchmark reads the rest:
//   --checkpoint PATH  weights and architecture (default: random init, dim 384, depth 12, vertical)
//   --batch N          segments per forward (default 32)
//   --threads N        LibTorch intra-op threads (default: LibTorch's choice)
// bench/mcpt_python_side_by_side.py runs it beside python3-torch on the same weights.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "harness/encoders/McptModel.h"
#include "harness/encoders/Mel.h"
#include "probes/Probe.h"

using namespace mcpt::harness;

namespace {

// Multiply-adds x 2 of one forward_layers pass, per segment: patch projection, attention
// projections, scores and mixing, feed-forward.
double flops_per_segment(const McptOptions& o) {
  const double n = double(o.tokens()), d = double(o.dim()), inner = double(o.heads() * o.dim_head()),
               m = double(o.mlp_dim()), pd = o.patch() == Patch::kVertical ? double(o.n_mels() * 2) : 256.0;
  const double per_layer = 2 * n * d * 3 * inner + 2 * 2 * n * n * inner + 2 * n * inner * d + 2 * 2 * n * d * m;
  const double kinds = o.patch() == Patch::kHybrid ? 2 : 1;
  return kinds * (2 * n * pd * d + double(o.depth()) * per_layer);
}

}  // namespace

int main(int argc, char** argv) {
  std::string checkpoint;
  int batch = 32, threads = 0;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--checkpoint" && i + 1 < argc)
      checkpoint = argv[++i];
    else if (a == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else
      rest.push_back(argv[i]);
  }
  if (threads > 0) mcpt::probes::set_compute_threads(threads);  // the harness's LibTorch/OpenBLAS split

  McptOptions o;
  if (!checkpoint.empty()) {
    const auto c = read_checkpoint_config(checkpoint);
    Patch p = Patch::kVertical;
    parse_patch(c.value("patch", "vertical"), &p);
    o.patch(p).dim(c.value("dim", 384)).depth(c.value("depth", 12)).heads(c.value("heads", 6));
    o.dim_head(c.value("dim_head", 64)).mlp_dim(c.value("mlp_dim", 1536));
    o.frames(mcpt_frames_for_crop(c.value("crop_samples", 50000), 512, p));
  }
  McptViT model(o);
  if (checkpoint.empty())
    model->reset_parameters(0);
  else
    load_checkpoint(model, checkpoint);
  model->eval();

  benchmark::RegisterBenchmark("mcpt_forward_layers", [&](benchmark::State& st) {
    torch::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const auto x = torch::randn({batch, o.n_mels(), o.frames()}, gen);
    model->forward_layers(x);  // warm-up: thread pool start and first allocations are not timed
    for (auto _ : st) {
      auto y = model->forward_layers(x);
      benchmark::DoNotOptimize(y.data_ptr<float>());
    }
    st.counters["segments_per_s"] = benchmark::Counter(double(batch) * double(st.iterations()), benchmark::Counter::kIsRate);
    st.counters["GFLOP_per_s"] =
        benchmark::Counter(flops_per_segment(o) * batch * double(st.iterations()) * 1e-9, benchmark::Counter::kIsRate);
    st.counters["batch"] = batch;
    st.counters["threads"] = mcpt::probes::compute_threads();
    st.counters["parameters"] = double(model->parameter_count());
  })->Unit(benchmark::kMillisecond)->UseRealTime();

  benchmark::RegisterBenchmark("mel_one_crop", [&](benchmark::State& st) {
    MelSpectrogram mel{MelOptions{}};
    std::vector<float> x(50000), out(size_t(128) * size_t(mel.frames(x.size())));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.01 * double(i)) * 0.3);
    for (auto _ : st) {
      mel.compute(x.data(), x.size(), out.data());
      benchmark::DoNotOptimize(out.data());
    }
  })->Unit(benchmark::kMicrosecond);

  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
