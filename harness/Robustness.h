// Robustness analyses (the suite's `robustness` block): how an encoder's key information survives
// deformations of the audio. Six analyses per encoder, each figure with a bootstrap CI over tracks:
// accuracy vs strength (moved and original label), key-shift consistency, embedding invariance
// (cosine, linear CKA) against control conditions, decodability of the applied shift, a train-shift x
// test-shift matrix, and training-time pitch augmentation. docs/robustness.md describes each.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/Pipeline.h"
#include "harness/Suite.h"
#include "probes/Probe.h"
#include "reports/Metrics.h"

namespace mcpt::harness {

enum class Role { kTrain, kValid, kTest };

// Every condition the analyses need, built once from the suite so the analyses and `--shard`
// enumerate exactly the same work (and hit the same cache entries).
struct RobustnessConditions {
  struct SweepConditions {
    Sweep sweep;
    std::vector<Condition> points;  // one per value
  };
  std::vector<SweepConditions> sweeps;
  std::vector<Condition> controls;        // rubberband_0, round_trip, resample_shift
  std::vector<Condition> decodability;    // pitch shifts, applied to train, valid and test
  std::vector<Condition> train_shifts;    // non-zero train shifts (train and valid)
  std::vector<Condition> augmentation;    // one per augmented copy of the training split
  static RobustnessConditions build(const Robustness& r);
  Condition pitch(double semitones) const;  // a pitch_shift condition with the control options
  nlohmann::json pitch_options;
};

// The extraction passes the analyses need: per split (indexed by Role), its distinct conditions
// (by spec, first occurrence kept) in a fixed order. run_robustness extracts exactly these, one pass
// per split, and `--shard` enumerates the same passes, so shards fill the entries the run reads.
struct RobustnessPasses {
  std::vector<Condition> by_role[3];
  const std::vector<Condition>& operator[](Role role) const { return by_role[static_cast<int>(role)]; }
};
RobustnessPasses robustness_passes(const Robustness& r, const RobustnessConditions& c);

struct RobustnessInput {
  const Suite* suite = nullptr;
  ExtractContext cx;  // layers: the one layer analysed
  std::vector<const datasets::Track*> train, valid, test;
  std::string test_name;           // e.g. "synth:test"
  Features ftrain, fvalid;         // clean, that layer
  Extracted clean_test;            // clean test extraction, that layer in slot 0
  const probes::ProbeConfig* chosen = nullptr;  // the configuration chosen on validation
  const probes::Probe* probe = nullptr;         // trained on clean training data with it
  std::uint64_t seed = 1;
  std::string encoder, probe_label;
  int layer = 0;
  reports::BootstrapOptions boot;
};

// Runs every enabled analysis for one encoder and appends its entries to `out` (the report's
// "robustness" object, whose arrays are created on first use).
void run_robustness(const RobustnessInput& in, const RobustnessConditions& conds, nlohmann::json& out);

// Linear CKA (Kornblith et al. 2019) between two representations of the same items (rows).
double linear_cka(const probes::Matrix& x, const probes::Matrix& y);

}  // namespace mcpt::harness
