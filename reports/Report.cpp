#include "reports/Report.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace fs = std::filesystem;

namespace mcpt::reports {

void write_file_atomic(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw Error(fmt::format("{}: cannot create folder: {}", path.parent_path().string(), ec.message()));
  }
  const fs::path tmp = path.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot write", tmp.string()));
    out << text;
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      throw Error(fmt::format("{}: write failed (disk full?)", tmp.string()));
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot replace: {}", path.string(), ec.message()));
  }
}

void write_json_atomic(const fs::path& path, const nlohmann::json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

nlohmann::json read_report(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open report", path.string()));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  }
  if (!j.is_object() || !j.contains("schema_version") || !j["schema_version"].is_string())
    throw Error(fmt::format("{}: schema_version: missing (not an mcpt-eval report?)", path.string()));
  if (j["schema_version"].get<std::string>().rfind("1.", 0) != 0)
    throw Error(fmt::format("{}: schema_version: unsupported version \"{}\" (this build reads 1.x)", path.string(),
                            j["schema_version"].get<std::string>()));
  if (!j.contains("results") || !j["results"].is_array())
    throw Error(fmt::format("{}: results: expected array", path.string()));
  return j;
}

TableFormat parse_table_format(const std::string& name) {
  if (name == "text" || name == "txt") return TableFormat::kText;
  if (name == "md" || name == "markdown") return TableFormat::kMarkdown;
  if (name == "csv") return TableFormat::kCsv;
  if (name == "tex" || name == "latex") return TableFormat::kLatex;
  throw Error(fmt::format("unknown table format \"{}\" (known: text, md, csv, tex)", name), ExitCode::kUsage);
}

namespace {
std::string pct(double x) { return fmt::format("{:.1f}", 100.0 * x); }
std::string ci(const nlohmann::json& m, const char* key) {
  if (!m.contains(key)) return "";
  return fmt::format("[{}, {}]", pct(m[key][0].get<double>()), pct(m[key][1].get<double>()));
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
std::string tex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

std::string render_table(const nlohmann::json& report, TableFormat format) {
  const std::vector<std::string> cats = {"correct", "fifth", "relative", "parallel", "other"};
  struct Row {
    std::string dataset, encoder, probe, n, acc, acc_ci, ws, ws_ci, seeds;
    std::vector<std::string> cat;
  };
  std::vector<Row> rows;
  for (const auto& r : report.at("results")) {
    const auto& m = r.at("metrics");
    Row row{r.value("dataset", "") + (r.contains("split") ? ":" + r["split"].get<std::string>() : ""),
            r.value("encoder", ""),
            r.value("probe", ""),
            std::to_string(m.value("n_tracks", 0)),
            pct(m.value("accuracy", 0.0)),
            ci(m, "accuracy_ci95"),
            pct(m.value("weighted_score", 0.0)),
            ci(m, "weighted_score_ci95"),
            "",
            {}};
    if (r.contains("across_seeds")) {
      const auto& s = r["across_seeds"];
      row.seeds = fmt::format("{} seeds: acc {:.1f}±{:.1f}", s.value("n", 0), 100 * s["accuracy"]["mean"].get<double>(),
                              100 * s["accuracy"]["std"].get<double>());
    }
    for (const auto& c : cats) row.cat.push_back(std::to_string(m.at("categories").value(c, 0)));
    rows.push_back(row);
  }
  std::ostringstream out;
  const std::vector<std::string> head = {"dataset", "encoder", "probe", "n", "accuracy %", "95% CI",
                                         "weighted %", "95% CI"};
  auto cells = [&](const Row& r) {
    std::vector<std::string> c = {r.dataset, r.encoder, r.probe, r.n, r.acc, r.acc_ci, r.ws, r.ws_ci};
    c.insert(c.end(), r.cat.begin(), r.cat.end());
    return c;
  };
  std::vector<std::string> header = head;
  header.insert(header.end(), cats.begin(), cats.end());
  switch (format) {
    case TableFormat::kCsv: {
      out << "dataset,encoder,probe,n_tracks,accuracy,accuracy_ci_low,accuracy_ci_high,weighted_score,"
             "weighted_score_ci_low,weighted_score_ci_high,correct,fifth,relative,parallel,other\n";
      for (const auto& r : report.at("results")) {
        const auto& m = r.at("metrics");
        auto lohi = [&](const char* k, int i) {
          return m.contains(k) ? fmt::format("{:.6f}", m[k][i].get<double>()) : std::string();
        };
        out << csv_field(r.value("dataset", "") + ":" + r.value("split", "")) << "," << csv_field(r.value("encoder", ""))
            << "," << csv_field(r.value("probe", "")) << "," << m.value("n_tracks", 0) << ","
            << fmt::format("{:.6f}", m.value("accuracy", 0.0)) << "," << lohi("accuracy_ci95", 0) << ","
            << lohi("accuracy_ci95", 1) << "," << fmt::format("{:.6f}", m.value("weighted_score", 0.0)) << ","
            << lohi("weighted_score_ci95", 0) << "," << lohi("weighted_score_ci95", 1);
        for (const auto& c : cats) out << "," << m.at("categories").value(c, 0);
        out << "\n";
      }
      break;
    }
    case TableFormat::kMarkdown: {
      out << "|";
      for (const auto& h : header) out << " " << h << " |";
      out << "\n|";
      for (size_t i = 0; i < header.size(); ++i) out << (i >= 3 ? "---:|" : "---|");
      out << "\n";
      for (const auto& r : rows) {
        out << "|";
        for (const auto& c : cells(r)) out << " " << c << " |";
        out << "\n";
      }
      break;
    }
    case TableFormat::kLatex: {
      out << "\\begin{tabular}{lll" << std::string(header.size() - 3, 'r') << "}\n\\toprule\n";
      for (size_t i = 0; i < header.size(); ++i) out << (i ? " & " : "") << tex(header[i]);
      out << " \\\\\n\\midrule\n";
      for (const auto& r : rows) {
        auto c = cells(r);
        for (size_t i = 0; i < c.size(); ++i) out << (i ? " & " : "") << tex(c[i]);
        out << " \\\\\n";
      }
      out << "\\bottomrule\n\\end{tabular}\n";
      break;
    }
    case TableFormat::kText: {
      std::vector<size_t> w(header.size());
      for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
      for (const auto& r : rows) {
        auto c = cells(r);
        for (size_t i = 0; i < c.size(); ++i) w[i] = std::max(w[i], c[i].size());
      }
      auto line = [&](const std::vector<std::string>& c) {
        for (size_t i = 0; i < c.size(); ++i)
          out << (i ? "  " : "") << (i >= 3 ? fmt::format("{:>{}}", c[i], w[i]) : fmt::format("{:<{}}", c[i], w[i]));
        out << "\n";
      };
      line(header);
      for (const auto& r : rows) line(cells(r));
      for (const auto& r : rows)
        if (!r.seeds.empty()) out << r.encoder << " / " << r.probe << ": " << r.seeds << "\n";
      break;
    }
  }
  return out.str();
}

}  // namespace mcpt::reports
