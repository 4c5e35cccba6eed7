// A page in points drawn through PLplot's cairo drivers (pdfcairo, svgcairo, pngcairo), and text
// extents measured by the same drivers (memcairo), so layouts fit the real glyphs. Internal header.
// PLplot is not thread-safe and keeps global state: hold lock_plplot() around every use.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "reports/Plot.h"

namespace mcpt::reports::figures {

// Single-column width (240 pt = 3.33 in): 1000 px wide at 300 dpi.
constexpr double kPageWidth = 240;

struct Colour {
  int r = 0, g = 0, b = 0;
};

// Okabe & Ito (2008), "Color Universal Design": distinct under the common colour-vision deficiencies.
namespace okabe_ito {
constexpr Colour kBlack{0, 0, 0};
constexpr Colour kOrange{0xE6, 0x9F, 0x00};
constexpr Colour kSkyBlue{0x56, 0xB4, 0xE9};
constexpr Colour kGreen{0x00, 0x9E, 0x73};
constexpr Colour kYellow{0xF0, 0xE4, 0x42};
constexpr Colour kBlue{0x00, 0x72, 0xB2};
constexpr Colour kVermillion{0xD5, 0x5E, 0x00};
constexpr Colour kPurple{0xCC, 0x79, 0xA7};
}  // namespace okabe_ito
constexpr Colour kGrey{0x99, 0x99, 0x99};
constexpr Colour kLightGrey{0xDD, 0xDD, 0xDD};
constexpr Colour kWhite{0xFF, 0xFF, 0xFF};

// Colour of the i-th series (encoders), cycling through the palette (yellow last: weak on white).
Colour series_colour(std::size_t i);

enum class Marker { kNone, kCircle, kSquare, kTriangle, kDiamond, kTriangleDown };
Marker series_marker(std::size_t i);  // a second cue next to colour, for greyscale prints
enum class Dash { kSolid, kDashed, kDotted };

// Viridis (perceptually uniform, colour-blind safe) at t in [0, 1]; also its control points.
Colour viridis(double t);
const std::vector<std::pair<double, Colour>>& viridis_stops();

// Serialises all PLplot use in the process and routes PLplot's fatal errors to mcpt::Error.
std::unique_lock<std::mutex> lock_plplot();

// Text for PLplot: valid UTF-8, one line, PLplot's escape character '#' doubled.
std::string plplot_text(const std::string& s);

// Widths of strings in points, from a memory-backed cairo stream (no file). Cached.
class TextMeasure {
 public:
  TextMeasure();
  ~TextMeasure();
  TextMeasure(const TextMeasure&) = delete;
  TextMeasure& operator=(const TextMeasure&) = delete;
  double width(const std::string& text, double font_pt);
  // `text` shortened with an ellipsis to fit `max_pt` (unchanged when it fits).
  std::string fit(const std::string& text, double font_pt, double max_pt);

 private:
  int stream_ = -1;
  std::int32_t code_ = 0;
  char message_[1024] = {};
  std::vector<unsigned char> buffer_;
  std::map<std::pair<std::string, double>, double> cache_;
};

// One page, `height_pt` tall and kPageWidth wide; coordinates in points from the bottom-left corner.
// PNG pages are scaled to `png_dpi`; line widths, dashes and fonts scale with them.
class Canvas {
 public:
  Canvas(PlotFormat format, const std::filesystem::path& file, double height_pt, int png_dpi);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  double width() const { return kPageWidth; }
  double height() const { return height_; }

  void line(const std::vector<double>& x, const std::vector<double>& y, Colour c, double width_pt,
            Dash dash = Dash::kSolid);
  // Filled shapes; `edge_pt` is the outline cairo adds in the fill colour (wider hides seams between tiles).
  void fill(const std::vector<double>& x, const std::vector<double>& y, Colour c, double alpha = 1.0,
            double edge_pt = 0.05);
  void rect(double x0, double y0, double x1, double y1, Colour c, double alpha = 1.0, double edge_pt = 0.05);
  void marker(double x, double y, Marker m, double size_pt, Colour c);
  // Text centred vertically on y; just: 0 left, 0.5 centre, 1 right; angle in degrees (90: upwards).
  void text(double x, double y, const std::string& s, double font_pt, double just, Colour c = okabe_ito::kBlack,
            double angle_deg = 0);
  // A rectangle filled bottom to top with viridis (a colour bar).
  void viridis_bar(double x0, double y0, double x1, double y1);
  // Later drawing is clipped to the rectangle, until unclip().
  void clip(double x0, double y0, double x1, double y1);
  void unclip();

  // Ends the page and closes the file; throws mcpt::Error when PLplot reported an error.
  void finish();

 private:
  void check();
  void colour(Colour c, double alpha);
  int stream_ = -1;
  bool open_ = false;
  double height_ = 0, scale_ = 1;  // device units per point
  std::int32_t code_ = 0;
  char message_[1024] = {};
};

}  // namespace mcpt::reports::figures
