// A level change in dB with a clipping policy, and the identity (the clean condition).
#pragma once
#include <string>

#include "augment/Deformation.h"

namespace mcpt::augment {

struct GainOptions {
  double db = 0.0;                // within [-120, 60]
  std::string clipping = "none";  // "none": samples may leave [-1, 1] (float audio);
                                  // "clip": hard-clip at +-ceiling;
                                  // "normalize": if the peak would pass the ceiling, the whole track is
                                  //   scaled down so the peak sits at it (no distortion, less gain)
  double ceiling_db = 0.0;        // the ceiling in dBFS, within [-60, 0]
};

// {"type": "gain", "db": 6, "clipping": "normalize", "ceiling_db": -1}
class Gain : public Deformation {
 public:
  explicit Gain(GainOptions options, std::string json_path = "gain");
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);

  std::string type() const override { return "gain"; }
  nlohmann::json spec() const override;
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t seed) const override;
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<Gain>(*this); }

 private:
  GainOptions options_;
  std::string path_;
};

// {"type": "identity"}: returns the input unchanged (a sweep's clean condition; what a random
// deformation draws when it does not fire).
class Identity : public Deformation {
 public:
  static std::unique_ptr<Deformation> from_json(const nlohmann::json& j, const std::string& json_path);
  std::string type() const override { return "identity"; }
  nlohmann::json spec() const override { return {{"type", "identity"}}; }
  datasets::Audio apply(const datasets::Audio& in, std::uint64_t) const override { return in; }
  std::unique_ptr<Deformation> clone() const override { return std::make_unique<Identity>(*this); }
};

}  // namespace mcpt::augment
