// Suite parsing: the shipped configs parse; every kind of mistake is an error naming its JSON path.
#include <algorithm>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "harness/Suite.h"
#include "testutil/TestUtil.h"

using mcpt::harness::Suite;
namespace fs = std::filesystem;

namespace {

nlohmann::json minimal() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "datasets": {"s": {"type": "synthetic", "root": "data/s", "tracks": 48}},
    "protocol": {"train": "s:train", "valid": "s:valid", "test": "s:test"},
    "encoders": [{"type": "chroma"}],
    "probes": [{"type": "linear"}]
  })");
}

std::string error_of(const nlohmann::json& j) {
  try {
    Suite::parse(j, "/tmp/suites/x.json");
  } catch (const mcpt::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Suite, ShippedConfigsParse) {
  for (const char* name : {"demo.json", "giantsteps.json"}) {
    const Suite s = Suite::load(mcpt::testutil::source_dir() / "configs" / name);
    EXPECT_FALSE(s.encoders.empty()) << name;
    EXPECT_FALSE(s.probes.empty()) << name;
    EXPECT_TRUE(s.output.is_absolute());
  }
  const Suite gs = Suite::load(mcpt::testutil::source_dir() / "configs" / "giantsteps.json");
  EXPECT_EQ(gs.protocol.train.text(), "mtg:train");
  EXPECT_EQ(gs.protocol.test.at(0).text(), "gs:test");
  EXPECT_EQ(gs.protocol.aggregation, mcpt::harness::Aggregation::kMeanLogits);
}

TEST(Suite, DefaultsAndRelativePaths) {
  const Suite s = Suite::parse(minimal(), "/tmp/suites/x.json");
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.output, fs::path("/tmp/suites/runs/t"));
  EXPECT_EQ(s.datasets.at("s").root, fs::path("/tmp/suites/data/s"));
  EXPECT_EQ(s.encoders.at(0).name, "chroma");
  EXPECT_EQ(s.statistics.seeds, 1);
  EXPECT_FALSE(s.metric.allow_descending_fifths);
  EXPECT_EQ(s.hash, Suite::parse(minimal(), "/tmp/suites/x.json").hash);
  EXPECT_EQ(s.encoders.at(0).resample, mcpt::datasets::ResampleQuality::kSoxrVhq);
}

TEST(Suite, EncoderResampler) {
  auto j = minimal();
  j["encoders"][0]["resample"] = "sinc_best";
  EXPECT_EQ(Suite::parse(j, "/tmp/suites/x.json").encoders.at(0).resample, mcpt::datasets::ResampleQuality::kBest);
  j["encoders"][0]["resample"] = "soxr";
  const std::string e = error_of(j);
  EXPECT_NE(e.find("suite.encoders[0].resample: unknown resampler \"soxr\""), std::string::npos) << e;
  j["encoders"][0]["resample"] = 3;
  EXPECT_NE(error_of(j).find("suite.encoders[0].resample"), std::string::npos) << error_of(j);
}

TEST(Suite, ErrorsNameTheJsonPath) {
  auto j = minimal();
  j["nmae"] = 1;
  EXPECT_NE(error_of(j).find("suite.nmae: unknown key"), std::string::npos);
  j = minimal();
  j["seed"] = "one";
  EXPECT_NE(error_of(j).find("suite.seed: expected integer, got string \"one\""), std::string::npos);
  j = minimal();
  j.erase("datasets");
  EXPECT_NE(error_of(j).find("suite.datasets: missing required key"), std::string::npos);
  j = minimal();
  j["encoders"][0]["type"] = "crhoma";
  EXPECT_NE(error_of(j).find("suite.encoders[0].type: unknown encoder type \"crhoma\" (did you mean \"chroma\""),
            std::string::npos);
  j = minimal();
  j["datasets"]["s"]["type"] = "giantstep-key";
  EXPECT_NE(error_of(j).find("suite.datasets.s.type: unknown dataset type"), std::string::npos);
  j = minimal();
  j["protocol"]["train"] = "q:train";
  EXPECT_NE(error_of(j).find("suite.protocol.train: unknown dataset \"q\""), std::string::npos);
  j = minimal();
  j["protocol"]["valid"] = "s:validation";
  EXPECT_NE(error_of(j).find("suite.protocol.valid: unknown split"), std::string::npos);
  j = minimal();
  j["protocol"]["test"] = "s:train";
  EXPECT_NE(error_of(j).find("overlaps the training"), std::string::npos);
  j = minimal();
  j["encoders"].push_back({{"type", "chroma"}});
  EXPECT_NE(error_of(j).find("suite.encoders[1].name: duplicate encoder name"), std::string::npos);
  j = minimal();
  j["probes"].push_back({{"type", "linear"}});
  EXPECT_NE(error_of(j).find("suite.probes[1]: duplicate probe"), std::string::npos);
  j = minimal();
  j["statistics"] = {{"seeds", 0}};
  EXPECT_NE(error_of(j).find("suite.statistics.seeds: 0 is out of range"), std::string::npos);
  j = minimal();
  j["protocol"]["aggregation"] = "max";
  EXPECT_NE(error_of(j).find("suite.protocol.aggregation"), std::string::npos);
  j = minimal();
  j["encoders"] = nlohmann::json::array();
  EXPECT_NE(error_of(j).find("suite.encoders: expected a non-empty array"), std::string::npos);
  EXPECT_NE(error_of(nlohmann::json::array()).find("suite: expected object"), std::string::npos);
}

