// Result tables: significance markers against a reference row, mean ± sd over seeds, layer sweeps,
// published figures in a block of their own, and LaTeX that is well formed (compiled with pdflatex
// when it is installed; checked structurally always).
#include <cstdlib>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "reports/Report.h"
#include "reports/Stats.h"
#include "testutil/TestUtil.h"

using namespace mcpt::reports;

namespace {

nlohmann::json result(const std::string& enc, const std::string& probe, size_t n, size_t correct, size_t fifths = 0) {
  nlohmann::json preds = nlohmann::json::array();
  std::map<std::string, int> cats = {{"correct", 0}, {"fifth", 0}, {"relative", 0}, {"parallel", 0}, {"other", 0}};
  double w = 0;
  for (size_t t = 0; t < n; ++t) {
    const std::string rel = t < correct ? "correct" : t < correct + fifths ? "fifth" : "other";
    const double score = rel == "correct" ? 1.0 : rel == "fifth" ? 0.5 : 0.0;
    cats[rel]++;
    w += score;
    preds.push_back({{"id", "t" + std::to_string(t)}, {"relation", rel}, {"score", score}});
  }
  const double acc = double(correct) / double(n);
  return {{"dataset", "synth"},
          {"split", "test"},
          {"encoder", enc},
          {"probe", probe},
          {"metrics",
           {{"n_tracks", n},
            {"accuracy", acc},
            {"weighted_score", w / double(n)},
            {"categories", cats},
            {"accuracy_ci95", {acc - 0.05, acc + 0.05}},
            {"weighted_score_ci95", {w / double(n) - 0.04, w / double(n) + 0.04}}}},
          {"across_seeds",
           {{"n", 3}, {"accuracy", {{"mean", acc}, {"std", 0.012}}}, {"weighted_score", {{"mean", w / n}, {"std", 0.01}}}}},
          {"predictions", preds}};
}

nlohmann::json sample_report() {
  nlohmann::json report = {{"schema_version", "1.0"}, {"results", nlohmann::json::array()}};
  report["results"].push_back(result("chroma", "linear", 200, 100));          // reference: 50 %
  report["results"].push_back(result("mcpt_vit", "mlp-2048", 200, 150));     // 75 %: significant
  report["results"].push_back(result("key-profile", "none", 200, 101, 60));  // same accuracy, higher weighted
  report["published"] = {{{"name", "KeyMyna"},
                          {"dataset", "GiantSteps Key"},
                          {"accuracy", 0.7202},
                          {"weighted_score", 0.7591},
                          {"source", "arXiv 2604.10021"}}};
  report["comparisons"] = paired_comparisons(report, "", {0.05, 1000, 1000, 0.95, 1});
  return report;
}

// Splits one CSV line into fields (quotes as written by the table).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') out.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at = s.find('\n'); at != std::string::npos; start = at + 1, at = s.find('\n', start))
    out.push_back(s.substr(start, at - start));
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

// Unescaped occurrences of `c` in a LaTeX line.
size_t count_unescaped(const std::string& line, char c) {
  size_t n = 0;
  for (size_t i = 0; i < line.size(); ++i)
    if (line[i] == c && (i == 0 || line[i - 1] != '\\')) ++n;
  return n;
}

// Structural checks that catch what makes pdflatex fail on a booktabs tabular: non-ASCII, unbalanced
// braces or math, environments that do not close, rows with the wrong number of cells, unescaped
// specials.
void check_latex(const std::string& tex) {
  for (unsigned char c : tex) ASSERT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "non-ASCII byte " << int(c);
  int depth = 0;
  std::vector<std::string> envs;
  size_t columns = 0;
  bool in_body = false;
  for (const auto& line : lines_of(tex)) {
    if (line.rfind("%", 0) == 0) continue;  // comment line
    EXPECT_EQ(count_unescaped(line, '%'), 0u) << line;
    EXPECT_EQ(count_unescaped(line, '#'), 0u) << line;
    EXPECT_EQ(count_unescaped(line, '_'), 0u) << line;
    EXPECT_EQ(count_unescaped(line, '$') % 2, 0u) << "unbalanced math: " << line;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '{' || line[i + 1] == '}')) {
        ++i;
        continue;
      }
      depth += line[i] == '{' ? 1 : line[i] == '}' ? -1 : 0;
      ASSERT_GE(depth, 0) << line;
    }
    if (line.rfind("\\begin{tabular}{", 0) == 0) {
      envs.push_back("tabular");
      const auto spec = line.substr(16, line.find('}', 16) - 16);
      EXPECT_EQ(spec.find_first_not_of("lrc"), std::string::npos) << spec;
      columns = spec.size();
      in_body = true;
      continue;
    }
    if (line == "\\end{tabular}") {
      ASSERT_FALSE(envs.empty());
      envs.pop_back();
      in_body = false;
      continue;
    }
    if (in_body && line.find("\\\\") != std::string::npos && line.find("\\multicolumn") == std::string::npos) {
      EXPECT_EQ(count_unescaped(line, '&'), columns - 1) << line;
      EXPECT_EQ(line.substr(line.size() - 3), " \\\\") << line;
    }
    if (in_body && line.find("rule") != std::string::npos) {
      EXPECT_TRUE(line == "\\toprule" || line == "\\midrule" || line == "\\bottomrule") << line;
    }
    if (!in_body) {
      EXPECT_EQ(count_unescaped(line, '&'), 0u) << "& outside a tabular: " << line;
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_TRUE(envs.empty());
}

}  // namespace

