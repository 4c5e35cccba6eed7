// Layer sweeps end to end: "layers": "all" gives one probed row per layer of the MCPT ViT (depth + 1
// layers), each with its own features; a layer that does not exist is an error naming the JSON path.
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;
using nlohmann::json;

namespace {

fs::path corpus() {
  static const fs::path dir = mcpt::testutil::synth_corpus("synth-layers", "--tracks 48 --seconds 4 --seed 6 --sample-rate 16000");
  return dir;
}

json suite(const fs::path& out, const json& layers) {
  json enc = {{"name", "vit"}, {"type", "mcpt"}, {"patch", "vertical"}, {"dim", 32}, {"depth", 2}, {"heads", 2},
              {"dim_head", 16}, {"mlp_dim", 64}, {"init_seed", 3}};
  for (auto it = layers.begin(); it != layers.end(); ++it) enc[it.key()] = it.value();
  return {{"name", "layers"},
          {"seed", 2},
          {"output", out.string()},
          {"cache", (out / "cache").string()},
          {"datasets", {{"s", {{"type", "synthetic"}, {"root", corpus().string()}, {"tracks", 48}, {"seconds", 4},
                               {"seed", 6}, {"sample_rate", 16000}}}}},
          {"protocol", {{"train", "s:train"}, {"valid", "s:valid"}, {"test", "s:test"}}},
          {"encoders", {enc}},
          {"probes", {{{"type", "linear"}, {"lr", 0.01}, {"epochs", 50}}}},
          {"statistics", {{"seeds", 1}, {"bootstrap", 100}}}};
}

}  // namespace

TEST(LayerSweep, AllLayersGiveOneRowEachAndBadLayersNameThePath) {
  TempDir dir("layers");
  const fs::path file = dir / "suite.json";
  mcpt::testutil::write_text(file, suite(dir / "out", {{"layers", "all"}}).dump(2));
  auto r = run_cli(fmt::format("-q run '{}'", file.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir / "out" / "report.json");
  const json report = json::parse(in);
  ASSERT_EQ(report["results"].size(), 3u) << "depth 2: the embedding layer, two blocks (the last after the final norm)";
  std::set<int> layers;
  std::set<double> scores;
  for (const auto& row : report["results"]) {
    layers.insert(row["layer"].get<int>());
    scores.insert(row["selection"]["valid_score"].get<double>());
  }
  EXPECT_EQ(layers, (std::set<int>{0, 1, 2}));
  EXPECT_GT(scores.size(), 1u) << "every layer was probed on the same features";
  EXPECT_EQ(report["encoders"][0]["num_layers"], 3);

  mcpt::testutil::write_text(file, suite(dir / "out2", {{"layer", 7}}).dump(2));
  r = run_cli(fmt::format("run '{}'", file.string()));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "suite.encoders[0].layer");
  EXPECT_HAS(r.err, "3 layers");
  EXPECT_FALSE(fs::exists(dir / "out2" / "report.json"));
}
