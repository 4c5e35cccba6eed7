// The figures: layout in points at single-column width, drawing through the canvas, and the CSV of
// exactly the numbers drawn (as fractions, like the report; the axes show per cent).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "reports/FiguresCanvas.h"
#include "reports/FiguresModel.h"

namespace mcpt::reports::figures {
namespace {

using namespace okabe_ito;

// ---- Style (points). Readable when the figure is printed 3.33 in wide.
constexpr double kTickFont = 7;
constexpr double kLabelFont = 8;
constexpr double kLegendFont = 7;
constexpr double kTitleFont = 8;
constexpr double kPad = 4;          // page edge
constexpr double kTickLen = 2.5;
constexpr double kAxisWidth = 0.6;
constexpr double kDataWidth = 1.1;
constexpr double kMarkerSize = 3.6;
constexpr double kBandAlpha = 0.18;
constexpr double kChance = 1.0 / 24;  // uniform guess over 24 keys

// ---- CSV: RFC 4180, numbers in their shortest round-trip form, empty for "not given".

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
std::string num(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}
std::string num(const std::optional<double>& v) { return v ? num(*v) : ""; }
std::string lo(const std::optional<Interval>& ci) { return ci ? num(ci->low) : ""; }
std::string hi(const std::optional<Interval>& ci) { return ci ? num(ci->high) : ""; }

struct Csv {
  std::string text;
  explicit Csv(std::initializer_list<const char*> header) {
    for (const char* h : header) text += (text.empty() ? "" : ",") + std::string(h);
    text += "\n";
  }
  void row(const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) text += (i ? "," : "") + csv_field(cells[i]);
    text += "\n";
  }
};

// ---- Names and labels.

std::string slug(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    const bool keep = std::isalnum(c) && c < 0x80;
    if (keep)
      out += char(std::tolower(c));
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "x" : out;
}

std::string default_unit(const std::string& deformation) {
  if (deformation == "pitch_shift") return "semitones";
  if (deformation == "time_stretch") return "ratio";
  if (deformation == "eq_tilt") return "dB/octave";
  if (deformation == "noise_snr" || deformation == "noise") return "dB";
  return "";
}
std::string pretty(const std::string& deformation) {
  if (deformation == "eq_tilt") return "EQ tilt";
  if (deformation == "noise_snr") return "noise SNR";
  std::string s = deformation;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}
std::string axis_label(const std::string& deformation, const std::string& unit) {
  const std::string u = unit.empty() ? default_unit(deformation) : unit;
  return u.empty() ? pretty(deformation) : fmt::format("{} ({})", pretty(deformation), u);
}

// Tick labels: a real minus sign, as many decimals as the step needs.
std::string tick_label(double v, double step) {
  int decimals = 0;
  while (decimals < 4 && std::fabs(step * std::pow(10.0, decimals) - std::round(step * std::pow(10.0, decimals))) > 1e-6)
    ++decimals;
  std::string s = fmt::format("{:.{}f}", std::fabs(v) < step * 1e-6 ? 0.0 : v, decimals);
  if (!s.empty() && s[0] == '-') s = "\u2212" + s.substr(1);
  return s;
}
// A data value as a label: up to three decimals, trailing zeros dropped.
std::string value_label(double v) {
  std::string s = fmt::format("{:.3f}", std::fabs(v) < 5e-4 ? 0.0 : v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (!s.empty() && s[0] == '-') s = "\u2212" + s.substr(1);
  return s;
}

// Steps of 1, 2, 2.5 or 5 × 10^k giving at most `max_ticks` ticks over [lo, hi].
double nice_step(double lo, double hi, int max_ticks) {
  const double span = std::max(hi - lo, 1e-12);
  const double raw = span / std::max(1, max_ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  return 10 * mag;
}
std::vector<double> ticks_in(double lo, double hi, double step) {
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

// ---- Axes: a data rectangle mapped onto page points.

struct Axes {
  double left = 0, right = 0, bottom = 0, top = 0;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return left + (right - left) * (x - x0) / (x1 - x0); }
  double py(double y) const { return bottom + (top - bottom) * (y - y0) / (y1 - y0); }
};

struct AxisSpec {
  std::vector<double> ticks;
  std::vector<std::string> labels;  // one per tick; empty: no tick labels
  std::string title;
};

AxisSpec numeric_axis(double lo, double hi, int max_ticks, const std::string& title, double scale = 1.0) {
  AxisSpec a;
  const double step = nice_step(lo * scale, hi * scale, max_ticks);
  for (double t : ticks_in(lo * scale, hi * scale, step)) {
    a.ticks.push_back(t / scale);
    a.labels.push_back(tick_label(t, step));
  }
  a.title = title;
  return a;
}

double max_width(TextMeasure& m, const std::vector<std::string>& s, double font) {
  double w = 0;
  for (const auto& t : s) w = std::max(w, m.width(t, font));
  return w;
}

// Space left of the axes for y tick labels and the rotated title; below for x tick labels and title.
double left_margin(TextMeasure& m, const AxisSpec& y) {
  return kPad + (y.title.empty() ? 0 : kLabelFont + 3) + max_width(m, y.labels, kTickFont) + 2 + kTickLen;
}
double bottom_margin(const AxisSpec& x) {
  return kPad + (x.title.empty() ? 0 : kLabelFont + 3) + (x.labels.empty() ? 0 : kTickFont + 2) + kTickLen;
}

void draw_axes(Canvas& c, const Axes& a, const AxisSpec& x, const AxisSpec& y, bool y_grid = true, bool x_grid = false) {
  if (y_grid)
    for (double t : y.ticks) c.line({a.left, a.right}, {a.py(t), a.py(t)}, kLightGrey, 0.4);
  if (x_grid)
    for (double t : x.ticks) c.line({a.px(t), a.px(t)}, {a.bottom, a.top}, kLightGrey, 0.4);
  c.line({a.left, a.left, a.right}, {a.top, a.bottom, a.bottom}, kBlack, kAxisWidth);
  for (size_t i = 0; i < x.ticks.size(); ++i) {
    const double px = a.px(x.ticks[i]);
    c.line({px, px}, {a.bottom, a.bottom - kTickLen}, kBlack, kAxisWidth);
    if (i < x.labels.size()) c.text(px, a.bottom - kTickLen - 2 - kTickFont * 0.5, x.labels[i], kTickFont, 0.5);
  }
  for (size_t i = 0; i < y.ticks.size(); ++i) {
    const double py = a.py(y.ticks[i]);
    c.line({a.left, a.left - kTickLen}, {py, py}, kBlack, kAxisWidth);
    if (i < y.labels.size()) c.text(a.left - kTickLen - 2, py, y.labels[i], kTickFont, 1.0);
  }
  if (!x.title.empty()) {
    const double below = kTickLen + (x.labels.empty() ? 0 : kTickFont + 2) + 3 + kLabelFont * 0.5;
    c.text((a.left + a.right) / 2, a.bottom - below, x.title, kLabelFont, 0.5);
  }
}

void draw_y_title(Canvas& c, const Axes& a, const std::string& title) {
  if (title.empty()) return;
  c.text(kPad + kLabelFont * 0.5, (a.bottom + a.top) / 2, title, kLabelFont, 0.5, kBlack, 90);
}

// ---- Legend: entries in aligned columns above the axes, never over data.

enum class Swatch { kLine, kBox, kText };
struct LegendEntry {
  Swatch swatch = Swatch::kLine;
  Colour colour;
  Dash dash = Dash::kSolid;
  Marker marker = Marker::kNone;
  std::string label;
  std::string key;  // Swatch::kText: short text shown in place of a swatch
  double alpha = 1.0;
  int group = 0;    // entries of one group share columns; a new group starts a new row
};

constexpr double kSwatchWidth = 13;
constexpr double kRowHeight = kLegendFont * 1.45;

struct LegendLayout {
  struct Group {
    size_t begin = 0, end = 0;
    int columns = 1;
    double column_width = 0, top = 0;  // top: offset below the legend's top edge
    std::vector<std::pair<double, double>> at;  // per entry: x offset, row offset (flowing layout)
  };
  std::vector<Group> groups;
  std::vector<std::string> labels;  // fitted
  double height = 0;
};

LegendLayout layout_legend(TextMeasure& m, const std::vector<LegendEntry>& entries, double width) {
  LegendLayout l;
  for (size_t i = 0; i < entries.size();) {
    LegendLayout::Group g;
    g.begin = i;
    while (i < entries.size() && entries[i].group == entries[g.begin].group) ++i;
    g.end = i;
    double widest = 0;
    for (size_t k = g.begin; k < g.end; ++k) widest = std::max(widest, m.width(entries[k].label, kLegendFont));
    const double entry = kSwatchWidth + 3 + widest + 8;
    g.columns = std::clamp(int(width / entry), 1, int(g.end - g.begin));
    g.column_width = width / std::max(g.columns, 3);  // at most three columns' pitch: entries stay close
    if (g.columns == 1) g.column_width = width;
    g.top = l.height;
    if (g.columns == 1 && g.end - g.begin > 1) {
      // One long label would leave a column of short ones: let the entries flow in rows instead.
      double x = 0, row = 0;
      for (size_t k = g.begin; k < g.end; ++k) {
        l.labels.push_back(m.fit(entries[k].label, kLegendFont, width - kSwatchWidth - 3 - 4));
        const double w = kSwatchWidth + 3 + m.width(l.labels.back(), kLegendFont) + 8;
        if (x > 0 && x + w > width) x = 0, row += 1;
        g.at.emplace_back(x, row);
        x += w;
      }
      l.height += (row + 1) * kRowHeight;
    } else {
      for (size_t k = g.begin; k < g.end; ++k) {
        l.labels.push_back(m.fit(entries[k].label, kLegendFont, g.column_width - kSwatchWidth - 3 - 4));
        const size_t i = k - g.begin;
        g.at.emplace_back(double(i % size_t(g.columns)) * g.column_width, double(i / size_t(g.columns)));
      }
      l.height += double((g.end - g.begin + size_t(g.columns) - 1) / size_t(g.columns)) * kRowHeight;
    }
    l.groups.push_back(g);
  }
  return l;
}

// Draws the legend with its top edge at `top`, from x0 on.
void draw_legend(Canvas& c, const LegendLayout& l, const std::vector<LegendEntry>& entries, double x0, double top) {
  for (const auto& g : l.groups) {
    for (size_t i = g.begin; i < g.end; ++i) {
      const auto& e = entries[i];
      const auto [dx, row] = g.at[i - g.begin];
      const double x = x0 + dx;
      const double y = top - g.top - row * kRowHeight - kRowHeight / 2;
      switch (e.swatch) {
        case Swatch::kLine:
          c.line({x, x + kSwatchWidth}, {y, y}, e.colour, kDataWidth, e.dash);
          c.marker(x + kSwatchWidth / 2, y, e.marker, kMarkerSize, e.colour);
          break;
        case Swatch::kBox: c.rect(x + 2, y - 3, x + kSwatchWidth - 2, y + 3, e.colour); break;
        case Swatch::kText: c.text(x + kSwatchWidth / 2, y, e.key, kLegendFont, 0.5, e.colour); break;
      }
      c.text(x + kSwatchWidth + 3, y, l.labels[i], kLegendFont, 0.0);
    }
  }
}

// Page height rounded up to a multiple of 6 pt: whole pixels at 300 dpi (25 px per 6 pt).
double page_height(double h) { return std::ceil(h / 6.0) * 6.0; }

// ---- Series colours: one per series label, the same in every figure of a report.

class SeriesStyles {
 public:
  size_t index(const std::string& label) {
    auto it = index_.find(label);
    if (it == index_.end()) it = index_.emplace(label, index_.size()).first;
    return it->second;
  }
  Colour colour(const std::string& label) { return series_colour(index(label)); }
  Marker marker(const std::string& label) { return series_marker(index(label)); }

 private:
  std::map<std::string, size_t> index_;
};

// ---- Line charts (accuracy, consistency, augmentation vs strength).

struct Series {
  std::string label;
  Colour colour;
  Marker marker = Marker::kCircle;
  Dash dash = Dash::kSolid;
  std::vector<double> x, y;  // y in the axis' units
  std::vector<std::optional<Interval>> ci;
};

void draw_series(Canvas& c, const Axes& a, const std::vector<Series>& series) {
  // Bands first (under every line), then lines, then markers on top.
  for (const auto& s : series) {
    std::vector<double> bx, by, top;
    auto flush = [&] {
      if (bx.size() >= 2) {
        std::vector<double> px, py;
        for (size_t i = 0; i < bx.size(); ++i) px.push_back(a.px(bx[i])), py.push_back(a.py(top[i]));
        for (size_t i = bx.size(); i-- > 0;) px.push_back(a.px(bx[i])), py.push_back(a.py(by[i]));
        c.fill(px, py, s.colour, kBandAlpha);
      }
      bx.clear(), by.clear(), top.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!s.ci[i]) {
        flush();
        continue;
      }
      bx.push_back(s.x[i]);
      by.push_back(s.ci[i]->low);
      top.push_back(s.ci[i]->high);
    }
    flush();
  }
  for (const auto& s : series) {
    std::vector<double> px, py;
    for (size_t i = 0; i < s.x.size(); ++i) px.push_back(a.px(s.x[i])), py.push_back(a.py(s.y[i]));
    if (px.size() == 1) {
      // One point: no line to draw, but its interval still shows.
      if (s.ci[0]) c.line({px[0], px[0]}, {a.py(s.ci[0]->low), a.py(s.ci[0]->high)}, s.colour, kDataWidth);
    }
    c.line(px, py, s.colour, kDataWidth, s.dash);
  }
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i)
      c.marker(a.px(s.x[i]), a.py(s.y[i]), s.dash == Dash::kSolid ? s.marker : Marker::kNone, kMarkerSize, s.colour);
}

struct LineChart {
  std::vector<Series> series;
  std::vector<LegendEntry> legend;
  AxisSpec x, y;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  std::optional<double> chance;  // a dotted reference line (y units)
  std::string title;
};

FigureSpec line_figure(const std::string& name, std::string csv, LineChart chart, TextMeasure& m) {
  const double legend_width = kPageWidth - 2 * kPad;
  const LegendLayout legend = layout_legend(m, chart.legend, legend_width);
  const double title_h = chart.title.empty() ? 0 : kTitleFont + 4;
  Axes a;
  a.x0 = chart.x0, a.x1 = chart.x1, a.y0 = chart.y0, a.y1 = chart.y1;
  a.left = left_margin(m, chart.y);
  const double last_label = chart.x.labels.empty() ? 0 : m.width(chart.x.labels.back(), kTickFont) / 2;
  a.right = kPageWidth - std::max(kPad + 2, kPad + last_label);
  a.bottom = bottom_margin(chart.x);
  constexpr double kPlotHeight = 120;
  a.top = a.bottom + kPlotHeight;
  const double height = page_height(a.top + 6 + legend.height + title_h + kPad);
  a.top = height - kPad - title_h - legend.height - 6;
  FigureSpec f;
  f.name = name;
  f.csv = std::move(csv);
  f.height_pt = height;
  f.draw = [a, chart, legend, title_h](Canvas& c) {
    if (!chart.title.empty()) c.text(kPad, c.height() - kPad - kTitleFont / 2, chart.title, kTitleFont, 0.0);
    draw_legend(c, legend, chart.legend, kPad, c.height() - kPad - title_h);
    draw_axes(c, a, chart.x, chart.y);
    draw_y_title(c, a, chart.y.title);
    c.clip(a.left, a.bottom, a.right, a.top);
    if (chart.chance)
      c.line({a.left, a.right}, {a.py(*chart.chance), a.py(*chart.chance)}, kGrey, 0.8, Dash::kDotted);
    draw_series(c, a, chart.series);
    c.unclip();
  };
  return f;
}

// x range of a set of series, padded so end markers are not cut in half.
std::pair<double, double> x_range(const std::vector<Series>& series) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (double x : s.x) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!std::isfinite(lo)) return {0, 1};
  if (hi - lo < 1e-12) return {lo - 1, hi + 1};
  const double pad = (hi - lo) * 0.04;
  return {lo - pad, hi + pad};
}

