// load_dataset (type registry and option validation), Dataset::split and dataset_summary.
#include <gtest/gtest.h>

#include <set>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/Synthetic.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using namespace mcpt::datasets;
using mcpt::testutil::TempDir;
using mcpt::testutil::write_text;
using json = nlohmann::json;

namespace {

using mcpt::testutil::error_of;


fs::path mtg_root() { return testutil::test_data() / "giantsteps-mtg-key"; }

}  // namespace

TEST(LoadDataset, KnowsItsTypes) {
  EXPECT_EQ(dataset_types(), (std::vector<std::string>{"giantsteps-key", "giantsteps-mtg-key", "manifest", "synthetic"}));
  const std::string msg = error_of([] { load_dataset("giantstep-key", "x", json::object(), "suite.datasets.gs"); });
  EXPECT_HAS(msg, "suite.datasets.gs.type: unknown dataset type \"giantstep-key\"");
  EXPECT_HAS(msg, "did you mean \"giantsteps-key\"?");
  EXPECT_HAS(msg, "giantsteps-key, giantsteps-mtg-key, manifest, synthetic");
  EXPECT_HAS(error_of([] { load_dataset("csv", "x"); }), "known: giantsteps-key, giantsteps-mtg-key, manifest, synthetic");
}

TEST(LoadDataset, DispatchesWithOptionsAndIgnoresTypeAndRoot) {
  const json block = {{"type", "giantsteps-mtg-key"}, {"root", mtg_root().string()}, {"min_confidence", 1},
                      {"valid_fraction", 0.2}, {"split_seed", 7}};
  const Dataset ds = load_dataset("giantsteps-mtg-key", mtg_root(), block, "suite.datasets.mtg");
  EXPECT_EQ(ds.tracks.size(), 1333u);
  MtgKeyOptions o;
  o.min_confidence = 1;
  o.valid_fraction = 0.2;
  o.split_seed = 7;
  const Dataset direct = load_giantsteps_mtg_key(mtg_root(), o);
  ASSERT_EQ(direct.tracks.size(), ds.tracks.size());
  for (size_t i = 0; i < ds.tracks.size(); ++i) EXPECT_EQ(ds.tracks[i].split, direct.tracks[i].split);

  EXPECT_EQ(load_dataset("giantsteps-key", testutil::test_data() / "giantsteps-key").tracks.size(), 604u);
  EXPECT_EQ(load_dataset("giantsteps-key", testutil::test_data() / "giantsteps-key", json()).tracks.size(), 604u);
}

TEST(LoadDataset, OptionErrorsNameTheJsonPath) {
  const std::string p = "suite.datasets.gs";
  std::string msg = error_of([&] { load_dataset("giantsteps-mtg-key", mtg_root(), {{"min_confidence", "2"}}, p); });
  EXPECT_HAS(msg, p + ".min_confidence: expected integer, got");
  EXPECT_HAS(msg, "\"2\"");
  msg = error_of([&] { load_dataset("giantsteps-mtg-key", mtg_root(), {{"min_confidance", 2}}, p); });
  EXPECT_HAS(msg, p + ".min_confidance: unknown key");
  EXPECT_HAS(msg, "min_confidence, ");
  EXPECT_HAS(msg, "did you mean \"min_confidence\"");
  msg = error_of([&] { load_dataset("giantsteps-mtg-key", mtg_root(), {{"min_confidence", 3}}, p); });
  EXPECT_HAS(msg, p + ".min_confidence: 3 is out of range");
  msg = error_of([&] { load_dataset("giantsteps-mtg-key", mtg_root(), {{"valid_fraction", 1.0}}, p); });
  EXPECT_HAS(msg, "valid_fraction must be in [0, 1)");
  msg = error_of([&] { load_dataset("giantsteps-mtg-key", mtg_root(), {{"split_seed", -1}}, p); });
  EXPECT_HAS(msg, p + ".split_seed:");
  msg = error_of([&] { load_dataset("giantsteps-key", "anywhere", {{"min_confidence", 2}}, p); });
  EXPECT_HAS(msg, p + ".min_confidence: unknown key");
  msg = error_of([&] { load_dataset("manifest", "anywhere", {{"manifest", 3}}, p); });
  EXPECT_HAS(msg, p + ".manifest: expected string");
  msg = error_of([&] { load_dataset("giantsteps-key", "anywhere", json::array(), p); });
  EXPECT_HAS(msg, p + ": expected object");

  // Loader errors are prefixed with the dataset's JSON path too.
  TempDir dir("ld-err");
  msg = error_of([&] { load_dataset("giantsteps-key", dir / "none", json::object(), p); });
  EXPECT_HAS(msg, p + ": giantsteps-key: root folder not found: " + (dir / "none").string());
}

