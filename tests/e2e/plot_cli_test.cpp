// End to end: `mcpt-eval plot REPORT.json --out DIR [--formats ...]` on the robustness fixture; exit
// codes and one-line errors naming the report file and JSON path, with nothing written on failure.
#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;

namespace {

fs::path fixture() { return fs::path(MCPT_SOURCE_DIR) / "tests" / "reports" / "data" / "robustness_report.json"; }

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

}  // namespace

TEST(PlotCli, RendersEveryFigureAndListsTheFiles) {
  TempDir dir("plotcli");
  const auto r = run_cli(fmt::format("plot '{}' --out '{}'", fixture().string(), (dir / "fig").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto files = listing(dir / "fig");
  EXPECT_EQ(files.size(), 40u);  // ten figures × pdf, svg, png, csv
  for (const char* f : {"accuracy_vs_pitch_shift.pdf", "accuracy_vs_pitch_shift.svg", "accuracy_vs_pitch_shift.png",
                        "accuracy_vs_pitch_shift.csv", "train_test_shift_chroma.png", "invariance_vs_pitch_shift.svg",
                        "decodability.csv", "scores.svg", "categories.svg"})
    EXPECT_TRUE(files.count(f)) << f;
  // stdout: the files written, one per line.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 40);
  EXPECT_NE(r.out.find((dir / "fig" / "decodability.png").string() + "\n"), std::string::npos) << r.out;
  // -q: nothing on stdout.
  const auto q = run_cli(fmt::format("plot '{}' --out '{}' -q", fixture().string(), (dir / "q").string()));
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(q.out, "");
}

TEST(PlotCli, FormatsSelectsTheFiles) {
  TempDir dir("plotcli");
  const auto r = run_cli(fmt::format("plot '{}' --out '{}' --formats png", fixture().string(), dir.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& f : listing(dir.path())) {
    const std::string ext = fs::path(f).extension().string();
    EXPECT_TRUE(ext == ".png" || ext == ".csv") << f;
  }
  EXPECT_EQ(listing(dir.path()).size(), 20u);
  const auto bad = run_cli(fmt::format("plot '{}' --out '{}' --formats png,gif", fixture().string(), (dir / "b").string()));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown plot format \"gif\" (known: pdf, svg, png)"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir / "b"));
  EXPECT_EQ(run_cli(fmt::format("plot '{}'", fixture().string())).exit_code, 2) << "--out is required";
}

TEST(PlotCli, BadReportNamesFileAndPathAndWritesNothing) {
  TempDir dir("plotcli");
  std::ifstream in(fixture());
  nlohmann::json report = nlohmann::json::parse(in);
  report["robustness"]["train_test"][0]["accuracy"][1][2] = "n/a";
  const fs::path bad = dir / "bad.json";
  mcpt::testutil::write_text(bad, report.dump());
  const auto r = run_cli(fmt::format("plot '{}' --out '{}'", bad.string(), (dir / "out").string()));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(bad.string() + ": robustness.train_test[0].accuracy[1][2]: expected number, got string"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_TRUE(listing(dir / "out").empty());

  const auto missing = run_cli(fmt::format("plot '{}' --out '{}'", (dir / "nope.json").string(), (dir / "out").string()));
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("nope.json: no such report"), std::string::npos) << missing.err;
  mcpt::testutil::write_text(dir / "notreport.json", "{\"results\": []}");
  const auto not_report = run_cli(fmt::format("plot '{}' --out '{}'", (dir / "notreport.json").string(), (dir / "out").string()));
  EXPECT_EQ(not_report.exit_code, 3);
  EXPECT_NE(not_report.err.find("schema_version"), std::string::npos) << not_report.err;
  EXPECT_TRUE(listing(dir / "out").empty());
}
