// `chroma`: a handcrafted baseline, STFT chroma frames (12 dims) of each segment.
#include <fmt/format.h>

#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/ChromaFeatures.h"
#include "harness/encoders/Encoder.h"

namespace mcpt::harness {
namespace {

class ChromaEncoder final : public Encoder {
 public:
  ChromaEncoder(ChromaOptions o, double segment) : o_(o), segment_(segment) {}
  std::string type() const override { return "chroma"; }
  int sample_rate() const override { return o_.sample_rate; }
  double segment_seconds() const override { return segment_; }
  Embedding embed(const datasets::Audio& a) const override {
    auto frames = compute_chroma(a, o_);
    Embedding e;
    e.layers = 1;
    e.frames = static_cast<int>(frames.size());
    e.dim = 12;
    for (const auto& f : frames) e.data.insert(e.data.end(), f.begin(), f.end());
    return e;
  }
  nlohmann::json spec() const override {
    auto j = o_.to_json();
    j["type"] = "chroma";
    j["segment_seconds"] = segment_;
    j["version"] = 1;  // bump when the feature computation changes
    return j;
  }
  std::string fingerprint() const override { return hex64(fnv1a64(spec().dump())); }

 private:
  ChromaOptions o_;
  double segment_;
};

}  // namespace

std::unique_ptr<Encoder> make_chroma_encoder(JsonObject& cfg, const EncoderContext&) {
  ChromaOptions o;
  o.read(cfg);
  const double segment = cfg.get_number("segment_seconds", 10.0, 0.5, 3600.0);
  return std::make_unique<ChromaEncoder>(o, segment);
}

}  // namespace mcpt::harness