// The x axis of a sweep: ticks at the grid's own strengths when there are few enough to label
// (0.8, 0.9, 1, 1.1, 1.25), else evenly spaced ticks over the data.
AxisSpec sweep_axis(TextMeasure& m, const std::vector<Series>& series, const std::string& title) {
  std::set<double> xs;
  for (const auto& s : series) xs.insert(s.x.begin(), s.x.end());
  AxisSpec a;
  a.title = title;
  if (xs.empty()) return numeric_axis(0, 1, 5, title);
  double widths = 0;
  for (double x : xs) a.ticks.push_back(x), a.labels.push_back(value_label(x)), widths += m.width(a.labels.back(), kTickFont) + 6;
  if (xs.size() <= 9 && widths < kPageWidth * 0.6) return a;
  return numeric_axis(*xs.begin(), *xs.rbegin(), 7, title);
}

LegendEntry series_entry(const Series& s) {
  LegendEntry e;
  e.colour = s.colour;
  e.marker = s.marker;
  e.label = s.label;
  return e;
}
LegendEntry style_entry(Dash dash, const std::string& label, Colour colour = kBlack) {
  LegendEntry e;
  e.group = 1;
  e.colour = colour;
  e.dash = dash;
  e.label = label;
  return e;
}

// Labels of curves: the encoder, with the probe when an encoder has several, with the test split when
// there are several.
template <class T, class Probe, class Extra>
std::vector<std::string> curve_labels(const std::vector<const T*>& curves, Probe probe_of, Extra extra_of) {
  std::map<std::string, std::set<std::string>> probes;
  std::set<std::string> extras;
  for (const T* c : curves) probes[c->encoder].insert(probe_of(*c)), extras.insert(extra_of(*c));
  std::vector<std::string> out;
  for (const T* c : curves) {
    std::string s = c->encoder;
    if (probes[c->encoder].size() > 1) s += " / " + probe_of(*c);
    if (extras.size() > 1) s += " (" + extra_of(*c) + ")";
    out.push_back(s);
  }
  return out;
}

