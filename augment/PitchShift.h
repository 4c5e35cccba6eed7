// Pitch shifting and time stretching through the Rubber Band Library (offline mode: the whole
// input is studied first, so the output is time-aligned and exactly as long as the input for a
// pitch shift, round(n * ratio) samples for a stretch). R3 ("finer") by default, R2 ("faster") on request.
#pragma once
#include <string>

#include "augment/Deformation.h"

namespace mcpt::augment {

// Rubber Band's processing options, named as in its documentation (RubberBandStretcher::Option*).
// Options marked R2 only change the R2 engine's output; R3 accepts and ignores them.
struct RubberBandOptions {
  std::string engine = "finer";        // "finer" (R3, best quality) or "faster" (R2, ~3x cheaper)
  std::string formant = "shifted";     // "shifted" or "preserved" (spectral envelope kept; pitch shift only)
  // R2: phase resets at detected onsets: "crisp" (all frequencies), "mixed" (only outside the range of
  // musical fundamentals) or "smooth" (none). Default "mixed", not Rubber Band's "crisp": with
  // "crisp", R2 moves a steady tone's frequency by up to 20 cents (measured; docs/augment.md),
  // which would confound a pitch-sensitivity analysis.
  std::string transients = "mixed";
  std::string detector = "compound";   // R2: onset detector "compound", "percussive" or "soft"
  std::string phase = "laminar";       // R2: "laminar" or "independent"
  std::string window = "standard";     // "standard", "short" or "long" (R3: "short" selects its short mode)
  bool smoothing = false;              // R2: time-domain smoothing
  std::string pitch_mode = "high_quality";  // "high_speed", "high_quality" or "high_consistency"
  std::string channels = "apart";      // "apart" or "together"; no effect on our mono audio, kept for the record
};

struct PitchShiftOptions {
  double semitones = 0.0;  // total shift = semitones + cents / 100, within +-24 semitones
  double cents = 0.0;
  RubberBandOptions rubberband;
};

// {"type": "pitch_shift", "semitones": 3, "cents": 0, "engine": "finer", "formant": "shifted", ...}
// Pitch scale 2^(total / 12); the label moves by round(total), and spec()'s "label_exact" is false
// when total is not a whole number of semitones. A shift of 0 still runs Rubber Band (the
// processing-artefact control).
class PitchShift : public Deformation {
 public:
  explicit PitchShift(PitchShiftOptions options, std::string json_path = "pitch_shift");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "pitch_shift"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  datasets::Key label(const datasets::Key& key) const override;
  double semitones() const override { return options_.semitones + options_.cents / 100.0; }
  bool label_exact() const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<PitchShift>(*this); }
  const PitchShiftOptions& options() const { return options_; }

 private:
  PitchShiftOptions options_;
  std::string path_;
};

struct TimeStretchOptions {
  double ratio = 1.0;  // output duration / input duration, in (0.25, 4)
  RubberBandOptions rubberband;
};

// {"type": "time_stretch", "ratio": 1.25, "engine": "finer", ...}: duration x ratio, pitch and label unchanged.
class TimeStretch : public Deformation {
 public:
  explicit TimeStretch(TimeStretchOptions options, std::string json_path = "time_stretch");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "time_stretch"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  double duration_factor() const override { return options_.ratio; }
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<TimeStretch>(*this); }
  const TimeStretchOptions& options() const { return options_; }

 private:
  TimeStretchOptions options_;
  std::string path_;
};

// The Rubber Band Library version these deformations were built against, e.g. "3.1.2".
std::string rubberband_version();

}  // namespace mcpt::augment
