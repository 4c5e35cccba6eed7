#include "reports/Plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "reports/Metrics.h"
#include "reports/Report.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace mcpt::reports {
namespace {

// ---- Text: labels come from suites and may hold any bytes; the file must stay well-formed XML.

// Code points of `s`; an invalid, overlong or surrogate sequence becomes U+FFFD.
std::u32string decode_utf8(const std::string& s) {
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 1) {
      out += b;
      ++i;
      continue;
    }
    bool ok = len != 0 && i + len <= s.size();
    char32_t cp = ok ? (b & (0x7F >> len)) : 0;
    for (size_t k = 1; ok && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      ok = (c >> 6) == 0x2;
      cp = (cp << 6) | (c & 0x3F);
    }
    ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    out += ok ? cp : U'\uFFFD';
    i += ok ? len : 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Escaped for text and attribute values; labels are one line, and XML 1.0 forbids most control codes.
std::string xml(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    switch (c) {
      case U'&': out += "&amp;"; break;
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'"': out += "&quot;"; break;
      case U'\'': out += "&apos;"; break;
      case U'\t':
      case U'\n':
      case U'\r': out += ' '; break;
      default: append_utf8(out, c < 0x20 || c == 0xFFFE || c == 0xFFFF ? char32_t{0xFFFD} : c);
    }
  }
  return out;
}
std::string xml(const std::string& s) { return xml(decode_utf8(s)); }

// Advance of one character in em, roughly DejaVu Sans / Helvetica: there are no font metrics here, and an
// estimate that errs wide keeps labels from running into the bars.
double char_em(char32_t c) {
  if (c >= 0x2E80) return 1.0;  // CJK and wider scripts
  if (c >= 0x80) return 0.7;
  if (std::string_view(" .,:;|!'`ijlIft()[]/\\").find(static_cast<char>(c)) != std::string_view::npos) return 0.34;
  if (std::string_view("mwMW@%").find(static_cast<char>(c)) != std::string_view::npos) return 0.92;
  if (std::string_view("<>=+~&#$").find(static_cast<char>(c)) != std::string_view::npos) return 0.84;
  if (c >= 'A' && c <= 'Z') return 0.72;
  return 0.62;
}
double text_width(const std::u32string& s, double font_px) {
  double em = 0;
  for (char32_t c : s) em += char_em(c);
  return em * font_px;
}
double text_width(const std::string& s, double font_px) { return text_width(decode_utf8(s), font_px); }

// `s` escaped, shortened with an ellipsis to fit `max_px` (the full text goes in the row's <title>).
std::string fit(const std::string& s, double max_px, double font_px) {
  std::u32string u = decode_utf8(s);
  if (text_width(u, font_px) <= max_px) return xml(u);
  const double ellipsis = char_em(U'\u2026') * font_px;
  while (!u.empty() && text_width(u, font_px) + ellipsis > max_px) u.pop_back();
  return xml(u + U'\u2026');
}

// Coordinates to 0.01 px, trailing zeros dropped.
double round2(double v) { return std::round(v * 100.0) / 100.0; }
std::string num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}
std::string pct(double fraction) { return fmt::format("{:.1f}", 100.0 * fraction); }

// ---- Input: the fields the figures use, checked with the JSON path of every error.

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const json& got) {
  throw Error(fmt::format("{}: expected {}, got {}", path, expected, got.type_name()));
}