std::optional<Interval> pct(const std::optional<Interval>& ci) {
  if (!ci) return std::nullopt;
  return Interval{100 * ci->low, 100 * ci->high};
}

// ---- (a) scores and (b) categories: horizontal bars, one row per result.

std::string result_label(const ResultRow& r) { return r.encoder + " / " + r.probe; }
std::string split_label(const ResultRow& r) { return r.split.empty() ? r.dataset : r.dataset + ":" + r.split; }

struct RowLabels {
  double width = 0;
  std::vector<std::string> main, sub;
};
RowLabels row_labels(TextMeasure& m, const Model& model) {
  RowLabels l;
  const double max_w = kPageWidth * 0.42;
  for (const auto& r : model.results) {
    l.main.push_back(m.fit(result_label(r), kTickFont, max_w));
    l.sub.push_back(model.show_split ? m.fit(split_label(r), kTickFont - 1, max_w) : "");
    l.width = std::max({l.width, m.width(l.main.back(), kTickFont), m.width(l.sub.back(), kTickFont - 1)});
  }
  return l;
}

FigureSpec scores_figure(const Model& model, TextMeasure& m) {
  Csv csv({"encoder", "probe", "dataset", "split", "n_tracks", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
           "weighted_score", "weighted_score_ci_low", "weighted_score_ci_high"});
  bool any_ci = false, any_seeds = false;
  for (const auto& r : model.results) {
    csv.row({r.encoder, r.probe, r.dataset, r.split, r.n_tracks ? std::to_string(*r.n_tracks) : "", num(r.accuracy),
             lo(r.accuracy_ci), hi(r.accuracy_ci), num(r.weighted), lo(r.weighted_ci), hi(r.weighted_ci)});
    any_ci = any_ci || r.accuracy_ci || r.weighted_ci;
    any_seeds = any_seeds || r.seeds.size() > 1;
  }
  std::vector<LegendEntry> legend = {{Swatch::kBox, kBlue, Dash::kSolid, Marker::kNone, "accuracy", "", 1},
                                     {Swatch::kBox, kOrange, Dash::kSolid, Marker::kNone, "weighted score", "", 1}};
  if (any_ci) legend.push_back(style_entry(Dash::kSolid, "95% CI"));
  if (any_seeds) legend.push_back({Swatch::kText, kBlack, Dash::kSolid, Marker::kNone, "seeds", "\u2022", 1});
  legend.push_back(style_entry(Dash::kDotted, "chance (1/24)", kGrey));
  const LegendLayout ll = layout_legend(m, legend, kPageWidth - 2 * kPad);
  const RowLabels labels = row_labels(m, model);

  constexpr double kBar = 5, kRow = 2 * kBar + 5;
  AxisSpec x = numeric_axis(0, 100, 6, "score (%)");
  Axes a;
  a.x0 = 0, a.x1 = 100, a.y0 = 0, a.y1 = std::max<double>(1, model.results.size());
  a.left = kPad + labels.width + 4 + (labels.width > 0 ? 0 : 30);
  a.right = kPageWidth - kPad - m.width("100", kTickFont) / 2;
  a.bottom = bottom_margin(x);
  a.top = a.bottom + kRow * std::max<size_t>(1, model.results.size()) + 2;
  const double height = page_height(a.top + 6 + ll.height + kPad);
  FigureSpec f{"scores", csv.text, height, nullptr};
  f.draw = [a, x, ll, legend, labels, &model](Canvas& c) {
    draw_legend(c, ll, legend, kPad, c.height() - kPad);
    draw_axes(c, a, x, AxisSpec{}, false, true);
    if (model.results.empty()) c.text((a.left + a.right) / 2, (a.bottom + a.top) / 2, "no results", kLabelFont, 0.5, kGrey);
    for (size_t i = 0; i < model.results.size(); ++i) {
      const auto& r = model.results[i];
      const double row_top = a.top - 2 - i * kRow - 2.5;
      const double mid = row_top - kBar;
      c.text(a.left - 4, labels.sub[i].empty() ? mid : mid + 2.6, labels.main[i], kTickFont, 1.0);
      if (!labels.sub[i].empty()) c.text(a.left - 4, mid - 4.2, labels.sub[i], kTickFont - 1, 1.0, kGrey);
      struct Bar {
        double v;
        std::optional<Interval> ci;
        Colour colour;
        double y_top;
        size_t k;
      };
      for (const Bar& b : {Bar{r.accuracy, r.accuracy_ci, kBlue, row_top, 0}, Bar{r.weighted, r.weighted_ci, kOrange, row_top - kBar, 1}}) {
        c.rect(a.px(0), b.y_top - kBar, a.px(100 * b.v), b.y_top, b.colour);
        const double ym = b.y_top - kBar / 2;
        if (b.ci) {
          const double x0 = a.px(100 * b.ci->low), x1 = a.px(100 * b.ci->high);
          c.line({x0, x1}, {ym, ym}, kBlack, 0.6);
          c.line({x0, x0}, {ym - 1.6, ym + 1.6}, kBlack, 0.6);
          c.line({x1, x1}, {ym - 1.6, ym + 1.6}, kBlack, 0.6);
        }
        if (r.seeds.size() > 1)
          for (const auto& s : r.seeds) c.marker(a.px(100 * s[b.k]), ym, Marker::kCircle, 1.6, kBlack);
      }
    }
    c.line({a.px(100 * kChance), a.px(100 * kChance)}, {a.bottom, a.top}, kGrey, 0.8, Dash::kDotted);
  };
  return f;
}

