// Deformation cost on 10 s of 44.1 kHz mono (a music-like chord progression): Rubber Band R3 and R2
// pitch shifts, the resampling shift, EQ and noise. "xRT" is seconds of audio per CPU second of one
// core (the real-time factor per core); docs/performance.md (P2) records the figures.
#include <cmath>
#include <random>

#include <benchmark/benchmark.h>

#include "augment/Deformation.h"

namespace {

using mcpt::augment::parse_deformation;

// Triads with a few harmonics and a little noise, so the phase vocoder has onsets and partials to track.
const mcpt::datasets::Audio& music() {
  static const mcpt::datasets::Audio a = [] {
    mcpt::datasets::Audio x;
    x.sample_rate = 44100;
    x.samples.assign(10 * 44100, 0.0f);
    const int chords[4][3] = {{0, 4, 7}, {5, 9, 12}, {7, 11, 14}, {0, 4, 7}};
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.0f, 0.003f);
    const std::size_t per = x.samples.size() / 8;
    for (std::size_t i = 0; i < x.samples.size(); ++i) {
      const auto& c = chords[(i / per) % 4];
      const double t = double(i) / x.sample_rate, env = std::exp(-3.0 * double(i % per) / x.sample_rate);
      double v = 0;
      for (int n : c)
        for (int h = 1; h <= 4; ++h) v += 0.05 / h * std::sin(2 * M_PI * h * 220.0 * std::pow(2.0, n / 12.0) * t);
      x.samples[i] = float(env * v) + noise(rng);
    }
    return x;
  }();
  return a;
}

void run(benchmark::State& state, const char* json) {
  const auto d = parse_deformation(json);
  const auto& in = music();
  for (auto _ : state) benchmark::DoNotOptimize(d->apply(in, 1));
  // Real-time factor per core: audio seconds per CPU second of this (single) thread. CPU time, not
  // wall time, so the figure holds on a shared, loaded machine.
  state.counters["xRT"] = benchmark::Counter(in.duration() * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_PitchShiftR3(benchmark::State& s) { run(s, R"({"type": "pitch_shift", "semitones": 3})"); }
void BM_PitchShiftR2(benchmark::State& s) { run(s, R"({"type": "pitch_shift", "semitones": 3, "engine": "faster"})"); }
void BM_PitchShiftR2Crisp(benchmark::State& s) {
  run(s, R"({"type": "pitch_shift", "semitones": 3, "engine": "faster", "transients": "crisp"})");
}
void BM_TimeStretchR3(benchmark::State& s) { run(s, R"({"type": "time_stretch", "ratio": 1.25})"); }
void BM_ResampleShift(benchmark::State& s) { run(s, R"({"type": "resample_shift", "semitones": 3})"); }
void BM_ResampleShiftMedium(benchmark::State& s) {
  run(s, R"({"type": "resample_shift", "semitones": 3, "quality": "medium"})");
}
void BM_ResampleShiftFastest(benchmark::State& s) {
  run(s, R"({"type": "resample_shift", "semitones": 3, "quality": "fastest"})");
}
void BM_EqTilt(benchmark::State& s) { run(s, R"({"type": "eq", "filter": "tilt", "db_per_octave": 3})"); }
void BM_EqTelephone(benchmark::State& s) { run(s, R"({"type": "eq", "filter": "band_limit", "preset": "telephone"})"); }
void BM_NoisePink(benchmark::State& s) { run(s, R"({"type": "noise", "color": "pink", "snr_db": 20})"); }

BENCHMARK(BM_PitchShiftR3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PitchShiftR2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PitchShiftR2Crisp)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TimeStretchR3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResampleShift)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResampleShiftMedium)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResampleShiftFastest)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EqTilt)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EqTelephone)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NoisePink)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
