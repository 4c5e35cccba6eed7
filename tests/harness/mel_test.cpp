// The mcpt mel front end against an independent NumPy implementation of the Slaney formulas
// (tests/harness/mel_reference.py), plus properties that need no reference.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/encoders/Mel.h"
#include "testutil/TestUtil.h"

using mcpt::harness::MelLog;
using mcpt::harness::MelOptions;
using mcpt::harness::MelSpectrogram;
namespace tu = mcpt::testutil;

namespace {

// Two chord tones plus a little noise: broadband, so no band sits at the float noise floor.
std::vector<float> test_signal(size_t n, int sr, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / sr;
    x[i] = float(0.3 * std::sin(2 * M_PI * 261.63 * t) + 0.2 * std::sin(2 * M_PI * 392.0 * t + 0.3)) + noise(rng);
  }
  return x;
}

// Runs the NumPy reference on x and returns its n_mels x frames output.
std::vector<float> numpy_mel(const std::vector<float>& x, const MelOptions& o, const tu::TempDir& dir) {
  const auto in = dir / "x.f32", out = dir / "mel.f32";
  {
    std::ofstream f(in, std::ios::binary);
    f.write(reinterpret_cast<const char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
  }
  const auto script = tu::source_dir() / "tests/harness/mel_reference.py";
  const auto r = tu::run_command(fmt::format(
      "{} {} {} {} --sr {} --n-fft {} --hop {} --n-mels {} --f-min {} --f-max {} --log {}", tu::python(),
      script.string(), in.string(), out.string(), o.sample_rate, o.n_fft, o.hop, o.n_mels, o.f_min, o.f_max,
      mcpt::harness::mel_log_name(o.log)));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(out, std::ios::binary);
  std::vector<float> mel;
  float v;
  while (f.read(reinterpret_cast<char*>(&v), sizeof v)) mel.push_back(v);
  return mel;
}

// Stated tolerance: log outputs agree within 1e-4 absolute; power outputs within 1e-5 relative
// (plus 1e-7 of the largest value). Both sides compute in double; the rest is float rounding.
void expect_close(const std::vector<float>& a, const std::vector<float>& b, MelLog log) {
  ASSERT_EQ(a.size(), b.size());
  float peak = 0;
  for (float v : b) peak = std::max(peak, std::fabs(v));
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double tol = log == MelLog::kNone ? 1e-5 * std::fabs(b[i]) + 1e-7 * peak : 1e-4;
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / tol);
    ASSERT_NEAR(a[i], b[i], tol) << "at " << i;
  }
  ::testing::Test::RecordProperty("worst_error_over_tolerance", std::to_string(worst));
}

}  // namespace

TEST(Mel, MatchesNumpySlaneyReference) {
  tu::TempDir dir("mel");
  for (MelLog log : {MelLog::kLog, MelLog::kLog1p, MelLog::kNone}) {
    MelOptions o;
    o.log = log;
    MelSpectrogram mel(o);
    // 50,000 samples (the default crop) and an odd length, whose last frames reflect at the end.
    for (size_t n : {size_t(50000), size_t(20001)}) {
      const auto x = test_signal(n, o.sample_rate, unsigned(n));
      const auto ours = mel.compute(x);
      EXPECT_EQ(ours.size(), size_t(o.n_mels) * size_t(mel.frames(n)));
      expect_close(ours, numpy_mel(x, o, dir), log);
    }
  }
}

TEST(Mel, MatchesReferenceWithOtherSettings) {
  tu::TempDir dir("mel2");
  MelOptions o;
  o.sample_rate = 22050;
  o.n_fft = 1024;
  o.hop = 256;
  o.n_mels = 64;
  o.f_min = 30;
  o.f_max = 6000;
  const auto x = test_signal(12345, o.sample_rate, 3);
  expect_close(MelSpectrogram(o).compute(x), numpy_mel(x, o, dir), o.log);
}

TEST(Mel, CentredFramesGiveNinetyEightForTheDefaultCrop) {
  MelSpectrogram mel{MelOptions{}};
  EXPECT_EQ(mel.frames(50000), 98);  // 1 + 50000 / 512; Myna then keeps 96 (base) or 98 (vertical)
  EXPECT_EQ(mel.frames(512), 2);
}