FigureSpec categories_figure(const Model& model, TextMeasure& m) {
  Csv csv({"encoder", "probe", "dataset", "split", "n_tracks", "correct", "fifth", "relative", "parallel", "other"});
  for (const auto& r : model.results) {
    const Categories k = r.categories.value_or(Categories{});
    std::int64_t n = 0;
    for (auto v : k) n += v;
    csv.row({r.encoder, r.probe, r.dataset, r.split, std::to_string(n), std::to_string(k[0]), std::to_string(k[1]),
             std::to_string(k[2]), std::to_string(k[3]), std::to_string(k[4])});
  }
  static constexpr std::array<Colour, 5> kColours = {kGreen, kSkyBlue, kOrange, kPurple, kLightGrey};
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < kCategories.size(); ++i)
    legend.push_back({Swatch::kBox, kColours[i], Dash::kSolid, Marker::kNone, kCategories[i], "", 1});
  const LegendLayout ll = layout_legend(m, legend, kPageWidth - 2 * kPad);
  const RowLabels labels = row_labels(m, model);
  constexpr double kBar = 8, kRow = kBar + 5;
  AxisSpec x = numeric_axis(0, 100, 6, "share of tracks (%)");
  Axes a;
  a.x0 = 0, a.x1 = 100, a.y0 = 0, a.y1 = 1;
  a.left = kPad + labels.width + 4 + (labels.width > 0 ? 0 : 30);
  a.right = kPageWidth - kPad - m.width("100", kTickFont) / 2;
  a.bottom = bottom_margin(x);
  a.top = a.bottom + kRow * std::max<size_t>(1, model.results.size()) + 2;
  const double height = page_height(a.top + 6 + ll.height + kPad);
  // Per-cent labels inside the segments that are wide enough for them.
  std::vector<std::array<std::string, 5>> seg_text(model.results.size());
  for (size_t i = 0; i < model.results.size(); ++i) {
    const Categories k = model.results[i].categories.value_or(Categories{});
    double n = 0;
    for (auto v : k) n += double(v);
    for (size_t j = 0; j < 5 && n > 0; ++j) {
      const std::string t = fmt::format("{:.0f}", 100.0 * k[j] / n);
      if (m.width(t, kTickFont - 1) + 2 <= (a.right - a.left) * k[j] / n) seg_text[i][j] = t;
    }
  }
  FigureSpec f{"categories", csv.text, height, nullptr};
  f.draw = [a, x, ll, legend, labels, seg_text, &model](Canvas& c) {
    draw_legend(c, ll, legend, kPad, c.height() - kPad);
    draw_axes(c, a, x, AxisSpec{}, false, false);
    if (model.results.empty()) c.text((a.left + a.right) / 2, (a.bottom + a.top) / 2, "no results", kLabelFont, 0.5, kGrey);
    for (size_t i = 0; i < model.results.size(); ++i) {
      const auto& r = model.results[i];
      const double top = a.top - 2 - i * kRow - 2.5, mid = top - kBar / 2;
      c.text(a.left - 4, labels.sub[i].empty() ? mid : mid + 2.6, labels.main[i], kTickFont, 1.0);
      if (!labels.sub[i].empty()) c.text(a.left - 4, mid - 4.2, labels.sub[i], kTickFont - 1, 1.0, kGrey);
      const Categories k = r.categories.value_or(Categories{});
      double n = 0;
      for (auto v : k) n += double(v);
      if (n == 0) {
        c.text(a.left + 3, mid, "no tracks", kTickFont - 1, 0.0, kGrey);
        continue;
      }
      double acc = 0;
      for (size_t j = 0; j < 5; ++j) {
        if (k[j] == 0) continue;
        const double x0 = a.px(100 * acc / n);
        acc += double(k[j]);
        const double x1 = a.px(100 * acc / n);
        c.rect(x0, top - kBar, x1, top, kColours[j]);
        const Colour ink = j == 0 ? kWhite : kBlack;  // white reads better on the green
        c.text((x0 + x1) / 2, mid, seg_text[i][j], kTickFont - 1, 0.5, ink);
      }
    }
  };
  return f;
}

