// End-to-end robustness analyses and sharding on a small synthetic corpus: every analysis is in the
// report with its uncertainty, pitch shifts move labels (chroma is pitch-equivariant, so it scores
// against the moved label, not the original), re-runs are served by the cache, and shards computed
// separately add up to exactly the unsharded work.
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;
using nlohmann::json;

namespace {

fs::path corpus() {
  static const fs::path dir = mcpt::testutil::synth_corpus("synth-robust", "--tracks 72 --seconds 6 --seed 4 --sample-rate 16000");
  return dir;
}

json suite(const fs::path& out, const fs::path& cache) {
  return {{"name", "robust"},
          {"seed", 7},
          {"output", out.string()},
          {"cache", cache.string()},
          {"datasets", {{"s", {{"type", "synthetic"}, {"root", corpus().string()}, {"tracks", 72}, {"seconds", 6},
                               {"seed", 4}, {"sample_rate", 16000}}}}},
          {"protocol", {{"train", "s:train"}, {"valid", "s:valid"}, {"test", "s:test"}}},
          {"encoders", {{{"name", "chroma"}, {"type", "chroma"}, {"segment_seconds", 3}, {"sample_rate", 16000}}}},
          {"probes", {{{"type", "linear"}, {"lr", 0.01}}}},
          {"statistics", {{"seeds", 1}, {"bootstrap", 200}}},
          {"robustness",
           {{"sweeps",
             {{{"type", "pitch_shift"}, {"parameter", "semitones"}, {"values", {-2, 0, 2}}, {"options", {{"engine", "faster"}}}},
              {{"type", "time_stretch"}, {"parameter", "ratio"}, {"values", {1.25}}, {"options", {{"engine", "faster"}}}},
              {{"type", "noise"}, {"parameter", "snr_db"}, {"unit", "dB SNR"}, {"values", {10}}}}},
            {"control_semitones", 2},
            {"decodability", {-2, 0, 2}},
            {"train_shifts", {-2, 0, 2}},
            {"training_augmentation",
             {{"type", "random"}, {"deformation", "pitch_shift"}, {"engine", "faster"}, {"semitones", {{"uniform_int", {-3, 3}}}}}},
            {"augmentation_copies", 1}}}};
}

json run(const json& s, const fs::path& dir, const std::string& extra = "") {
  fs::create_directories(dir);
  const fs::path file = dir / "suite.json";
  mcpt::testutil::write_text(file, s.dump(2));
  const auto r = run_cli(fmt::format("-q run '{}' {}", file.string(), extra));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (!extra.empty()) return json();
  std::ifstream in(fs::path(s["output"].get<std::string>()) / "report.json");
  return json::parse(in);
}

// The unsharded run of suite(), cold: made once per build tree (the ctest fixture
// fixture.robustness_reference runs RobustnessReference.UnshardedRun first) and shared by both tests
// below, which would otherwise each compute it. Its cache then serves the warm re-run.
struct Reference {
  json report;
  fs::path cache;
};
const Reference& reference() {
  static const Reference ref = [] {
    // The suite's text names the fixture folder, so it is the key together with the executable.
    const fs::path base = fs::path(MCPT_BINARY_DIR) / "test-data" / "robust-reference";
    const std::string key = suite(base / "out", base / "cache").dump() + "\n" + mcpt::testutil::exe_identity();
    const fs::path dir = mcpt::testutil::shared_fixture("robust-reference", key, [](const fs::path& d) {
      run(suite(d / "out", d / "cache"), d);
    });
    std::ifstream in(dir / "out" / "report.json");
    Reference r;
    r.report = in ? json::parse(in) : json();
    r.cache = dir / "cache";
    return r;
  }();
  return ref;
}

void expect_ci_holds(const json& m, const char* value, const char* ci) {
  ASSERT_TRUE(m.contains(value) && m.contains(ci)) << m.dump();
  EXPECT_LE(m[ci][0].get<double>(), m[value].get<double>() + 1e-12) << m.dump();
  EXPECT_GE(m[ci][1].get<double>(), m[value].get<double>() - 1e-12) << m.dump();
}

}  // namespace

TEST(RobustnessReference, UnshardedRun) {
  const json& report = reference().report;
  ASSERT_TRUE(report.contains("results")) << "the reference run wrote no report";
  EXPECT_GT(report["provenance"]["cache"]["misses"].get<int>(), 0) << "the reference run must start from an empty cache";
}

