#include "reports/FiguresCanvas.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <plplot.h>

#include "datasets/Error.h"

namespace fs = std::filesystem;

namespace mcpt::reports::figures {
namespace {

// Scratch colour index in cmap0 (0 is the background).
constexpr PLINT kScratch = 15;

// Pango sizes fonts at 96 dpi while the cairo driver works at 72 units per inch: a PLplot character
// height of h mm comes out as h * 72 / 25.4 * 96 / 72 device units. Points → PLplot mm:
double font_mm(double pt, double scale) { return pt * scale * 25.4 / 96.0; }

int fatal_handler(const char* message) {
  // PLplot would call exit(); the figure is abandoned instead and the caller sees an error.
  throw Error(fmt::format("PLplot: {}", message && *message ? message : "fatal error"), ExitCode::kInternal);
}

std::string trimmed(const char* message) {
  std::string s(message);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.erase(s.begin());
  return s.empty() ? "unknown error" : s;
}

// The cairo drivers must be there: asked for an unknown device, PLplot prompts on stdin.
void require_devices() {
  static const bool ok = [] {
    // The caller owns the arrays; PLplot fills at most n - 1 entries (warning on stderr beyond that).
    std::vector<const char*> menu_list(256), name_list(256);
    const char** menus = menu_list.data();
    const char** names = name_list.data();
    int n = int(name_list.size());
    plgDevs(&menus, &names, &n);
    std::set<std::string> have;
    for (int i = 0; i < n; ++i) have.insert(names[i]);
    for (const char* d : {"pdfcairo", "svgcairo", "pngcairo", "memcairo"})
      if (!have.count(d))
        throw Error(fmt::format("PLplot has no \"{}\" driver (install plplot-driver-cairo)", d), ExitCode::kInternal);
    return true;
  }();
  (void)ok;
}

const char* device_name(PlotFormat f) {
  switch (f) {
    case PlotFormat::kPdf: return "pdfcairo";
    case PlotFormat::kSvg: return "svgcairo";
    case PlotFormat::kPng: return "pngcairo";
  }
  return "";
}

// Valid UTF-8 (an invalid byte becomes '?'), control characters as spaces.
std::string clean_utf8(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok && len == 2 && b < 0xC2) ok = false;  // overlong
    if (!ok) {
      out += '?';
      ++i;
      continue;
    }
    if (len == 1 && (b < 0x20 || b == 0x7F))
      out += ' ';
    else
      out.append(s, i, len);
    i += len;
  }
  return out;
}

}  // namespace

Colour series_colour(std::size_t i) {
  using namespace okabe_ito;
  static constexpr std::array<Colour, 8> kOrder = {kBlue, kVermillion, kGreen, kOrange, kPurple, kSkyBlue, kBlack, kYellow};
  return kOrder[i % kOrder.size()];
}

Marker series_marker(std::size_t i) {
  static constexpr std::array<Marker, 5> kOrder = {Marker::kCircle, Marker::kSquare, Marker::kTriangle, Marker::kDiamond,
                                                   Marker::kTriangleDown};
  return kOrder[i % kOrder.size()];
}

const std::vector<std::pair<double, Colour>>& viridis_stops() {
  // matplotlib's viridis at nine evenly spaced points; linear in between is within a few levels of it.
  static const std::vector<std::pair<double, Colour>> stops = {
      {0.000, {68, 1, 84}},    {0.125, {71, 44, 122}},  {0.250, {59, 81, 139}},  {0.375, {44, 113, 142}},
      {0.500, {33, 144, 141}}, {0.625, {39, 173, 129}}, {0.750, {92, 200, 99}},  {0.875, {170, 220, 50}},
      {1.000, {253, 231, 37}}};
  return stops;
}

Colour viridis(double t) {
  const auto& s = viridis_stops();
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  for (size_t i = 1; i < s.size(); ++i) {
    if (t <= s[i].first) {
      const double u = (t - s[i - 1].first) / (s[i].first - s[i - 1].first);
      const Colour a = s[i - 1].second, b = s[i].second;
      return {int(std::lround(a.r + u * (b.r - a.r))), int(std::lround(a.g + u * (b.g - a.g))),
              int(std::lround(a.b + u * (b.b - a.b)))};
    }
  }
  return s.back().second;
}

std::unique_lock<std::mutex> lock_plplot() {
  static std::mutex m;
  std::unique_lock<std::mutex> lock(m);
  plsexit(fatal_handler);
  require_devices();
  return lock;
}

