#include "reports/Report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

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
  const nlohmann::json j = read_json_file(path, "report", "a report.json");
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
std::string signed_pct(double x) { return fmt::format("{:+.1f}", 100.0 * x); }
std::string p_text(double p) { return p < 0.001 ? "<0.001" : fmt::format("{:.3f}", p); }
std::string interval(const nlohmann::json& v, bool is_signed = false) {
  if (!v.is_array() || v.size() != 2) return "";
  auto f = is_signed ? signed_pct : pct;
  return fmt::format("[{}, {}]", f(v[0].get<double>()), f(v[1].get<double>()));
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
// LaTeX text: every special character escaped, and anything outside printable ASCII replaced, so the
// output compiles with any input encoding.
std::string tex(const std::string& text) {
  std::string s = text;
  for (auto& c : s)
    if (c == '\x01' || c == '\x02') c = '?';  // reserved as markers below
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"±", "\x01" "pm\x02"}, {"†", "\x01" "dagger\x02"}, {"Δ", "\x01" "Delta\x02"}}) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x01) {  // a symbol marked above: math mode
      const size_t end = s.find('\x02', i);
      const std::string name = s.substr(i + 1, end - i - 1);
      out += name == "dagger" ? "$^\\dagger$" : "$\\" + name + "$";
      i = end;
      continue;
    }
    switch (c) {
      case '\\': out += "\\textbackslash{}"; break;
      case '{': case '}': case '_': case '%': case '&': case '#': case '$': out += '\\'; out += char(c); break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '<': out += "\\textless{}"; break;
      case '>': out += "\\textgreater{}"; break;
      default:
        if (c >= 0x20 && c < 0x7f) out += char(c);
        else if ((c & 0xC0) != 0x80) out += '?';  // one '?' per non-ASCII character
    }
  }
  return out;
}
// Terminal columns taken by UTF-8 text (one per code point: the table's non-ASCII is † and ±).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
std::string pad(const std::string& s, size_t w, bool right) {
  const std::string fill(w > display_width(s) ? w - display_width(s) : 0, ' ');
  return right ? fill + s : s + fill;
}
std::string split_text(const nlohmann::json& r) {
  return r.value("dataset", "") + (r.contains("split") ? ":" + r["split"].get<std::string>() : "");
}
std::string layer_text(const nlohmann::json& r) {
  if (!r.contains("layer") || r["layer"].is_null()) return "";
  return r["layer"].is_string() ? r["layer"].get<std::string>() : r["layer"].dump();
}
std::string metric_or_empty(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? fmt::format("{:.6f}", j[key].get<double>()) : std::string();
}

// Comparisons for the markers: asked for, stored in the report, or computed from its predictions
// with the suite's statistics settings. A report without per-track predictions still gets a table,
// with a note instead of markers.
nlohmann::json comparisons_for(const nlohmann::json& report, const TableOptions& o, std::string& note) {
  std::string reference = o.reference;
  const bool has_statistics =
      report.contains("suite") && report["suite"].is_object() && report["suite"].contains("statistics");
  if (reference.empty() && has_statistics && report["suite"]["statistics"].contains("reference") &&
      report["suite"]["statistics"]["reference"].is_string())
    reference = report["suite"]["statistics"]["reference"].get<std::string>();
  if (!o.reference.empty() || o.recompute) return paired_comparisons(report, reference, o.comparison);
  if (report.contains("comparisons") && report["comparisons"].is_object()) return report["comparisons"];
  ComparisonOptions c = o.comparison;
  if (has_statistics) {
    const auto& st = report["suite"]["statistics"];
    if (st.contains("alpha") && st["alpha"].is_number()) c.alpha = st["alpha"].get<double>();
    if (st.contains("bootstrap") && st["bootstrap"].is_number_integer()) {
      c.resamples = st["bootstrap"].get<int>();
      c.permutations = c.resamples;
    }
  }
  if (report.contains("provenance") && report["provenance"].contains("seed") &&
      report["provenance"]["seed"].is_number_unsigned())
    c.seed = report["provenance"]["seed"].get<std::uint64_t>();
  try {
    return paired_comparisons(report, reference, c);
  } catch (const Error& e) {
    note = fmt::format("no paired comparisons: {}", e.what());
    return nullptr;
  }
}

