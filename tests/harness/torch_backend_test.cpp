// LibTorch is loaded only when something needs it (harness/TorchBackend.h): this test program does
// not link libmcpt-torch.so, so it starts without LibTorch, builds torch-free encoders without
// loading it, and loads it (from the build tree) when it first builds a LibTorch encoder.
#include <gtest/gtest.h>

#include "datasets/JsonConfig.h"
#include "harness/TorchBackend.h"
#include "harness/encoders/Encoder.h"
#include "testutil/TestUtil.h"

using mcpt::harness::EncoderContext;
using mcpt::harness::make_encoder;

namespace {

std::unique_ptr<mcpt::harness::Encoder> make(const std::string& type, nlohmann::json j) {
  mcpt::JsonObject cfg(j, "suite.encoders[0]");
  auto e = make_encoder(type, cfg, EncoderContext{});
  cfg.finish();
  return e;
}

}  // namespace

TEST(TorchBackend, LoadedOnlyByTheFirstLibTorchEncoder) {
  ASSERT_FALSE(mcpt::harness::torch_loaded()) << "this program must not link libmcpt-torch.so";
  const auto key = mcpt::datasets::Key::parse("A minor");
  for (const char* type : {"chroma", "logmel", "key-profile"}) {
    auto e = make(type, nlohmann::json::object());
    EXPECT_GT(e->embed(mcpt::testutil::key_chords(key, 2.0, e->sample_rate(), 1)).dim, 0) << type;
    EXPECT_FALSE(mcpt::harness::torch_loaded()) << type << " loaded LibTorch";
  }
  // A small random-init ViT: the registry reaches it through the loaded module.
  auto vit = make("random-init", {{"dim", 32}, {"depth", 1}, {"heads", 2}, {"dim_head", 16}, {"mlp_dim", 64}});
  EXPECT_TRUE(mcpt::harness::torch_loaded());
  EXPECT_EQ(vit->type(), "random-init");
  const auto e = vit->embed(mcpt::testutil::key_chords(key, 2.0, vit->sample_rate(), 1));
  EXPECT_EQ(e.dim, 32);
  EXPECT_GT(e.frames, 0);
  // The table is the module's: probes train through it.
  const auto& t = mcpt::harness::torch();
  EXPECT_EQ(&t, &mcpt::harness::torch());
  EXPECT_GE(t.compute_threads(), 1);
}
