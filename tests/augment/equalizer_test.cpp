// EQ: the cookbook designs hit their defining points, and the filtered audio matches the designed
// magnitude response within 0.5 dB, measured with sines at test frequencies.
#include <cmath>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "Measure.h"
#include "augment/Equalizer.h"
#include "testutil/TestUtil.h"

namespace mcpt::augment {
namespace {

constexpr int kRate = 44100;

const Equalizer& as_eq(const std::unique_ptr<Deformation>& d) { return dynamic_cast<const Equalizer&>(*d); }

// Gain in dB that `eq` gives a sine at hz, measured on the steady second half of 0.5 s of tone.
double measured_db(const Deformation& eq, double hz, int sr) {
  const auto in = testutil::sine(hz, 0.5, sr, 0.25f);
  const auto out = eq.apply(in, 1);
  return 20.0 * std::log10(testutil::amplitude_at(testutil::middle(out, 0.5, 1.0), hz, sr) /
                           testutil::amplitude_at(testutil::middle(in, 0.5, 1.0), hz, sr));
}

void expect_measured_matches_design(const std::string& json, int sr = kRate) {
  const auto d = parse_deformation(json, "eq");
  for (double hz : {60.0, 150.0, 300.0, 700.0, 1000.0, 2000.0, 3400.0, 5000.0, 9000.0, 15000.0}) {
    if (hz >= 0.45 * sr) continue;
    const double designed = as_eq(d).response_db(hz, sr);
    if (designed < -40.0) continue;  // deep in a stop band the tone is below the float noise floor's reach
    EXPECT_NEAR(measured_db(*d, hz, sr), designed, 0.5) << json << " at " << hz << " Hz";
  }
}

TEST(Equalizer, CookbookDesignsHitTheirDefiningPoints) {
  const auto peak = parse_deformation(R"({"type": "eq", "filter": "peaking", "freq_hz": 1000, "gain_db": -6, "q": 2})", "eq");
  EXPECT_NEAR(as_eq(peak).response_db(1000, kRate), -6.0, 1e-9);
  EXPECT_NEAR(as_eq(peak).response_db(20, kRate), 0.0, 0.01);
  const auto low = parse_deformation(R"({"type": "eq", "filter": "low_shelf", "freq_hz": 200, "gain_db": 9})", "eq");
  EXPECT_NEAR(as_eq(low).response_db(1e-3, kRate), 9.0, 1e-6);
  EXPECT_NEAR(as_eq(low).response_db(200, kRate), 4.5, 1e-9);  // the shelf's gain midpoint
  EXPECT_NEAR(as_eq(low).response_db(10000, kRate), 0.0, 0.05);
  const auto high = parse_deformation(R"({"type": "eq", "filter": "high_shelf", "freq_hz": 4000, "gain_db": -12})", "eq");
  EXPECT_NEAR(as_eq(high).response_db(kRate / 2.0, kRate), -12.0, 1e-6);
  EXPECT_NEAR(as_eq(high).response_db(4000, kRate), -6.0, 1e-9);
  const auto tel = parse_deformation(R"({"type": "eq", "filter": "band_limit", "preset": "telephone"})", "eq");
  EXPECT_NEAR(as_eq(tel).response_db(300, kRate), -3.0103, 0.001);  // Butterworth -3 dB points
  EXPECT_NEAR(as_eq(tel).response_db(3400, kRate), -3.0103, 0.001);
  EXPECT_NEAR(as_eq(tel).response_db(1000, kRate), 0.0, 0.05);
  EXPECT_LT(as_eq(tel).response_db(100, kRate), -35.0);  // 4th order: -24 dB/octave
  EXPECT_LT(as_eq(tel).response_db(10000, kRate), -35.0);
}

TEST(Equalizer, TiltIsAStraightLineInDbPerOctaveThroughThePivot) {
  for (double slope : {-6.0, -3.0, 1.5, 3.0, 12.0}) {
    const auto d = parse_deformation(fmt::format(R"({{"type": "eq", "filter": "tilt", "db_per_octave": {}}})", slope), "eq");
    EXPECT_NEAR(as_eq(d).response_db(1000, kRate), 0.0, 1e-9);
    // Inside the range (62.5 Hz .. 8 kHz, a shelf's width in from its ends) within 3.5 % of the slope's span.
    for (double hz : {125.0, 250.0, 500.0, 2000.0, 4000.0}) {
      const double ideal = slope * std::log2(hz / 1000.0);
      EXPECT_NEAR(as_eq(d).response_db(hz, kRate), ideal, 0.1 * std::fabs(slope) + 1e-9) << slope << " at " << hz;
    }
    // Flat beyond the range.
    EXPECT_NEAR(as_eq(d).response_db(20, kRate), as_eq(d).response_db(10, kRate), 0.15 * std::fabs(slope));
  }
}

TEST(Equalizer, MeasuredGainMatchesDesignWithinHalfADecibel) {
  expect_measured_matches_design(R"({"type": "eq", "filter": "peaking", "freq_hz": 1000, "gain_db": -9, "q": 1.4})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "low_shelf", "freq_hz": 250, "gain_db": 6})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "high_shelf", "freq_hz": 3000, "gain_db": -8, "q": 0.9})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "tilt", "db_per_octave": 3})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "tilt", "db_per_octave": -4.5, "pivot_hz": 500})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "band_limit", "preset": "telephone"})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "band_limit", "preset": "lofi"})");
  expect_measured_matches_design(
      R"({"type": "eq", "bands": [{"filter": "high_pass", "freq_hz": 80}, {"filter": "peaking", "freq_hz": 2500, "gain_db": 4}]})");
  expect_measured_matches_design(R"({"type": "eq", "filter": "tilt", "db_per_octave": 3})", 16000);
  expect_measured_matches_design(R"({"type": "eq", "filter": "band_limit", "preset": "am_radio"})", 8000);
}

TEST(Equalizer, CanonicalSpecListsBandsWithDefaults) {
  const auto d = parse_deformation(R"({"type": "eq", "filter": "band_limit", "preset": "telephone"})", "eq");
  const auto s = d->spec();
  ASSERT_EQ(s["bands"].size(), 1u);
  EXPECT_EQ(s["bands"][0]["low_hz"], 300.0);
  EXPECT_EQ(s["bands"][0]["high_hz"], 3400.0);
  EXPECT_EQ(s["bands"][0]["order"], 4);
  EXPECT_EQ(make_deformation(s, "eq")->spec(), s);
  const auto t = parse_deformation(R"({"type": "eq", "filter": "tilt", "db_per_octave": 2})", "eq")->spec();
  EXPECT_EQ(t["bands"][0]["pivot_hz"], 1000.0);
}

TEST(Equalizer, ErrorsNameTheBand) {
  using testutil::error_of;
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "filter": "peeking", "freq_hz": 1})", "d"); }),
             "d.filter: unknown value \"peeking\" (did you mean \"peaking\"?");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "bands": [{"filter": "low_shelf", "freq_hz": 100}]})", "d"); }),
             "d.bands[0].gain_db: missing required key");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "bands": []})", "d"); }), "d.bands: expected a non-empty array");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "filter": "band_limit", "order": 3, "low_hz": 50})", "d"); }),
             "d.order: 3 is not an even order");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "filter": "band_limit"})", "d"); }), "needs a \"preset\"");
  EXPECT_HAS(error_of([] { parse_deformation(R"({"type": "eq", "filter": "tilt", "db_per_octave": 3, "gain": 2})", "d"); }),
             "d.gain: unknown key");
  const auto d = parse_deformation(
      R"({"type": "eq", "bands": [{"filter": "high_pass", "freq_hz": 50}, {"filter": "peaking", "freq_hz": 9000, "gain_db": 3}]})",
      "suite.eq");
  const auto a = testutil::sine(440, 0.1, 16000);
  EXPECT_HAS(error_of([&] { d->apply(a, 1); }), "suite.eq.bands[1].freq_hz: 9000 Hz is at or above the Nyquist frequency");
}

}  // namespace
}  // namespace mcpt::augment
