// Noise hits its SNR within 0.2 dB for each colour, has the colour's spectral slope, and is
// reproducible from its seed; gain applies its clipping policy.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "Measure.h"
#include "augment/Gain.h"
#include "augment/Noise.h"
#include "testutil/TestUtil.h"

namespace mcpt::augment {
namespace {

constexpr int kRate = 16000;

double measured_snr_db(const datasets::Audio& in, const datasets::Audio& out) {
  std::vector<float> diff(in.samples.size());
  for (std::size_t i = 0; i < diff.size(); ++i) diff[i] = out.samples[i] - in.samples[i];
  return 10.0 * std::log10(testutil::mean_square(in.samples) / testutil::mean_square(diff));
}

TEST(Noise, HitsTheTargetSnrForEachColour) {
  const auto in = testutil::key_chords(datasets::Key(9, datasets::Mode::kMinor), 1.0, kRate);
  for (const char* color : {"white", "pink", "brown"})
    for (double snr : {40.0, 20.0, 6.0, 0.0, -5.0}) {
      const auto d = parse_deformation(fmt::format(R"({{"type": "noise", "color": "{}", "snr_db": {}}})", color, snr), "n");
      const auto out = d->apply(in, 7);
      ASSERT_EQ(out.samples.size(), in.samples.size());
      EXPECT_NEAR(measured_snr_db(in, out), snr, 0.2) << color << " " << snr;
    }
}

// Power per octave band, from a zero-padded FFT of the whole signal.
std::vector<double> octave_band_db(const std::vector<float>& x, int sr, const std::vector<double>& centers) {
  std::size_t nfft = 1;
  while (nfft < x.size()) nfft <<= 1;
  std::vector<std::complex<double>> a(nfft);
  for (std::size_t i = 0; i < x.size(); ++i) a[i] = x[i];
  testutil::fft_in_place(a);
  std::vector<double> out;
  for (double c : centers) {
    double p = 0;
    const double lo = c / std::sqrt(2.0), hi = c * std::sqrt(2.0);
    for (std::size_t k = 1; k < nfft / 2; ++k) {
      const double f = double(k) * sr / double(nfft);
      if (f >= lo && f < hi) p += std::norm(a[k]);
    }
    out.push_back(10 * std::log10(p));
  }
  return out;
}

TEST(Noise, ColoursHaveTheirSpectralSlopes) {
  // Power per octave band grows with the band's width (+3 dB/octave) for white noise, stays flat for
  // pink and falls by 3 dB/octave for brown (whose density falls by 6).
  const std::vector<double> centers = {125, 250, 500, 1000, 2000, 4000};
  for (auto [color, per_band] : std::vector<std::pair<std::string, double>>{{"white", 3.0}, {"pink", 0.0}, {"brown", -3.0}}) {
    const auto x = colored_noise(color, 4 * kRate, kRate, 3);
    EXPECT_NEAR(testutil::mean_square(x), 1.0, 1e-5) << color;
    const auto db = octave_band_db(x, kRate, centers);
    // Least-squares slope over the bands.
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < db.size(); ++i) sx += i, sy += db[i], sxx += double(i) * i, sxy += i * db[i];
    const double n = double(db.size());
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    EXPECT_NEAR(slope, per_band, 0.5) << color;
  }
}

TEST(Noise, SameSeedIsBitIdenticalAndOtherSeedsDiffer) {
  const auto in = testutil::sine(440, 0.5, kRate);
  const auto d = parse_deformation(R"({"type": "noise", "color": "pink", "snr_db": 10})", "n");
  EXPECT_TRUE(d->uses_seed());
  const auto a = d->apply(in, 42), b = d->apply(in, 42), c = d->apply(in, 43);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NE(a.samples, c.samples);
  // Independent noises at 10 dB SNR: the two differences are nearly uncorrelated.
  double dot = 0, na = 0, nc = 0;
  for (std::size_t i = 0; i < in.samples.size(); ++i) {
    const double x = a.samples[i] - in.samples[i], y = c.samples[i] - in.samples[i];
    dot += x * y, na += x * x, nc += y * y;
  }
  EXPECT_LT(std::fabs(dot / std::sqrt(na * nc)), 0.1);
}

TEST(Noise, FirstSamplesOfAStreamAreReproducibleConstants) {
  // Pins the generator: a change to it changes every cached noisy embedding, so it must be deliberate.
  const auto x = colored_noise("white", 4, kRate, 1);
  const std::vector<float> pinned = {-1.18712616f, 0.317519516f, -0.592767894f, 1.46237445f};
  for (std::size_t i = 0; i < pinned.size(); ++i) EXPECT_FLOAT_EQ(x[i], pinned[i]) << i;
  EXPECT_EQ(colored_noise("white", 4, kRate, 1), x);
  EXPECT_NE(colored_noise("white", 4, kRate, 2), x);
}

TEST(Noise, SilenceStaysSilentAndBadSpecsFail) {
  datasets::Audio silent;
  silent.sample_rate = kRate;
  silent.samples.assign(1000, 0.0f);
  const auto d = parse_deformation(R"({"type": "noise", "snr_db": 10})", "n");
  EXPECT_EQ(d->apply(silent, 1).samples, silent.samples);
  EXPECT_EQ(d->spec()["color"], "white");
  using testutil::error_of;
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "noise", "color": "pinkk", "snr_db": 3})", "s.n"); }),
             "s.n.color: unknown value \"pinkk\" (did you mean \"pink\"?");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "noise", "color": "pink"})", "s.n"); }),
             "s.n.snr_db: missing required key");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "noise", "snr_db": "loud"})", "s.n"); }),
             "s.n.snr_db: expected number, got string");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "noise", "snr_db": 1e400})", "s.n"); }), "s.n");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "noise", "snr_db": 500})", "s.n"); }),
             "s.n.snr_db: 500 is out of range [-40, 120]");
}

TEST(Gain, ClippingPolicies) {
  const auto in = testutil::sine(440, 0.1, kRate, 0.5f);
  auto peak = [](const datasets::Audio& a) {
    float p = 0;
    for (float v : a.samples) p = std::max(p, std::fabs(v));
    return p;
  };
  const auto none = parse_deformation(R"({"type": "gain", "db": 12})", "g")->apply(in, 1);
  EXPECT_NEAR(peak(none), 0.5 * std::pow(10.0, 12 / 20.0), 1e-4);
  const auto clip = parse_deformation(R"({"type": "gain", "db": 12, "clipping": "clip"})", "g")->apply(in, 1);
  EXPECT_FLOAT_EQ(peak(clip), 1.0f);
  const auto norm =
      parse_deformation(R"({"type": "gain", "db": 12, "clipping": "normalize", "ceiling_db": -6})", "g")->apply(in, 1);
  EXPECT_NEAR(peak(norm), std::pow(10.0, -6 / 20.0), 1e-5);
  // Scaled, not distorted: every sample keeps its ratio to the input.
  EXPECT_NEAR(norm.samples[17] / in.samples[17], peak(norm) / peak(in), 1e-4);
  const auto quiet = parse_deformation(R"({"type": "gain", "db": -6, "clipping": "normalize"})", "g")->apply(in, 1);
  EXPECT_NEAR(peak(quiet), 0.5 * std::pow(10.0, -6 / 20.0), 1e-5);  // below the ceiling: plain gain
  EXPECT_HAS(testutil::error_of([] { parse_deformation(R"({"type": "gain", "db": 3, "clipping": "limit"})", "g"); }),
             "g.clipping: unknown value \"limit\"");
}

}  // namespace
}  // namespace mcpt::augment