TEST(LoadDataset, ManifestFindsItsFile) {
  TempDir dir("ld-man");
  std::string msg = error_of([&] { load_dataset("manifest", dir.path()); });
  EXPECT_HAS(msg, "no manifest.csv, manifest.tsv or manifest.json in " + dir.path().string());

  write_text(dir / "manifest.json", R"([{"path": "j.wav", "key": "C major"}])");
  EXPECT_EQ(load_dataset("manifest", dir.path()).tracks.at(0).id, "j");
  write_text(dir / "manifest.tsv", "path\tkey\nt.wav\tC major\n");
  EXPECT_EQ(load_dataset("manifest", dir.path()).tracks.at(0).id, "t");
  write_text(dir / "manifest.csv", "path,key\nc.wav,C major\n");
  EXPECT_EQ(load_dataset("manifest", dir.path()).tracks.at(0).id, "c");
  EXPECT_EQ(load_dataset("manifest", dir.path(), {{"manifest", "manifest.json"}}).tracks.at(0).id, "j");
  EXPECT_EQ(load_dataset("manifest", dir / "manifest.tsv").tracks.at(0).id, "t");  // root may be the file

  write_text(dir / "bad.csv", "path,key\nc.wav,C major\nd.wav,H major\n");
  msg = error_of([&] { load_dataset("manifest", dir.path(), {{"manifest", "bad.csv"}}, "suite.datasets.m"); });
  EXPECT_HAS(msg, "suite.datasets.m: " + (dir / "bad.csv").string() + ":3: key: not a key: \"H major\"");
}

TEST(LoadDataset, SyntheticRendersOnFirstUseThenReuses) {
  try {
    default_soundfont();
  } catch (const mcpt::Error& e) {
    GTEST_SKIP() << e.what();
  }
  TempDir dir("ld-synth");
  const json block = {{"type", "synthetic"}, {"root", "ignored"}, {"tracks", 24}, {"seconds", 2.0}, {"sample_rate", 16000}};
  const Dataset ds = load_dataset("synthetic", dir / "synth", block, "suite.datasets.synth");
  EXPECT_EQ(ds.type, "synthetic");
  EXPECT_EQ(ds.root, dir / "synth");
  ASSERT_EQ(ds.tracks.size(), 24u);
  EXPECT_TRUE(ds.missing_audio.empty());
  std::set<int> keys;
  for (const auto& t : ds.tracks) keys.insert(t.key.index());
  EXPECT_EQ(keys.size(), 24u);  // balanced over the 24 keys
  EXPECT_FALSE(ds.split("train").empty());
  EXPECT_FALSE(ds.split("test").empty());

  const auto stamp = fs::last_write_time(ds.tracks[0].audio);
  const Dataset again = load_dataset("synthetic", dir / "synth", block, "suite.datasets.synth");
  EXPECT_EQ(fs::last_write_time(again.tracks[0].audio), stamp);  // not rendered again
  ASSERT_EQ(again.tracks.size(), ds.tracks.size());
  for (size_t i = 0; i < ds.tracks.size(); ++i) EXPECT_EQ(again.tracks[i].key, ds.tracks[i].key);

  const std::string msg =
      error_of([&] { load_dataset("synthetic", dir / "synth", {{"trakcs", 24}}, "suite.datasets.synth"); });
  EXPECT_HAS(msg, "suite.datasets.synth.trakcs: unknown key");
}

