// Decode and resampling throughput (datasets/Audio.h): the first stage of every extraction. One
// 15 s track, mono 16-bit WAV, brought from 22.05 kHz (the synthetic corpus) or 44.1 kHz (CD audio)
// to 16 kHz (the MCPT ViT's rate) by each resampler; and the decode alone (the file's own rate).
// items/s are seconds of audio per second, i.e. times real time on one core.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "datasets/Audio.h"

namespace fs = std::filesystem;
using namespace mcpt::datasets;

namespace {
constexpr double kSeconds = 15.0;

// An A minor triad with a few harmonics, written once per rate to a temporary folder.
fs::path write_track(int rate) {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("mcpt-bench-audio-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("mcpt-bench-audio-" + std::to_string(::getpid()))); });
    return d;
  }();
  Audio a;
  a.sample_rate = rate;
  a.samples.resize(static_cast<size_t>(kSeconds * rate));
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const double t = double(i) / rate;
    double v = 0;
    for (double f : {220.0, 261.63, 329.63})
      for (int h = 1; h <= 4; ++h) v += 0.05 / h * std::sin(2 * M_PI * f * h * t);
    a.samples[i] = float(v);
  }
  const fs::path p = dir / ("t" + std::to_string(rate) + ".wav");
  write_audio(p, a);
  return p;
}

const fs::path& track(int rate) {
  static const fs::path p22 = write_track(22050), p44 = write_track(44100);
  return rate == 22050 ? p22 : p44;
}

void BM_Load(benchmark::State& state, int file_rate, int target_rate, ResampleQuality q) {
  const fs::path& p = track(file_rate);
  LoadOptions o;
  o.sample_rate = target_rate;
  o.quality = q;
  for (auto _ : state) benchmark::DoNotOptimize(load_audio(p, o).samples.data());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kSeconds));
}
}  // namespace

BENCHMARK_CAPTURE(BM_Load, decode_only_22050, 22050, 0, ResampleQuality::kSoxrVhq)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Load, decode_only_44100, 44100, 0, ResampleQuality::kSoxrVhq)->Unit(benchmark::kMillisecond);
#define MCPT_RESAMPLE_BENCH(rate, q, name) \
  BENCHMARK_CAPTURE(BM_Load, name##_##rate##_to_16000, rate, 16000, ResampleQuality::q)->Unit(benchmark::kMillisecond)
MCPT_RESAMPLE_BENCH(22050, kSoxrVhq, soxr_vhq);
MCPT_RESAMPLE_BENCH(22050, kSoxrHq, soxr_hq);
MCPT_RESAMPLE_BENCH(22050, kBest, sinc_best);
MCPT_RESAMPLE_BENCH(22050, kMedium, sinc_medium);
MCPT_RESAMPLE_BENCH(22050, kFastest, sinc_fastest);
MCPT_RESAMPLE_BENCH(44100, kSoxrVhq, soxr_vhq);
MCPT_RESAMPLE_BENCH(44100, kSoxrHq, soxr_hq);
MCPT_RESAMPLE_BENCH(44100, kBest, sinc_best);
MCPT_RESAMPLE_BENCH(44100, kMedium, sinc_medium);
MCPT_RESAMPLE_BENCH(44100, kFastest, sinc_fastest);

BENCHMARK_MAIN();