const json& need(const json& obj, const std::string& path, const char* key, const char* expected) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw Error(fmt::format("{}: missing, expected {}", join(path, key), expected));
  return *it;
}
// Optional fields: absent or null (what NaN becomes in JSON) both mean "not given".
const json* maybe(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string as_string(const json& j, const std::string& path) {
  if (!j.is_string()) wrong_type(path, "string", j);
  return j.get<std::string>();
}
double as_fraction(const json& j, const std::string& path) {
  if (!j.is_number()) wrong_type(path, "number", j);
  const double v = j.get<double>();
  if (!std::isfinite(v) || v < 0.0 || v > 1.0)
    throw Error(fmt::format("{}: expected a fraction in [0, 1], got {}", path, j.dump()));
  return v;
}
std::int64_t as_count(const json& j, const std::string& path) {
  if (!j.is_number()) wrong_type(path, "non-negative integer", j);
  if (!j.is_number_integer() || (!j.is_number_unsigned() && j.get<std::int64_t>() < 0))
    throw Error(fmt::format("{}: expected non-negative integer, got {}", path, j.dump()));
  return j.get<std::int64_t>();
}

std::string get_string(const json& obj, const std::string& path, const char* key) {
  return as_string(need(obj, path, key, "string"), join(path, key));
}
double get_fraction(const json& obj, const std::string& path, const char* key) {
  return as_fraction(need(obj, path, key, "number"), join(path, key));
}
std::optional<Interval> get_interval(const json& obj, const std::string& path, const char* key) {
  const json* j = maybe(obj, key);
  if (!j) return std::nullopt;
  const std::string p = join(path, key);
  if (!j->is_array()) wrong_type(p, "[low, high]", *j);
  if (j->size() != 2) throw Error(fmt::format("{}: expected [low, high], got {} values", p, j->size()));
  const Interval ci{as_fraction((*j)[0], p + "[0]"), as_fraction((*j)[1], p + "[1]")};
  if (ci.low > ci.high) throw Error(fmt::format("{}: low {} is above high {}", p, ci.low, ci.high));
  return ci;
}

constexpr std::array<const char*, 5> kCategories = {"correct", "fifth", "relative", "parallel", "other"};

struct SeedScore {
  std::optional<std::int64_t> seed;
  double accuracy = 0;
  double weighted = 0;
};

struct Row {
  std::string name;   // encoder / probe
  std::string split;  // dataset:split
  double accuracy = 0;
  double weighted = 0;
  std::optional<Interval> accuracy_ci, weighted_ci;
  std::vector<SeedScore> seeds;
  std::array<std::int64_t, 5> categories{};  // in kCategories order
  std::string full_label(bool with_split) const { return with_split ? name + " (" + split + ")" : name; }
};

struct Figure {
  std::string suite;
  std::vector<Row> rows;
  bool show_split = false;  // more than one dataset:split among the rows
};

Figure parse(const json& report, bool with_categories) {
  if (!report.is_object()) wrong_type("report", "object", report);
  Figure f;
  if (const json* suite = maybe(report, "suite")) {
    if (!suite->is_object()) wrong_type("suite", "object", *suite);
    if (const json* name = maybe(*suite, "name")) f.suite = as_string(*name, "suite.name");
  }
  const json& results = need(report, "", "results", "array");
  if (!results.is_array()) wrong_type("results", "array", results);
  std::set<std::string> splits;
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string p = fmt::format("results[{}]", i);
    const json& r = results[i];
    if (!r.is_object()) wrong_type(p, "object", r);
    Row row;
    row.name = get_string(r, p, "encoder") + " / " + get_string(r, p, "probe");
    row.split = get_string(r, p, "dataset");
    if (const json* split = maybe(r, "split")) row.split += ":" + as_string(*split, p + ".split");
    splits.insert(row.split);

    const std::string pm = p + ".metrics";
    const json& m = need(r, p, "metrics", "object");
    if (!m.is_object()) wrong_type(pm, "object", m);
    row.accuracy = get_fraction(m, pm, "accuracy");
    row.weighted = get_fraction(m, pm, "weighted_score");
    row.accuracy_ci = get_interval(m, pm, "accuracy_ci95");
    row.weighted_ci = get_interval(m, pm, "weighted_score_ci95");

    if (const json* seeds = maybe(r, "per_seed")) {
      if (!seeds->is_array()) wrong_type(p + ".per_seed", "array", *seeds);
      for (size_t s = 0; s < seeds->size(); ++s) {
        const std::string ps = fmt::format("{}.per_seed[{}]", p, s);
        const json& e = (*seeds)[s];
        if (!e.is_object()) wrong_type(ps, "object", e);
        SeedScore score;
        if (const json* seed = maybe(e, "seed")) score.seed = as_count(*seed, ps + ".seed");
        score.accuracy = get_fraction(e, ps, "accuracy");
        score.weighted = get_fraction(e, ps, "weighted_score");
        row.seeds.push_back(score);
      }
    }

    if (with_categories) {
      const std::string pc = pm + ".categories";
      const json& c = need(m, pm, "categories", "object");
      if (!c.is_object()) wrong_type(pc, "object", c);
      for (size_t k = 0; k < kCategories.size(); ++k)
        if (const json* n = maybe(c, kCategories[k])) row.categories[k] = as_count(*n, join(pc, kCategories[k]));
    }
    f.rows.push_back(std::move(row));
  }
  f.show_split = splits.size() > 1;
  return f;
}

