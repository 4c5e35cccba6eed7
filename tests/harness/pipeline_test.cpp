// The extraction pipeline (harness/Pipeline.h): several conditions of the same tracks in one pass
// decode each track once and give exactly what one pass per condition gives; a fully cached pass
// decodes nothing; the resampler is part of the cache key.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "augment/Deformation.h"
#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/JsonConfig.h"
#include "harness/EmbeddingCache.h"
#include "harness/Pipeline.h"
#include "harness/Suite.h"
#include "harness/encoders/Encoder.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using harness::Condition;
using harness::ExtractContext;
using harness::Extracted;

namespace {

struct Fixture {
  testutil::TempDir dir{"pipeline"};
  std::vector<datasets::Track> tracks;
  std::vector<const datasets::Track*> ptrs;
  std::unique_ptr<harness::Encoder> encoder;
  harness::EncoderConfig config;

  explicit Fixture(datasets::ResampleQuality q = datasets::ResampleQuality::kSoxrVhq) {
    const char* keys[] = {"C major", "A minor", "F# major", "Eb minor"};
    for (int i = 0; i < 4; ++i) {
      datasets::Track t;
      t.id = "t" + std::to_string(i);
      t.key = datasets::Key::parse(keys[i]);
      t.audio = dir / (t.id + ".wav");
      // 22.05 kHz files for a 16 kHz encoder: every decode resamples.
      datasets::write_audio(t.audio, testutil::key_chords(t.key, 4.0 + i, 22050, unsigned(i)));
      tracks.push_back(t);
    }
    for (const auto& t : tracks) ptrs.push_back(&t);
    const nlohmann::json j = {{"type", "logmel"}, {"segment_seconds", 2.0}};
    JsonObject cfg(j, "encoder");
    cfg.ignore({"type"});
    encoder = harness::make_encoder("logmel", cfg, harness::EncoderContext{dir.path()});
    cfg.finish();
    config.name = config.type = "logmel";
    config.path = "suite.encoders[0]";
    config.resample = q;
  }

  ExtractContext context(harness::EmbeddingCache* cache, harness::StageTimes* times) const {
    ExtractContext cx;
    cx.encoder = encoder.get();
    cx.config = &config;
    cx.layers = {0};
    cx.cache = cache;
    cx.threads = 2;
    cx.verbosity = harness::Verbosity::kQuiet;
    cx.times = times;
    return cx;
  }
};

Condition condition(const std::string& name, const nlohmann::json& spec) {
  Condition c;
  c.name = name;
  c.deformation = std::shared_ptr<const augment::Deformation>(augment::make_deformation(spec));
  c.spec = c.deformation->spec();
  return c;
}

std::vector<Condition> conditions() {
  return {condition("pitch +2", {{"type", "pitch_shift"}, {"semitones", 2}, {"engine", "faster"}}),
          condition("gain -6", {{"type", "gain"}, {"db", -6}}),
          condition("noise 20", {{"type", "noise"}, {"snr_db", 20}, {"color", "pink"}})};
}

long long samples_at_16k(const Fixture& f) {
  long long n = 0;
  for (const auto& t : f.tracks) n += static_cast<long long>(datasets::load_audio(t.audio, 16000).samples.size());
  return n;
}

}  // namespace

TEST(Pipeline, ConditionsInOnePassDecodeEachTrackOnceAndEqualSeparatePasses) {
  Fixture f;
  const auto conds = conditions();
  std::vector<const Condition*> ptrs;
  for (const auto& c : conds) ptrs.push_back(&c);

  harness::StageTimes together;
  const std::vector<Extracted> one = harness::extract_conditions(f.context(nullptr, &together), f.ptrs, ptrs, "test");
  harness::StageTimes separate;
  std::vector<Extracted> many;
  for (const auto& c : conds) many.push_back(harness::extract(f.context(nullptr, &separate), f.ptrs, c, "test"));

  // One decode per track in one pass, one per track and condition in separate passes.
  const long long per_decode = samples_at_16k(f);
  EXPECT_EQ(together.audio_samples.load(), per_decode);
  EXPECT_EQ(separate.audio_samples.load(), per_decode * static_cast<long long>(conds.size()));

  ASSERT_EQ(one.size(), conds.size());
  for (size_t c = 0; c < conds.size(); ++c) {
    SCOPED_TRACE(conds[c].name);
    ASSERT_EQ(one[c].per_track.size(), f.tracks.size());
    for (size_t t = 0; t < f.tracks.size(); ++t) {
      EXPECT_EQ(one[c].per_track[t][0].data, many[c].per_track[t][0].data);
      EXPECT_GT(one[c].per_track[t][0].rows, 0);
      EXPECT_EQ(one[c].labels[t], many[c].labels[t]);
    }
  }
  // The pitch shift moved the labels by +2; the others kept them.
  EXPECT_EQ(one[0].labels[0], datasets::Key::parse("D major"));
  EXPECT_EQ(one[0].semitones[0], 2.0);
  EXPECT_EQ(one[1].labels[1], datasets::Key::parse("A minor"));
  // Conditions differ from each other (the deformations did something).
  EXPECT_NE(one[0].per_track[0][0].data, one[1].per_track[0][0].data);
}

