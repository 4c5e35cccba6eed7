// Additive noise at a target signal-to-noise ratio: white, pink (-3 dB/octave) or brown
// (-6 dB/octave), drawn from a seeded generator of our own, so the same seed gives the same noise
// on every platform and standard library.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "augment/Deformation.h"

namespace mcpt::augment {

struct NoiseOptions {
  std::string color = "white";  // "white", "pink" or "brown"
  double snr_db = 20.0;         // 10 log10(signal power / noise power), both as mean squares over the track
};

// {"type": "noise", "color": "pink", "snr_db": 20}. The noise is scaled so the SNR over the whole
// track is exactly snr_db (before the float rounding of the sum). Silent input (power 0) is returned
// unchanged: no noise level gives it a finite SNR.
class Noise : public Deformation {
 public:
  explicit Noise(NoiseOptions options, std::string json_path = "noise");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "noise"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  bool uses_seed() const override { return true; }
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<Noise>(*this); }

 private:
  NoiseOptions options_;
  std::string path_;
};

// n samples of zero-mean noise with unit mean square. Pink: white noise through one real pole-zero
// pair per octave (poles from 5 Hz up, zeros half an octave above each), within about +-0.4 dB of
// -3 dB/octave from 20 Hz to 0.4 x sample rate; brown: a leaky integrator with its corner at 5 Hz.
// Filters run over half a second of noise before the kept part, so the start has no transient.
std::vector<float> colored_noise(const std::string& color, std::size_t n, int sample_rate, std::uint64_t seed);

}  // namespace mcpt::augment
