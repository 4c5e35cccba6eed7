// CPU (or CUDA) forward of the mcpt ViT and its mel front end (Google Benchmark).
// Our flags come first and are removed before Google Benchmark reads the rest:
//   --checkpoint PATH  weights and architecture (default: random init, dim 384, depth 12, vertical)
//   --batch N          segments per forward (default 32)
//   --threads N        LibTorch intra-op threads (default: LibTorch's choice)
//   --device D         cpu (default), cuda or cuda:N
//   --dtype T          float32 (default) or bfloat16: the model and its input in that type, as the
//                      encoder's "dtype" runs it
//   --peak-tflops P    the device's peak for that dtype from its data sheet (dense, no sparsity):
//                      adds MFU (model FLOP/s over P) to the summary line
// Besides the forward it times a square matmul in the same dtype on the same device ("gemm_peak":
// 2048^3 on the CPU, as bench/mcpt_python_side_by_side.py; 8192^3 on a GPU) and ends with a summary
// line: the forward's FLOP/s, the share of that measured peak and, given --peak-tflops, the MFU.
// bench/mcpt_python_side_by_side.py runs it beside python3-torch on the same weights;
// bench/gpu-check.sh runs it on a GPU (P3's goal there: MFU >= 25 % in bf16 at batch >= 256).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/cuda.h>
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
  std::string checkpoint, device_name = "cpu", dtype_name = "float32";
  int batch = 32, threads = 0;
  double peak_tflops = 0;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--checkpoint" && i + 1 < argc)
      checkpoint = argv[++i];
    else if (a == "--batch" && i + 1 < argc)
      batch = std::atoi(argv[++i]);
    else if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--device" && i + 1 < argc)
      device_name = argv[++i];
    else if (a == "--dtype" && i + 1 < argc)
      dtype_name = argv[++i];
    else if (a == "--peak-tflops" && i + 1 < argc)
      peak_tflops = std::atof(argv[++i]);
    else
      rest.push_back(argv[i]);
  }
  if (batch < 1) {
    std::fprintf(stderr, "bench_mcpt: --batch must be at least 1\n");
    return 2;
  }
  if (dtype_name != "float32" && dtype_name != "bfloat16") {
    std::fprintf(stderr, "bench_mcpt: --dtype must be float32 or bfloat16, not %s\n", dtype_name.c_str());
    return 2;
  }
  if (device_name != "cpu" && device_name != "cuda" && device_name.rfind("cuda:", 0) != 0) {
    std::fprintf(stderr, "bench_mcpt: --device must be cpu, cuda or cuda:N, not %s\n", device_name.c_str());
    return 2;
  }
  const torch::Device device = [&] {
    try {
      return torch::Device(device_name);
    } catch (const std::exception&) {
      std::fprintf(stderr, "bench_mcpt: --device %s is not a device LibTorch knows\n", device_name.c_str());
      std::exit(2);
    }
  }();
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_mcpt: --device %s, but this LibTorch sees no CUDA device\n", device_name.c_str());
    return 2;
  }
  const auto dtype = dtype_name == "bfloat16" ? torch::kBFloat16 : torch::kFloat32;
  // Waits for the device's queued kernels, so that each timed iteration ends when its work does.
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
  };
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
  model->to(device, dtype);

  // FLOP/s of the last run of each benchmark, for the summary line (wall time: UseRealTime).
  double forward_flops = 0, gemm_flops = 0;
  const std::int64_t gemm_n = device.is_cuda() ? 8192 : 2048;
  benchmark::RegisterBenchmark("mcpt_forward_layers", [&](benchmark::State& st) {
    torch::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const auto x = torch::randn({batch, o.n_mels(), o.frames()}, gen).to(device, dtype);
    model->forward_layers(x);  // warm-up: thread pool start and first allocations are not timed
    sync();
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : st) {
      auto y = model->forward_layers(x);
      sync();
      benchmark::DoNotOptimize(y.data_ptr());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double flops = flops_per_segment(o) * batch * double(st.iterations());
    forward_flops = flops / s;
    st.counters["segments_per_s"] = benchmark::Counter(double(batch) * double(st.iterations()), benchmark::Counter::kIsRate);
    st.counters["GFLOP_per_s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
    st.counters["batch"] = batch;
    st.counters["threads"] = mcpt::probes::compute_threads();
    st.counters["parameters"] = double(model->parameter_count());
  })->Unit(benchmark::kMillisecond)->UseRealTime();

  benchmark::RegisterBenchmark("gemm_peak", [&](benchmark::State& st) {
    torch::NoGradGuard no_grad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
    const auto a = torch::randn({gemm_n, gemm_n}, gen).to(device, dtype), b = torch::randn({gemm_n, gemm_n}, gen).to(device, dtype);
    torch::mm(a, b);
    sync();
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : st) {
      auto c = torch::mm(a, b);
      sync();
      benchmark::DoNotOptimize(c.data_ptr());
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double flops = 2.0 * double(gemm_n) * double(gemm_n) * double(gemm_n) * double(st.iterations());
    gemm_flops = flops / s;
    st.counters["GFLOP_per_s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
    st.counters["n"] = double(gemm_n);
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

  // (Read before Initialize, which removes the flags it takes.) The summary goes to stdout after a console table, to stderr when stdout is JSON or CSV.
  FILE* summary = stdout;
  for (const char* r : rest)
    if (std::strncmp(r, "--benchmark_format=", 19) == 0 && std::strcmp(r + 19, "console") != 0) summary = stderr;
  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (forward_flops > 0) {
    std::fprintf(summary, "P3 forward on %s, %s, batch %d: %.1f GFLOP/s", device_name.c_str(), dtype_name.c_str(), batch,
                forward_flops * 1e-9);
    if (gemm_flops > 0)
      std::fprintf(summary, "; %.0f %% of this run's %lld^3 %s matmul (%.1f GFLOP/s)", 100 * forward_flops / gemm_flops,
                  static_cast<long long>(gemm_n), dtype_name.c_str(), gemm_flops * 1e-9);
    if (peak_tflops > 0)
      std::fprintf(summary, "; MFU %.1f %% of %.1f TFLOP/s (goal on a GPU: >= 25 %% in bfloat16 at batch >= 256)",
                  100 * forward_flops / (peak_tflops * 1e12), peak_tflops);
    std::fprintf(summary, "\n");
  }
  return 0;
}
