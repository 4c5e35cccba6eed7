// The suite: what to evaluate, parsed from suite.json into typed structs. Every error names its JSON
// path; relative paths resolve against the suite file's folder; defaults are filled here.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Key.h"
#include "probes/Probe.h"

namespace mcpt::harness {

struct DatasetConfig {
  std::string name;
  std::string type;
  std::filesystem::path root;  // absolute
  nlohmann::json options;      // the whole block (type and root included), checked by the loader
};

struct SplitRef {
  std::string dataset;
  std::string split;  // "train", "valid", "test", or "" for every track of the dataset
  std::string text() const { return split.empty() ? dataset : dataset + ":" + split; }
};

enum class Aggregation { kMeanLogits, kMajorityVote };
std::string aggregation_name(Aggregation a);  // "mean_logits", "majority_vote"

struct Protocol {
  SplitRef train, valid;
  std::vector<SplitRef> test;
  Aggregation aggregation = Aggregation::kMeanLogits;  // fixed before seeing test results
};

struct EncoderConfig {
  std::string name;
  std::string type;
  std::string pooling = "mean";  // per segment over frames: "mean" or "mean+std"
  nlohmann::json options;        // the whole entry, re-read by the encoder's factory
  std::string path;              // JSON path, for messages ("suite.encoders[1]")
};

struct Statistics {
  int seeds = 1;         // probe trainings per (encoder, probe), each with its own seed
  int bootstrap = 1000;  // resamples for 95 % confidence intervals (0: none)
};

struct Suite {
  std::filesystem::path file;  // the suite file (absolute)
  std::string name;
  std::uint64_t seed = 1;
  std::filesystem::path output;  // absolute
  std::filesystem::path cache;   // absolute; empty disables the embedding cache
  std::map<std::string, DatasetConfig> datasets;
  Protocol protocol;
  std::vector<EncoderConfig> encoders;
  std::vector<probes::ProbeConfig> probes;
  datasets::ScoreOptions metric;
  Statistics statistics;
  int threads = 0;  // 0: all cores
  nlohmann::json raw;
  std::string hash;  // of the canonical JSON text

  static Suite load(const std::filesystem::path& file);
  static Suite parse(const nlohmann::json& j, const std::filesystem::path& file);
};

}  // namespace mcpt::harness
