// The paper's protocol (configs/giantsteps.json, unchanged) end to end on stand-in audio: real
// annotation files at the real track IDs, short MP3s rendered in each annotated key.
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
#include "datasets/Error.h"
#include "datasets/Key.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::datasets::Key;

namespace {

// Writes a short MP3 in `label`'s key (C major when the label is not a single key) for each id.
void stand_in_audio(const fs::path& audio_dir, const std::vector<std::pair<std::string, std::string>>& items) {
  fs::create_directories(audio_dir);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < items.size();) {
      Key key(0, mcpt::datasets::Mode::kMajor);
      try {
        key = Key::parse(items[i].second);
      } catch (const mcpt::Error&) {
      }
      if (!key.has_index()) key = Key(0, mcpt::datasets::Mode::kMajor);
      auto audio = mcpt::testutil::key_chords(key, 2.0, 22050, static_cast<unsigned>(i));
      mcpt::datasets::write_audio(audio_dir / (items[i].first + ".LOFI.mp3"), audio, mcpt::datasets::AudioFormat::kMp3);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
}

}  // namespace

TEST(GiantStepsProtocol, RunsEndToEndOnStandInAudio) {
  mcpt::testutil::TempDir dir("giantsteps");
  const fs::path data = dir / "data";
  const fs::path src = mcpt::testutil::test_data();
  fs::create_directories(dir / "configs");
  fs::copy_file(mcpt::testutil::source_dir() / "configs" / "giantsteps.json", dir / "configs" / "giantsteps.json");
  fs::create_directories(data / "giantsteps-key");
  fs::copy(src / "giantsteps-key" / "annotations", data / "giantsteps-key" / "annotations", fs::copy_options::recursive);
  fs::create_directories(data / "giantsteps-mtg-key");
  fs::copy(src / "giantsteps-mtg-key" / "annotations", data / "giantsteps-mtg-key" / "annotations",
           fs::copy_options::recursive);

  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& e : fs::directory_iterator(data / "giantsteps-key" / "annotations" / "key")) {
    const std::string name = e.path().filename().string();
    items.push_back({name.substr(0, name.find('.')), mcpt::testutil::read_text(e.path())});
  }
  ASSERT_EQ(items.size(), 604u);
  stand_in_audio(data / "giantsteps-key" / "audio", items);
  items.clear();
  std::istringstream mtg(mcpt::testutil::read_text(data / "giantsteps-mtg-key" / "annotations" / "annotations.txt"));
  std::string line;
  std::getline(mtg, line);  // header
  while (std::getline(mtg, line)) {
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string id, label;
    std::getline(ls, id, '\t');
    std::getline(ls, label, '\t');
    items.push_back({id, label});
  }
  ASSERT_EQ(items.size(), 1486u);
  stand_in_audio(data / "giantsteps-mtg-key" / "audio", items);

  const auto r = mcpt::testutil::run_cli(fmt::format("'{}' -q", (dir / "configs" / "giantsteps.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(dir / "runs" / "giantsteps" / "report.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report["protocol"]["test"][0], "gs:test");
  EXPECT_EQ(report["protocol"]["aggregation"], "mean_logits");
  EXPECT_EQ(report["datasets"]["gs"]["tracks"], 604);
  EXPECT_EQ(report["datasets"]["mtg"]["tracks"], 1159);
  EXPECT_EQ(report["protocol"]["n_train"].get<int>() + report["protocol"]["n_valid"].get<int>(), 1159);
  // chroma x {linear, mlp-2048} + key-profile x {linear, mlp-2048, none}; chroma x none is skipped.
  ASSERT_EQ(report["results"].size(), 5u);
  for (const auto& res : report["results"]) {
    EXPECT_EQ(res["metrics"]["n_tracks"], 604) << "every GiantSteps test track must be scored";
    EXPECT_EQ(res["predictions"].size(), 604u);
    EXPECT_EQ(res["per_seed"].size(), 5u);
    EXPECT_EQ(res["metrics"]["bootstrap_resamples"], 10000);
    // The stand-in audio is in the annotated keys, so the pipeline must find most of them.
    EXPECT_GT(res["metrics"]["accuracy"].get<double>(), 0.5) << res["encoder"] << " / " << res["probe"];
  }
}