// ---- Layout shared by both figures: title, legend, a label column, a 0–100 % axis along x.

constexpr double kWidth = 640;
constexpr double kPad = 16;
constexpr double kLabelFont = 12;
constexpr double kSmallFont = 10;
constexpr double kChance = 1.0 / 24;

// Okabe & Ito (2008), "Color Universal Design".
constexpr const char* kBlue = "#0072B2";
constexpr const char* kOrange = "#E69F00";
constexpr const char* kSkyBlue = "#56B4E9";
constexpr const char* kGreen = "#009E73";
constexpr const char* kPurple = "#CC79A7";
constexpr const char* kGrey = "#BBBBBB";
constexpr std::array<const char*, 5> kCategoryColours = {kGreen, kSkyBlue, kPurple, kOrange, kGrey};

struct Frame {
  double x0 = 0, x1 = 0;      // 0 % and 100 %
  double top = 0, bottom = 0;  // plot area
  double x(double fraction) const { return round2(x0 + (x1 - x0) * fraction); }
};

enum class Swatch { kBox, kDashedLine, kErrorBar, kDot };
struct LegendItem {
  Swatch swatch;
  const char* colour;
  std::string label;
};

// Title (the suite name when there is one, with `what` below it) and legend; returns the y below them.
double header(std::ostringstream& o, const std::string& suite, const std::string& what,
              const std::vector<LegendItem>& legend) {
  const double max_w = kWidth - 2 * kPad;
  double y = 28;
  o << fmt::format("<text class=\"title\" x=\"{}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\" fill=\"#111\">{}</text>\n",
                   kPad, y, fit(suite.empty() ? what : suite, max_w, 16));
  if (!suite.empty()) {
    y += 18;
    o << fmt::format("<text class=\"subtitle\" x=\"{}\" y=\"{}\" fill=\"#444\">{}</text>\n", kPad, y,
                     fit(what, max_w, kLabelFont));
  }
  y += 14;
  o << "<g class=\"legend\">\n";
  double x = kPad;
  for (const auto& item : legend) {
    const double w = 16 + 5 + text_width(item.label, kLabelFont);
    if (x > kPad && x + w > kWidth - kPad) {
      x = kPad;
      y += 20;
    }
    const double mid = y + 6;
    switch (item.swatch) {
      case Swatch::kBox:
        o << fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", num(x + 2), num(y),
                         item.colour);
        break;
      case Swatch::kDashedLine:
        o << fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-dasharray=\"4 3\"/>\n",
                         num(x), num(mid), num(x + 16), num(mid), item.colour);
        break;
      case Swatch::kErrorBar:
        o << fmt::format(
            "<path d=\"M{0} {1}H{2}M{0} {3}V{4}M{2} {3}V{4}\" stroke=\"{5}\" stroke-width=\"1.2\" fill=\"none\"/>\n",
            num(x + 1), num(mid), num(x + 15), num(mid - 4), num(mid + 4), item.colour);
        break;
      case Swatch::kDot:
        o << fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#fff\" stroke=\"{}\" stroke-width=\"0.9\"/>\n",
                         num(x + 8), num(mid), item.colour);
        break;
    }
    o << fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#222\">{}</text>\n", num(x + 21), num(mid + 4.2), xml(item.label));
    x += w + 18;
  }
  o << "</g>\n";
  return y + 12 + 16;
}