struct Measured {
  size_t index = 0;
  std::string dataset, encoder, probe, layer, n, acc, acc_ci, acc_seeds, ws, ws_ci, ws_seeds, seeds;
  std::vector<std::string> cat;
  bool reference = false, sig_acc = false, sig_ws = false;
};

}  // namespace

std::string render_table(const nlohmann::json& report, TableFormat format, const TableOptions& options) {
  const std::vector<std::string> cats = {"correct", "fifth", "relative", "parallel", "other"};
  const auto& results = report.at("results");
  std::string note;
  const nlohmann::json comparisons = comparisons_for(report, options, note);
  const double alpha = comparisons.is_object() ? comparisons.value("alpha", 0.05) : 0.05;
  std::map<size_t, nlohmann::json> cmp_of;  // result index -> its comparison with the reference
  std::set<size_t> references;
  std::string reference_label;
  if (comparisons.is_object())
    for (const auto& c : comparisons.value("rows", nlohmann::json::array())) {
      cmp_of[c.value("result_index", size_t(0))] = c;
      const size_t ref = c["reference"].value("result_index", size_t(0));
      references.insert(ref);
      if (ref < results.size()) reference_label = row_label(results[ref]);
    }
  bool any_layer = false;
  for (const auto& r : results) any_layer = any_layer || !layer_text(r).empty();

  std::vector<Measured> rows;
  for (size_t i : headline_rows(report)) {
    const auto& r = results[i];
    const auto& m = r.at("metrics");
    Measured row;
    row.index = i;
    row.dataset = split_text(r);
    row.encoder = r.value("encoder", "");
    row.probe = r.value("probe", "");
    row.layer = layer_text(r);
    row.n = std::to_string(m.value("n_tracks", 0));
    row.acc = pct(m.value("accuracy", 0.0));
    row.acc_ci = m.contains("accuracy_ci95") ? interval(m["accuracy_ci95"]) : "";
    row.ws = pct(m.value("weighted_score", 0.0));
    row.ws_ci = m.contains("weighted_score_ci95") ? interval(m["weighted_score_ci95"]) : "";
    if (r.contains("across_seeds")) {
      const auto& s = r["across_seeds"];
      row.seeds = std::to_string(s.value("n", 0));
      row.acc_seeds = fmt::format("{}±{}", pct(s["accuracy"]["mean"].get<double>()), pct(s["accuracy"]["std"].get<double>()));
      row.ws_seeds = fmt::format("{}±{}", pct(s["weighted_score"]["mean"].get<double>()),
                                 pct(s["weighted_score"]["std"].get<double>()));
    }
    for (const auto& c : cats) row.cat.push_back(std::to_string(m.at("categories").value(c, 0)));
    row.reference = references.count(i) > 0;
    if (cmp_of.count(i)) {
      row.sig_acc = cmp_of[i]["significant"].value("accuracy", false);
      row.sig_ws = cmp_of[i]["significant"].value("weighted_score", false);
    }
    rows.push_back(row);
  }
  const bool markers = !cmp_of.empty();
  const std::string alpha_text = fmt::format("{:g}", alpha);
  const std::string footnote =
      markers ? fmt::format("† p < {} against the reference row, marked (ref){}, on the same test tracks: McNemar's "
                            "test for accuracy, paired bootstrap ({} resamples) for the weighted score.",
                            alpha_text, references.size() == 1 ? " = " + reference_label : " in each test split",
                            comparisons.value("resamples", 0))
              : "";
  const std::string ci_note = "CIs: 95 % percentile bootstrap over test tracks; mean±sd over seeds.";

  std::vector<std::string> header = {"dataset", "encoder", "probe"};
  if (any_layer) header.push_back("layer");
  const size_t left = header.size();  // left-aligned columns
  for (const char* h : {"n", "accuracy %", "95% CI", "seeds", "acc mean±sd", "weighted %", "95% CI", "w mean±sd"})
    header.push_back(h);
  header.insert(header.end(), cats.begin(), cats.end());
  const std::string dagger = format == TableFormat::kLatex ? "$^\\dagger$" : "†";
  auto cells = [&](const Measured& r) {
    const bool t = format == TableFormat::kLatex;
    auto esc = [&](const std::string& s) { return t ? tex(s) : s; };
    auto pm = esc;
    std::vector<std::string> c = {esc(r.dataset), esc(r.encoder) + (r.reference ? " (ref)" : ""), esc(r.probe)};
    if (any_layer) c.push_back(esc(r.layer));
    c.insert(c.end(), {r.n, r.acc + (r.sig_acc ? dagger : ""), esc(r.acc_ci), r.seeds, pm(r.acc_seeds),
                       r.ws + (r.sig_ws ? dagger : ""), esc(r.ws_ci), pm(r.ws_seeds)});
    c.insert(c.end(), r.cat.begin(), r.cat.end());
    return c;
  };

  // Paired comparison lines (text, md): every compared headline row.
  const std::vector<std::string> cmp_header = {"test split", "row", "reference", "n", "Δacc %", "95% CI", "McNemar p",
                                               "Δweighted %", "95% CI", "bootstrap p"};
  std::vector<std::vector<std::string>> cmp_rows;
  for (const auto& r : rows) {
    if (!cmp_of.count(r.index)) continue;
    const auto& c = cmp_of[r.index];
    const auto& ref = results[c["reference"].value("result_index", size_t(0))];
    cmp_rows.push_back({r.dataset, row_label(results[r.index]), row_label(ref), std::to_string(c.value("n", 0)),
                        signed_pct(c["accuracy"].value("difference", 0.0)),
                        c["accuracy"].contains("ci") ? interval(c["accuracy"]["ci"], true) : "",
                        p_text(c["mcnemar"].value("p_value", 1.0)),
                        signed_pct(c["weighted_score"].value("difference", 0.0)),
                        c["weighted_score"].contains("ci") ? interval(c["weighted_score"]["ci"], true) : "",
                        c["weighted_score"].contains("p_bootstrap") ? p_text(c["weighted_score"]["p_bootstrap"].get<double>())
                                                                    : ""});
  }

  // Layer sweeps: test figures per layer, with the validation-chosen layer marked.
  std::vector<std::string> sweeps;
  {
    for (size_t h : headline_rows(report)) {
      std::vector<std::string> parts;
      for (size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (layer_text(r).empty() || split_text(r) != split_text(results[h]) ||
            r.value("encoder", "") != results[h].value("encoder", "") || r.value("probe", "") != results[h].value("probe", ""))
          continue;
        const std::string v = fmt::format("{}: {}", layer_text(r), pct(r["metrics"].value("accuracy", 0.0)));
        parts.push_back(i == h ? "[" + v + "]" : v);
      }
      if (parts.size() > 1)
        sweeps.push_back(fmt::format("{} / {} on {}, test accuracy % by layer: {}", results[h].value("encoder", ""),
                                     results[h].value("probe", ""), split_text(results[h]), fmt::join(parts, ", ")));
    }
  }
  const std::string sweep_note = "[ ] = the layer shown in the table, chosen on validation.";

  // Published figures quoted from papers: a block of their own, never among the measured rows.
  struct Published {
    std::string name, dataset, acc, ws, source;
  };
  std::vector<Published> published;
  if (report.contains("published") && report["published"].is_array())
    for (const auto& p : report["published"]) {
      auto fig = [&](const char* k) {
        return p.contains(k) && p[k].is_number() ? fmt::format("{:.2f}", 100.0 * p[k].get<double>()) : std::string("-");
      };
      published.push_back({p.value("name", ""), p.value("dataset", ""), fig("accuracy"), fig("weighted_score"),
                           p.value("source", "")});
    }
  const std::vector<std::string> pub_header = {"name", "dataset", "accuracy %", "weighted %", "source"};
  const std::string pub_title = "Published figures (quoted from papers, not measured by this run):";

  std::ostringstream out;
  auto text_block = [&](const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body,
                        size_t n_left) {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = display_width(head[i]);
    for (const auto& r : body)
      for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], display_width(r[i]));
    auto line = [&](const std::vector<std::string>& c) {
      std::string s;
      for (size_t i = 0; i < c.size(); ++i) s += (i ? "  " : "") + pad(c[i], w[i], i >= n_left);
      while (!s.empty() && s.back() == ' ') s.pop_back();
      out << s << "\n";
    };
    line(head);
    for (const auto& r : body) line(r);
  };
  auto md_block = [&](const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& body,
                      size_t n_left) {
    out << "|";
    for (const auto& h : head) out << " " << h << " |";
    out << "\n|";
    for (size_t i = 0; i < head.size(); ++i) out << (i >= n_left ? "---:|" : "---|");
    out << "\n";
    for (const auto& r : body) {
      out << "|";
      for (const auto& c : r) out << " " << c << " |";
      out << "\n";
    }
  };
  std::vector<std::vector<std::string>> body;
  for (const auto& r : rows) body.push_back(cells(r));
  std::vector<std::vector<std::string>> pub_body;
  for (const auto& p : published) pub_body.push_back({p.name, p.dataset, p.acc, p.ws, p.source});

  switch (format) {
    case TableFormat::kCsv: {
      const std::vector<std::string> columns = {
          "dataset", "encoder", "probe", "n_tracks", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
          "weighted_score", "weighted_score_ci_low", "weighted_score_ci_high", "correct", "fifth", "relative",
          "parallel", "other", "layer", "headline", "seeds", "accuracy_mean", "accuracy_sd", "weighted_score_mean",
          "weighted_score_sd", "reference", "delta_accuracy", "delta_accuracy_ci_low", "delta_accuracy_ci_high",
          "p_mcnemar", "delta_weighted_score", "delta_weighted_score_ci_low", "delta_weighted_score_ci_high",
          "p_bootstrap_weighted_score", "kind", "source"};
      auto emit = [&](const std::map<std::string, std::string>& fields) {
        for (size_t i = 0; i < columns.size(); ++i) {
          auto it = fields.find(columns[i]);
          out << (i ? "," : "") << (it == fields.end() ? "" : csv_field(it->second));
        }
        out << "\n";
      };
      out << fmt::format("{}\n", fmt::join(columns, ","));
      const auto headline = headline_rows(report);
      auto lohi = [](const nlohmann::json& j, const char* k, int at) {
        return j.contains(k) && j[k].is_array() ? fmt::format("{:.6f}", j[k][at].get<double>()) : std::string();
      };
      for (size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        const auto& m = r.at("metrics");
        std::map<std::string, std::string> f = {
            {"dataset", r.value("dataset", "") + ":" + r.value("split", "")},
            {"encoder", r.value("encoder", "")},
            {"probe", r.value("probe", "")},
            {"n_tracks", std::to_string(m.value("n_tracks", 0))},
            {"accuracy", metric_or_empty(m, "accuracy")},
            {"accuracy_ci_low", lohi(m, "accuracy_ci95", 0)},
            {"accuracy_ci_high", lohi(m, "accuracy_ci95", 1)},
            {"weighted_score", metric_or_empty(m, "weighted_score")},
            {"weighted_score_ci_low", lohi(m, "weighted_score_ci95", 0)},
            {"weighted_score_ci_high", lohi(m, "weighted_score_ci95", 1)},
            {"layer", layer_text(r)},
            {"headline", std::find(headline.begin(), headline.end(), i) != headline.end() ? "1" : "0"},
            {"kind", "measured"}};
        for (const auto& c : cats) f[c] = std::to_string(m.at("categories").value(c, 0));
        if (r.contains("across_seeds")) {
          const auto& s = r["across_seeds"];
          f["seeds"] = std::to_string(s.value("n", 0));
          f["accuracy_mean"] = metric_or_empty(s["accuracy"], "mean");
          f["accuracy_sd"] = metric_or_empty(s["accuracy"], "std");
          f["weighted_score_mean"] = metric_or_empty(s["weighted_score"], "mean");
          f["weighted_score_sd"] = metric_or_empty(s["weighted_score"], "std");
        }
        if (cmp_of.count(i)) {
          const auto& c = cmp_of[i];
          f["reference"] = row_label(results[c["reference"].value("result_index", size_t(0))]);
          f["delta_accuracy"] = metric_or_empty(c["accuracy"], "difference");
          f["delta_accuracy_ci_low"] = lohi(c["accuracy"], "ci", 0);
          f["delta_accuracy_ci_high"] = lohi(c["accuracy"], "ci", 1);
          f["p_mcnemar"] = metric_or_empty(c["mcnemar"], "p_value");
          f["delta_weighted_score"] = metric_or_empty(c["weighted_score"], "difference");
          f["delta_weighted_score_ci_low"] = lohi(c["weighted_score"], "ci", 0);
          f["delta_weighted_score_ci_high"] = lohi(c["weighted_score"], "ci", 1);
          f["p_bootstrap_weighted_score"] = metric_or_empty(c["weighted_score"], "p_bootstrap");
        } else if (references.count(i)) {
          f["reference"] = "(reference)";
        }
        emit(f);
      }
      for (const auto& p : report.value("published", nlohmann::json::array()))
        emit({{"dataset", p.value("dataset", "")},
              {"encoder", p.value("name", "")},
              {"accuracy", metric_or_empty(p, "accuracy")},
              {"weighted_score", metric_or_empty(p, "weighted_score")},
              {"kind", "published"},
              {"source", p.value("source", "")}});
      break;
    }
    case TableFormat::kMarkdown: {
      md_block(header, body, left);
      out << "\n";
      if (markers) out << footnote << " ";
      out << ci_note << "\n";
      if (!note.empty()) out << "\n" << note << "\n";
      if (!cmp_rows.empty()) {
        out << "\n**Paired comparisons** (same test tracks, first seed's predictions):\n\n";
        md_block(cmp_header, cmp_rows, 3);
      }
      if (!sweeps.empty()) {
        out << "\n**Layer sweeps** (" << sweep_note << ")\n\n";
        for (const auto& s : sweeps) out << "- " << s << "\n";
      }
      if (!published.empty()) {
        out << "\n**" << pub_title << "**\n\n";
        md_block(pub_header, pub_body, 2);
      }
      break;
    }
    case TableFormat::kLatex: {
      out << "% mcpt-eval results table. Needs \\usepackage{booktabs}; ASCII only.\n";
      out << "\\begin{tabular}{" << std::string(left, 'l') << std::string(header.size() - left, 'r') << "}\n\\toprule\n";
      for (size_t i = 0; i < header.size(); ++i) out << (i ? " & " : "") << tex(header[i]);
      out << " \\\\\n\\midrule\n";
      for (const auto& c : body) {
        // A row starting with "[" would be read as the optional argument of the \\ or rule before it.
        for (size_t i = 0; i < c.size(); ++i) out << (i ? " & " : "") << (i == 0 && !c[i].empty() && c[i][0] == '[' ? "{}" : "") << c[i];
        out << " \\\\\n";
      }
      out << "\\bottomrule\n\\end{tabular}\n";
      out << "\n\\smallskip\n{\\footnotesize ";
      if (markers) out << tex(footnote) << " ";
      out << tex(ci_note) << (sweeps.empty() ? "" : " Layers chosen on validation.") << "\\par}\n";
      if (!published.empty()) {
        out << "\n\\medskip\n\\begin{tabular}{llrrl}\n\\toprule\n\\multicolumn{5}{l}{" << tex(pub_title)
            << "} \\\\\n\\midrule\n";
        for (size_t i = 0; i < pub_header.size(); ++i) out << (i ? " & " : "") << tex(pub_header[i]);
        out << " \\\\\n\\midrule\n";
        for (const auto& p : pub_body) {
          for (size_t i = 0; i < p.size(); ++i) out << (i ? " & " : "") << tex(p[i]);
          out << " \\\\\n";
        }
        out << "\\bottomrule\n\\end{tabular}\n";
      }
      break;
    }
    case TableFormat::kText: {
      text_block(header, body, left);
      if (markers) out << footnote << "\n";
      out << ci_note << "\n";
      if (!note.empty()) out << note << "\n";
      if (!cmp_rows.empty()) {
        out << "\nPaired comparisons (same test tracks, first seed's predictions):\n";
        text_block(cmp_header, cmp_rows, 3);
      }
      if (!sweeps.empty()) {
        out << "\nLayer sweeps (" << sweep_note << ")\n";
        for (const auto& s : sweeps) out << "  " << s << "\n";
      }
      if (!published.empty()) {
        out << "\n" << pub_title << "\n";
        text_block(pub_header, pub_body, 2);
      }
      break;
    }
  }
  return out.str();
}

}  // namespace mcpt::reports