std::string plplot_text(const std::string& s) {
  std::string out;
  for (char c : clean_utf8(s)) {
    out += c;
    if (c == '#') out += '#';
  }
  return out;
}

// ---- TextMeasure

TextMeasure::TextMeasure() : buffer_(size_t(1000) * 1000 * 4) {
  PLINT previous = 0;
  plgstrm(&previous);
  plmkstrm(&stream_);
  plsError(&code_, message_);
  plsdev("memcairo");
  plsmema(1000, 1000, buffer_.data());  // square: pllegend's border below assumes it
  plinit();
  pladv(0);
  plvpor(0, 1, 0, 1);
  plwind(0, 1, 0, 1);
  plsstrm(previous);
  if (code_ != 0) throw Error(fmt::format("PLplot: {}", trimmed(message_)), ExitCode::kInternal);
}

TextMeasure::~TextMeasure() {
  PLINT previous = 0;
  plgstrm(&previous);
  plsstrm(stream_);
  plend1();
  if (previous != stream_) plsstrm(previous);
}

double TextMeasure::width(const std::string& text, double font_pt) {
  const auto key = std::make_pair(text, font_pt);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  double w = 0;
  if (!text.empty()) {
    PLINT previous = 0;
    plgstrm(&previous);
    plsstrm(stream_);
    // pllegend is PLplot's public way to reach the driver's text extents: with one entry and no
    // swatch, its width is the text's plus a border of 0.4 character heights on each side.
    const double mm = font_mm(font_pt, 1.0);
    plschr(mm, 1.0);
    const std::string t = plplot_text(text);
    const char* texts[1] = {t.c_str()};
    PLINT opts[1] = {PL_LEGEND_NONE};
    PLINT colours[1] = {1};
    PLFLT lw = 0, lh = 0;
    pllegend(&lw, &lh, PL_LEGEND_NONE, PL_POSITION_LEFT | PL_POSITION_BOTTOM | PL_POSITION_INSIDE | PL_POSITION_SUBPAGE,
             0, 0, 0, 0, 0, 0, 1, 1, 1, opts, 0, 1, 1, 0, colours, texts, nullptr, nullptr, nullptr, nullptr, nullptr,
             nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    plsstrm(previous);
    if (code_ != 0) throw Error(fmt::format("PLplot: {}", trimmed(message_)), ExitCode::kInternal);
    const double chr_units = mm * 72.0 / 25.4;  // PLplot's character height in device units (= points here)
    w = std::max(0.0, lw * 1000.0 - 0.8 * chr_units);
  }
  cache_.emplace(key, w);
  return w;
}

std::string TextMeasure::fit(const std::string& text, double font_pt, double max_pt) {
  std::string s = clean_utf8(text);
  if (width(s, font_pt) <= max_pt) return s;
  const std::string ellipsis = "\u2026";
  while (!s.empty()) {
    // Drop one code point from the end.
    size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) >> 6) == 0x2) --i;
    s.erase(i);
    if (width(s + ellipsis, font_pt) <= max_pt) break;
  }
  return s + ellipsis;
}

// ---- Canvas

Canvas::Canvas(PlotFormat format, const fs::path& file, double height_pt, int png_dpi) : height_(height_pt) {
  scale_ = format == PlotFormat::kPng ? png_dpi / 72.0 : 1.0;
  plmkstrm(&stream_);
  open_ = true;
  plsError(&code_, message_);
  plsdev(device_name(format));
  plsfnam(file.c_str());
  plspage(0, 0, PLINT(std::lround(kPageWidth * scale_)), PLINT(std::lround(height_ * scale_)), 0, 0);
  plscolbg(255, 255, 255);
  plscol0(1, 0, 0, 0);
  plinit();
  check();
  pladv(0);
  unclip();
  plpsty(0);
  plwidth(0.5 * scale_);
  check();
}

Canvas::~Canvas() {
  if (!open_) return;
  // An abandoned page: close the stream (the caller removes the file).
  PLINT current = 0;
  plgstrm(&current);
  if (current != stream_) plsstrm(stream_);
  try {
    plend1();
  } catch (const Error&) {
  }
}

void Canvas::check() {
  if (code_ != 0) throw Error(fmt::format("PLplot: {}", trimmed(message_)), ExitCode::kInternal);
}

