// The encoder interface: audio in, embedding [layers x frames x dim] out. Encoders are configured
// once from the suite's JSON (through the registry) and then called many times, from several
// threads at once (embed() is const and thread-safe).
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Audio.h"

namespace mcpt {
class JsonObject;
}

namespace mcpt::harness {

struct Embedding {
  int layers = 1;
  int frames = 0;
  int dim = 0;
  std::vector<float> data;  // layers * frames * dim, row-major
  const float* frame(int layer, int f) const { return data.data() + (size_t(layer) * frames + f) * dim; }
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::string type() const = 0;
  virtual int sample_rate() const = 0;          // the rate embed() expects
  virtual double segment_seconds() const = 0;   // audio per embed() call; tracks are cut to this
  virtual Embedding embed(const datasets::Audio& segment) const = 0;
  // Several segments at once (batched inference where the encoder supports it); same results as
  // calling embed() on each.
  virtual std::vector<Embedding> embed_batch(const std::vector<datasets::Audio>& segments) const {
    std::vector<Embedding> out;
    out.reserve(segments.size());
    for (const auto& s : segments) out.push_back(embed(s));
    return out;
  }
  // How many layers embed() returns (layer sweeps select among them; the last is the default).
  virtual int num_layers() const { return 1; }
  // Changes whenever weights or configuration change, so cached embeddings are never stale.
  virtual std::string fingerprint() const = 0;
  virtual nlohmann::json spec() const = 0;      // the full configuration, for the report
};

struct EncoderContext {
  std::filesystem::path base_dir;  // relative paths in the configuration resolve against it
};

// Builds an encoder from its options (the suite's encoder entry less the common keys, which the
// harness reads: name, type, pooling, layer, segment_seconds). Errors name `cfg.path()`.
using EncoderFactory = std::function<std::unique_ptr<Encoder>(JsonObject& cfg, const EncoderContext& ctx)>;

std::vector<std::string> encoder_types();
std::unique_ptr<Encoder> make_encoder(const std::string& type, JsonObject& cfg, const EncoderContext& ctx);

// One factory per encoder file; the registry table in Registry.cpp lists them.
std::unique_ptr<Encoder> make_chroma_encoder(JsonObject& cfg, const EncoderContext& ctx);
std::unique_ptr<Encoder> make_key_profile_encoder(JsonObject& cfg, const EncoderContext& ctx);
std::unique_ptr<Encoder> make_logmel_encoder(JsonObject& cfg, const EncoderContext& ctx);
std::unique_ptr<Encoder> make_torchscript_encoder(JsonObject& cfg, const EncoderContext& ctx);
std::unique_ptr<Encoder> make_mcpt_encoder(JsonObject& cfg, const EncoderContext& ctx);
std::unique_ptr<Encoder> make_random_init_encoder(JsonObject& cfg, const EncoderContext& ctx);

}  // namespace mcpt::harness