// ---- (c) accuracy vs strength, per deformation.

std::vector<FigureSpec> accuracy_figures(const Model& model, SeriesStyles& styles, TextMeasure& m) {
  std::vector<std::string> deformations;
  for (const auto& c : model.accuracy)
    if (std::find(deformations.begin(), deformations.end(), c.deformation) == deformations.end())
      deformations.push_back(c.deformation);
  std::vector<FigureSpec> out;
  for (const auto& d : deformations) {
    std::vector<const StrengthCurve*> curves;
    for (const auto& c : model.accuracy)
      if (c.deformation == d) curves.push_back(&c);
    const auto labels = curve_labels(curves, [](const StrengthCurve& c) { return c.probe; },
                                     [](const StrengthCurve& c) { return c.test; });
    Csv csv({"deformation", "encoder", "probe", "test", "strength", "unit", "n_tracks", "label", "accuracy",
             "accuracy_ci_low", "accuracy_ci_high", "weighted_score", "weighted_score_ci_low", "weighted_score_ci_high"});
    LineChart chart;
    bool any_original = false;
    for (size_t i = 0; i < curves.size(); ++i) {
      const auto& c = *curves[i];
      Series moved{labels[i], styles.colour(labels[i]), styles.marker(labels[i]), Dash::kSolid, {}, {}, {}};
      Series original = moved;
      original.dash = Dash::kDashed;
      for (const auto& p : c.points) {
        const std::string n = p.n_tracks ? std::to_string(*p.n_tracks) : "";
        csv.row({c.deformation, c.encoder, c.probe, c.test, num(p.strength), c.unit, n, "moved", num(p.moved.accuracy),
                 lo(p.moved.accuracy_ci), hi(p.moved.accuracy_ci), num(p.moved.weighted), lo(p.moved.weighted_ci),
                 hi(p.moved.weighted_ci)});
        moved.x.push_back(p.strength), moved.y.push_back(100 * p.moved.accuracy), moved.ci.push_back(pct(p.moved.accuracy_ci));
        if (p.original) {
          csv.row({c.deformation, c.encoder, c.probe, c.test, num(p.strength), c.unit, n, "original",
                   num(p.original->accuracy), lo(p.original->accuracy_ci), hi(p.original->accuracy_ci),
                   num(p.original->weighted), lo(p.original->weighted_ci), hi(p.original->weighted_ci)});
          original.x.push_back(p.strength), original.y.push_back(100 * p.original->accuracy);
          original.ci.push_back(pct(p.original->accuracy_ci));
        }
      }
      chart.legend.push_back(series_entry(moved));
      chart.series.push_back(std::move(moved));
      if (!original.x.empty()) {
        any_original = true;
        chart.series.push_back(std::move(original));
      }
    }
    if (any_original) {
      chart.legend.push_back(style_entry(Dash::kSolid, "vs moved label"));
      chart.legend.push_back(style_entry(Dash::kDashed, "vs original label"));
    }
    chart.legend.push_back(style_entry(Dash::kDotted, "chance", kGrey));
    chart.chance = 100 * kChance;
    std::tie(chart.x0, chart.x1) = x_range(chart.series);
    chart.x = sweep_axis(m, chart.series, axis_label(d, curves[0]->unit));
    chart.y0 = 0, chart.y1 = 100;
    chart.y = numeric_axis(0, 100, 6, "accuracy (%)");
    out.push_back(line_figure("accuracy_vs_" + slug(d), csv.text, std::move(chart), m));
  }
  return out;
}

// ---- key-shift consistency vs semitones.

FigureSpec consistency_figure(const Model& model, SeriesStyles& styles, TextMeasure& m) {
  std::vector<const ConsistencyCurve*> curves;
  for (const auto& c : model.consistency) curves.push_back(&c);
  const auto labels = curve_labels(curves, [](const ConsistencyCurve& c) { return c.probe; },
                                   [](const ConsistencyCurve&) { return std::string(); });
  Csv csv({"encoder", "probe", "semitones", "consistency", "consistency_ci_low", "consistency_ci_high"});
  LineChart chart;
  for (size_t i = 0; i < curves.size(); ++i) {
    Series s{labels[i], styles.colour(labels[i]), styles.marker(labels[i]), Dash::kSolid, {}, {}, {}};
    for (const auto& p : curves[i]->points) {
      csv.row({curves[i]->encoder, curves[i]->probe, num(p.x), num(p.value), lo(p.ci), hi(p.ci)});
      s.x.push_back(p.x), s.y.push_back(100 * p.value), s.ci.push_back(pct(p.ci));
    }
    chart.legend.push_back(series_entry(s));
    chart.series.push_back(std::move(s));
  }
  std::tie(chart.x0, chart.x1) = x_range(chart.series);
  chart.x = sweep_axis(m, chart.series, "pitch shift (semitones)");
  chart.y0 = 0, chart.y1 = 100;
  chart.y = numeric_axis(0, 100, 6, "consistent predictions (%)");
  return line_figure("consistency_vs_pitch_shift", csv.text, std::move(chart), m);
}

// ---- (f) training-time augmentation.

FigureSpec augmentation_figure(const Model& model, SeriesStyles& styles, TextMeasure& m) {
  std::vector<const AugmentationCurve*> curves;
  for (const auto& c : model.augmentation) curves.push_back(&c);
  const auto labels = curve_labels(curves, [](const AugmentationCurve& c) { return c.probe; },
                                   [](const AugmentationCurve&) { return std::string(); });
  Csv csv({"encoder", "probe", "semitones", "training", "accuracy", "accuracy_ci_low", "accuracy_ci_high"});
  LineChart chart;
  for (size_t i = 0; i < curves.size(); ++i) {
    const auto& c = *curves[i];
    Series aug{labels[i], styles.colour(labels[i]), styles.marker(labels[i]), Dash::kSolid, {}, {}, {}};
    Series clean = aug;
    clean.dash = Dash::kDashed;
    for (const auto& p : c.points) {
      csv.row({c.encoder, c.probe, num(p.semitones), "clean", num(p.clean), lo(p.clean_ci), hi(p.clean_ci)});
      csv.row({c.encoder, c.probe, num(p.semitones), "augmented", num(p.augmented), lo(p.augmented_ci), hi(p.augmented_ci)});
      clean.x.push_back(p.semitones), clean.y.push_back(100 * p.clean), clean.ci.push_back(pct(p.clean_ci));
      aug.x.push_back(p.semitones), aug.y.push_back(100 * p.augmented), aug.ci.push_back(pct(p.augmented_ci));
    }
    chart.legend.push_back(series_entry(aug));
    chart.series.push_back(std::move(clean));
    chart.series.push_back(std::move(aug));
  }
  chart.legend.push_back(style_entry(Dash::kSolid, "trained with shifts"));
  chart.legend.push_back(style_entry(Dash::kDashed, "trained on clean audio"));
  chart.legend.push_back(style_entry(Dash::kDotted, "chance", kGrey));
  chart.chance = 100 * kChance;
  std::tie(chart.x0, chart.x1) = x_range(chart.series);
  chart.x = sweep_axis(m, chart.series, "test pitch shift (semitones)");
  chart.y0 = 0, chart.y1 = 100;
  chart.y = numeric_axis(0, 100, 6, "accuracy (%)");
  return line_figure("augmentation_vs_pitch_shift", csv.text, std::move(chart), m);
}