TEST(Suite, FileErrorsNameTheFile) {
  mcpt::testutil::TempDir dir("suite");
  try {
    Suite::load(dir / "absent.json");
    FAIL();
  } catch (const mcpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.json: no such suite file"), std::string::npos);
  }
  mcpt::testutil::write_text(dir / "broken.json", "{\"name\": ");
  try {
    Suite::load(dir / "broken.json");
    FAIL();
  } catch (const mcpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json: not valid JSON"), std::string::npos);
  }
  auto j = minimal();
  j["probes"][0]["lr"] = -1;
  mcpt::testutil::write_text(dir / "bad.json", j.dump());
  try {
    Suite::load(dir / "bad.json");
    FAIL();
  } catch (const mcpt::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: suite.probes[0].lr"), std::string::npos);
  }
}

// Names and keys come from the user's file and may hold control characters; every message must
// stay one line without raw control bytes (the libFuzzer contract, tests/fuzz/FuzzUtil.h), with the
// name escaped as in a JSON path ("suite.datasets.a\nb").
TEST(Suite, ControlCharactersInNamesAreEscapedInErrors) {
  auto raw_control = [](const std::string& m) {
    return std::any_of(m.begin(), m.end(), [](char c) {
      return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f';
    });
  };
  auto expect_escaped = [&](const nlohmann::json& j, const std::string& part) {
    const std::string m = error_of(j);
    EXPECT_FALSE(raw_control(m)) << nlohmann::json(m).dump();
    EXPECT_NE(m.find(part), std::string::npos) << nlohmann::json(m).dump() << " lacks " << part;
  };
  // A dataset name in the path of its block's errors.
  auto j = minimal();
  j["datasets"]["a\nb"] = {{"type", "synthetic"}, {"root", "x"}, {"colour", 1}};
  j["datasets"]["a\nb"]["type"] = "bogus";
  expect_escaped(j, "suite.datasets.a\\nb.type: unknown dataset type");
  j = minimal();
  j["datasets"]["a\nb"] = {{"type", "synthetic"}};
  expect_escaped(j, "suite.datasets.a\\nb.root: missing required key");
  j = minimal();
  j["datasets"]["a\x01"] = 3;
  expect_escaped(j, "suite.datasets.a\\x01: expected object");
  // Known names listed after an unknown one.
  j = minimal();
  j["datasets"]["s\x02"] = j["datasets"]["s"];
  j["protocol"]["train"] = "q:train";
  expect_escaped(j, "known: s, s\\x02");
  // Duplicate names, references and overlapping splits quote the user's text.
  j = minimal();
  j["encoders"] = {{{"type", "chroma"}, {"name", "e\r"}}, {{"type", "chroma"}, {"name", "e\r"}}};
  expect_escaped(j, "duplicate encoder name \"e\\r\"");
  j = minimal();
  j["probes"] = {{{"type", "linear"}, {"name", "p\n"}}, {{"type", "linear"}, {"name", "p\n"}}};
  expect_escaped(j, "suite.probes[1]: duplicate probe \"p\\n\"");
  j = minimal();
  j["statistics"] = {{"reference", "x\ny/linear"}};
  expect_escaped(j, "suite.statistics.reference: \"x\\ny/linear\"");
  j = minimal();
  j["datasets"]["d\x1b"] = j["datasets"]["s"];
  j["protocol"] = {{"train", "d\x1b:train"}, {"valid", "d\x1b:valid"}, {"test", "d\x1b:train"}};
  expect_escaped(j, "\"d\\x1b:train\" overlaps");
  j = minimal();
  j["encoders"][0]["name"] = "c\x7f";
  j["robustness"] = {{"encoders", {"chroma"}}};
  expect_escaped(j, "known: c\\x7f");
}

// Known gap (reported to the integrator; augment/ is not this test's owner): a key inside a random
// deformation's spec is put raw into the JSON path of its error (augment/Chain.cpp,
// find_distributions), so this message has a line break. Enable when that path escapes the key.
TEST(Suite, ControlCharactersInDeformationKeysAreEscaped) {
  auto j = minimal();
  j["robustness"] = {{"sweeps", {{{"type", "pitch_shift"}, {"parameter", "semitones"}, {"values", {2}}}}},
                     {"training_augmentation",
                      {{"type", "random"}, {"deformation", "pitch_shift"}, {"se\nmitones", {{"uniform", {1}}}}}}};
  const std::string m = error_of(j);
  EXPECT_EQ(m.find('\n'), std::string::npos) << nlohmann::json(m).dump();
  EXPECT_NE(m.find("suite.robustness.training_augmentation.se\\nmitones.uniform"), std::string::npos)
      << nlohmann::json(m).dump();
}