TEST(Dataset, SplitSelectsByName) {
  Dataset ds;
  for (const char* s : {"train", "valid", "train", "test", ""}) {
    Track t;
    t.id = std::to_string(ds.tracks.size());
    t.split = s;
    ds.tracks.push_back(t);
  }
  EXPECT_EQ(ds.split("train").size(), 2u);
  EXPECT_EQ(ds.split("valid").size(), 1u);
  EXPECT_EQ(ds.split("test").at(0)->id, "3");
  EXPECT_EQ(ds.split("").size(), 5u);
  EXPECT_TRUE(ds.split("holdout").empty());
}

TEST(DatasetSummary, CountsModesSplitsKeysExclusionsAndMissingAudio) {
  const json s = dataset_summary(load_giantsteps_mtg_key(mtg_root()));
  EXPECT_EQ(s["type"], "giantsteps-mtg-key");
  EXPECT_EQ(s["root"], mtg_root().string());
  EXPECT_EQ(s["tracks"], 1159);
  EXPECT_EQ(s["by_mode"]["major"].get<int>() + s["by_mode"]["minor"].get<int>(), 1159);
  EXPECT_FALSE(s["by_mode"].contains("none"));
  EXPECT_EQ(s["by_split"]["train"].get<int>() + s["by_split"]["valid"].get<int>(), 1159);
  EXPECT_EQ(s["by_split"]["valid"], 116);  // round(0.1 * 1159): the greedy group fill hits it exactly here
  int keyed = 0;
  for (const auto& [k, n] : s["by_key"].items()) keyed += n.get<int>();
  EXPECT_EQ(keyed, 1159);
  EXPECT_EQ(s["by_key"].size(), 24u);
  EXPECT_EQ(s["excluded"], (json{{"multiple keys", 63},
                                 {"no key", 72},
                                 {"empty key", 1},
                                 {"ambiguous key", 1},
                                 {"low confidence", 190}}));
  EXPECT_EQ(s["missing_audio"], 1159);

  const json g = dataset_summary(load_giantsteps_key(testutil::test_data() / "giantsteps-key"));
  EXPECT_EQ(g["by_mode"], (json{{"major", 93}, {"minor", 511}}));
  EXPECT_EQ(g["by_split"], (json{{"test", 604}}));
  EXPECT_EQ(g["excluded"], json::object());
  EXPECT_EQ(g["by_key"]["F minor"], 73);  // the files spell flats; names are canonical sharps

  TempDir dir("summary");
  write_text(dir / "m.csv", "path,key,split\na.wav,X,\nb.wav,C major,train\n");
  const json m = dataset_summary(load_manifest(dir / "m.csv"));
  EXPECT_EQ(m["by_mode"], (json{{"major", 1}, {"minor", 0}, {"none", 1}}));
  EXPECT_EQ(m["by_split"], (json{{"train", 1}, {"unassigned", 1}}));
  EXPECT_EQ(m["by_key"], (json{{"C major", 1}, {"X", 1}}));
  EXPECT_EQ(m["missing_audio"], 2);
}

// A file's hash is the FNV-1a of its bytes, however many 1 MiB reads that takes; a file that cannot
// be read is an error naming it, never the hash of nothing.
TEST(FileHash, IsTheHashOfTheBytesAndNamesAnUnreadableFile) {
  TempDir dir("filehash");
  std::string bytes(3 * (1 << 20) + 17, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char((i * 131) % 251);
  write_text(dir / "blob.bin", bytes);
  EXPECT_EQ(file_fnv1a64(dir / "blob.bin", "the blob"), hex64(fnv1a64(bytes)));
  write_text(dir / "empty.bin", "");
  EXPECT_EQ(file_fnv1a64(dir / "empty.bin", "the blob"), hex64(fnv1a64("")));
  const std::string e = error_of([&] { file_fnv1a64(dir / "absent.bin", "the checkpoint"); });
  EXPECT_NE(e.find("absent.bin: cannot read the checkpoint"), std::string::npos) << e;
}
