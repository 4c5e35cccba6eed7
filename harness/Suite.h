// The suite: what to evaluate, parsed from suite.json into typed structs. Every error names its JSON
// path; relative paths resolve against the suite file's folder; defaults are filled here.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
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
  // How audio is brought to the encoder's sample rate ("resample": soxr_vhq, the default, soxr_hq,
  // sinc_best, sinc_medium, sinc_fastest; datasets/Audio.h). Part of every cache key.
  datasets::ResampleQuality resample = datasets::ResampleQuality::kSoxrVhq;
  nlohmann::json options;        // the whole entry, re-read by the encoder's factory
  std::string path;              // JSON path, for messages ("suite.encoders[1]")
  // Layers to probe: indices into the encoder's layers, negative counting from the end ("layer": -1,
  // the default, is the last); "layers": [..] or "all" probes each one (a layer sweep).
  std::vector<int> layers = {-1};
  bool all_layers = false;
};

// One robustness sweep: a deformation type, the parameter varied and its values (strengths).
struct Sweep {
  std::string type;        // deformation type, e.g. "pitch_shift"
  std::string parameter;   // e.g. "semitones"
  std::string unit;        // axis label unit, e.g. "semitones", "dB SNR"
  std::vector<double> values;
  nlohmann::json options = nlohmann::json::object();  // fixed options of the deformation
  nlohmann::json spec_at(double value) const;          // the deformation spec at one strength
};

// The `robustness` block: analyses of how each encoder's key information survives deformations
// of the test audio (docs/robustness.md). Empty `sweeps` with enabled=false: no analyses.
struct Robustness {
  bool enabled = false;
  std::vector<std::string> encoders;  // encoder names; empty: every encoder
  std::string probe;                  // probe label whose clean-trained probe is scored; default the first trainable
  std::vector<Sweep> sweeps;
  bool controls = true;               // Rubber Band at 0 st, a +k/-k round trip, resample_shift by +k
  double control_semitones = 3;       // the k of the controls
  nlohmann::json control_options = nlohmann::json::object();  // pitch_shift options for the controls
  bool consistency = true;            // key-shift consistency over the pitch_shift sweep
  bool invariance = true;             // cosine / linear CKA of clean vs deformed embeddings
  std::vector<double> decodability;   // pitch shifts whose identity a probe must recover (empty: off)
  std::vector<double> train_shifts;   // train-shift x test-shift matrix rows (empty: off)
  nlohmann::json training_augmentation;  // a random deformation for the training split (null: off)
  int augmentation_copies = 2;        // deformed copies of each training track
};

struct Statistics {
  int seeds = 1;         // probe trainings per (encoder, probe), each with its own seed
  int bootstrap = 1000;  // resamples for 95 % confidence intervals (0: none)
  std::string reference;  // row the paired tests compare against ("encoder/probe"); "" = first row
  double alpha = 0.05;    // significance level of the table's markers
};

// A figure quoted from a paper (fractions in [0, 1]); reported in a block of its own, never as a
// measured row.
struct PublishedFigure {
  std::string name, dataset, source, note;
  double accuracy = -1.0, weighted_score = -1.0;  // -1: not given
  nlohmann::json to_json() const;
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
  std::vector<PublishedFigure> published;
  int threads = 0;  // 0: all cores
  Robustness robustness;
  nlohmann::json raw;
  std::string hash;  // of the canonical JSON text

  static Suite load(const std::filesystem::path& file);
  static Suite parse(const nlohmann::json& j, const std::filesystem::path& file);
};

}  // namespace mcpt::harness
