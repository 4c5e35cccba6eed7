#include "augment/Equalizer.h"

#include <cmath>

#include <fmt/format.h>

#include "augment/Common.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {
namespace {

constexpr double kPi = 3.14159265358979323846;
const std::vector<std::string> kFilters = {"low_shelf", "high_shelf", "peaking", "low_pass",
                                           "high_pass", "tilt",       "band_limit"};
const std::vector<std::string> kPresets = {"telephone", "am_radio", "lofi"};
// Tilt shelves sit this close to Nyquist at most: above it the bilinear transform squeezes a
// shelf's transition until it no longer adds a smooth half-octave step.
constexpr double kTiltTopFraction = 0.45;

struct Preset {
  const char* name;
  double low_hz, high_hz;
  int order;
};
constexpr Preset kPresetTable[] = {{"telephone", 300.0, 3400.0, 4}, {"am_radio", 100.0, 5000.0, 4}, {"lofi", 120.0, 4000.0, 2}};

Biquad normalised(double b0, double b1, double b2, double a0, double a1, double a2) {
  return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

// Audio EQ Cookbook (R. Bristow-Johnson), with alpha = sin(w0) / (2 Q) for every type: a shelf with
// Q = 1/sqrt(2) is the cookbook's shelf slope S = 1.
Biquad cookbook(const std::string& filter, double f0, double gain_db, double q, int sr) {
  const double w0 = 2.0 * kPi * f0 / sr;
  const double c = std::cos(w0), s = std::sin(w0);
  const double alpha = s / (2.0 * q);
  const double A = std::pow(10.0, gain_db / 40.0);
  const double sa = 2.0 * std::sqrt(A) * alpha;
  if (filter == "low_pass") return normalised((1 - c) / 2, 1 - c, (1 - c) / 2, 1 + alpha, -2 * c, 1 - alpha);
  if (filter == "high_pass") return normalised((1 + c) / 2, -(1 + c), (1 + c) / 2, 1 + alpha, -2 * c, 1 - alpha);
  if (filter == "peaking")
    return normalised(1 + alpha * A, -2 * c, 1 - alpha * A, 1 + alpha / A, -2 * c, 1 - alpha / A);
  if (filter == "low_shelf")
    return normalised(A * ((A + 1) - (A - 1) * c + sa), 2 * A * ((A - 1) - (A + 1) * c), A * ((A + 1) - (A - 1) * c - sa),
                      (A + 1) + (A - 1) * c + sa, -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - sa);
  // high_shelf
  return normalised(A * ((A + 1) + (A - 1) * c + sa), -2 * A * ((A - 1) + (A + 1) * c), A * ((A + 1) + (A - 1) * c - sa),
                    (A + 1) - (A - 1) * c + sa, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - sa);
}

// Butterworth of even order as cookbook sections with the pole-pair Qs 1 / (2 cos((2k - 1) pi / 2N)):
// the cookbook's prewarped bilinear transform makes the cascade the exact digital Butterworth.
void butterworth(std::vector<Biquad>& out, const std::string& filter, double f0, int order, int sr) {
  for (int k = 1; k <= order / 2; ++k) {
    const double q = 1.0 / (2.0 * std::cos((2.0 * k - 1.0) * kPi / (2.0 * order)));
    out.push_back(cookbook(filter, f0, 0.0, q, sr));
  }
}

EqBand band_from_json(JsonObject& o) {
  EqBand b;
  o.raw("filter");  // required
  b.filter = detail::get_choice(o, "filter", "", kFilters);
  const double kMaxHz = 384000.0;
  if (b.filter == "low_shelf" || b.filter == "high_shelf" || b.filter == "peaking") {
    o.raw("freq_hz");
    o.raw("gain_db");
    b.freq_hz = o.get_number("freq_hz", 0.0, 1e-3, kMaxHz);
    b.gain_db = o.get_number("gain_db", 0.0, -48.0, 48.0);
    b.q = o.get_number("q", b.filter == "peaking" ? 1.0 : b.q, 0.05, 50.0);
  } else if (b.filter == "low_pass" || b.filter == "high_pass") {
    o.raw("freq_hz");
    b.freq_hz = o.get_number("freq_hz", 0.0, 1e-3, kMaxHz);
    b.q = o.get_number("q", b.q, 0.05, 50.0);
  } else if (b.filter == "tilt") {
    o.raw("db_per_octave");
    b.db_per_octave = o.get_number("db_per_octave", 0.0, -24.0, 24.0);
    b.pivot_hz = o.get_number("pivot_hz", 1000.0, 1.0, kMaxHz);
    b.low_hz = o.get_number("low_hz", 62.5, 1.0, kMaxHz);
    b.high_hz = o.get_number("high_hz", 8000.0, 1.0, kMaxHz);
    if (!(b.low_hz < b.high_hz))
      throw Error(fmt::format("{}: low_hz ({}) must be below high_hz ({})", o.path(), b.low_hz, b.high_hz));
  } else {  // band_limit
    b.preset = o.has("preset") ? detail::get_choice(o, "preset", "", kPresets) : "";
    double lo = 0, hi = 0;
    int order = 4;
    for (const auto& p : kPresetTable)
      if (b.preset == p.name) lo = p.low_hz, hi = p.high_hz, order = p.order;
    if (b.preset.empty() && !o.has("low_hz") && !o.has("high_hz"))
      throw Error(fmt::format("{}: band_limit needs a \"preset\" ({}) or low_hz/high_hz", o.path(),
                              "telephone, am_radio, lofi"));
    b.low_hz = o.get_number("low_hz", lo, 0.0, kMaxHz);
    b.high_hz = o.get_number("high_hz", hi, 0.0, kMaxHz);
    b.order = int(o.get_int("order", order, 2, 8));
    if (b.order % 2) throw Error(fmt::format("{}: {} is not an even order (2, 4, 6 or 8)", o.path_of("order"), b.order));
    if (b.low_hz > 0 && b.high_hz > 0 && !(b.low_hz < b.high_hz))
      throw Error(fmt::format("{}: low_hz ({}) must be below high_hz ({})", o.path(), b.low_hz, b.high_hz));
  }
  o.finish();
  return b;
}

nlohmann::json band_to_json(const EqBand& b) {
  nlohmann::json j = {{"filter", b.filter}};
  if (b.filter == "tilt") {
    j["db_per_octave"] = b.db_per_octave;
    j["pivot_hz"] = b.pivot_hz;
    j["low_hz"] = b.low_hz;
    j["high_hz"] = b.high_hz;
  } else if (b.filter == "band_limit") {
    if (!b.preset.empty()) j["preset"] = b.preset;
    j["low_hz"] = b.low_hz;
    j["high_hz"] = b.high_hz;
    j["order"] = b.order;
  } else {
    j["freq_hz"] = b.freq_hz;
    if (b.filter != "low_pass" && b.filter != "high_pass") j["gain_db"] = b.gain_db;
    j["q"] = b.q;
  }
  return j;
}

}  // namespace

std::complex<double> Biquad::response(double hz, int sample_rate) const {
  const std::complex<double> z1 = std::polar(1.0, -2.0 * kPi * hz / sample_rate);  // z^-1
  const std::complex<double> z2 = z1 * z1;
  return (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2);
}

double cascade_response_db(const std::vector<Biquad>& cascade, double hz, int sample_rate) {
  double db = 0.0;
  for (const auto& b : cascade) db += 20.0 * std::log10(std::abs(b.response(hz, sample_rate)));
  return db;
}

Equalizer::Equalizer(std::vector<EqBand> bands, std::string json_path)
    : bands_(std::move(bands)), path_(std::move(json_path)) {
  if (bands_.empty()) throw Error(fmt::format("{}.bands: expected at least one band", path_));
  for (std::size_t i = 0; i < bands_.size(); ++i) paths_.push_back(fmt::format("{}.bands[{}]", path_, i));
}

std::unique_ptr<Deformation> Equalizer::from_json(const nlohmann::json& j, const std::string& json_path) {
  std::vector<EqBand> bands;
  std::vector<std::string> paths;
  if (j.is_object() && j.contains("bands")) {
    JsonObject o(j, json_path);
    o.ignore({"type"});
    const auto& arr = o.raw("bands");
    if (!arr.is_array() || arr.empty())
      throw Error(fmt::format("{}: expected a non-empty array of bands, got {}", o.path_of("bands"), json_brief(arr)));
    for (std::size_t i = 0; i < arr.size(); ++i) {
      paths.push_back(fmt::format("{}.bands[{}]", json_path, i));
      JsonObject b(arr[i], paths.back());
      bands.push_back(band_from_json(b));
    }
    o.finish();
  } else {
    // One band written inline, next to "type".
    JsonObject o(j, json_path);
    o.ignore({"type"});
    if (!o.has("filter"))
      throw Error(fmt::format("{}: eq needs \"bands\" (a list) or one band's \"filter\" ({})", json_path,
                              "low_shelf, high_shelf, peaking, low_pass, high_pass, tilt, band_limit"));
    bands.push_back(band_from_json(o));
    paths.push_back(json_path);
  }
  auto eq = std::make_unique<Equalizer>(bands, json_path);
  eq->paths_ = paths;
  return eq;
}

nlohmann::json Equalizer::spec() const {
  nlohmann::json bands = nlohmann::json::array();
  for (const auto& b : bands_) bands.push_back(band_to_json(b));
  return {{"type", type()}, {"bands", bands}};
}

std::vector<Biquad> Equalizer::design(int sr) const {
  const double nyquist = sr / 2.0;
  std::vector<Biquad> out;
  for (std::size_t i = 0; i < bands_.size(); ++i) {
    const EqBand& b = bands_[i];
    const std::string& path = paths_[i];
    if (b.filter == "tilt") {
      // db_per_octave x log2(f / pivot) between low_hz and high_hz, flat outside: equal high shelves
      // every half octave (each shelf's gain midpoint at its frequency), then a constant gain so the
      // pivot is at 0 dB. The sum of the shelves' sigmoids is a straight line in dB over log f.
      const double octaves = std::log2(b.high_hz / b.low_hz);
      const int m = std::max(1, int(std::lround(2.0 * octaves)));
      const double step = octaves / m;
      std::vector<Biquad> shelves;
      for (int k = 0; k < m; ++k) {
        const double fc = b.low_hz * std::pow(2.0, (k + 0.5) * step);
        if (fc >= kTiltTopFraction * sr) break;
        shelves.push_back(cookbook("high_shelf", fc, b.db_per_octave * step, 1.0 / std::sqrt(2.0), sr));
      }
      if (shelves.empty()) continue;
      if (b.pivot_hz >= nyquist)
        throw Error(fmt::format("{}.pivot_hz: {} Hz is at or above the Nyquist frequency ({} Hz) of {} Hz audio", path,
                                b.pivot_hz, nyquist, sr));
      const double g = std::pow(10.0, -cascade_response_db(shelves, b.pivot_hz, sr) / 20.0);
      shelves[0].b0 *= g, shelves[0].b1 *= g, shelves[0].b2 *= g;
      out.insert(out.end(), shelves.begin(), shelves.end());
    } else if (b.filter == "band_limit") {
      if (b.low_hz > 0) {
        if (b.low_hz >= nyquist)
          throw Error(fmt::format("{}.low_hz: {} Hz is at or above the Nyquist frequency ({} Hz) of {} Hz audio", path,
                                  b.low_hz, nyquist, sr));
        butterworth(out, "high_pass", b.low_hz, b.order, sr);
      }
      // A low-pass at or above Nyquist has nothing left to remove.
      if (b.high_hz > 0 && b.high_hz < nyquist) butterworth(out, "low_pass", b.high_hz, b.order, sr);
    } else {
      if (b.freq_hz >= nyquist)
        throw Error(fmt::format("{}.freq_hz: {} Hz is at or above the Nyquist frequency ({} Hz) of {} Hz audio", path,
                                b.freq_hz, nyquist, sr));
      out.push_back(cookbook(b.filter, b.freq_hz, b.gain_db, b.q, sr));
    }
  }
  return out;
}

double Equalizer::response_db(double hz, int sample_rate) const {
  return cascade_response_db(design(sample_rate), hz, sample_rate);
}

datasets::Audio Equalizer::apply(const datasets::Audio& in, std::uint64_t) const {
  detail::check_audio(in, path_);
  const std::vector<Biquad> cascade = design(in.sample_rate);
  std::vector<double> x(in.samples.begin(), in.samples.end());
  for (const Biquad& b : cascade) {
    double s1 = 0.0, s2 = 0.0;  // transposed direct form II state
    for (double& v : x) {
      const double y = b.b0 * v + s1;
      s1 = b.b1 * v - b.a1 * y + s2;
      s2 = b.b2 * v - b.a2 * y;
      v = y;
    }
  }
  datasets::Audio out;
  out.sample_rate = in.sample_rate;
  out.samples.assign(x.size(), 0.0f);
  for (std::size_t i = 0; i < x.size(); ++i) out.samples[i] = static_cast<float>(x[i]);
  return out;
}

}  // namespace mcpt::augment
