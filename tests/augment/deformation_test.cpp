// The registry, labels, chains, random draws and spec handling: every key and shift transposes
// correctly, errors name their JSON path, specs rebuild themselves, draws are reproducible.
#include <map>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "augment/Chain.h"
#include "augment/Deformation.h"
#include "testutil/TestUtil.h"

namespace mcpt::augment {
namespace {

using datasets::Key;
using datasets::Mode;
using testutil::error_of;

std::unique_ptr<Deformation> make(const std::string& json) { return parse_deformation(json, "deformation"); }

TEST(Deformation, RegistryListsEveryType) {
  const std::vector<std::string> expected = {"chain", "eq",         "gain",           "identity",    "noise",
                                             "pitch_shift", "random", "resample_shift", "time_stretch"};
  EXPECT_EQ(deformation_types(), expected);
}

TEST(Deformation, LabelsTransposeForEveryKeyAndShift) {
  for (const char* type : {"pitch_shift", "resample_shift"})
    for (int k = -12; k <= 12; ++k) {
      const auto d = make(fmt::format(R"({{"type": "{}", "semitones": {}}})", type, k));
      EXPECT_TRUE(d->label_exact());
      EXPECT_DOUBLE_EQ(d->semitones(), k);
      for (int index = 0; index < Key::kNumClasses; ++index) {
        const Key key = Key::from_index(index);
        const Key moved = d->label(key);
        const int tonic = ((index % 12 + k) % 12 + 12) % 12;
        EXPECT_EQ(moved, Key(tonic, key.mode())) << type << " " << key.name() << " k=" << k;
        EXPECT_EQ(moved.index(), (index / 12) * 12 + tonic);
      }
      EXPECT_TRUE(d->label(Key::none()).is_none());
    }
  // Deformations that do not move pitch keep the label.
  for (const char* json : {R"({"type": "time_stretch", "ratio": 1.2})", R"({"type": "noise", "snr_db": 10})",
                           R"({"type": "gain", "db": -3})", R"({"type": "eq", "filter": "tilt", "db_per_octave": 3})",
                           R"({"type": "identity"})"}) {
    const auto d = make(json);
    EXPECT_EQ(d->label(Key(4, Mode::kMinor)), Key(4, Mode::kMinor)) << json;
    EXPECT_DOUBLE_EQ(d->semitones(), 0.0) << json;
  }
}

TEST(Deformation, FractionalShiftsRoundTheLabelAndSayItIsInexact) {
  const Key c(0, Mode::kMajor);
  EXPECT_EQ(make(R"({"type": "pitch_shift", "cents": 40})")->label(c), c);
  EXPECT_EQ(make(R"({"type": "pitch_shift", "cents": 60})")->label(c), Key(1, Mode::kMajor));
  EXPECT_EQ(make(R"({"type": "pitch_shift", "semitones": -1, "cents": 40})")->label(c), Key(11, Mode::kMajor));
  EXPECT_EQ(make(R"({"type": "resample_shift", "semitones": -0.7})")->label(c), Key(11, Mode::kMajor));
  EXPECT_FALSE(make(R"({"type": "pitch_shift", "cents": 60})")->label_exact());
  EXPECT_FALSE(make(R"({"type": "resample_shift", "semitones": 0.5})")->spec()["label_exact"].get<bool>());
  EXPECT_TRUE(make(R"({"type": "pitch_shift", "semitones": 1, "cents": 100})")->label_exact());
}

TEST(Chain, LabelComposesAndRoundTripIsTheIdentityLabel) {
  const auto trip = make(R"({"type": "chain", "stages": [{"type": "pitch_shift", "semitones": 4},
                                                          {"type": "pitch_shift", "semitones": -4}]})");
  EXPECT_DOUBLE_EQ(trip->semitones(), 0.0);
  EXPECT_EQ(trip->label(Key(7, Mode::kMinor)), Key(7, Mode::kMinor));
  EXPECT_TRUE(trip->label_exact());
  const auto up = make(R"({"type": "chain", "stages": [{"type": "resample_shift", "semitones": 2},
        {"type": "time_stretch", "ratio": 1.5}, {"type": "pitch_shift", "semitones": 3}, {"type": "noise", "snr_db": 30}]})");
  EXPECT_EQ(up->label(Key(10, Mode::kMajor)), Key(3, Mode::kMajor));
  EXPECT_NEAR(up->duration_factor(), 1.5 * std::pow(2.0, -2 / 12.0), 1e-12);
  EXPECT_TRUE(up->uses_seed());
  EXPECT_FALSE(trip->uses_seed());
  // Two half-semitone shifts make one semitone, not two rounded halves.
  const auto halves = make(R"({"type": "chain", "stages": [{"type": "pitch_shift", "cents": 50}, {"type": "pitch_shift", "cents": 50}]})");
  EXPECT_EQ(halves->label(Key(0, Mode::kMajor)), Key(1, Mode::kMajor));
  EXPECT_TRUE(halves->label_exact());
}

