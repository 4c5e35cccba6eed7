// `key-profile`: the classical zero-training estimator. Mean chroma of a segment correlated with
// the 24 rotations of a major and a minor key profile; the embedding is the 24 correlations
// (index order of datasets::Key: C..B major, then C..B minor), so argmax is the estimated key.
#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/ChromaFeatures.h"
#include "harness/encoders/Encoder.h"

namespace mcpt::harness {
namespace {

struct Profiles {
  std::array<double, 12> major, minor;
};

// Krumhansl & Kessler (1982) probe-tone ratings; Temperley (1999) "Kostka-Payne" profiles;
// Albrecht & Shanahan (2013) corpus profiles.
Profiles profiles(const std::string& name, const std::string& path) {
  if (name == "krumhansl")
    return {{6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88},
            {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17}};
  if (name == "temperley")
    return {{5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0},
            {5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0}};
  if (name == "albrecht-shanahan")
    return {{0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081},
            {0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052}};
  throw Error(fmt::format("{}: {}", path,
                          unknown_name_message("key profile", name, {"krumhansl", "temperley", "albrecht-shanahan"})));
}

double pearson(const std::array<double, 12>& a, const std::array<double, 12>& b) {
  double ma = 0, mb = 0;
  for (int i = 0; i < 12; ++i) ma += a[i], mb += b[i];
  ma /= 12, mb /= 12;
  double sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < 12; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return (saa > 0 && sbb > 0) ? sab / std::sqrt(saa * sbb) : 0.0;
}

class KeyProfileEncoder final : public Encoder {
 public:
  KeyProfileEncoder(ChromaOptions o, std::string profile, Profiles p, double segment)
      : o_(o), profile_name_(std::move(profile)), p_(p), segment_(segment) {}
  std::string type() const override { return "key-profile"; }
  int sample_rate() const override { return o_.sample_rate; }
  double segment_seconds() const override { return segment_; }
  Embedding embed(const datasets::Audio& a) const override {
    auto frames = compute_chroma(a, o_);
    std::array<double, 12> mean{};
    for (const auto& f : frames)
      for (int i = 0; i < 12; ++i) mean[i] += f[i];
    Embedding e;
    e.layers = 1;
    e.frames = 1;
    e.dim = 24;
    e.data.resize(24);
    for (int mode = 0; mode < 2; ++mode)
      for (int tonic = 0; tonic < 12; ++tonic) {
        std::array<double, 12> rotated{};
        const auto& prof = mode == 0 ? p_.major : p_.minor;
        for (int pc = 0; pc < 12; ++pc) rotated[pc] = prof[((pc - tonic) % 12 + 12) % 12];
        e.data[size_t(mode * 12 + tonic)] = float(pearson(mean, rotated));
      }
    return e;
  }
  nlohmann::json spec() const override {
    auto j = o_.to_json();
    j["type"] = "key-profile";
    j["profile"] = profile_name_;
    j["segment_seconds"] = segment_;
    j["version"] = 1;
    return j;
  }
  std::string fingerprint() const override { return hex64(fnv1a64(spec().dump())); }

 private:
  ChromaOptions o_;
  std::string profile_name_;
  Profiles p_;
  double segment_;
};

}  // namespace

std::unique_ptr<Encoder> make_key_profile_encoder(JsonObject& cfg, const EncoderContext&) {
  ChromaOptions o;
  o.read(cfg);
  const std::string name = cfg.get_string("profile", "krumhansl");
  auto p = profiles(name, cfg.path_of("profile"));
  const double segment = cfg.get_number("segment_seconds", 30.0, 0.5, 3600.0);
  return std::make_unique<KeyProfileEncoder>(o, name, p, segment);
}

}  // namespace mcpt::harness