// Width of the label column: the widest label, within limits so the bars keep most of the figure.
double label_column(const Figure& f) {
  double w = 40;
  for (const auto& r : f.rows) {
    w = std::max(w, text_width(r.name, kLabelFont));
    if (f.show_split) w = std::max(w, text_width(r.split, kSmallFont));
  }
  return std::min(w, 210.0);
}

// Row labels, right-aligned against the axis, centred on `mid`.
void row_label(std::ostringstream& o, const Figure& f, const Row& r, const Frame& fr, double mid) {
  const double x = fr.x0 - 8, max_w = fr.x0 - 8 - kPad;
  if (f.show_split) {
    o << fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#111\">{}</text>\n", num(x),
                     num(mid - 2), fit(r.name, max_w, kLabelFont));
    o << fmt::format(
        "<text class=\"label split\" x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"{}\" fill=\"#555\">{}</text>\n",
        num(x), num(mid + 10), kSmallFont, fit(r.split, max_w, kSmallFont));
  } else {
    o << fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#111\">{}</text>\n", num(x),
                     num(mid + 4.2), fit(r.name, max_w, kLabelFont));
  }
}

// Vertical grid lines at every 20 %, drawn before the bars.
void grid(std::ostringstream& o, const Frame& fr) {
  o << "<g class=\"grid\" stroke=\"#E2E2E2\" stroke-width=\"1\">\n";
  for (int t = 20; t <= 100; t += 20)
    o << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(fr.x(t / 100.0)), num(fr.top),
                     num(fr.bottom));
  o << "</g>\n";
}

// Axis line, ticks, tick labels and axis title, drawn over the bars; returns the figure's height.
double x_axis(std::ostringstream& o, const Frame& fr, const std::string& title) {
  o << "<g class=\"x-axis\" fill=\"#333\">\n";
  o << fmt::format("<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", num(fr.x0),
                   num(fr.bottom), num(fr.x1), num(fr.bottom));
  o << fmt::format("<line class=\"y-axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>\n", num(fr.x0),
                   num(fr.top), num(fr.bottom));
  for (int t = 0; t <= 100; t += 20) {
    const std::string x = num(fr.x(t / 100.0));
    o << fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333\"/>\n", x, num(fr.bottom),
                     num(fr.bottom + 4));
    o << fmt::format("<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>\n", x,
                     num(fr.bottom + 17), t);
  }
  o << fmt::format("<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#111\">{}</text>\n",
                   num((fr.x0 + fr.x1) / 2), num(fr.bottom + 36), xml(title));
  o << "</g>\n";
  return std::ceil(fr.bottom + 36 + 14);
}

void no_results(std::ostringstream& o, const Frame& fr) {
  o << fmt::format(
      "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-style=\"italic\" fill=\"#777\">no "
      "results</text>\n",
      num((fr.x0 + fr.x1) / 2), num((fr.top + fr.bottom) / 2 + 4));
}

std::string document(double height, const std::string& title, const std::string& body) {
  const std::string w = num(kWidth), h = num(height);
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n"
      "<title>{2}</title>\n"
      "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"#FFFFFF\"/>\n"
      "{3}</svg>\n",
      w, h, xml(title), body);
}

std::string figure_title(const Figure& f, const std::string& what) { return f.suite.empty() ? what : f.suite + ": " + what; }

}  // namespace