TEST(Chain, AppliesStagesInOrderWithDerivedSeeds) {
  const auto in = testutil::sine(440, 0.3, 16000);
  const auto chain = make(R"({"type": "chain", "stages": [{"type": "gain", "db": -6}, {"type": "noise", "snr_db": 20},
                                                           {"type": "noise", "snr_db": 20}]})");
  const auto a = chain->apply(in, 5);
  EXPECT_EQ(a.samples, chain->apply(in, 5).samples);
  EXPECT_NE(a.samples, chain->apply(in, 6).samples);
  // By hand: stage i gets derive_seed(seed, i).
  auto x = make(R"({"type": "gain", "db": -6})")->apply(in, derive_seed(5, 0));
  x = make(R"({"type": "noise", "snr_db": 20})")->apply(x, derive_seed(5, 1));
  x = make(R"({"type": "noise", "snr_db": 20})")->apply(x, derive_seed(5, 2));
  EXPECT_EQ(a.samples, x.samples);
}

TEST(Random, DrawsUniformIntegersCoveringTheRangeWithTheirLabels) {
  const auto r = make(R"({"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [-5, 6]},
                          "engine": "faster"})");
  EXPECT_TRUE(r->is_random());
  EXPECT_TRUE(r->uses_seed());
  std::map<int, int> counts;
  for (std::uint64_t seed = 0; seed < 1200; ++seed) {
    const auto d = r->sample(seed);
    EXPECT_EQ(d->type(), "pitch_shift");
    EXPECT_EQ(d->spec()["engine"], "faster");
    const int k = int(d->semitones());
    EXPECT_EQ(d->semitones(), k);
    counts[k]++;
    EXPECT_EQ(d->label(Key(0, Mode::kMinor)), Key(k, Mode::kMinor));
    EXPECT_EQ(r->sample(seed)->spec(), d->spec());  // reproducible
  }
  ASSERT_EQ(counts.size(), 12u);
  EXPECT_EQ(counts.begin()->first, -5);
  EXPECT_EQ(counts.rbegin()->first, 6);
  for (const auto& [k, n] : counts) EXPECT_GT(n, 60) << k;  // 100 expected each
  EXPECT_EQ(error_of([&] { r->label(Key(0, Mode::kMajor)); }).find("call sample(seed) first") != std::string::npos, true);
}

TEST(Random, OtherDistributionsProbabilityAndNesting) {
  const auto r = make(R"({"type": "random", "deformation": "chain", "stages": [
      {"type": "time_stretch", "ratio": {"log_uniform": [0.8, 1.25]}},
      {"type": "noise", "color": {"choice": ["white", "pink"]}, "snr_db": {"uniform": [10, 30]}}]})");
  std::set<std::string> colors;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    const auto s = r->sample(seed)->spec();
    const double ratio = s["stages"][0]["ratio"];
    EXPECT_GE(ratio, 0.8);
    EXPECT_LT(ratio, 1.25);
    const double snr = s["stages"][1]["snr_db"];
    EXPECT_GE(snr, 10);
    EXPECT_LT(snr, 30);
    colors.insert(s["stages"][1]["color"].get<std::string>());
  }
  EXPECT_EQ(colors.size(), 2u);
  // probability: 0 never fires, 0.5 fires about half the time.
  const auto never = make(R"({"type": "random", "deformation": "gain", "db": {"uniform": [-6, 6]}, "probability": 0})");
  EXPECT_EQ(never->sample(3)->type(), "identity");
  const auto half = make(R"({"type": "random", "deformation": "gain", "db": {"uniform": [-6, 6]}, "probability": 0.5})");
  int fired = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) fired += half->sample(seed)->type() == "gain";
  EXPECT_NEAR(fired, 200, 40);
}

TEST(Random, ApplyEqualsApplyingTheDraw) {
  const auto in = testutil::sine(330, 0.3, 16000);
  const auto r = make(R"({"type": "random", "deformation": "noise", "color": {"choice": ["white", "brown"]},
                          "snr_db": {"uniform": [0, 20]}})");
  for (std::uint64_t seed : {1u, 2u, 3u}) EXPECT_EQ(r->apply(in, seed).samples, r->sample(seed)->apply(in, seed).samples);
  // Inside a chain too.
  const auto c = make(R"({"type": "chain", "stages": [{"type": "gain", "db": -3},
                          {"type": "random", "deformation": "noise", "snr_db": {"uniform": [0, 20]}}]})");
  EXPECT_TRUE(c->is_random());
  EXPECT_FALSE(c->sample(9)->is_random());
  EXPECT_EQ(c->apply(in, 9).samples, c->sample(9)->apply(in, 9).samples);
}

TEST(Random, CanonicalSpecFillsDefaultsAndRebuildsItself) {
  const auto r = make(R"({"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [-5, 6]}})");
  const auto s = r->spec();
  EXPECT_EQ(s["type"], "random");
  EXPECT_EQ(s["deformation"], "pitch_shift");
  EXPECT_EQ(s["probability"], 1.0);
  EXPECT_EQ(s["engine"], "finer");
  EXPECT_EQ(s["semitones"], (nlohmann::json{{"uniform_int", {-5, 6}}}));
  EXPECT_FALSE(s.contains("label_exact"));
  EXPECT_EQ(make_deformation(s, "x")->spec(), s);
}

