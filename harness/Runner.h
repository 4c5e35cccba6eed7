// The runner: plan -> extract (decode, resample, segment, embed, pool; cached) -> probe (select on
// validation, evaluate once on test) -> score -> report. Every test track is scored or the run fails.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/Pipeline.h"
#include "harness/Progress.h"
#include "harness/Suite.h"

namespace mcpt::harness {

struct RunOptions {
  Verbosity verbosity = Verbosity::kNormal;
  bool dry_run = false;  // print the plan and stop before computing anything
  int threads = 0;       // > 0 overrides the suite
  std::string command_line;
  Shard shard;  // --shard i/N: compute only this share of the extraction work into the cache, no report
};

struct RunOutcome {
  std::filesystem::path report_path;  // empty for a dry run
  nlohmann::json report;
  std::string plan;   // human-readable plan
  std::string table;  // the printed result table
  int shard_computed = 0;  // with --shard: cache entries this shard computed
};

RunOutcome run_suite(const Suite& suite, const RunOptions& options);

// Library versions and build facts for the report's provenance.
nlohmann::json library_versions();
std::string mcpt_version();

}  // namespace mcpt::harness
