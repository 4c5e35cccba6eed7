// The `logmel` baseline: a tone lights the mel band that holds its frequency, log power behaves as
// log power, shapes follow the options, and every bad option is an error naming its JSON path.
#include <cmath>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "testutil/TestUtil.h"

using mcpt::harness::Embedding;
using mcpt::harness::Encoder;
using mcpt::harness::EncoderContext;
using mcpt::testutil::error_of;

namespace {

std::unique_ptr<Encoder> make(nlohmann::json j) {
  if (j.is_null()) j = nlohmann::json::object();  // `{}` in a call reads as null
  mcpt::JsonObject cfg(j, "suite.encoders[0]");
  auto e = mcpt::harness::make_encoder("logmel", cfg, EncoderContext{});
  cfg.finish();
  return e;
}

std::string make_error(const nlohmann::json& j) {
  return error_of([&] { make(j); });
}

// Slaney mel scale written out independently of the encoder (Slaney's Auditory Toolbox).
double mel_to_hz(double m) { return m < 15.0 ? m * 200.0 / 3.0 : 1000.0 * std::pow(6.4, (m - 15.0) / 27.0); }
double hz_to_mel(double f) { return f < 1000.0 ? f * 3.0 / 200.0 : 15.0 + 27.0 * std::log(f / 1000.0) / std::log(6.4); }

// The band with the largest mean value over the frames of e.
int loudest_band(const Embedding& e) {
  int best = -1;
  double best_v = -1e300;
  for (int d = 0; d < e.dim; ++d) {
    double s = 0;
    for (int f = 0; f < e.frames; ++f) s += e.frame(0, f)[d];
    if (s > best_v) best_v = s, best = d;
  }
  return best;
}

}  // namespace

TEST(LogMel, ShapeFollowsOptions) {
  auto enc = make({{"n_fft", 1024}, {"hop", 256}, {"n_mels", 64}, {"segment_seconds", 2}});
  EXPECT_EQ(enc->type(), "logmel");
  EXPECT_EQ(enc->sample_rate(), 16000);
  EXPECT_DOUBLE_EQ(enc->segment_seconds(), 2.0);
  const auto e = enc->embed(mcpt::testutil::sine(440, 2.0, 16000));
  EXPECT_EQ(e.layers, 1);
  EXPECT_EQ(e.dim, 64);
  EXPECT_EQ(e.frames, 1 + 32000 / 256);  // frames centred on every hop, padded at the edges
  EXPECT_EQ(e.data.size(), size_t(e.frames) * 64);
}

TEST(LogMel, ToneLightsTheBandHoldingItsFrequency) {
  const double f_min = 0, f_max = 8000;
  const int n_mels = 128;
  auto enc = make({{"n_mels", n_mels}});
  for (double hz : {110.0, 440.0, 1000.0, 2500.0, 6000.0}) {
    const auto e = enc->embed(mcpt::testutil::sine(hz, 3.0, 16000));
    const int b = loudest_band(e);
    // Band b's triangle spans edges b .. b+2 of n_mels + 2 points evenly spaced in mel; the tone's
    // mel value must sit within one band spacing of that band's centre.
    const double step = (hz_to_mel(f_max) - hz_to_mel(f_min)) / (n_mels + 1);
    const double centre = hz_to_mel(f_min) + step * (b + 1);
    EXPECT_LE(std::fabs(hz_to_mel(hz) - centre), step) << hz << " Hz lit band " << b << " centred at "
                                                       << mel_to_hz(centre) << " Hz";
  }
}

TEST(LogMel, LogOfPowerAndSilence) {
  auto enc = make({{"n_mels", 40}});
  const auto a = enc->embed(mcpt::testutil::sine(1000, 2.0, 16000, 0.25f));
  const auto b = enc->embed(mcpt::testutil::sine(1000, 2.0, 16000, 0.5f));
  const int band = loudest_band(a);
  ASSERT_EQ(band, loudest_band(b));
  // Twice the amplitude is four times the power: + ln 4 in the lit band (the 1e-6 offset is negligible).
  const int mid = a.frames / 2;
  EXPECT_NEAR(b.frame(0, mid)[band] - a.frame(0, mid)[band], std::log(4.0), 1e-4);

  mcpt::datasets::Audio silence;
  silence.sample_rate = 16000;
  silence.samples.assign(16000, 0.0f);
  const auto s = enc->embed(silence);
  for (float v : s.data) EXPECT_FLOAT_EQ(v, float(std::log(1e-6)));
  const auto s1p = make({{"log", "log1p"}})->embed(silence);
  for (float v : s1p.data) EXPECT_EQ(v, 0.0f);
}