TEST(Pipeline, CachedConditionsAreNotDecodedAgain) {
  Fixture f;
  const auto conds = conditions();
  std::vector<const Condition*> ptrs;
  for (const auto& c : conds) ptrs.push_back(&c);
  harness::EmbeddingCache cache(f.dir / "cache");
  harness::StageTimes first;
  const auto a = harness::extract_conditions(f.context(&cache, &first), f.ptrs, ptrs, "test");
  EXPECT_EQ(cache.misses(), int(f.tracks.size() * conds.size()));
  EXPECT_EQ(cache.hits(), 0);

  harness::StageTimes second;
  const auto b = harness::extract_conditions(f.context(&cache, &second), f.ptrs, ptrs, "test");
  EXPECT_EQ(cache.hits(), int(f.tracks.size() * conds.size()));
  EXPECT_EQ(second.audio_samples.load(), 0);  // nothing decoded
  for (size_t c = 0; c < conds.size(); ++c)
    for (size_t t = 0; t < f.tracks.size(); ++t) EXPECT_EQ(a[c].per_track[t][0].data, b[c].per_track[t][0].data);

  // Only the condition that misses (a new one) decodes, once per track.
  const Condition extra = condition("gain -3", {{"type", "gain"}, {"db", -3}});
  ptrs.push_back(&extra);
  harness::StageTimes third;
  harness::extract_conditions(f.context(&cache, &third), f.ptrs, ptrs, "test");
  EXPECT_EQ(third.audio_samples.load(), samples_at_16k(f));
}

TEST(Pipeline, ResamplerIsPartOfTheCacheKey) {
  Fixture vhq(datasets::ResampleQuality::kSoxrVhq);
  harness::EmbeddingCache cache(vhq.dir / "cache");
  harness::extract(vhq.context(&cache, nullptr), vhq.ptrs, Condition{}, "test");
  EXPECT_EQ(cache.misses(), int(vhq.tracks.size()));
  // The same tracks and encoder with libsamplerate's best sinc converter: new entries, not hits.
  harness::EncoderConfig best = vhq.config;
  best.resample = datasets::ResampleQuality::kBest;
  ExtractContext cx = vhq.context(&cache, nullptr);
  cx.config = &best;
  const Extracted b = harness::extract(cx, vhq.ptrs, Condition{}, "test");
  EXPECT_EQ(cache.hits(), 0);
  EXPECT_EQ(cache.misses(), int(2 * vhq.tracks.size()));
  const Extracted v = harness::extract(vhq.context(&cache, nullptr), vhq.ptrs, Condition{}, "test");
  EXPECT_EQ(cache.hits(), int(vhq.tracks.size()));
  // Both resamplers are transparent in the passband: the log-mel features agree closely but not bit for bit.
  // Where the music is (bands within 40 dB of the loudest, in the pooled log-mel), they agree to
  // 0.05 dB; bands far below it carry the resamplers' noise floors (about -145 vs -170 dB), which a
  // log spectrum magnifies, so the features are not bit for bit equal. A track's last segment ends
  // where the two resamplers flush their filters differently (up to 0.3 dB): left out here.
  const double db_per_unit = 10.0 / std::log(10.0);  // "log": natural log of power
  int loud_values = 0;
  double max_loud = 0, max_any = 0;
  for (size_t t = 0; t < vhq.tracks.size(); ++t) {
    const auto& fb = b.per_track[t][0];
    const auto& fv = v.per_track[t][0];
    ASSERT_EQ(fb.data.size(), fv.data.size());
    ASSERT_GE(fb.rows, 2);
    const double loudest = *std::max_element(fv.data.begin(), fv.data.end());
    for (int64_t r = 0; r + 1 < fb.rows; ++r)
      for (int64_t c = 0; c < fb.cols; ++c) {
        const double d = std::abs(double(fb.at(r, c)) - fv.at(r, c)) * db_per_unit;
        max_any = std::max(max_any, d);
        if ((loudest - fv.at(r, c)) * db_per_unit < 40.0) {
          max_loud = std::max(max_loud, d);
          ++loud_values;
        }
      }
  }
  EXPECT_GE(loud_values, 50);
  EXPECT_LT(max_loud, 0.05);
  EXPECT_GT(max_any, 0.0);
}