// ---- (d) invariance vs strength: cosine (and CKA) panels, controls in a strip on the right.

std::vector<FigureSpec> invariance_figures(const Model& model, SeriesStyles& styles, TextMeasure& m) {
  std::vector<std::string> deformations;
  for (const auto& c : model.invariance)
    if (std::find(deformations.begin(), deformations.end(), c.deformation) == deformations.end())
      deformations.push_back(c.deformation);
  std::vector<FigureSpec> out;
  for (const auto& d : deformations) {
    std::vector<const InvarianceCurve*> curves;
    for (const auto& c : model.invariance)
      if (c.deformation == d) curves.push_back(&c);
    const auto labels = curve_labels(curves, [](const InvarianceCurve&) { return std::string(); },
                                     [](const InvarianceCurve&) { return std::string(); });
    Csv csv({"deformation", "encoder", "condition", "strength", "unit", "cosine", "cosine_ci_low", "cosine_ci_high", "cka"});
    std::vector<std::string> control_names, control_labels;
    bool any_cka = false;
    double lo_v = 1, hi_v = 0;
    auto see = [&](double v) { lo_v = std::min(lo_v, v), hi_v = std::max(hi_v, v); };
    std::vector<Series> cosine, cka;
    for (size_t i = 0; i < curves.size(); ++i) {
      const auto& c = *curves[i];
      Series s{labels[i], styles.colour(labels[i]), styles.marker(labels[i]), Dash::kSolid, {}, {}, {}};
      Series k = s;
      for (const auto& p : c.points) {
        csv.row({d, c.encoder, "deformed", num(p.strength), c.unit, num(p.cosine), lo(p.cosine_ci), hi(p.cosine_ci), num(p.cka)});
        s.x.push_back(p.strength), s.y.push_back(p.cosine), s.ci.push_back(p.cosine_ci);
        see(p.cosine);
        if (p.cosine_ci) see(p.cosine_ci->low), see(p.cosine_ci->high);
        if (p.cka) k.x.push_back(p.strength), k.y.push_back(*p.cka), k.ci.push_back(std::nullopt), any_cka = true, see(*p.cka);
      }
      for (const auto& ctl : c.controls) {
        csv.row({d, c.encoder, "control:" + ctl.name, "", c.unit, num(ctl.cosine), lo(ctl.cosine_ci), hi(ctl.cosine_ci), num(ctl.cka)});
        see(ctl.cosine);
        if (ctl.cosine_ci) see(ctl.cosine_ci->low), see(ctl.cosine_ci->high);
        if (ctl.cka) see(*ctl.cka), any_cka = true;
        if (std::find(control_names.begin(), control_names.end(), ctl.name) == control_names.end())
          control_names.push_back(ctl.name), control_labels.push_back(ctl.label.empty() ? ctl.name : ctl.label);
      }
      cosine.push_back(std::move(s));
      cka.push_back(std::move(k));
    }
    LineChart chart;
    for (const auto& s : cosine) chart.legend.push_back(series_entry(s));
    static const char* kLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (size_t j = 0; j < control_names.size(); ++j) {
      LegendEntry e;
      e.swatch = Swatch::kText;
      e.key = std::string(1, kLetters[j % 26]);
      e.label = "control: " + control_labels[j];
      e.group = 1;
      chart.legend.push_back(e);
    }
    std::tie(chart.x0, chart.x1) = x_range(cosine);
    chart.x = sweep_axis(m, cosine, axis_label(d, curves[0]->unit));
    // y: the data's range padded, within [-1, 1]; a similarity axis that starts at the data reads best.
    if (lo_v > hi_v) lo_v = 0, hi_v = 1;
    const double pad = std::max(0.02, (hi_v - lo_v) * 0.08);
    const double step = nice_step(lo_v - pad, hi_v + pad, 5);
    chart.y0 = std::max(-1.0, std::floor((lo_v - pad) / step) * step);
    chart.y1 = std::min(1.0, std::ceil((hi_v + pad) / step) * step);
    if (chart.y1 - chart.y0 < step) chart.y1 = chart.y0 + step;
    AxisSpec y_cos = numeric_axis(chart.y0, chart.y1, 5, "cosine similarity");
    AxisSpec y_cka = numeric_axis(chart.y0, chart.y1, 5, "linear CKA");

    const LegendLayout ll = layout_legend(m, chart.legend, kPageWidth - 2 * kPad);
    const double strip = control_names.empty() ? 0 : 8 + 11.0 * control_names.size();
    const double left = std::max(left_margin(m, y_cos), left_margin(m, y_cka));
    const double last_label = chart.x.labels.empty() ? 0 : m.width(chart.x.labels.back(), kTickFont) / 2;
    const double right = kPageWidth - std::max(kPad + 2, kPad + last_label) - strip;
    const double bottom = bottom_margin(chart.x);
    const int panels = any_cka ? 2 : 1;
    constexpr double kPanel = 88, kGap = 8;
    const double height = page_height(bottom + panels * kPanel + (panels - 1) * kGap + 6 + ll.height + kPad);
    std::vector<Axes> axes;
    for (int p = 0; p < panels; ++p) {
      Axes a;
      a.left = left, a.right = right, a.x0 = chart.x0, a.x1 = chart.x1, a.y0 = chart.y0, a.y1 = chart.y1;
      a.top = height - kPad - ll.height - 6 - p * (kPanel + kGap);
      a.bottom = a.top - kPanel;
      axes.push_back(a);
    }
    FigureSpec f;
    f.name = "invariance_vs_" + slug(d);
    f.csv = csv.text;
    f.height_pt = height;
    std::vector<std::vector<std::optional<std::pair<double, std::optional<Interval>>>>> ctl_cos, ctl_cka;
    for (const auto* c : curves) {
      ctl_cos.emplace_back(control_names.size()), ctl_cka.emplace_back(control_names.size());
      for (const auto& ctl : c->controls) {
        const size_t j = size_t(std::find(control_names.begin(), control_names.end(), ctl.name) - control_names.begin());
        ctl_cos.back()[j] = std::make_pair(ctl.cosine, ctl.cosine_ci);
        if (ctl.cka) ctl_cka.back()[j] = std::make_pair(*ctl.cka, std::optional<Interval>{});
      }
    }
    const size_t n_controls = control_names.size();
    f.draw = [=](Canvas& c) {
      draw_legend(c, ll, chart.legend, kPad, c.height() - kPad);
      for (int p = 0; p < panels; ++p) {
        const Axes& a = axes[size_t(p)];
        AxisSpec x = chart.x;
        if (p + 1 < panels) x.labels.clear(), x.title.clear();  // the shared x axis is labelled once, below
        const AxisSpec& y = p == 0 ? y_cos : y_cka;
        draw_axes(c, a, x, y);
        draw_y_title(c, a, y.title);
        c.clip(a.left, a.bottom, a.right, a.top);
        draw_series(c, a, p == 0 ? cosine : cka);
        c.unclip();
        if (n_controls == 0) continue;
        // Controls: one slot per control, encoders side by side in it, same colours and markers.
        const double s0 = a.right + 8, slot = 11;
        c.line({s0 - 2, s0 - 2}, {a.bottom, a.top}, kLightGrey, 0.4);
        const auto& values = p == 0 ? ctl_cos : ctl_cka;
        for (size_t j = 0; j < n_controls; ++j) {
          const double cx = s0 + slot * (double(j) + 0.5);
          c.line({cx, cx}, {a.bottom, a.bottom - kTickLen}, kBlack, kAxisWidth);
          if (p + 1 == panels) c.text(cx, a.bottom - kTickLen - 2 - kTickFont * 0.5, std::string(1, kLetters[j % 26]), kTickFont, 0.5);
          for (size_t e = 0; e < values.size(); ++e) {
            if (!values[e][j]) continue;
            const double off = values.size() > 1 ? (double(e) / double(values.size() - 1) - 0.5) * slot * 0.55 : 0;
            const auto& [v, ci] = *values[e][j];
            const Series& s = cosine[e];
            if (ci) c.line({cx + off, cx + off}, {a.py(ci->low), a.py(ci->high)}, s.colour, 0.8);
            c.marker(cx + off, a.py(v), s.marker, kMarkerSize, s.colour);
          }
        }
      }
    };
    out.push_back(std::move(f));
  }
  return out;
}