void Canvas::colour(Colour c, double alpha) {
  plscol0a(kScratch, c.r, c.g, c.b, std::clamp(alpha, 0.0, 1.0));
  plcol0(kScratch);
}

void Canvas::line(const std::vector<double>& x, const std::vector<double>& y, Colour c, double width_pt, Dash dash) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return;
  colour(c, 1.0);
  plwidth(width_pt * scale_);
  // plstyl lengths are micrometres of PLplot's device millimetres (72 units per inch).
  const double um = scale_ * 25.4 / 72.0 * 1000.0;
  if (dash == Dash::kDashed) {
    PLINT mark = PLINT(3.0 * um), space = PLINT(2.0 * um);
    plstyl(1, &mark, &space);
  } else if (dash == Dash::kDotted) {
    PLINT mark = PLINT(1.0 * um), space = PLINT(1.5 * um);
    plstyl(1, &mark, &space);
  } else {
    plstyl(0, nullptr, nullptr);
  }
  plline(PLINT(n), x.data(), y.data());
  plstyl(0, nullptr, nullptr);
}

void Canvas::fill(const std::vector<double>& x, const std::vector<double>& y, Colour c, double alpha, double edge_pt) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 3) return;
  colour(c, alpha);
  // The cairo driver also strokes every filled polygon with the current line width (against seams
  // between neighbours): keep that edge thin, or shapes grow by half the last line's width.
  plwidth(edge_pt * scale_);
  plfill(PLINT(n), x.data(), y.data());
}

void Canvas::rect(double x0, double y0, double x1, double y1, Colour c, double alpha, double edge_pt) {
  fill({x0, x1, x1, x0}, {y0, y0, y1, y1}, c, alpha, edge_pt);
}

void Canvas::marker(double x, double y, Marker m, double size_pt, Colour c) {
  if (m == Marker::kNone) return;
  const double r = size_pt / 2;
  std::vector<double> xs, ys;
  auto polygon = [&](int n, double start_deg, double radius) {
    for (int i = 0; i < n; ++i) {
      const double a = (start_deg + 360.0 * i / n) * M_PI / 180.0;
      xs.push_back(x + radius * std::cos(a));
      ys.push_back(y + radius * std::sin(a));
    }
  };
  switch (m) {
    case Marker::kCircle: polygon(20, 0, r); break;
    case Marker::kSquare: polygon(4, 45, r * 1.2); break;
    case Marker::kTriangle: polygon(3, 90, r * 1.3); break;
    case Marker::kTriangleDown: polygon(3, -90, r * 1.3); break;
    case Marker::kDiamond: polygon(4, 0, r * 1.3); break;
    case Marker::kNone: return;
  }
  fill(xs, ys, c);
  xs.push_back(xs.front());
  ys.push_back(ys.front());
  line(xs, ys, kWhite, 0.4);  // a thin white rim keeps overlapping markers apart
}

void Canvas::text(double x, double y, const std::string& s, double font_pt, double just, Colour c, double angle_deg) {
  if (s.empty()) return;
  colour(c, 1.0);
  plschr(font_mm(font_pt, scale_), 1.0);
  const double a = angle_deg * M_PI / 180.0;
  plptex(x, y, std::cos(a), std::sin(a), just, plplot_text(s).c_str());
}

void Canvas::viridis_bar(double x0, double y0, double x1, double y1) {
  const auto& stops = viridis_stops();
  std::vector<PLFLT> pos, r, g, b;
  for (const auto& [t, c] : stops) {
    pos.push_back(t);
    r.push_back(c.r / 255.0);
    g.push_back(c.g / 255.0);
    b.push_back(c.b / 255.0);
  }
  plscmap1n(256);
  plscmap1l(1, PLINT(pos.size()), pos.data(), r.data(), g.data(), b.data(), nullptr);
  const PLFLT xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
  plgradient(4, xs, ys, 90.0);
}

void Canvas::clip(double x0, double y0, double x1, double y1) {
  plvpor(x0 / kPageWidth, x1 / kPageWidth, y0 / height_, y1 / height_);
  plwind(x0, x1, y0, y1);
}

void Canvas::unclip() {
  plvpor(0, 1, 0, 1);
  plwind(0, kPageWidth, 0, height_);
}

void Canvas::finish() {
  check();
  plend1();
  open_ = false;
  check();
}

}  // namespace mcpt::reports::figures
