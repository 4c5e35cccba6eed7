// SVG figures of a report: well-formed, labels escaped, bars to scale, intervals and seeds as given.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "reports/Plot.h"
#include "testutil/TestUtil.h"

using nlohmann::json;
using mcpt::reports::plot_categories_svg;
using mcpt::reports::plot_scores_svg;
namespace fs = std::filesystem;

namespace {

json result(const std::string& dataset, const std::string& encoder, const std::string& probe, double accuracy,
            double weighted) {
  return {{"dataset", dataset},
          {"split", "test"},
          {"encoder", encoder},
          {"probe", probe},
          {"metrics",
           {{"accuracy", accuracy},
            {"weighted_score", weighted},
            {"n_tracks", 10},
            {"categories", {{"correct", 5}, {"fifth", 2}, {"relative", 1}, {"parallel", 1}, {"other", 1}}}}}};
}

json report(const std::vector<json>& results) {
  return {{"schema_version", "1.0"}, {"suite", {{"name", "tiny"}}}, {"results", results}};
}

json seeds(const std::vector<std::pair<double, double>>& scores) {
  json s = json::array();
  for (size_t i = 0; i < scores.size(); ++i)
    s.push_back({{"seed", 1 + i}, {"accuracy", scores[i].first}, {"weighted_score", scores[i].second}});
  return s;
}

// What a real suite gives: two test splits, intervals, five seeds, a label that needs escaping.
json example_report() {
  json r = report({result("giantsteps", "chroma_cqt", "logistic", 0.31, 0.42),
                   result("giantsteps", "mert_v1_95m layer 7", "linear", 0.62, 0.71),
                   result("giantsteps", "vit_tiny", "mlp (h=256)", 0.55, 0.66),
                   result("synth", "chroma_cqt", "logistic", 0.88, 0.91),
                   result("synth", "mert_v1_95m layer 7", "linear", 0.97, 0.98),
                   result("synth", "vit_tiny & <aug>", "mlp (h=256)", 0.04, 0.12)});
  r["suite"]["name"] = "key-probing: GiantSteps vs synthetic";
  for (auto& res : r["results"]) {
    auto& m = res["metrics"];
    const double a = m["accuracy"], w = m["weighted_score"];
    m["accuracy_ci95"] = {std::max(0.0, a - 0.06), std::min(1.0, a + 0.05)};
    m["weighted_score_ci95"] = {std::max(0.0, w - 0.05), std::min(1.0, w + 0.04)};
    res["per_seed"] = seeds({{a, w},
                             {std::max(0.0, a - 0.03), std::max(0.0, w - 0.02)},
                             {std::min(1.0, a + 0.02), std::min(1.0, w + 0.01)},
                             {std::max(0.0, a - 0.01), w},
                             {std::min(1.0, a + 0.04), std::min(1.0, w + 0.03)}});
    const int n = 120;
    const int correct = int(a * n), fifth = int((n - correct) * 0.35), relative = int((n - correct) * 0.2),
              parallel = int((n - correct) * 0.15);
    m["n_tracks"] = n;
    m["categories"] = {{"correct", correct},
                       {"fifth", fifth},
                       {"relative", relative},
                       {"parallel", parallel},
                       {"other", n - correct - fifth - relative - parallel}};
  }
  return r;
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

// Every start tag beginning with `prefix`, up to its '>'.
std::vector<std::string> tags(const std::string& svg, const std::string& prefix) {
  std::vector<std::string> out;
  for (size_t p = svg.find(prefix); p != std::string::npos; p = svg.find(prefix, p + 1))
    out.push_back(svg.substr(p, svg.find('>', p) - p + 1));
  return out;
}

double attr(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t p = tag.find(key);
  if (p == std::string::npos) throw std::runtime_error("no " + name + " in " + tag);
  return std::stod(tag.substr(p + key.size()));
}

// The plot area's 0 % and 100 % positions, from the x-axis line.
std::pair<double, double> axis_of(const std::string& svg) {
  const auto axis = tags(svg, "<line class=\"axis\"");
  if (axis.size() != 1) throw std::runtime_error("expected one x axis");
  return {attr(axis[0], "x1"), attr(axis[0], "x2")};
}

void expect_well_formed(const std::string& svg) {
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  ASSERT_GE(svg.size(), 7u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count(svg, "<svg"), 1u);
  EXPECT_EQ(count(svg, "<g ") + count(svg, "<g>"), count(svg, "</g>"));
  EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  EXPECT_NE(svg.find("viewBox=\"0 0 640 "), std::string::npos);
  EXPECT_NE(svg.find("font-family=\"sans-serif\""), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("href"), std::string::npos) << "self-contained";
}

std::string system_python() {
  return fs::exists("/usr/bin/python3") ? std::string("/usr/bin/python3") : mcpt::testutil::python();
}

// Parses the file with Python's XML parser: proof that it is well-formed XML, not just balanced tags.
void expect_valid_xml(const fs::path& file) {
  const std::string cmd = fmt::format(
      "'{}' -c \"import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); "
      "assert r.tag=='{{http://www.w3.org/2000/svg}}svg', r.tag\" '{}'",
      system_python(), file.string());
  const auto r = mcpt::testutil::run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
}

// A PNG next to the SVG when rsvg-convert is installed (kept with MCPT_KEEP_TEST_TMP=1, to look at).
void render_png(const fs::path& svg) {
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) return;
  fs::path png = svg;
  png.replace_extension(".png");
  const auto r = mcpt::testutil::run_command(fmt::format("rsvg-convert -z 2 -o '{}' '{}'", png.string(), svg.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(png));
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const mcpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Plot, WellFormedWithEveryLabelEscaped) {
  json r = report({result("synth", "chroma & <cqt>", "linear", 0.5, 0.6),
                   result("synth", "vit \"small\"", "mlp 'x'", 0.3, 0.4)});
  r["suite"]["name"] = "suite <1> & co";
  mcpt::testutil::TempDir dir("plot");
  for (const auto& [name, svg] : {std::pair{"scores", plot_scores_svg(r)}, {"categories", plot_categories_svg(r)}}) {
    SCOPED_TRACE(name);
    expect_well_formed(svg);
    EXPECT_NE(svg.find(">chroma &amp; &lt;cqt&gt; / linear<"), std::string::npos);
    EXPECT_NE(svg.find(">vit &quot;small&quot; / mlp &apos;x&apos;<"), std::string::npos);
    EXPECT_NE(svg.find(">suite &lt;1&gt; &amp; co<"), std::string::npos);
    EXPECT_EQ(svg.find("<cqt>"), std::string::npos);
    EXPECT_EQ(svg.find("& <"), std::string::npos);
    EXPECT_EQ(count(svg, "<g class=\"result\">"), 2u);
    mcpt::testutil::write_text(dir / (std::string(name) + ".svg"), svg);
    expect_valid_xml(dir / (std::string(name) + ".svg"));
  }
}

TEST(Plot, BarLengthsAreProportionalToTheValues) {
  const auto svg = plot_scores_svg(report({result("d", "e", "p", 0.5, 0.25), result("d", "e2", "p", 1.0, 0.0)}));
  const auto [x0, x1] = axis_of(svg);
  const double len = x1 - x0;
  ASSERT_GT(len, 300);
  const auto acc = tags(svg, "<rect class=\"bar accuracy\"");
  const auto ws = tags(svg, "<rect class=\"bar weighted\"");
  ASSERT_EQ(acc.size(), 2u);
  ASSERT_EQ(ws.size(), 2u);
  EXPECT_NEAR(attr(acc[0], "x"), x0, 1e-9);
  EXPECT_NEAR(attr(acc[0], "width"), 0.5 * len, 0.011);
  EXPECT_NEAR(attr(ws[0], "width"), 0.25 * len, 0.011);
  EXPECT_NEAR(attr(acc[1], "width"), len, 0.011);
  EXPECT_NEAR(attr(ws[1], "width"), 0.0, 1e-9);
  EXPECT_EQ(attr(acc[0], "height"), attr(ws[0], "height"));
  // Bars of one group do not overlap, and groups follow each other down the page.
  EXPECT_GE(attr(ws[0], "y"), attr(acc[0], "y") + attr(acc[0], "height"));
  EXPECT_GT(attr(acc[1], "y"), attr(ws[0], "y") + attr(ws[0], "height"));
  // Chance accuracy: a dashed line at 1/24 of the axis; ticks every 20 from 0 to 100.
  const auto chance = tags(svg, "<line class=\"chance\"");
  ASSERT_EQ(chance.size(), 1u);
  EXPECT_NEAR(attr(chance[0], "x1"), x0 + len / 24, 0.011);
  EXPECT_NE(chance[0].find("stroke-dasharray"), std::string::npos);
  for (int t : {0, 20, 40, 60, 80, 100})
    EXPECT_NE(svg.find(fmt::format(">{}</text>", t)), std::string::npos) << t;
  EXPECT_EQ(count(svg, "<text class=\"tick\""), 6u);
  EXPECT_NE(svg.find(">Accuracy<"), std::string::npos);
  EXPECT_NE(svg.find(">Weighted score<"), std::string::npos);
  EXPECT_NE(svg.find(">Chance (4.2 %)<"), std::string::npos);
  EXPECT_NE(svg.find(">50.0<"), std::string::npos);  // value label
}

TEST(Plot, ErrorBarsIffIntervalsInTheInput) {
  json with = result("d", "with", "p", 0.5, 0.6);
  with["metrics"]["accuracy_ci95"] = {0.4, 0.6};
  with["metrics"]["weighted_score_ci95"] = {0.55, 0.7};
  json half = result("d", "half", "p", 0.5, 0.6);
  half["metrics"]["accuracy_ci95"] = {0.45, 0.55};
  json none = result("d", "none", "p", 0.5, 0.6);
  json null_ci = result("d", "null", "p", 0.5, 0.6);
  null_ci["metrics"]["accuracy_ci95"] = nullptr;

  const auto no_ci = plot_scores_svg(report({none, null_ci}));
  EXPECT_EQ(count(no_ci, "class=\"ci "), 0u);
  EXPECT_EQ(no_ci.find("95% CI"), std::string::npos) << "no legend entry without intervals";

  const auto svg = plot_scores_svg(report({with, half, none}));
  EXPECT_EQ(count(svg, "class=\"ci accuracy\""), 2u);
  EXPECT_EQ(count(svg, "class=\"ci weighted\""), 1u);
  EXPECT_NE(svg.find(">95% CI<"), std::string::npos);
  // The first error bar spans 40 % .. 60 % of the axis.
  const auto [x0, x1] = axis_of(svg);
  const auto ci = tags(svg, "<path class=\"ci accuracy\"");
  const std::string d = ci[0].substr(ci[0].find("d=\"M") + 4);
  const double lo = std::stod(d), hi = std::stod(d.substr(d.find('H') + 1));
  EXPECT_NEAR(lo, x0 + 0.4 * (x1 - x0), 0.011);
  EXPECT_NEAR(hi, x0 + 0.6 * (x1 - x0), 0.011);
}

TEST(Plot, OneDotPerSeedWhenThereAreSeveral) {
  json three = result("d", "three", "p", 0.5, 0.6);
  three["per_seed"] = seeds({{0.5, 0.6}, {0.75, 0.8}, {0.25, 0.3}});
  json one = result("d", "one", "p", 0.5, 0.6);
  one["per_seed"] = seeds({{0.5, 0.6}});
  const json none = result("d", "none", "p", 0.5, 0.6);

  const auto svg = plot_scores_svg(report({three, one, none}));
  EXPECT_EQ(count(svg, "<circle class=\"seed accuracy\""), 3u);
  EXPECT_EQ(count(svg, "<circle class=\"seed weighted\""), 3u);
  EXPECT_NE(svg.find(">Seeds<"), std::string::npos);
  const auto [x0, x1] = axis_of(svg);
  const auto dots = tags(svg, "<circle class=\"seed accuracy\"");
  EXPECT_NEAR(attr(dots[1], "cx"), x0 + 0.75 * (x1 - x0), 0.011);
  EXPECT_NE(svg.find("seed 2: 75.0 %"), std::string::npos);

  const auto single = plot_scores_svg(report({one, none}));
  EXPECT_EQ(count(single, "class=\"seed "), 0u);
  EXPECT_EQ(single.find(">Seeds<"), std::string::npos);
}

TEST(Plot, CategorySegmentsFillTheBar) {
  json r = result("d", "e", "p", 0.5, 0.6);
  r["metrics"]["categories"] = {{"correct", 3}, {"fifth", 1}, {"relative", 1}, {"parallel", 0}, {"other", 2}};
  json empty = result("d", "empty", "p", 0, 0);
  empty["metrics"]["categories"] = json::object();
  const auto svg = plot_categories_svg(report({r, empty}));
  expect_well_formed(svg);
  const auto [x0, x1] = axis_of(svg);
  const double len = x1 - x0;
  const auto seg = tags(svg, "<rect class=\"segment ");
  ASSERT_EQ(seg.size(), 4u) << "no segment for a category with no tracks";
  const std::vector<std::pair<std::string, int>> expected = {{"correct", 3}, {"fifth", 1}, {"relative", 1}, {"other", 2}};
  double x = x0, total = 0;
  for (size_t i = 0; i < seg.size(); ++i) {
    EXPECT_NE(seg[i].find("segment " + expected[i].first + "\""), std::string::npos) << seg[i];
    EXPECT_NEAR(attr(seg[i], "x"), x, 1e-6) << "segments are contiguous";
    EXPECT_NEAR(attr(seg[i], "width"), len * expected[i].second / 7.0, 0.011);
    x += attr(seg[i], "width");
    total += attr(seg[i], "width");
  }
  EXPECT_NEAR(total, len, 1e-6);
  EXPECT_NE(svg.find(">43%<"), std::string::npos);  // 3 of 7, inside the segment
  EXPECT_NE(svg.find("n = 7"), std::string::npos);
  EXPECT_NE(svg.find("no tracks"), std::string::npos);
  for (const char* c : {"correct", "fifth", "relative", "parallel", "other"})
    EXPECT_NE(svg.find(fmt::format(">{}<", c)), std::string::npos) << "legend: " << c;
}

TEST(Plot, EmptyResultsGiveAnEmptyChart) {
  mcpt::testutil::TempDir dir("plot");
  const json r = report({});
  for (const auto& [name, svg] : {std::pair{"scores", plot_scores_svg(r)}, {"categories", plot_categories_svg(r)}}) {
    SCOPED_TRACE(name);
    expect_well_formed(svg);
    EXPECT_NE(svg.find(">no results<"), std::string::npos);
    EXPECT_EQ(count(svg, "class=\"bar "), 0u);
    EXPECT_EQ(count(svg, "class=\"segment "), 0u);
    mcpt::testutil::write_text(dir / (std::string(name) + ".svg"), svg);
    expect_valid_xml(dir / (std::string(name) + ".svg"));
  }
}

TEST(Plot, OptionalFieldsMayBeMissing) {
  // No suite, split, n_tracks, intervals or seeds; only some categories.
  const json r = {{"results",
                   {{{"dataset", "d"},
                     {"encoder", "e"},
                     {"probe", "p"},
                     {"metrics", {{"accuracy", 0.2}, {"weighted_score", 0.3}, {"categories", {{"correct", 2}}}}}}}}};
  const auto scores = plot_scores_svg(r);
  expect_well_formed(scores);
  EXPECT_NE(scores.find(">Accuracy and MIREX weighted score (%)<"), std::string::npos) << "a title without a suite";
  const auto cats = plot_categories_svg(r);
  expect_well_formed(cats);
  EXPECT_EQ(count(cats, "class=\"segment "), 1u);
  // The scores figure does not need categories.
  json no_cats = r;
  no_cats["results"][0]["metrics"].erase("categories");
  EXPECT_NO_THROW(plot_scores_svg(no_cats));
}

TEST(Plot, DatasetAndSplitOnlyWhenThereAreSeveral) {
  const auto one = plot_scores_svg(report({result("synth", "a", "p", 0.5, 0.5), result("synth", "b", "p", 0.5, 0.5)}));
  EXPECT_EQ(one.find("synth:test"), std::string::npos);
  const auto two = plot_scores_svg(report({result("synth", "a", "p", 0.5, 0.5), result("gs", "a", "p", 0.5, 0.5)}));
  EXPECT_NE(two.find(">synth:test<"), std::string::npos);
  EXPECT_NE(two.find(">gs:test<"), std::string::npos);
}

TEST(Plot, LongAndOddLabelsStayInsideAndValid) {
  const std::string long_name(120, 'x');
  json r = report({result("d", long_name, "p", 0.5, 0.5), result("d", "bad\x01\xff\xc3 utf8 \xc3\xa9", "p", 0.5, 0.5)});
  const auto svg = plot_scores_svg(r);
  expect_well_formed(svg);
  EXPECT_NE(svg.find("<title>" + long_name + " / p</title>"), std::string::npos) << "full label kept as a tooltip";
  EXPECT_NE(svg.find("\xe2\x80\xa6</text>"), std::string::npos) << "shortened with an ellipsis";
  for (const auto& label : tags(svg, "<text class=\"label\"")) EXPECT_GE(attr(label, "x"), 100.0);
  EXPECT_NE(svg.find("\xc3\xa9"), std::string::npos) << "valid UTF-8 is kept";
  mcpt::testutil::TempDir dir("plot");
  mcpt::testutil::write_text(dir / "odd.svg", svg);
  expect_valid_xml(dir / "odd.svg");
}

TEST(Plot, BadInputThrowsNamingTheField) {
  const json good = report({result("d", "e", "p", 0.5, 0.5), result("d", "e", "p", 0.5, 0.5)});
  auto scores = [](json r) { return [r] { plot_scores_svg(r); }; };
  auto categories = [](json r) { return [r] { plot_categories_svg(r); }; };
  json r = good;
  r["results"][1]["metrics"]["accuracy"] = "high";
  expect_error(scores(r), "results[1].metrics.accuracy: expected number, got string");
  r = good;
  r["results"][0]["metrics"]["accuracy"] = 1.5;
  expect_error(scores(r), "results[0].metrics.accuracy: expected a fraction in [0, 1]");
  r = good;
  r["results"][0].erase("encoder");
  expect_error(scores(r), "results[0].encoder: missing");
  r = good;
  r["results"][1]["metrics"].erase("weighted_score");
  expect_error(scores(r), "results[1].metrics.weighted_score: missing");
  r = good;
  r["results"][0]["metrics"] = 3;
  expect_error(scores(r), "results[0].metrics: expected object");
  r = good;
  r["results"] = json::object();
  expect_error(scores(r), "results: expected array");
  r = good;
  r.erase("results");
  expect_error(scores(r), "results: missing");
  expect_error(scores(json::array()), "report: expected object");
  r = good;
  r["suite"]["name"] = 3;
  expect_error(scores(r), "suite.name: expected string");
  r = good;
  r["results"][1]["metrics"]["weighted_score_ci95"] = {0.1};
  expect_error(scores(r), "results[1].metrics.weighted_score_ci95: expected [low, high]");
  r["results"][1]["metrics"]["weighted_score_ci95"] = {0.1, "x"};
  expect_error(scores(r), "results[1].metrics.weighted_score_ci95[1]: expected number");
  r = good;
  r["results"][0]["per_seed"] = seeds({{0.1, 0.2}, {0.3, 0.4}});
  r["results"][0]["per_seed"][1].erase("weighted_score");
  expect_error(scores(r), "results[0].per_seed[1].weighted_score: missing");
  r["results"][0]["per_seed"] = "all";
  expect_error(scores(r), "results[0].per_seed: expected array");
  r = good;
  r["results"][1]["metrics"]["categories"]["fifth"] = -1;
  expect_error(categories(r), "results[1].metrics.categories.fifth: expected non-negative integer");
  EXPECT_NO_THROW(plot_scores_svg(r)) << "categories are the categories figure's business";
  r["results"][1]["metrics"].erase("categories");
  expect_error(categories(r), "results[1].metrics.categories: missing");
}

TEST(Plot, WritePlotsWritesBothFilesAtomically) {
  mcpt::testutil::TempDir dir("plot");
  const json r = example_report();
  mcpt::reports::write_plots(r, dir / "figures");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "figures")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"categories.svg", "scores.svg"})) << "no temporary files left";
  EXPECT_EQ(mcpt::testutil::read_text(dir / "figures" / "scores.svg"), plot_scores_svg(r));
  EXPECT_EQ(mcpt::testutil::read_text(dir / "figures" / "categories.svg"), plot_categories_svg(r));
  for (const char* name : {"scores.svg", "categories.svg"}) {
    expect_well_formed(mcpt::testutil::read_text(dir / "figures" / name));
    expect_valid_xml(dir / "figures" / name);
    render_png(dir / "figures" / name);
  }
  // A bad report fails before anything is written.
  json bad = r;
  bad["results"][3]["metrics"].erase("categories");
  expect_error([&] { mcpt::reports::write_plots(bad, dir / "bad"); }, "results[3].metrics.categories: missing");
  EXPECT_FALSE(fs::exists(dir / "bad" / "scores.svg"));
}