// ---- (e) train shift × test shift heat maps, one per encoder (and probe).

std::vector<FigureSpec> train_test_figures(const Model& model, TextMeasure& m) {
  std::map<std::string, int> probes_of;
  for (const auto& t : model.train_test) probes_of[t.encoder]++;
  std::vector<FigureSpec> out;
  for (const auto& t : model.train_test) {
    const bool with_probe = probes_of[t.encoder] > 1;
    const std::string title = with_probe ? t.encoder + " / " + t.probe : t.encoder;
    Csv csv({"encoder", "probe", "train_shift", "test_shift", "accuracy", "weighted_score"});
    for (size_t i = 0; i < t.train_shifts.size(); ++i)
      for (size_t j = 0; j < t.test_shifts.size(); ++j)
        csv.row({t.encoder, t.probe, num(t.train_shifts[i]), num(t.test_shifts[j]), num(t.accuracy[i][j]),
                 t.weighted ? num((*t.weighted)[i][j]) : ""});
    const size_t nx = t.test_shifts.size(), ny = t.train_shifts.size();
    // Every shift labelled when the labels fit, else every other one.
    auto labels_for = [&](const std::vector<double>& v) {
      std::vector<std::string> l;
      for (double s : v) l.push_back(value_label(s));
      return l;
    };
    const auto xl = labels_for(t.test_shifts), yl = labels_for(t.train_shifts);
    AxisSpec bar = numeric_axis(0, 100, 6, "accuracy (%)");
    const double bar_w = 7, bar_gap = 6;
    const double right_block = bar_gap + bar_w + kTickLen + 2 + max_width(m, bar.labels, kTickFont) + 3 + kLabelFont + kPad;
    const double left = kPad + kLabelFont + 3 + max_width(m, yl, kTickFont) + 2 + kTickLen;
    const double avail_w = kPageWidth - left - right_block;
    // Square cells, as large as the width allows, the map at most 150 pt tall.
    const double cell = std::min(avail_w / double(std::max<size_t>(1, nx)), 150.0 / double(std::max<size_t>(1, ny)));
    const double plot_w = cell * double(nx), plot_h = cell * double(ny);
    const double bottom = kPad + kLabelFont + 3 + kTickFont + 2 + kTickLen;
    const double title_h = kTitleFont + 5;
    const double height = page_height(bottom + plot_h + title_h + kPad + 2);
    // Cell text: as large as fits "100" in a cell, at most the tick size; none below 4 pt.
    double cell_font = kTickFont - 1;
    while (cell_font > 4 && m.width("100", cell_font) > cell - 1.5) cell_font -= 0.25;
    const bool numbers = cell_font > 4 || m.width("100", cell_font) <= cell - 1.5;
    bool every_other_x = max_width(m, xl, kTickFont) > cell - 1, every_other_y = kTickFont > cell;
    // The rotated y title must fit along the map; a short form when the map is short.
    std::string y_title = "training pitch shift (semitones)";
    if (m.width(y_title, kLabelFont) > plot_h + 20) y_title = "training shift (st)";
    const double bar_label_x = bar_gap + bar_w + kTickLen + 2 + max_width(m, bar.labels, kTickFont) + 3 + kLabelFont / 2;
    Axes a;
    a.left = left;
    a.right = a.left + plot_w;
    a.bottom = bottom;
    a.top = bottom + plot_h;
    FigureSpec f;
    f.name = "train_test_shift_" + (with_probe ? slug(t.encoder) + "_" + slug(t.probe) : slug(t.encoder));
    f.csv = csv.text;
    f.height_pt = height;
    f.draw = [=](Canvas& c) {
      c.text(kPad, c.height() - kPad - kTitleFont / 2, title, kTitleFont, 0.0);
      for (size_t i = 0; i < ny; ++i) {
        for (size_t j = 0; j < nx; ++j) {
          const double v = t.accuracy[i][j];
          const double x0 = a.left + cell * double(j), y0 = a.bottom + cell * double(i);
          const Colour col = viridis(v);
          c.rect(x0, y0, x0 + cell, y0 + cell, col, 1.0, 0.4);
          if (numbers) {
            const double lum = 0.2126 * col.r + 0.7152 * col.g + 0.0722 * col.b;
            c.text(x0 + cell / 2, y0 + cell / 2, fmt::format("{:.0f}", 100 * v), cell_font, 0.5, lum < 140 ? kWhite : kBlack);
          }
        }
      }
      c.line({a.left, a.right, a.right, a.left, a.left}, {a.bottom, a.bottom, a.top, a.top, a.bottom}, kBlack, kAxisWidth);
      for (size_t j = 0; j < nx; ++j) {
        const double x = a.left + cell * (double(j) + 0.5);
        c.line({x, x}, {a.bottom, a.bottom - kTickLen}, kBlack, kAxisWidth);
        if (!every_other_x || j % 2 == (nx - 1) % 2) c.text(x, a.bottom - kTickLen - 2 - kTickFont / 2, xl[j], kTickFont, 0.5);
      }
      for (size_t i = 0; i < ny; ++i) {
        const double y = a.bottom + cell * (double(i) + 0.5);
        c.line({a.left, a.left - kTickLen}, {y, y}, kBlack, kAxisWidth);
        if (!every_other_y || i % 2 == (ny - 1) % 2) c.text(a.left - kTickLen - 2, y, yl[i], kTickFont, 1.0);
      }
      c.text((a.left + a.right) / 2, kPad + kLabelFont / 2, "test pitch shift (semitones)", kLabelFont, 0.5);
      c.text(kPad + kLabelFont / 2, (a.bottom + a.top) / 2, y_title, kLabelFont, 0.5, kBlack, 90);
      // Colour bar over the fixed range 0–100 %, so that maps of different encoders compare.
      const double b0 = a.right + bar_gap, b1 = b0 + bar_w;
      c.viridis_bar(b0, a.bottom, b1, a.top);
      c.line({b0, b1, b1, b0, b0}, {a.bottom, a.bottom, a.top, a.top, a.bottom}, kBlack, kAxisWidth);
      for (size_t k = 0; k < bar.ticks.size(); ++k) {
        const double y = a.bottom + (a.top - a.bottom) * bar.ticks[k] / 100;
        c.line({b1, b1 + kTickLen}, {y, y}, kBlack, kAxisWidth);
        c.text(b1 + kTickLen + 2, y, bar.labels[k], kTickFont, 0.0);
      }
      c.text(a.right + bar_label_x, (a.bottom + a.top) / 2, bar.title, kLabelFont, 0.5, kBlack, 90);
    };
    out.push_back(std::move(f));
  }
  return out;
}

