// `mcpt-eval pretrain CONFIG.json`: masked contrastive pre-training of the MCPT ViT (Myna's recipe)
// on any dataset the harness loads, labels unused. Two random crops of a track's log-mel, 90 % of
// each view's tokens dropped, mean-pooled embeddings, NT-Xent or SogCLR, Adam. Every random choice
// of step s is drawn from (seed, s), so a run resumed from its state file follows the unbroken
// run's trajectory exactly. Config keys, outputs and resume rules: docs/pretrain.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/Progress.h"
#include "harness/Suite.h"

namespace mcpt::harness {

struct PretrainConfig {
  std::filesystem::path file;  // the config file (absolute); relative paths resolve against its folder
  std::string name;
  std::uint64_t seed = 1;                // batches, crops, masks; also the initial weights
  std::filesystem::path output;          // run folder: state, model, log (absolute)
  std::filesystem::path cache;           // log-mel cache (absolute); empty: none
  std::vector<DatasetConfig> datasets;   // as a suite's "datasets" block
  std::vector<SplitRef> use;             // tracks to train on; empty: every track of every dataset

  // Model (McptOptions) and front end: stored in every checkpoint, so suites load them as they are.
  std::string patch = "vertical";
  std::int64_t dim = 384, depth = 12, heads = 6, dim_head = 64, mlp_dim = 1536;
  std::string log = "log";              // mel compression: log, log1p, none
  std::int64_t crop_samples = 50000;    // one view: a random crop of this many 16 kHz samples

  double mask_ratio = 0.9;              // fraction of each view's tokens dropped, per row
  std::string loss = "sogclr";          // "sogclr" or "nt-xent"
  double temperature = 0.1;
  double gamma = 0.9;                   // SogCLR moving-average rate
  std::vector<std::int64_t> projection; // projection head widths after the pooled embedding ([]: none)

  std::string optimizer = "adam";       // "adam" (L2 weight decay, as torch.optim.Adam) or "adamw"
  double lr = 3e-4, weight_decay = 1e-5, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::int64_t warmup_steps = 0;        // linear learning-rate warm-up
  std::int64_t batch_size = 64;         // tracks per step (pairs); at most the number of tracks
  std::int64_t steps = 1000;
  std::int64_t checkpoint_every = 100;  // state + model written every this many steps, and at the end
  std::int64_t log_every = 10;

  std::string device = "cpu";           // cpu, cuda, cuda:N, auto
  std::string dtype = "float32";        // float32, or bfloat16 (autocast; weights and Adam stay float32)
  int threads = 0;                      // LibTorch compute threads; 0: its default
  int loader_threads = 0;               // decode + mel threads; 0: all cores

  // Views as the method trains them: clean crops. For ablations, each view may instead be drawn
  // uniformly from the clean track and these deformations (e.g. pitch shifts), rendered once.
  std::vector<nlohmann::json> view_deformations;

  nlohmann::json raw;   // the file's JSON
  std::string hash;     // of everything that shapes the trajectory except "steps" (see docs)

  static PretrainConfig load(const std::filesystem::path& file);
  static PretrainConfig parse(const nlohmann::json& j, const std::filesystem::path& file);
};

struct PretrainOptions {
  bool resume = false;       // continue from output/state.safetensors (same config hash)
  std::int64_t until = -1;   // stop after this step (checkpointed), as if the job's time ran out
  Verbosity verbosity = Verbosity::kNormal;
};

struct PretrainOutcome {
  std::int64_t step = 0;         // steps done in all (resumed ones included)
  std::int64_t steps_this_run = 0;
  double last_loss = 0.0;        // mean over the last logged window
  double examples_per_second = 0.0;  // pairs per second in this run
  int tracks = 0;                // tracks trained on
  int skipped = 0;               // shorter than one crop
  std::filesystem::path model, state, log, record;
};

// Throws mcpt::Error (exit 3) for bad data or a state file that does not match the config, and
// (exit 2) when the output already holds a run and resume was not asked for.
PretrainOutcome pretrain(const PretrainConfig& config, const PretrainOptions& options);

}  // namespace mcpt::harness
