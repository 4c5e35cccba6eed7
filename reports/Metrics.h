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

// splitmix64: a small, portable generator, so bootstrap draws are the same on every platform.
struct SplitMix64 {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) {  // uniform in [0, n), unbiased by rejection
    const std::uint64_t limit = ~0ull - (~0ull % n);
    std::uint64_t x;
    do x = next(); while (x >= limit);
    return x % n;
  }
};

// Quantile q of sorted values, linear interpolation between order statistics (numpy's default).
double quantile_sorted(const std::vector<double>& sorted, double q);

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