TEST(LogMel, FrequencyRangeConfinesTheBands) {
  // With f_min 2 kHz, a 500 Hz tone falls below every band: nothing lights beyond the floor.
  auto enc = make({{"f_min", 2000}, {"f_max", 8000}, {"n_mels", 32}});
  const auto e = enc->embed(mcpt::testutil::sine(500, 2.0, 16000));
  const auto t = enc->embed(mcpt::testutil::sine(4000, 2.0, 16000));
  const int mid = e.frames / 2;
  float max_low = -1e30f, max_high = -1e30f;
  for (int d = 0; d < e.dim; ++d) max_low = std::max(max_low, e.frame(0, mid)[d]);
  for (int d = 0; d < t.dim; ++d) max_high = std::max(max_high, t.frame(0, mid)[d]);
  EXPECT_GT(max_high - max_low, 15.0f);  // ln units: a tone inside the range is ~e^15 times stronger
}

TEST(LogMel, FingerprintFollowsOptions) {
  EXPECT_EQ(make({})->fingerprint(), make({})->fingerprint());
  EXPECT_NE(make({})->fingerprint(), make({{"n_mels", 64}})->fingerprint());
  EXPECT_NE(make({})->fingerprint(), make({{"hop", 256}})->fingerprint());
  EXPECT_EQ(make({})->spec().at("f_max"), 8000.0);
  EXPECT_EQ(make({{"sample_rate", 22050}})->spec().at("f_max"), 11025.0);
}

TEST(LogMel, ErrorsNameTheJsonPath) {
  EXPECT_HAS(make_error({{"n_fft", 1000}}), "suite.encoders[0].n_fft: 1000 is not a power of two");
  EXPECT_HAS(make_error({{"n_fft", "big"}}), "suite.encoders[0].n_fft: expected integer, got string");
  EXPECT_HAS(make_error({{"hop", 0}}), "suite.encoders[0].hop: 0 is out of range");
  EXPECT_HAS(make_error({{"hop", 4096}}), "suite.encoders[0].hop: 4096 is out of range [1, 2048]");
  EXPECT_HAS(make_error({{"n_mels", 0}}), "suite.encoders[0].n_mels: 0 is out of range");
  EXPECT_HAS(make_error({{"sample_rate", 100}}), "suite.encoders[0].sample_rate: 100 is out of range [1000, 192000]");
  EXPECT_HAS(make_error({{"f_max", 9000}}), "suite.encoders[0].f_max: 9000 is out of range [0, 8000]");
  EXPECT_HAS(make_error({{"f_min", 3000}, {"f_max", 2000}}), "suite.encoders[0].f_max: 2000 Hz must be above f_min");
  EXPECT_HAS(make_error({{"log", "db"}}), "suite.encoders[0].log: unknown log compression \"db\" (known: log, log1p, none)");
  EXPECT_HAS(make_error({{"segment_seconds", 0.1}}), "suite.encoders[0].segment_seconds: 0.1 is out of range");
  EXPECT_HAS(make_error({{"n_mels", 256}, {"n_fft", 256}}), "suite.encoders[0].n_mels: 256 bands");
  EXPECT_HAS(make_error({{"n_mles", 64}}), "suite.encoders[0].n_mles: unknown key \"n_mles\" (did you mean \"n_mels\"?");
  EXPECT_HAS(error_of([] { make({})->embed(mcpt::testutil::sine(440, 1.0, 22050)); }),
             "logmel: audio at 22050 Hz, expected 16000 Hz");
  EXPECT_HAS(error_of([] { make({})->embed(mcpt::testutil::sine(440, 0.05, 16000)); }),
             "logmel: a segment of 800 samples is too short for n_fft 2048 (at least 1025 samples)");
}