TEST(Robustness, EverySixAnalysesWithUncertaintyAndMovedLabels) {
  TempDir dir("robust");
  const json& report = reference().report;
  ASSERT_TRUE(report.contains("provenance")) << "no reference report";
  ASSERT_TRUE(report.contains("robustness")) << report.dump().substr(0, 500);
  const json& r = report["robustness"];
  for (const char* f : {"accuracy_vs_strength", "consistency", "invariance", "decodability", "train_test",
                        "training_augmentation", "controls"})
    ASSERT_TRUE(r.contains(f) && r[f].size() >= 1) << f;

  // 1. Accuracy vs strength: three sweeps; pitch points carry the original-label score too.
  ASSERT_EQ(r["accuracy_vs_strength"].size(), 3u);
  const json& pitch = r["accuracy_vs_strength"][0];
  EXPECT_EQ(pitch["deformation"], "pitch_shift");
  ASSERT_EQ(pitch["points"].size(), 3u);
  const double clean = pitch["clean"]["accuracy"].get<double>();
  EXPECT_GT(clean, 0.5) << "chroma + linear probe should find most keys of the synthetic corpus";
  for (const auto& p : pitch["points"]) {
    expect_ci_holds(p["moved"], "accuracy", "accuracy_ci");
    expect_ci_holds(p["moved"], "weighted_score", "weighted_score_ci");
    expect_ci_holds(p["original"], "accuracy", "accuracy_ci");
    if (p["strength"].get<double>() != 0) {
      // Chroma moves with the pitch: right against the moved key, wrong against the original one.
      EXPECT_GT(p["moved"]["accuracy"].get<double>(), p["original"]["accuracy"].get<double>() + 0.3) << p.dump();
    } else {
      EXPECT_EQ(p["moved"]["accuracy"], p["original"]["accuracy"]);
    }
  }
  EXPECT_FALSE(r["accuracy_vs_strength"][1]["points"][0].contains("original")) << "time stretch keeps the key";

  // 2. Consistency: chroma predictions follow the shift for most tracks.
  for (const auto& p : r["consistency"][0]["points"]) {
    expect_ci_holds(p, "value", "ci");
    EXPECT_GT(p["value"].get<double>(), 0.5) << p.dump();
  }
  // 3. Invariance, with the three controls beside each sweep.
  const json& inv = r["invariance"][0];
  ASSERT_EQ(inv["controls"].size(), 3u);
  for (const auto& p : inv["points"]) {
    expect_ci_holds(p, "cosine", "cosine_ci");
    EXPECT_LE(p["cka"].get<double>(), 1.0 + 1e-9);
  }
  // 4. Decodability against chance.
  const json& dec = r["decodability"][0];
  EXPECT_DOUBLE_EQ(dec["chance"].get<double>(), 1.0 / 3.0);
  expect_ci_holds(dec, "accuracy", "accuracy_ci");
  // 5. Train x test matrix: 3 x 3, the clean-trained row equals analysis 1.
  const json& tt = r["train_test"][0];
  ASSERT_EQ(tt["accuracy"].size(), 3u);
  ASSERT_EQ(tt["accuracy"][1].size(), 3u);
  for (size_t b = 0; b < 3; ++b)
    EXPECT_DOUBLE_EQ(tt["accuracy"][1][b].get<double>(), pitch["points"][b]["moved"]["accuracy"].get<double>());
  // 6. Training-time augmentation: both probes on every shifted test condition.
  const json& aug = r["training_augmentation"][0];
  ASSERT_EQ(aug["points"].size(), 3u);
  for (const auto& p : aug["points"]) expect_ci_holds(p["augmented"], "accuracy", "accuracy_ci");

  // A second run is served from the cache and gives the same analyses.
  const json again = run(suite(dir / "out", reference().cache), dir.path());
  EXPECT_EQ(again["provenance"]["cache"]["misses"], 0);
  EXPECT_EQ(again["robustness"], report["robustness"]);
}

TEST(Robustness, ShardsAreDisjointAndCoverTheWorkExactly) {
  TempDir dir("shard");
  // Unsharded reference run in its own cache.
  const json& whole = reference().report;
  ASSERT_TRUE(whole.contains("provenance")) << "no reference report";
  const int work = whole["provenance"]["cache"]["misses"].get<int>();
  ASSERT_GT(work, 0);
  // Three shards into a shared cache, then the merge run.
  const json s = suite(dir / "sharded", dir / "cache-shared");
  int computed = 0;
  for (int i = 1; i <= 3; ++i) {
    fs::create_directories(dir / "s");
    mcpt::testutil::write_text(dir / "s" / "suite.json", s.dump(2));
    const auto r = run_cli(fmt::format("-q run '{}' --shard {}/3", (dir / "s" / "suite.json").string(), i));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    int n = -1;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "shard %*d/%*d: %d", &n), 1) << r.out;
    computed += n;
    EXPECT_FALSE(fs::exists(dir / "sharded" / "report.json")) << "a shard writes no report";
  }
  EXPECT_EQ(computed, work) << "shards overlap or miss work";
  const json merged = run(s, dir / "s");
  EXPECT_EQ(merged["provenance"]["cache"]["misses"], 0) << "the merge run recomputed something";
  EXPECT_EQ(merged["results"], whole["results"]);
  EXPECT_EQ(merged["robustness"], whole["robustness"]);
  // Bad shard arguments are command-line errors.
  EXPECT_EQ(run_cli(fmt::format("run '{}' --shard 4/3", (dir / "s" / "suite.json").string())).exit_code, 2);
  EXPECT_EQ(run_cli(fmt::format("run '{}' --shard x", (dir / "s" / "suite.json").string())).exit_code, 2);
}