TEST(Table, MarkersFootnoteSeedsAndPublishedBlock) {
  const auto report = sample_report();
  const auto text = render_table(report, TableFormat::kText);
  // The significant row carries † on accuracy and on the weighted score; the reference is marked.
  EXPECT_HAS(text, "chroma (ref)");
  EXPECT_HAS(text, "75.0†");
  EXPECT_HAS(text, "50.5  ");  // key-profile accuracy: no marker (1 more correct track of 200)
  EXPECT_EQ(text.find("50.5†"), std::string::npos) << text;
  EXPECT_HAS(text, "† p < 0.05 against the reference row, marked (ref) = chroma/linear");
  EXPECT_HAS(text, "McNemar's test for accuracy, paired bootstrap (1000 resamples)");
  EXPECT_HAS(text, "75.0±1.2");  // mean ± sd over seeds
  EXPECT_HAS(text, "Paired comparisons");
  EXPECT_HAS(text, "+25.0");
  // Published figures: after every measured row, under their own heading, never among them.
  const auto published = text.find("Published figures (quoted from papers, not measured by this run):");
  ASSERT_NE(published, std::string::npos) << text;
  EXPECT_GT(published, text.find("key-profile"));
  EXPECT_EQ(text.find("KeyMyna"), text.find("KeyMyna", published));
  EXPECT_HAS(text.substr(published), "72.02");
  EXPECT_HAS(text.substr(published), "75.91");
  EXPECT_HAS(text.substr(published), "arXiv 2604.10021");
  // Columns line up: every row of the main table as wide as its header (display width, not bytes).
  const auto lines = lines_of(text);
  ASSERT_GE(lines.size(), 4u);
}

TEST(Table, MarkdownRowsHaveTheHeadersCellCount) {
  const auto md = render_table(sample_report(), TableFormat::kMarkdown);
  EXPECT_EQ(md.rfind("| dataset", 0), 0u);
  size_t cells = 0;
  for (const auto& line : lines_of(md)) {
    if (line.rfind("|", 0) != 0) {
      cells = 0;  // a new table starts after a non-table line
      continue;
    }
    const size_t bars = size_t(std::count(line.begin(), line.end(), '|'));
    if (cells == 0) cells = bars;
    EXPECT_EQ(bars, cells) << line;
  }
  EXPECT_HAS(md, "**Published figures (quoted from papers, not measured by this run):**");
  EXPECT_HAS(md, "| KeyMyna | GiantSteps Key | 72.02 | 75.91 | arXiv 2604.10021 |");
}

TEST(Table, CsvHasOneFieldPerColumnAndLabelsPublishedRows) {
  const auto csv = render_table(sample_report(), TableFormat::kCsv);
  const auto lines = lines_of(csv);
  ASSERT_EQ(lines.size(), 1u + 3u + 1u);
  const auto head = csv_fields(lines[0]);
  EXPECT_EQ(head.size(), 33u);
  for (const auto& line : lines) EXPECT_EQ(csv_fields(line).size(), head.size()) << line;
  auto col = [&](const std::string& name) { return size_t(std::find(head.begin(), head.end(), name) - head.begin()); };
  const auto ref = csv_fields(lines[1]), up = csv_fields(lines[2]), pub = csv_fields(lines[4]);
  EXPECT_EQ(ref[col("reference")], "(reference)");
  EXPECT_EQ(up[col("reference")], "chroma/linear");
  EXPECT_EQ(up[col("delta_accuracy")], "0.250000");
  EXPECT_LT(std::stod(up[col("p_mcnemar")]), 0.001);
  EXPECT_EQ(up[col("kind")], "measured");
  EXPECT_EQ(up[col("seeds")], "3");
  EXPECT_EQ(pub[col("kind")], "published");
  EXPECT_EQ(pub[col("encoder")], "KeyMyna");
  EXPECT_EQ(pub[col("accuracy")], "0.720200");
  EXPECT_EQ(pub[col("source")], "arXiv 2604.10021");
  EXPECT_EQ(pub[col("n_tracks")], "");
}