std::string plot_scores_svg(const json& report) {
  const Figure f = parse(report, false);
  bool any_ci = false, any_seeds = false;
  for (const auto& r : f.rows) {
    any_ci = any_ci || r.accuracy_ci || r.weighted_ci;
    any_seeds = any_seeds || r.seeds.size() > 1;
  }
  std::vector<LegendItem> legend = {{Swatch::kBox, kBlue, "Accuracy"}, {Swatch::kBox, kOrange, "Weighted score"}};
  if (any_ci) legend.push_back({Swatch::kErrorBar, "#000", "95% CI"});
  if (any_seeds) legend.push_back({Swatch::kDot, "#000", "Seeds"});
  legend.push_back({Swatch::kDashedLine, "#444", fmt::format("Chance ({} %)", pct(kChance))});

  const std::string what = "Accuracy and MIREX weighted score (%)";
  std::ostringstream o;
  Frame fr;
  fr.top = header(o, f.suite, what, legend);
  fr.x0 = std::round(kPad + label_column(f) + 10);
  fr.x1 = kWidth - 52;  // room for a value label right of a bar at 100 %
  constexpr double kBar = 13, kGap = 3, kPitch = 46;
  fr.bottom = fr.top + (f.rows.empty() ? 60 : kPitch * double(f.rows.size()));
  grid(o, fr);
  if (f.rows.empty()) no_results(o, fr);

  for (size_t i = 0; i < f.rows.size(); ++i) {
    const Row& r = f.rows[i];
    const double mid = fr.top + kPitch * (double(i) + 0.5);
    o << "<g class=\"result\">\n<title>" << xml(r.full_label(f.show_split)) << "</title>\n";
    row_label(o, f, r, fr, mid);
    struct Measure {
      const char* cls;
      const char* colour;
      double value;
      const std::optional<Interval>& ci;
      double SeedScore::*seed_value;
    };
    const Measure measures[] = {{"accuracy", kBlue, r.accuracy, r.accuracy_ci, &SeedScore::accuracy},
                                {"weighted", kOrange, r.weighted, r.weighted_ci, &SeedScore::weighted}};
    for (int k = 0; k < 2; ++k) {
      const Measure& m = measures[k];
      const double y = round2(mid - kBar - kGap / 2 + k * (kBar + kGap)), cy = y + kBar / 2;
      o << fmt::format("<rect class=\"bar {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", m.cls,
                       num(fr.x0), num(y), num(fr.x(m.value) - fr.x0), num(kBar), m.colour);
      double extent = m.value;
      if (m.ci) {
        const std::string lo = num(fr.x(m.ci->low)), hi = num(fr.x(m.ci->high));
        o << fmt::format(
            "<path class=\"ci {}\" d=\"M{} {}H{}M{} {}V{}M{} {}V{}\" stroke=\"#000\" stroke-width=\"1.2\" "
            "fill=\"none\"/>\n",
            m.cls, lo, num(cy), hi, lo, num(cy - 4), num(cy + 4), hi, num(cy - 4), num(cy + 4));
        extent = std::max(extent, m.ci->high);
      }
      if (r.seeds.size() > 1) {
        // Spread over the bar's height so seeds with equal scores stay countable.
        const double n = double(r.seeds.size()), spread = kBar - 5;
        for (size_t s = 0; s < r.seeds.size(); ++s) {
          const SeedScore& seed = r.seeds[s];
          const double v = seed.*m.seed_value, dy = spread * (double(s) / (n - 1) - 0.5);
          o << fmt::format(
              "<circle class=\"seed {}\" cx=\"{}\" cy=\"{}\" r=\"2.4\" fill=\"#FFFFFF\" stroke=\"#000\" "
              "stroke-width=\"0.9\"><title>{}{} %</title></circle>\n",
              m.cls, num(fr.x(v)), num(cy + dy),
              seed.seed ? fmt::format("seed {}: ", *seed.seed) : fmt::format("run {}: ", s + 1), pct(v));
          extent = std::max(extent, v);
        }
      }
      o << fmt::format("<text class=\"value\" x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#333\">{}</text>\n",
                       num(fr.x(extent) + (m.ci ? 6 : 4)), num(cy + 3.5), kSmallFont, pct(m.value));
    }
    o << "</g>\n";
  }
  o << fmt::format(
      "<line class=\"chance\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#444\" stroke-width=\"1\" "
      "stroke-dasharray=\"4 3\"/>\n",
      num(fr.x(kChance)), num(fr.top - 4), num(fr.bottom));
  const double height = x_axis(o, fr, "Score (%)");
  return document(height, figure_title(f, what), o.str());
}

