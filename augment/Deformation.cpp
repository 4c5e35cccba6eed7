// The deformation registry and the interface's defaults. Adding a type: one file with a from_json,
// one line in kRegistry.
#include "augment/Deformation.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "augment/Chain.h"
#include "augment/Equalizer.h"
#include "augment/Gain.h"
#include "augment/Noise.h"
#include "augment/PitchShift.h"
#include "augment/ResampleShift.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {
namespace {

using Factory = std::unique_ptr<Deformation> (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> kRegistry = {
      {"pitch_shift", &PitchShift::from_json},     {"time_stretch", &TimeStretch::from_json},
      {"resample_shift", &ResampleShift::from_json}, {"eq", &Equalizer::from_json},
      {"noise", &Noise::from_json},                {"gain", &Gain::from_json},
      {"chain", &Chain::from_json},                {"random", &RandomDeformation::from_json},
      {"identity", &Identity::from_json},
  };
  return kRegistry;
}

std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

datasets::Key Deformation::label(const datasets::Key& key) const { return key; }
double Deformation::semitones() const { return 0.0; }
double Deformation::duration_factor() const { return 1.0; }
bool Deformation::label_exact() const { return true; }
bool Deformation::uses_seed() const { return false; }
bool Deformation::is_random() const { return false; }
std::unique_ptr<Deformation> Deformation::sample(std::uint64_t) const { return clone(); }

std::unique_ptr<Deformation> make_deformation(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);  // throws unless an object
  const std::string type = o.require_string("type");
  const auto& r = registry();
  const auto it = r.find(type);
  if (it == r.end())
    throw Error(fmt::format("{}: {}", o.path_of("type"), unknown_name_message("deformation type", type, deformation_types())));
  return it->second(j, json_path);
}

std::unique_ptr<Deformation> parse_deformation(const std::string& text, const std::string& json_path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // syntax errors, and numbers too large for a double
    throw Error(fmt::format("{}: not valid JSON ({})", json_path, e.what()));
  }
  return make_deformation(j, json_path);
}

std::vector<std::string> deformation_types() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;  // std::map keeps them sorted
}

std::string spec_hash(const Deformation& d) { return hex64(fnv1a64(d.spec().dump())); }

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  return splitmix64(seed ^ splitmix64(stream + 0x632be59bd9b4e019ull));
}

nlohmann::json augment_library_versions() {
  return {{"rubberband", rubberband_version()}, {"libsamplerate", libsamplerate_version()}};
}

}  // namespace mcpt::augment