// The MCPT front end: a short segment is the mel of it zero-padded to the crop, and only the first
// `keep` frames (the model's) come back, band by band.
TEST(Mel, CroppedIsThePaddedMelsFirstFrames) {
  MelSpectrogram mel{MelOptions{}};
  std::vector<float> x(30000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.01 * double(i)) * 0.3);
  std::vector<float> padded = x;
  padded.resize(50000, 0.0f);
  const auto full = mel.compute(padded);  // 128 x 98
  const auto cropped = mel.compute_cropped(x.data(), x.size(), 50000, 96);
  ASSERT_EQ(cropped.size(), size_t(128 * 96));
  for (int m = 0; m < 128; ++m)
    for (int t = 0; t < 96; ++t) ASSERT_EQ(cropped[size_t(m * 96 + t)], full[size_t(m * 98 + t)]) << m << ", " << t;
  EXPECT_EQ(mel.compute_cropped(padded.data(), padded.size(), 50000, 98), full);
  EXPECT_HAS(tu::error_of([&] { mel.compute_cropped(padded.data(), padded.size(), 40000, 78); }), "longer than the crop");
  EXPECT_HAS(tu::error_of([&] { mel.compute_cropped(x.data(), x.size(), 50000, 99); }), "which has 98");
}

TEST(Mel, SineEnergyLandsInTheBandAroundItsFrequency) {
  MelOptions o;
  o.log = MelLog::kNone;
  MelSpectrogram mel(o);
  const auto fb = mcpt::harness::slaney_mel_filterbank(o.sample_rate, o.n_fft, o.n_mels, o.f_min, o.f_max);
  const int bins = o.n_fft / 2 + 1;
  for (double hz : {220.0, 1000.0, 3520.0}) {
    const auto x = tu::sine(hz, 1.0, o.sample_rate).samples;
    const auto m = mel.compute(x);
    const int frames = mel.frames(x.size()), mid = frames / 2;
    int best = 0;
    for (int b = 1; b < o.n_mels; ++b)
      if (m[size_t(b) * frames + mid] > m[size_t(best) * frames + mid]) best = b;
    // The loudest band is the one whose filter weighs the sine's FFT bin most.
    const int bin = int(std::lround(hz * o.n_fft / o.sample_rate));
    int expect = 0;
    for (int b = 1; b < o.n_mels; ++b)
      if (fb[size_t(b) * bins + bin] > fb[size_t(expect) * bins + bin]) expect = b;
    EXPECT_NEAR(best, expect, 1) << hz << " Hz";
  }
}

TEST(Mel, SlaneyNormalisationGivesUnitAreaBands) {
  const int sr = 16000, n_fft = 2048, n_mels = 128;
  const auto fb = mcpt::harness::slaney_mel_filterbank(sr, n_fft, n_mels, 0.0, 8000.0);
  const int bins = n_fft / 2 + 1;
  // Each triangle has area 1 in Hz (height 2 / width); sampled at bin spacing it sums to ~1 once
  // the band spans several bins (the lowest bands are narrower than one bin).
  for (int m = 40; m < n_mels - 1; ++m) {
    double s = 0;
    for (int k = 0; k < bins; ++k) s += fb[size_t(m) * bins + size_t(k)];
    EXPECT_NEAR(s * sr / n_fft, 1.0, 0.05) << "band " << m;
  }
}

TEST(Mel, RejectsTooShortInputAndBadOptions) {
  MelSpectrogram mel{MelOptions{}};
  EXPECT_HAS(tu::error_of([&] { mel.compute(std::vector<float>(1024, 0.f)); }), "too few");
  MelOptions o;
  o.n_fft = 1000;
  EXPECT_HAS(tu::error_of([&] { MelSpectrogram m(o); }), "power of two");
  o = MelOptions{};
  o.f_max = 9000;
  EXPECT_HAS(tu::error_of([&] { MelSpectrogram m(o); }), "f_max");
  mcpt::harness::MelLog l;
  EXPECT_FALSE(mcpt::harness::parse_mel_log("db", &l));
  EXPECT_TRUE(mcpt::harness::parse_mel_log("log1p", &l));
  EXPECT_EQ(l, MelLog::kLog1p);
}
