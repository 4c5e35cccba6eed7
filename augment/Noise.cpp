#include "augment/Noise.h"

#include <cmath>

#include <fmt/format.h>

#include "augment/Common.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kLowCornerHz = 5.0;

}  // namespace

std::vector<float> colored_noise(const std::string& color, std::size_t n, int sample_rate, std::uint64_t seed) {
  const std::size_t warmup = color == "white" ? 0 : std::size_t(sample_rate / 2);
  detail::Rng rng(seed);
  std::vector<double> x(n + warmup);
  for (double& v : x) v = rng.gaussian();
  if (color == "pink") {
    // One real pole per octave from 5 Hz to Nyquist, each followed half an octave higher by a real
    // zero: the interleaved -6 and +6 dB/octave corners average to -3 dB/octave.
    for (double f = kLowCornerHz; f < sample_rate / 2.0; f *= 2.0) {
      const double p = std::exp(-2.0 * kPi * f / sample_rate);
      const double fz = f * std::sqrt(2.0);
      const double z = fz < sample_rate / 2.0 ? std::exp(-2.0 * kPi * fz / sample_rate) : 0.0;
      double x1 = 0.0, y1 = 0.0;
      for (double& v : x) {
        const double y = v - z * x1 + p * y1;
        x1 = v;
        y1 = y;
        v = y;
      }
    }
  } else if (color == "brown") {
    const double a = std::exp(-2.0 * kPi * kLowCornerHz / sample_rate);
    double y = 0.0;
    for (double& v : x) v = y = a * y + v;
  }
  double mean = 0.0;
  for (std::size_t i = warmup; i < x.size(); ++i) mean += x[i];
  mean /= double(n ? n : 1);
  double power = 0.0;
  for (std::size_t i = warmup; i < x.size(); ++i) power += (x[i] - mean) * (x[i] - mean);
  power /= double(n ? n : 1);
  const double scale = power > 0 ? 1.0 / std::sqrt(power) : 0.0;
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = float((x[i + warmup] - mean) * scale);
  return out;
}

Noise::Noise(NoiseOptions options, std::string json_path) : options_(std::move(options)), path_(std::move(json_path)) {
  if (options_.color != "white" && options_.color != "pink" && options_.color != "brown")
    throw Error(fmt::format("{}.color: {}", path_, unknown_name_message("value", options_.color, {"white", "pink", "brown"})));
  if (!(options_.snr_db >= -40.0 && options_.snr_db <= 120.0))
    throw Error(fmt::format("{}.snr_db: {} is out of range [-40, 120]", path_, options_.snr_db));
}

std::unique_ptr<Deformation> Noise::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  NoiseOptions n;
  n.color = detail::get_choice(o, "color", n.color, {"white", "pink", "brown"});
  o.raw("snr_db");  // required: no default level is right for every analysis
  n.snr_db = o.get_number("snr_db", n.snr_db, -40.0, 120.0);
  o.finish();
  return std::make_unique<Noise>(n, json_path);
}

nlohmann::json Noise::spec() const {
  return {{"type", type()}, {"color", options_.color}, {"snr_db", options_.snr_db}};
}

datasets::Audio Noise::apply(const datasets::Audio& in, std::uint64_t seed) const {
  detail::check_audio(in, path_);
  double signal = 0.0;
  for (float v : in.samples) signal += double(v) * double(v);
  signal /= double(in.samples.size());
  datasets::Audio out = in;
  if (signal <= 0.0) return out;
  // The generator's stream is separate from any other use of the same seed (e.g. a random draw).
  const auto noise = colored_noise(options_.color, in.samples.size(), in.sample_rate, derive_seed(seed, 0x6e6f697365ull));
  const double gain = std::sqrt(signal * std::pow(10.0, -options_.snr_db / 10.0));
  for (std::size_t i = 0; i < out.samples.size(); ++i) out.samples[i] = float(double(in.samples[i]) + gain * noise[i]);
  return out;
}

}  // namespace mcpt::augment
