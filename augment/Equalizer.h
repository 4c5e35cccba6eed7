// Equalisation with standard biquad designs (Robert Bristow-Johnson's Audio EQ Cookbook): shelves,
// peaks, Butterworth band limits and a dB/octave tilt built from a cascade of shelves. The designed
// magnitude response is exposed (response_db), so tests compare what is measured with what was designed.
#pragma once
#include <complex>
#include <string>
#include <vector>

#include "augment/Deformation.h"

namespace mcpt::augment {

// One second-order section, normalised so a0 = 1: y = b0 x + b1 x[-1] + b2 x[-2] - a1 y[-1] - a2 y[-2].
struct Biquad {
  double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
  std::complex<double> response(double hz, int sample_rate) const;  // H(e^{j 2 pi hz / sr})
};

// One band of an EQ. Which fields matter depends on `filter`:
//   low_shelf, high_shelf  freq_hz (gain midpoint), gain_db, q (0.7071 = RBJ shelf slope S = 1)
//   peaking                freq_hz, gain_db, q (default 1)
//   low_pass, high_pass    freq_hz (-3 dB point at q = 0.7071), q
//   tilt                   db_per_octave around pivot_hz (0 dB there), from low_hz to high_hz: a
//                          cascade of half-octave-spaced high shelves; flat outside the range, and
//                          shelves at or above 0.45 x the sample rate are left out
//   band_limit             Butterworth high-pass at low_hz and low-pass at high_hz (-3 dB points) of
//                          `order` (2, 4, 6 or 8); a preset fills them: "telephone" 300-3400 Hz order 4,
//                          "am_radio" 100-5000 Hz order 4, "lofi" 120-4000 Hz order 2; low_hz 0 or a
//                          high_hz at or above Nyquist leaves that side open
struct EqBand {
  std::string filter;
  double freq_hz = 1000.0;
  double gain_db = 0.0;
  double q = 0.70710678118654752;
  double db_per_octave = 0.0;
  double pivot_hz = 1000.0;
  double low_hz = 0.0;
  double high_hz = 0.0;
  int order = 4;
  std::string preset;  // band_limit only; "" when low_hz/high_hz were given directly
};

// {"type": "eq", "bands": [{"filter": "peaking", "freq_hz": 1000, "gain_db": -6, "q": 2}, ...]}, or a
// single band inline: {"type": "eq", "filter": "tilt", "db_per_octave": 3}. spec() always writes
// "bands". Applied in float output from a double-precision cascade (transposed direct form II),
// starting from rest; gains are not limited (follow with gain/normalize where clipping matters).
class Equalizer : public Deformation {
 public:
  explicit Equalizer(std::vector<EqBand> bands, std::string json_path = "eq");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "eq"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<Equalizer>(*this); }

  // The cascade designed for a sample rate; throws mcpt::Error naming the band's JSON path when a
  // frequency is at or above Nyquist for that rate.
  std::vector<Biquad> design(int sample_rate) const;
  // The designed magnitude response in dB at `hz`.
  double response_db(double hz, int sample_rate) const;
  const std::vector<EqBand>& bands() const { return bands_; }

 private:
  std::vector<EqBand> bands_;
  std::vector<std::string> paths_;  // JSON path of each band, for errors at apply time
  std::string path_;
};

// Magnitude in dB of a cascade at `hz`.
double cascade_response_db(const std::vector<Biquad>& cascade, double hz, int sample_rate);

}  // namespace mcpt::augment
