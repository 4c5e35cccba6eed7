// Pitch and tempo moved together by plain resampling (libsamplerate), as a tape or turntable
// speed change does: no phase vocoder, hence no processing artefacts. The artefact-free control
// for pitch_shift: what a representation does with pitch alone, without Rubber Band's processing.
#pragma once
#include <string>

#include "augment/Deformation.h"

namespace mcpt::augment {

struct ResampleShiftOptions {
  double semitones = 0.0;           // within +-24; fractional allowed (label rounded, label_exact false)
  std::string quality = "best";     // libsamplerate converter: "best", "medium" or "fastest" (sinc)
};

// {"type": "resample_shift", "semitones": 3, "quality": "best"}: the audio is resampled by
// 2^(-k/12) and played back at the original rate, so every frequency is multiplied by 2^(k/12)
// and the duration by 2^(-k/12) (output length round(n * 2^(-k/12))). The label moves by round(k).
class ResampleShift : public Deformation {
 public:
  explicit ResampleShift(ResampleShiftOptions options, std::string json_path = "resample_shift");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "resample_shift"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  datasets::Key label(const datasets::Key& key) const override;
  double semitones() const override { return options_.semitones; }
  double duration_factor() const override;
  bool label_exact() const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<ResampleShift>(*this); }

 private:
  ResampleShiftOptions options_;
  std::string path_;
};

std::string libsamplerate_version();  // e.g. "libsamplerate-0.2.2 (c) ..." as the library reports it

}  // namespace mcpt::augment