// ---- (g) decodability of the deformation: grouped bars per deformation, chance marked on each bar.

FigureSpec decodability_figure(const Model& model, SeriesStyles& styles, TextMeasure& m) {
  Csv csv({"encoder", "deformation", "n_classes", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "chance"});
  std::vector<std::string> deformations, encoders;
  for (const auto& d : model.decodability) {
    csv.row({d.encoder, d.deformation, std::to_string(d.n_classes), num(d.accuracy), lo(d.accuracy_ci), hi(d.accuracy_ci),
             num(d.chance)});
    if (std::find(deformations.begin(), deformations.end(), d.deformation) == deformations.end()) deformations.push_back(d.deformation);
    if (std::find(encoders.begin(), encoders.end(), d.encoder) == encoders.end()) encoders.push_back(d.encoder);
  }
  std::vector<LegendEntry> legend;
  for (const auto& e : encoders) legend.push_back({Swatch::kBox, styles.colour(e), Dash::kSolid, Marker::kNone, e, "", 1});
  legend.push_back(style_entry(Dash::kDashed, "chance"));
  const LegendLayout ll = layout_legend(m, legend, kPageWidth - 2 * kPad);
  AxisSpec y = numeric_axis(0, 100, 6, "decoding accuracy (%)");
  Axes a;
  a.left = left_margin(m, y);
  a.right = kPageWidth - kPad - 2;
  a.bottom = kPad + kTickFont + 2 + kTickLen + 2;
  a.top = a.bottom + 110;
  const double height = page_height(a.top + 6 + ll.height + kPad);
  a.top = height - kPad - ll.height - 6;
  a.x0 = 0, a.x1 = std::max<double>(1, deformations.size()), a.y0 = 0, a.y1 = 100;
  const double group_w = (a.right - a.left) / a.x1;
  std::vector<std::string> group_labels;
  for (const auto& d : deformations) group_labels.push_back(m.fit(pretty(d), kTickFont, group_w - 2));
  std::vector<Colour> colours;
  for (const auto& e : encoders) colours.push_back(styles.colour(e));
  FigureSpec f{"decodability", csv.text, height, nullptr};
  f.draw = [=, &model](Canvas& c) {
    draw_legend(c, ll, legend, kPad, c.height() - kPad);
    AxisSpec x;  // categorical: labels drawn per group below
    draw_axes(c, a, x, y);
    draw_y_title(c, a, y.title);
    const double bar_w = std::min(14.0, group_w * 0.8 / double(std::max<size_t>(1, encoders.size())));
    for (size_t g = 0; g < deformations.size(); ++g) {
      const double gx = a.left + group_w * (double(g) + 0.5);
      c.text(gx, a.bottom - kTickLen - 2 - kTickFont / 2, group_labels[g], kTickFont, 0.5);
      for (const auto& d : model.decodability) {
        if (d.deformation != deformations[g]) continue;
        const size_t e = size_t(std::find(encoders.begin(), encoders.end(), d.encoder) - encoders.begin());
        const double x0 = gx + bar_w * (double(e) - double(encoders.size()) / 2), x1 = x0 + bar_w;
        c.rect(x0 + 0.5, a.py(0), x1 - 0.5, a.py(100 * d.accuracy), colours[e]);
        if (d.accuracy_ci) {
          const double xm = (x0 + x1) / 2;
          c.line({xm, xm}, {a.py(100 * d.accuracy_ci->low), a.py(100 * d.accuracy_ci->high)}, kBlack, 0.6);
          c.line({xm - 1.5, xm + 1.5}, {a.py(100 * d.accuracy_ci->low), a.py(100 * d.accuracy_ci->low)}, kBlack, 0.6);
          c.line({xm - 1.5, xm + 1.5}, {a.py(100 * d.accuracy_ci->high), a.py(100 * d.accuracy_ci->high)}, kBlack, 0.6);
        }
        c.line({x0, x1}, {a.py(100 * d.chance), a.py(100 * d.chance)}, kBlack, 0.9, Dash::kDashed);
      }
    }
  };
  return f;
}

// Figure names must not collide (two encoders whose names differ only in punctuation).
void make_unique(std::vector<FigureSpec>& figures) {
  std::set<std::string> seen;
  for (auto& f : figures) {
    std::string name = f.name;
    for (int k = 2; seen.count(name); ++k) name = fmt::format("{}_{}", f.name, k);
    f.name = name;
    seen.insert(name);
  }
}

}  // namespace

std::vector<FigureSpec> build_figures(const Model& model, TextMeasure& measure) {
  SeriesStyles styles;
  std::vector<FigureSpec> out;
  out.push_back(scores_figure(model, measure));
  out.push_back(categories_figure(model, measure));
  for (auto& f : accuracy_figures(model, styles, measure)) out.push_back(std::move(f));
  if (!model.consistency.empty()) out.push_back(consistency_figure(model, styles, measure));
  for (auto& f : invariance_figures(model, styles, measure)) out.push_back(std::move(f));
  for (auto& f : train_test_figures(model, measure)) out.push_back(std::move(f));
  if (!model.augmentation.empty()) out.push_back(augmentation_figure(model, styles, measure));
  if (!model.decodability.empty()) out.push_back(decodability_figure(model, styles, measure));
  make_unique(out);
  return out;
}

}  // namespace mcpt::reports::figures
