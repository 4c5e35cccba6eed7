// The encoder registry: adding an encoder is one file plus one line in this table.
#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/TorchBackend.h"
#include "harness/encoders/Encoder.h"

namespace mcpt::harness {
namespace {
const std::vector<std::pair<std::string, EncoderFactory>>& table() {
  static const std::vector<std::pair<std::string, EncoderFactory>> t = {
      {"chroma", make_chroma_encoder},
      {"key-profile", make_key_profile_encoder},
      {"logmel", make_logmel_encoder},
      // LibTorch encoders: libmcpt-torch.so is loaded when a suite first builds one.
      {"torchscript", [](JsonObject& c, const EncoderContext& x) { return torch().make_torchscript_encoder(c, x); }},
      {"mcpt", [](JsonObject& c, const EncoderContext& x) { return torch().make_mcpt_encoder(c, x); }},
      {"random-init", [](JsonObject& c, const EncoderContext& x) { return torch().make_random_init_encoder(c, x); }},
  };
  return t;
}
}  // namespace

std::vector<std::string> encoder_types() {
  std::vector<std::string> names;
  for (const auto& [n, f] : table()) names.push_back(n);
  return names;
}

std::unique_ptr<Encoder> make_encoder(const std::string& type, JsonObject& cfg, const EncoderContext& ctx) {
  for (const auto& [n, f] : table())
    if (n == type) return f(cfg, ctx);
  throw Error(fmt::format("{}: {}", cfg.path_of("type"), unknown_name_message("encoder type", type, encoder_types())));
}

}  // namespace mcpt::harness
