// Figures through PLplot: every expected file for the robustness fixture, right magic bytes and pixel
// size, CSVs equal to the report's numbers, path-naming errors that leave no partial output, silence.
#include "reports/Plot.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using nlohmann::json;
using mcpt::reports::figure_names;
using mcpt::reports::PlotFormat;
using mcpt::reports::PlotOptions;
using mcpt::reports::write_plots;
using mcpt::testutil::error_of;
using mcpt::testutil::TempDir;

namespace {

json fixture() {
  std::ifstream in(fs::path(MCPT_SOURCE_DIR) / "tests" / "reports" / "data" / "robustness_report.json");
  return json::parse(in);
}

json without_robustness() {
  json r = fixture();
  r.erase("robustness");
  return r;
}

const std::vector<std::string> kFixtureFigures = {
    "scores",           "categories",           "accuracy_vs_pitch_shift",    "accuracy_vs_time_stretch",
    "consistency_vs_pitch_shift", "invariance_vs_pitch_shift", "train_test_shift_chroma",
    "train_test_shift_mcpt_vertical", "augmentation_vs_pitch_shift", "decodability"};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::pair<std::uint32_t, std::uint32_t> png_size(const std::string& png) {
  auto be32 = [&](size_t at) {
    return std::uint32_t(static_cast<unsigned char>(png[at])) << 24 | std::uint32_t(static_cast<unsigned char>(png[at + 1])) << 16 |
           std::uint32_t(static_cast<unsigned char>(png[at + 2])) << 8 | std::uint32_t(static_cast<unsigned char>(png[at + 3]));
  };
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  return {be32(16), be32(20)};
}

// The page size cairo writes into the PDF, in points.
std::pair<double, double> pdf_size(const std::string& pdf) {
  const size_t at = pdf.find("/MediaBox [");
  EXPECT_NE(at, std::string::npos);
  std::istringstream in(pdf.substr(at + 11, 60));
  double x0 = -1, y0 = -1, x1 = 0, y1 = 0;
  in >> x0 >> y0 >> x1 >> y1;
  EXPECT_EQ(x0, 0);
  EXPECT_EQ(y0, 0);
  return {x1, y1};
}

std::vector<std::map<std::string, std::string>> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i < l.size(); ++i) {
      const char c = l[i];
      if (quoted) {
        if (c == '"' && i + 1 < l.size() && l[i + 1] == '"') cell += '"', ++i;
        else if (c == '"') quoted = false;
        else cell += c;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        cells.push_back(cell), cell.clear();
      } else {
        cell += c;
      }
    }
    cells.push_back(cell);
    return cells;
  };
  while (std::getline(in, line)) {
    const auto cells = split(line);
    if (header.empty()) {
      header = cells;
      continue;
    }
    EXPECT_EQ(cells.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

// A CSV number must be the JSON number exactly (shortest round-trip text on both sides).
void expect_same(const std::string& csv, const json& j, const std::string& what) {
  ASSERT_FALSE(csv.empty()) << what;
  EXPECT_EQ(std::stod(csv), j.get<double>()) << what;
}

}  // namespace

TEST(Plot, FixtureWritesEveryFigureInEveryFormat) {
  TempDir dir("plot");
  const json r = fixture();
  EXPECT_EQ(figure_names(r), kFixtureFigures);
  const auto written = write_plots(r, dir / "figures");
  std::set<std::string> expected;
  for (const auto& f : kFixtureFigures)
    for (const char* ext : {".pdf", ".svg", ".png", ".csv"}) expected.insert(f + ext);
  EXPECT_EQ(listing(dir / "figures"), expected) << "no temporary files left behind";
  ASSERT_EQ(written.size(), expected.size());
  EXPECT_TRUE(std::is_sorted(written.begin(), written.end()));
  for (const auto& f : kFixtureFigures) {
    SCOPED_TRACE(f);
    const auto png = read_bytes(dir / "figures" / (f + ".png"));
    const auto pdf = read_bytes(dir / "figures" / (f + ".pdf"));
    const auto svg = read_bytes(dir / "figures" / (f + ".svg"));
    const auto csv = read_bytes(dir / "figures" / (f + ".csv"));
    ASSERT_GT(png.size(), 2000u);
    ASSERT_GT(pdf.size(), 1000u);
    ASSERT_GT(svg.size(), 1000u);
    ASSERT_GT(csv.size(), 20u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
    EXPECT_NE(pdf.rfind("%%EOF"), std::string::npos) << "complete PDF";
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_NE(svg.find("<svg"), std::string::npos);
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << "complete SVG";
    // Single-column pages: 240 pt wide; the PNG is the same page at 300 dpi, in whole pixels.
    const auto [pw, ph] = pdf_size(pdf);
    EXPECT_EQ(pw, 240);
    EXPECT_GE(ph, 72);
    EXPECT_LE(ph, 400);
    EXPECT_EQ(std::fmod(ph, 6.0), 0.0) << ph;
    const auto [w, h] = png_size(png);
    EXPECT_EQ(w, 1000u);
    EXPECT_EQ(h, std::uint32_t(ph * 300 / 72)) << ph;
    EXPECT_NE(svg.find("width=\"240pt\""), std::string::npos);
  }
}

TEST(Plot, CsvHoldsTheReportsNumbers) {
  TempDir dir("plot");
  const json r = fixture();
  write_plots(r, dir.path(), PlotOptions{{PlotFormat::kSvg}});
  const json& rob = r["robustness"];

  // Accuracy vs pitch shift: one row per point and label, moved and original.
  auto rows = read_csv(dir / "accuracy_vs_pitch_shift.csv");
  size_t expected_rows = 0;
  for (const auto& c : rob["accuracy_vs_strength"])
    if (c["deformation"] == "pitch_shift") expected_rows += 2 * c["points"].size();
  ASSERT_EQ(rows.size(), expected_rows);
  size_t checked = 0;
  for (const auto& row : rows) {
    for (const auto& c : rob["accuracy_vs_strength"]) {
      if (c["deformation"] != "pitch_shift" || c["encoder"] != row.at("encoder")) continue;
      for (const auto& p : c["points"]) {
        if (p["strength"].get<double>() != std::stod(row.at("strength"))) continue;
        const json& s = p[row.at("label")];
        expect_same(row.at("accuracy"), s["accuracy"], "accuracy");
        expect_same(row.at("accuracy_ci_low"), s["accuracy_ci"][0], "ci low");
        expect_same(row.at("accuracy_ci_high"), s["accuracy_ci"][1], "ci high");
        expect_same(row.at("weighted_score"), s["weighted_score"], "weighted");
        EXPECT_EQ(row.at("n_tracks"), p["n_tracks"].dump());
        EXPECT_EQ(row.at("unit"), "semitones");
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, rows.size());

  // Time stretch has no "original" label: moved rows only.
  rows = read_csv(dir / "accuracy_vs_time_stretch.csv");
  EXPECT_EQ(rows.size(), 10u);
  for (const auto& row : rows) EXPECT_EQ(row.at("label"), "moved");

  // The heat map: every cell, train shift × test shift.
  rows = read_csv(dir / "train_test_shift_chroma.csv");
  const json& tt = rob["train_test"][0];
  ASSERT_EQ(rows.size(), tt["train_shifts"].size() * tt["test_shifts"].size());
  for (const auto& row : rows) {
    const auto ti = std::find(tt["train_shifts"].begin(), tt["train_shifts"].end(), json(std::stoi(row.at("train_shift"))));
    const auto tj = std::find(tt["test_shifts"].begin(), tt["test_shifts"].end(), json(std::stoi(row.at("test_shift"))));
    ASSERT_NE(ti, tt["train_shifts"].end());
    ASSERT_NE(tj, tt["test_shifts"].end());
    const auto i = size_t(ti - tt["train_shifts"].begin()), j = size_t(tj - tt["test_shifts"].begin());
    expect_same(row.at("accuracy"), tt["accuracy"][i][j], "cell");
    expect_same(row.at("weighted_score"), tt["weighted_score"][i][j], "cell ws");
  }

  // Scores and categories: one row per result.
  rows = read_csv(dir / "scores.csv");
  ASSERT_EQ(rows.size(), r["results"].size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& m = r["results"][i]["metrics"];
    EXPECT_EQ(rows[i].at("encoder"), r["results"][i]["encoder"]);
    expect_same(rows[i].at("accuracy"), m["accuracy"], "accuracy");
    expect_same(rows[i].at("weighted_score_ci_high"), m["weighted_score_ci95"][1], "ws ci");
  }
  rows = read_csv(dir / "categories.csv");
  ASSERT_EQ(rows.size(), r["results"].size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (const char* k : {"correct", "fifth", "relative", "parallel", "other"})
      EXPECT_EQ(rows[i].at(k), r["results"][i]["metrics"]["categories"][k].dump()) << k;

  // Invariance: the deformed points and every control.
  rows = read_csv(dir / "invariance_vs_pitch_shift.csv");
  size_t n = 0;
  for (const auto& c : rob["invariance"]) n += c["points"].size() + c["controls"].size();
  ASSERT_EQ(rows.size(), n);
  const json& ctl = rob["invariance"][1]["controls"][2];
  bool found = false;
  for (const auto& row : rows) {
    if (row.at("encoder") != "mcpt-vertical" || row.at("condition") != "control:" + ctl["name"].get<std::string>()) continue;
    found = true;
    expect_same(row.at("cosine"), ctl["cosine"], "control cosine");
    expect_same(row.at("cka"), ctl["cka"], "control cka");
  }
  EXPECT_TRUE(found);

  // Decodability and augmentation.
  rows = read_csv(dir / "decodability.csv");
  ASSERT_EQ(rows.size(), rob["decodability"].size());
  for (size_t i = 0; i < rows.size(); ++i) {
    expect_same(rows[i].at("accuracy"), rob["decodability"][i]["accuracy"], "decoding");
    expect_same(rows[i].at("chance"), rob["decodability"][i]["chance"], "chance");
    EXPECT_EQ(rows[i].at("n_classes"), std::to_string(rob["decodability"][i]["classes"].size()));
  }
  rows = read_csv(dir / "augmentation_vs_pitch_shift.csv");
  ASSERT_EQ(rows.size(), 2 * (rob["training_augmentation"][0]["points"].size() + rob["training_augmentation"][1]["points"].size()));
  expect_same(rows[1].at("accuracy"), rob["training_augmentation"][0]["points"][0]["augmented"]["accuracy"], "augmented");
  expect_same(rows[0].at("accuracy"), rob["training_augmentation"][0]["points"][0]["clean"]["accuracy"], "clean");
  rows = read_csv(dir / "consistency_vs_pitch_shift.csv");
  expect_same(rows[3].at("consistency"), rob["consistency"][0]["points"][3]["value"], "consistency");
}

TEST(Plot, WithoutRobustnessOnlyScoresAndCategories) {
  TempDir dir("plot");
  const json r = without_robustness();
  EXPECT_EQ(figure_names(r), (std::vector<std::string>{"scores", "categories"}));
  write_plots(r, dir.path());
  EXPECT_EQ(listing(dir.path()), (std::set<std::string>{"categories.csv", "categories.pdf", "categories.png", "categories.svg",
                                                      "scores.csv", "scores.pdf", "scores.png", "scores.svg"}));
  // An empty robustness block draws nothing more either.
  json empty = r;
  empty["robustness"] = {{"grids", json::object()}, {"accuracy_vs_strength", json::array()}};
  EXPECT_EQ(figure_names(empty).size(), 2u);
}

TEST(Plot, OnlyTheRequestedFormatsAndAlwaysCsv) {
  TempDir dir("plot");
  write_plots(without_robustness(), dir.path(), PlotOptions{{PlotFormat::kPng}});
  EXPECT_EQ(listing(dir.path()), (std::set<std::string>{"categories.csv", "categories.png", "scores.csv", "scores.png"}));
  EXPECT_EQ(mcpt::reports::parse_plot_formats("svg, pdf,svg"), (std::vector<PlotFormat>{PlotFormat::kSvg, PlotFormat::kPdf}));
  try {
    mcpt::reports::parse_plot_formats("pdf,jpg");
    ADD_FAILURE() << "no error";
  } catch (const mcpt::Error& e) {
    EXPECT_EQ(e.code(), mcpt::ExitCode::kUsage);
    EXPECT_HAS(std::string(e.what()), "unknown plot format \"jpg\" (known: pdf, svg, png)");
  }
}

TEST(Plot, MalformedReportsNameTheJsonPathAndWriteNothing) {
  TempDir dir("plot");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  mcpt::testutil::write_text(out / "scores.png", "previous");  // an earlier figure must survive a failed run
  const json good = fixture();
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& r) { r["robustness"]["invariance"][1]["points"][0].erase("cosine"); },
       "robustness.invariance[1].points[0].cosine: missing, expected number"},
      {[](json& r) { r["robustness"]["invariance"][0]["points"][2]["cosine"] = "high"; },
       "robustness.invariance[0].points[2].cosine: expected number, got string"},
      {[](json& r) { r["robustness"]["accuracy_vs_strength"][0]["points"][1]["moved"]["accuracy"] = 1.5; },
       "robustness.accuracy_vs_strength[0].points[1].moved.accuracy: expected a fraction in [0, 1], got 1.5"},
      {[](json& r) { r["robustness"]["accuracy_vs_strength"][1].erase("deformation"); },
       "robustness.accuracy_vs_strength[1].deformation: missing"},
      {[](json& r) { r["robustness"]["accuracy_vs_strength"][0]["points"][0]["original"]["accuracy_ci"] = {0.1}; },
       "robustness.accuracy_vs_strength[0].points[0].original.accuracy_ci: expected [low, high], got 1 values"},
      {[](json& r) { r["robustness"]["train_test"][0]["accuracy"][2] = {0.5}; },
       "robustness.train_test[0].accuracy[2]: expected 7 values (one per test shift), got 1"},
      {[](json& r) { r["robustness"]["train_test"][1]["accuracy"].erase(0); },
       "robustness.train_test[1].accuracy: expected 3 rows (one per training shift), got 2"},
      {[](json& r) { r["robustness"]["decodability"] = json::object(); },
       "robustness.decodability: expected array, got object"},
      {[](json& r) { r["robustness"]["training_augmentation"][1]["points"][4]["clean"] = 0.3; },
       "robustness.training_augmentation[1].points[4].clean: expected object, got number"},
      {[](json& r) { r["robustness"]["invariance"][0]["controls"][1]["cka"] = 2; },
       "robustness.invariance[0].controls[1].cka: expected a CKA value in [0, 1], got 2"},
      {[](json& r) { r["robustness"]["consistency"][0]["points"][0]["ci"] = {0.9, 0.8}; },
       "robustness.consistency[0].points[0].ci: low 0.9 is above high 0.8"},
      {[](json& r) { r["results"][1]["metrics"]["categories"]["fifth"] = -1; },
       "results[1].metrics.categories.fifth: expected non-negative integer, got -1"},
      {[](json& r) { r["results"][0].erase("encoder"); }, "results[0].encoder: missing"},
      {[](json& r) { r.erase("results"); }, "results: missing"},
      {[](json& r) { r["robustness"] = json::array(); }, "robustness: expected object, got array"},
  };
  for (const auto& [mutate, message] : cases) {
    SCOPED_TRACE(message);
    json bad = good;
    mutate(bad);
    const std::string e = error_of([&] { write_plots(bad, out); });
    EXPECT_HAS(e, message);
    EXPECT_EQ(listing(out), std::set<std::string>{"scores.png"});
    EXPECT_EQ(mcpt::testutil::read_text(out / "scores.png"), "previous");
    EXPECT_FALSE(fs::exists(dir / "fresh")) << "no folder created for a bad report";
    error_of([&] { write_plots(bad, dir / "fresh"); });
  }
  EXPECT_HAS(error_of([&] { write_plots(json::array(), out); }), "report: expected object, got array");
  // A file where the folder should be.
  mcpt::testutil::write_text(dir / "file", "x");
  EXPECT_HAS(error_of([&] { write_plots(good, dir / "file"); }), "cannot create folder");
}

TEST(Plot, OddLabelsRenderAndCsvQuotesThem) {
  TempDir dir("plot");
  json r = without_robustness();
  r["results"][0]["encoder"] = "chroma, \"v2\" #1 <b>&";
  r["results"][1]["encoder"] = std::string(150, 'x') + " bad \xff\x01 utf8 \xc3\xa9";
  r["robustness"] = {{"decodability", {{{"encoder", "a#b"}, {"deformation", "pitch_shift"}, {"accuracy", 0.5}, {"chance", 0.2}}}}};
  write_plots(r, dir.path());
  const auto rows = read_csv(dir / "scores.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("encoder"), "chroma, \"v2\" #1 <b>&");
  EXPECT_EQ(listing(dir.path()).size(), 12u);
}

TEST(Plot, SilentAndRepeatable) {
  TempDir a("plot"), b("plot");
  const json r = fixture();
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  write_plots(r, a.path(), PlotOptions{{PlotFormat::kPng, PlotFormat::kSvg}});
  const std::string out = testing::internal::GetCapturedStdout();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "");
  write_plots(r, b.path(), PlotOptions{{PlotFormat::kPng, PlotFormat::kSvg}});
  for (const auto& name : listing(a.path())) {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".svg") continue;  // cairo numbers SVG ids per process
    EXPECT_EQ(read_bytes(a / name), read_bytes(b / name)) << name;
  }
}

TEST(Plot, ThreadsMaySharePlplot) {
  TempDir a("plot"), b("plot");
  const json r = without_robustness();
  std::string ea, eb;
  auto run = [&](const fs::path& dir, std::string& err) {
    try {
      write_plots(r, dir, PlotOptions{{PlotFormat::kPng}});
    } catch (const std::exception& e) {
      err = e.what();
    }
  };
  std::thread t1(run, a.path(), std::ref(ea)), t2(run, b.path(), std::ref(eb));
  t1.join();
  t2.join();
  EXPECT_EQ(ea, "");
  EXPECT_EQ(eb, "");
  EXPECT_EQ(read_bytes(a / "scores.png"), read_bytes(b / "scores.png"));
}