std::string plot_categories_svg(const json& report) {
  const Figure f = parse(report, true);
  std::vector<LegendItem> legend;
  for (size_t k = 0; k < kCategories.size(); ++k)
    legend.push_back({Swatch::kBox, kCategoryColours[k], kCategories[k]});

  const std::string what = "Estimated key relative to the reference (% of tracks)";
  std::ostringstream o;
  Frame fr;
  fr.top = header(o, f.suite, what, legend);
  fr.x0 = std::round(kPad + label_column(f) + 10);
  fr.x1 = kWidth - 70;  // room for "n = …"
  const double bar = 20, pitch = f.show_split ? 34 : 30;
  fr.bottom = fr.top + (f.rows.empty() ? 60 : pitch * double(f.rows.size()));
  grid(o, fr);
  if (f.rows.empty()) no_results(o, fr);

  for (size_t i = 0; i < f.rows.size(); ++i) {
    const Row& r = f.rows[i];
    const double mid = fr.top + pitch * (double(i) + 0.5), y = round2(mid - bar / 2);
    std::int64_t total = 0;
    for (auto n : r.categories) total += n;
    o << "<g class=\"result\">\n<title>" << xml(r.full_label(f.show_split)) << "</title>\n";
    row_label(o, f, r, fr, mid);
    if (total == 0) {
      o << fmt::format(
          "<rect class=\"no-tracks\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\" "
          "stroke-dasharray=\"3 2\"/>\n",
          num(fr.x0), num(y), num(fr.x1 - fr.x0), num(bar));
      o << fmt::format("<text x=\"{}\" y=\"{}\" font-style=\"italic\" fill=\"#777\">no tracks</text>\n",
                       num(fr.x0 + 8), num(mid + 4.2));
    } else {
      // Segment edges are rounded once, so the widths add up to the axis length exactly.
      std::int64_t cum = 0;
      double left = fr.x(0);
      for (size_t k = 0; k < kCategories.size(); ++k) {
        const std::int64_t n = r.categories[k];
        cum += n;
        const double right = fr.x(double(cum) / double(total));
        if (n == 0) continue;
        const double share = double(n) / double(total);
        o << fmt::format(
            "<rect class=\"segment {}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {} of {} "
            "tracks ({} %)</title></rect>\n",
            kCategories[k], num(left), num(y), num(right - left), num(bar), kCategoryColours[k], kCategories[k], n,
            total, pct(share));
        const std::string text = fmt::format("{:.0f}", 100.0 * share);
        if (right - left >= text_width(text + "%", kSmallFont) + 6)
          o << fmt::format(
              "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{}\" fill=\"#000\">{}%</text>\n",
              num((left + right) / 2), num(mid + 3.5), kSmallFont, text);
        left = right;
      }
    }
    o << fmt::format("<text class=\"n\" x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#333\">n = {}</text>\n",
                     num(fr.x1 + 6), num(mid + 3.5), kSmallFont, total);
    o << "</g>\n";
  }
  const double height = x_axis(o, fr, "Tracks (%)");
  return document(height, figure_title(f, "key relation of estimates"), o.str());
}

void write_plots(const json& report, const fs::path& dir) {
  const std::string scores = plot_scores_svg(report);
  const std::string categories = plot_categories_svg(report);
  write_file_atomic(dir / "scores.svg", scores);
  write_file_atomic(dir / "categories.svg", categories);
}

}  // namespace mcpt::reports