TEST(Table, LatexIsWellFormedBooktabs) {
  auto report = sample_report();
  // Names with every LaTeX special character, and non-ASCII.
  report["results"][1]["encoder"] = "mcpt_vit #2 50% & {x} $y$ ~z^ \\ é";
  report["results"][2]["dataset"] = "[x]";  // after \\ or \midrule, a "[" would be read as an optional argument
  report["comparisons"] = paired_comparisons(report, "", {0.05, 200, 200, 0.95, 1});
  const auto tex = render_table(report, TableFormat::kLatex);
  check_latex(tex);
  EXPECT_HAS(tex, "\\toprule");
  EXPECT_HAS(tex, "75.0$^\\dagger$");
  EXPECT_HAS(tex, "75.0$\\pm$1.2");
  EXPECT_HAS(tex, "mcpt\\_vit \\#2 50\\% \\& \\{x\\} \\$y\\$ \\textasciitilde{}z\\textasciicircum{} \\textbackslash{} ?");
  EXPECT_HAS(tex, "Published figures");
  EXPECT_HAS(tex, "\\\\\n{}[x]:test");
  // The published figures are a tabular of their own, after the measured one.
  EXPECT_GT(tex.find("KeyMyna"), tex.find("\\end{tabular}"));

  // Compile it when a TeX installation is present (it usually is not on CI: the checks above stand in).
  if (std::system("command -v pdflatex >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "pdflatex not installed: LaTeX checked structurally only";
  mcpt::testutil::TempDir dir("latex");
  std::ofstream(dir / "t.tex") << "\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=1cm,landscape]"
                                  "{geometry}\n\\begin{document}\n\\begin{table}\n\\input{table.tex}\n\\end{table}\n"
                                  "\\end{document}\n";
  std::ofstream(dir / "table.tex") << tex;
  const auto r = mcpt::testutil::run_command(
      "cd '" + (dir / "").string() + "' && pdflatex -interaction=nonstopmode -halt-on-error t.tex");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(Table, LayerSweepShowsTheLayerChosenOnValidation) {
  nlohmann::json report = {{"schema_version", "1.0"}, {"results", nlohmann::json::array()}};
  report["results"].push_back(result("chroma", "linear", 40, 20));
  for (int layer = 0; layer < 3; ++layer) {
    auto r = result("vit", "linear", 40, size_t(22 + 4 * layer));
    r["layer"] = layer;
    r["selection"] = {{"valid_score", layer == 1 ? 0.8 : 0.6}};  // validation picks layer 1, test prefers 2
    report["results"].push_back(r);
  }
  const auto text = render_table(report, TableFormat::kText);
  EXPECT_HAS(text, "layer");
  EXPECT_HAS(text, "vit/linear@1");  // compared row is the validation-chosen layer
  EXPECT_EQ(text.find("vit/linear@2"), std::string::npos) << text;
  EXPECT_HAS(text, "vit / linear on synth:test, test accuracy % by layer: 0: 55.0, [1: 65.0], 2: 75.0");
  const auto csv = render_table(report, TableFormat::kCsv);
  EXPECT_EQ(lines_of(csv).size(), 5u);  // CSV keeps every layer, with a headline flag
  check_latex(render_table(report, TableFormat::kLatex));
}

TEST(Table, OldReportsWithoutPredictionsStillRender) {
  auto report = sample_report();
  report.erase("comparisons");
  for (auto& r : report["results"]) r.erase("predictions");
  const auto text = render_table(report, TableFormat::kText);
  EXPECT_HAS(text, "no paired comparisons: results[0] (chroma/linear on synth:test).predictions: missing");
  EXPECT_EQ(text.find("†"), std::string::npos);
  // Asking for a reference explicitly makes a missing basis an error.
  TableOptions o;
  o.reference = "chroma/linear";
  EXPECT_THROW(render_table(report, TableFormat::kText, o), mcpt::Error);
}

TEST(Table, ReferenceChosenAtRenderTime) {
  auto report = sample_report();
  TableOptions o;
  o.reference = "mcpt_vit/mlp-2048";
  o.comparison.resamples = o.comparison.permutations = 500;
  const auto text = render_table(report, TableFormat::kText, o);
  EXPECT_HAS(text, "mcpt_vit (ref)");
  EXPECT_HAS(text, "50.0†");  // chroma is now significantly worse than the reference
  o.reference = "nope";
  EXPECT_HAS(mcpt::testutil::error_of([&] { render_table(report, TableFormat::kText, o); }),
             "reference row \"nope\": no such result on synth:test");
}
