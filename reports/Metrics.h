// Key-detection metrics over a set of tracks (accuracy, MIREX weighted score, category counts) and
// seeded bootstrap confidence intervals over tracks.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Key.h"

namespace mcpt::reports {

struct TrackPrediction {
  std::string track_id;
  datasets::Key reference;
  datasets::Key estimate;
  double confidence = 0.0;  // probability of the estimate, when a probe gives one
};

struct Interval {
  double low = 0.0;
  double high = 0.0;
};

struct KeyMetrics {
  std::int64_t n_tracks = 0;
  double accuracy = 0.0;
  double weighted_score = 0.0;
  std::map<std::string, std::int64_t> categories;  // correct, fifth, relative, parallel, other
  Interval accuracy_ci;
  Interval weighted_score_ci;
  int bootstrap = 0;  // resamples behind the intervals (0: none computed)
  nlohmann::json to_json() const;
};

struct BootstrapOptions {
  int resamples = 1000;
  double level = 0.95;
  std::uint64_t seed = 1;
};

// Scores every prediction; intervals by the percentile bootstrap over tracks (resamples 0: none).
KeyMetrics score_tracks(const std::vector<TrackPrediction>& predictions, const datasets::ScoreOptions& options,
                        const BootstrapOptions& bootstrap = {});

// Percentile bootstrap interval of the mean of `values`, deterministic for a seed.
Interval bootstrap_mean_ci(const std::vector<double>& values, const BootstrapOptions& options);

struct MeanStd {
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1); 0 for one value
};
MeanStd mean_std(const std::vector<double>& values);

}  // namespace mcpt::reports
