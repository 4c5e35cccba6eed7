// The Deformation interface: a pure, seeded Audio -> Audio transform that also says how it moves
// the key label, described by a canonical JSON spec (cache keys, reports). Built from JSON by a
// registry: make_deformation({"type": "pitch_shift", "semitones": 3}, "deformation").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
#include "datasets/Key.h"

namespace mcpt::augment {

class Deformation {
 public:
  virtual ~Deformation() = default;

  virtual std::string type() const = 0;  // the registry name: "pitch_shift", "chain" ...
  // Canonical JSON: every default filled in, library and engine versions included where they shape
  // the output. make_deformation(spec()) rebuilds an equal deformation (same spec()).
  virtual nlohmann::json spec() const = 0;
  // Deterministic: the same spec and seed give bit-identical output on the same build. Thread-safe:
  // many threads may call apply() on one object at once. Throws mcpt::Error for audio it cannot
  // take (empty, a sample rate out of range, a filter above Nyquist ...), naming the JSON path.
  virtual datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const = 0;
  // The key of the deformed audio: unchanged by default; pitch shifts transpose by round(semitones()).
  // A random deformation throws (call sample(seed) first: its label depends on the draw).
  virtual datasets::Key label(const datasets::Key& key) const;
  // How far the pitch moves, in semitones (fractional allowed); 0 for stretch, EQ, noise and gain.
  virtual double semitones() const;
  // Output duration / input duration: the stretch ratio, 2^(-k/12) for a resampling shift, else 1.
  virtual double duration_factor() const;
  // Whether the label transposition is exact (false for fractional-semitone shifts, whose label is
  // rounded to the nearest semitone).
  virtual bool label_exact() const;
  // Whether apply() depends on the seed (noise, random draws); if not, caches may drop the seed.
  virtual bool uses_seed() const;
  // Whether parameters are drawn at random (a "random" deformation or a chain holding one).
  virtual bool is_random() const;
  // A concrete deformation with every random choice drawn from `seed`: the training-time draw.
  // For a fixed deformation, a copy of itself. sample(s)->apply(x, s) equals apply(x, s).
  virtual std::unique_ptr<Deformation> sample(std::uint64_t seed) const;
  virtual std::unique_ptr<Deformation> clone() const = 0;
};

// Builds a deformation from JSON ({"type": ...} plus that type's fields). Errors name the JSON path
// (`json_path`, e.g. "suite.robustness.conditions[3]"): unknown types ("did you mean"), unknown
// keys, values out of range ("deformation.semitones: 1000 is out of range [-24, 24]").
std::unique_ptr<Deformation> make_deformation(const nlohmann::json& j, const std::string& json_path = "deformation");
// The same from JSON text; a syntax error names `json_path`.
std::unique_ptr<Deformation> parse_deformation(const std::string& text, const std::string& json_path = "deformation");
std::vector<std::string> deformation_types();  // sorted registry names

// A stable 16-hex-digit hash of spec() (for cache keys and file names).
std::string spec_hash(const Deformation& d);
// Independent 64-bit seeds for the parts of a composite (chain stage i, noise generator ...):
// splitmix64 of the seed mixed with `stream`. Stable across platforms.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

// Library versions that shape augmented audio ("rubberband", "libsamplerate"), for provenance.
nlohmann::json augment_library_versions();

}  // namespace mcpt::augment