TEST(Deformation, SpecsRebuildThemselves) {
  for (const char* json :
       {R"({"type": "pitch_shift", "semitones": -2, "engine": "faster", "formant": "preserved", "window": "short"})",
        R"({"type": "time_stretch", "ratio": 0.9, "transients": "mixed", "detector": "soft", "smoothing": true})",
        R"({"type": "resample_shift", "semitones": 1.5, "quality": "medium"})",
        R"({"type": "eq", "bands": [{"filter": "peaking", "freq_hz": 500, "gain_db": 3}, {"filter": "tilt", "db_per_octave": -2}]})",
        R"({"type": "noise", "color": "brown", "snr_db": 12.5})", R"({"type": "gain", "db": 3, "clipping": "clip"})",
        R"({"type": "chain", "stages": [{"type": "identity"}, {"type": "pitch_shift", "semitones": 1}]})"}) {
    const auto d = make(json);
    const auto s = d->spec();
    EXPECT_EQ(s["type"], d->type());
    EXPECT_EQ(make_deformation(s, "x")->spec(), s) << json;
    EXPECT_EQ(spec_hash(*make_deformation(s, "x")), spec_hash(*d));
    EXPECT_EQ(d->sample(5)->spec(), s);  // fixed deformations sample themselves
    EXPECT_EQ(d->clone()->spec(), s);
  }
}

TEST(Deformation, ErrorsNameTheJsonPath) {
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shift", "semitones": 1000})"); }),
             "deformation.semitones: 1000 is out of range [-24, 24]");
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shift", "semitones": 20, "cents": 500})"); }),
             "deformation: semitones + cents / 100 = 25 is out of range [-24, 24]");
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shfit", "semitones": 1})"); }),
             "deformation.type: unknown deformation type \"pitch_shfit\" (did you mean \"pitch_shift\"?");
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shift"})"); }), "pitch_shift needs \"semitones\"");
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shift", "semitone": 3})"); }), "deformation.semitone: unknown key");
  EXPECT_HAS(error_of([] { make(R"({"type": "pitch_shift", "semitones": 3, "engine": "r3"})"); }),
             "deformation.engine: unknown value \"r3\"");
  EXPECT_HAS(error_of([] { make(R"({"type": "time_stretch", "ratio": 4})"); }),
             "deformation.ratio: 4 is out of range (0.25, 4)");
  EXPECT_HAS(error_of([] { make(R"({"type": "time_stretch", "ratio": 0.25})"); }), "out of range (0.25, 4)");
  EXPECT_HAS(error_of([] { make(R"({"type": "time_stretch"})"); }), "deformation.ratio: missing required key");
  EXPECT_HAS(error_of([] { make(R"({"type": "time_stretch", "ratio": "fast"})"); }),
             "deformation.ratio: expected number, got string");
  EXPECT_HAS(error_of([] { make(R"({"semitones": 3})"); }), "deformation.type: missing required key");
  EXPECT_HAS(error_of([] { make(R"([1, 2])"); }), "deformation: expected object, got array");
  EXPECT_HAS(error_of([] { make("{\"type\": "); }), "deformation: not valid JSON");
  EXPECT_HAS(error_of([] { make(R"({"type": "chain", "stages": [{"type": "gain", "db": 1}, {"type": "time_stretch", "ratio": 9}]})"); }),
             "deformation.stages[1].ratio: 9 is out of range (0.25, 4)");
  EXPECT_HAS(error_of([] { make(R"({"type": "chain", "stages": []})"); }), "deformation.stages: expected a non-empty array");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [-30, 6]}})"); }),
             "deformation.semitones: -30 is out of range [-24, 24]");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [6, -5]}})"); }),
             "deformation.semitones.uniform_int: expected low <= high");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [1.5, 3]}})"); }),
             "expected two integers");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "pitchshift", "semitones": 1})"); }),
             "deformation.deformation: unknown deformation type \"pitchshift\" (did you mean \"pitch_shift\"?");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "gain", "db": 1, "probability": 2})"); }),
             "deformation.probability: 2 is out of range [0, 1]");
  EXPECT_HAS(error_of([] { make(R"({"type": "random", "deformation": "noise", "snr_db": {"choice": [10, "x"]}})"); }),
             "deformation.snr_db: expected number, got string");
}

TEST(Deformation, DeriveSeedIsStableAndSpreads) {
  EXPECT_EQ(derive_seed(1, 0), derive_seed(1, 0));
  EXPECT_NE(derive_seed(1, 0), derive_seed(1, 1));
  EXPECT_NE(derive_seed(1, 0), derive_seed(2, 0));
  EXPECT_NE(derive_seed(0, 1), derive_seed(1, 0));
  const auto v = augment_library_versions();
  EXPECT_TRUE(v.contains("rubberband"));
  EXPECT_TRUE(v.contains("libsamplerate"));
}

}  // namespace
}  // namespace mcpt::augment
