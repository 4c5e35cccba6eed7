// Composite deformations: a chain of stages applied in order, and random draws of a deformation's
// parameters for training-time augmentation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "augment/Deformation.h"

namespace mcpt::augment {

// {"type": "chain", "stages": [{...}, {...}]}: stage i gets the seed derive_seed(seed, i). Semitones
// add up, duration factors multiply, and the label moves by round(total semitones), so a +k/-k
// round trip ({"stages": [pitch_shift k, pitch_shift -k]}) keeps the label: the artefact control.
class Chain : public Deformation {
 public:
  Chain(std::vector<std::shared_ptr<const Deformation>> stages, std::string json_path = "chain");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "chain"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  datasets::Key label(const datasets::Key& key) const override;
  double semitones() const override;
  double duration_factor() const override;
  bool label_exact() const override;
  bool uses_seed() const override;
  bool is_random() const override;
  std::unique_ptr<Deformation> sample(std::uint64_t seed) const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<Chain>(*this); }
  const std::vector<std::shared_ptr<const Deformation>>& stages() const { return stages_; }

 private:
  std::vector<std::shared_ptr<const Deformation>> stages_;  // immutable, so copies share them
  std::string path_;
};

// Random parameters for training-time augmentation:
//   {"type": "random", "deformation": "pitch_shift", "semitones": {"uniform_int": [-5, 6]},
//    "engine": "faster", "probability": 1.0}
// Every other field is the spec of the `deformation` (any registered type, chains included), in
// which any value, at any depth, may be a distribution:
//   {"uniform_int": [a, b]}   an integer in a..b, both included
//   {"uniform": [a, b]}       a real number in [a, b)
//   {"log_uniform": [a, b]}   exp(uniform(log a, log b)), 0 < a <= b: symmetric for ratios (0.8..1.25)
//   {"choice": [v1, v2, ...]} one of the values (numbers, strings, objects ...), equally likely
// With "probability" p < 1 the deformation fires with probability p and is the identity otherwise.
// sample(seed) draws each distribution from a stream of its own (seeded by seed and its JSON
// pointer, so adding a field does not change the other draws) and returns the concrete
// deformation; apply(x, seed) is sample(seed)->apply(x, seed). label(), semitones() and
// duration_factor() depend on the draw, so they throw: call them on sample(seed). Every
// distribution's end points (each choice) are checked at construction, so a bad range fails early
// ("deformation.semitones: 30 is out of range [-24, 24]").
class RandomDeformation : public Deformation {
 public:
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "random"; }
  nlohmann::json spec() const override { return spec_; }
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  datasets::Key label(const datasets::Key& key) const override;
  double semitones() const override;
  double duration_factor() const override;
  bool label_exact() const override { return false; }
  bool uses_seed() const override { return true; }
  bool is_random() const override { return true; }
  std::unique_ptr<Deformation> sample(std::uint64_t seed) const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<RandomDeformation>(*this); }

  struct Distribution {
    std::string pointer;  // JSON pointer into the template, e.g. "/semitones"
    std::string kind;     // uniform_int, uniform, log_uniform, choice
    nlohmann::json values;
  };

 private:
  nlohmann::json template_;  // the inner spec, "type" included; distributions in place
  std::vector<Distribution> distributions_;
  double probability_ = 1.0;
  nlohmann::json spec_;
  std::string path_;
};

}  // namespace mcpt::augment
