// Metrics over tracks, bootstrap intervals, tables and atomic report files.
#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "reports/Metrics.h"
#include "reports/Report.h"
#include "testutil/TestUtil.h"

using mcpt::datasets::Key;
using mcpt::reports::TrackPrediction;

namespace {
std::vector<TrackPrediction> sample() {
  return {{"a", Key::parse("C major"), Key::parse("C major")},   // correct
          {"b", Key::parse("C major"), Key::parse("G major")},   // fifth
          {"c", Key::parse("C major"), Key::parse("A minor")},   // relative
          {"d", Key::parse("C major"), Key::parse("C minor")},   // parallel
          {"e", Key::parse("C major"), Key::parse("F# major")},  // other
          {"f", Key::parse("C major"), Key::parse("F major")}};  // other, or fifth (descending)
}
}  // namespace

TEST(Metrics, AccuracyWeightedScoreAndCategories) {
  const auto m = mcpt::reports::score_tracks(sample(), {}, {0, 0.95, 1});
  EXPECT_EQ(m.n_tracks, 6);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0 / 6);
  EXPECT_DOUBLE_EQ(m.weighted_score, (1.0 + 0.5 + 0.3 + 0.2) / 6);
  EXPECT_EQ(m.categories.at("correct"), 1);
  EXPECT_EQ(m.categories.at("fifth"), 1);
  EXPECT_EQ(m.categories.at("relative"), 1);
  EXPECT_EQ(m.categories.at("parallel"), 1);
  EXPECT_EQ(m.categories.at("other"), 2);
  mcpt::datasets::ScoreOptions desc;
  desc.allow_descending_fifths = true;
  const auto d = mcpt::reports::score_tracks(sample(), desc, {0, 0.95, 1});
  EXPECT_EQ(d.categories.at("fifth"), 2);
  EXPECT_DOUBLE_EQ(d.weighted_score, (1.0 + 0.5 + 0.3 + 0.2 + 0.5) / 6);
}

TEST(Metrics, BootstrapIntervalIsDeterministicAndCoversTheMean) {
  std::vector<double> v;
  for (int i = 0; i < 200; ++i) v.push_back(i % 3 == 0 ? 1.0 : 0.0);
  mcpt::reports::BootstrapOptions o{2000, 0.95, 7};
  const auto a = mcpt::reports::bootstrap_mean_ci(v, o);
  const auto b = mcpt::reports::bootstrap_mean_ci(v, o);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  const double mean = 67.0 / 200;
  EXPECT_LT(a.low, mean);
  EXPECT_GT(a.high, mean);
  // Normal approximation: half-width ~ 1.96 * sqrt(p(1-p)/n) = 0.065.
  EXPECT_NEAR((a.high - a.low) / 2, 1.96 * std::sqrt(mean * (1 - mean) / 200), 0.015);
  // More tracks, narrower interval.
  std::vector<double> big;
  for (int i = 0; i < 2000; ++i) big.push_back(i % 3 == 0 ? 1.0 : 0.0);
  const auto c = mcpt::reports::bootstrap_mean_ci(big, o);
  EXPECT_LT(c.high - c.low, (a.high - a.low) / 2);
}

TEST(Metrics, MeanStd) {
  const auto r = mcpt::reports::mean_std({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(r.mean, 2.0);
  EXPECT_DOUBLE_EQ(r.std, 1.0);
  EXPECT_DOUBLE_EQ(mcpt::reports::mean_std({5.0}).std, 0.0);
}

TEST(Report, TablesInEveryFormat) {
  const auto m = mcpt::reports::score_tracks(sample(), {}, {500, 0.95, 1});
  nlohmann::json report = {{"schema_version", "1.0"},
                           {"results", {{{"dataset", "synth"}, {"split", "test"}, {"encoder", "chroma_x"},
                                         {"probe", "linear"}, {"metrics", m.to_json()}}}}};
  const auto text = mcpt::reports::render_table(report, mcpt::reports::TableFormat::kText);
  EXPECT_NE(text.find("chroma_x"), std::string::npos);
  EXPECT_NE(text.find("16.7"), std::string::npos);  // accuracy in percent
  const auto md = mcpt::reports::render_table(report, mcpt::reports::TableFormat::kMarkdown);
  EXPECT_EQ(md.rfind("| dataset", 0), 0u);
  const auto csv = mcpt::reports::render_table(report, mcpt::reports::TableFormat::kCsv);
  EXPECT_NE(csv.find("synth:test,chroma_x,linear,6,0.166667"), std::string::npos);
  const auto tex = mcpt::reports::render_table(report, mcpt::reports::TableFormat::kLatex);
  EXPECT_NE(tex.find("chroma\\_x"), std::string::npos);
  EXPECT_NE(tex.find("\\toprule"), std::string::npos);
  EXPECT_THROW(mcpt::reports::parse_table_format("html"), mcpt::Error);
}

TEST(Report, AtomicWriteAndReadBack) {
  mcpt::testutil::TempDir dir("report");
  const auto path = dir / "sub" / "report.json";
  mcpt::reports::write_json_atomic(path, {{"schema_version", "1.0"}, {"results", nlohmann::json::array()}});
  EXPECT_EQ(mcpt::reports::read_report(path)["schema_version"], "1.0");
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path()))
    EXPECT_EQ(e.path().filename(), "report.json") << "temporary file left behind";
  mcpt::testutil::write_text(dir / "bad.json", "{\"results\": [");
  try {
    mcpt::reports::read_report(dir / "bad.json");
    FAIL();
  } catch (const mcpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
  }
  mcpt::testutil::write_text(dir / "old.json", R"({"schema_version": "0.1", "results": []})");
  EXPECT_THROW(mcpt::reports::read_report(dir / "old.json"), mcpt::Error);
  // Writing under a file fails with an error naming the path, leaving nothing behind.
  mcpt::testutil::write_text(dir / "file", "x");
  EXPECT_THROW(mcpt::reports::write_json_atomic(dir / "file" / "r.json", {}), mcpt::Error);
}
