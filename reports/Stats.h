// Paired statistics for comparing two systems on the same test tracks: paired bootstrap of the
// difference (CI and two-sided p), approximate randomisation, McNemar's test; and paired_comparisons(),
// which runs them on the per-track predictions of a report (so old reports can be compared post hoc).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/Metrics.h"

namespace mcpt::reports {

struct PairedDifference {
  std::int64_t n = 0;
  double difference = 0.0;  // mean(a) - mean(b)
  Interval ci;              // percentile bootstrap interval of the difference (resamples 0: {0, 0})
  double p_value = 1.0;     // two-sided, H0: no difference
};

// Paired bootstrap over items: resamples item indices (the same indices for a and b) and takes the
// difference of means. The p-value is the shift-method test (Efron & Tibshirani 1993, 16.4): the
// share of centred resampled differences at least as far from 0 as the observed one, (1 + k) / (R + 1).
// Deterministic for options.seed; two calls with the same seed and n draw the same indices.
PairedDifference paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b,
                                  const BootstrapOptions& options);

// Approximate randomisation (paired permutation) test: under H0 the labels "a" and "b" of each item
// are exchangeable, so each item's difference flips sign with probability 1/2. Two-sided p-value
// (1 + k) / (R + 1). The exact version enumerates all 2^n flips (n <= 24).
double randomization_p_value(const std::vector<double>& a, const std::vector<double>& b, int permutations,
                             std::uint64_t seed);
double exact_randomization_p_value(const std::vector<double>& a, const std::vector<double>& b);

struct McNemarResult {
  std::int64_t only_a = 0;  // items a got right and b wrong
  std::int64_t only_b = 0;  // items b got right and a wrong
  double statistic = 0.0;   // chi-square statistic (with continuity correction); 0 for the exact test
  double p_value = 1.0;     // two-sided
  std::string method;       // "exact" (binomial, when only_a + only_b < exact_below) or "chi2_cc"
};
// McNemar's test from the discordant counts. exact_below: below this many discordant items the exact
// binomial test is used (the chi-square approximation is poor there), else chi-square with Edwards'
// continuity correction, (|b - c| - 1)^2 / (b + c), 1 degree of freedom.
McNemarResult mcnemar(std::int64_t only_a, std::int64_t only_b, std::int64_t exact_below = 25);
McNemarResult mcnemar(const std::vector<bool>& a_correct, const std::vector<bool>& b_correct,
                      std::int64_t exact_below = 25);

// Survival function of chi-square with one degree of freedom, and the exact two-sided binomial
// sign-test p-value for k successes in n trials at p = 1/2.
double chi2_1_sf(double x);
double binomial_two_sided_p(std::int64_t k, std::int64_t n);

struct ComparisonOptions {
  double alpha = 0.05;       // significance level for the markers
  int resamples = 10000;     // paired bootstrap (0: no bootstrap CIs or p)
  int permutations = 10000;  // approximate randomisation (0: none)
  double level = 0.95;       // confidence level of the difference intervals
  std::uint64_t seed = 1;
};

// Which results are the table's rows: every result, except that results differing only by "layer"
// (a layer sweep of one encoder and probe on one test split) are represented by one of them: the
// one marked "layer_selected": true, else the one with the highest selection.valid_score (layer
// chosen on validation, never on test). Indices into report["results"], in report order.
std::vector<size_t> headline_rows(const nlohmann::json& report);

// "encoder/probe" (plus "@layer" when the result has a layer): names a row in messages and options.
std::string row_label(const nlohmann::json& result);

// Compares every headline row against the reference row of its test split, on the per-track
// predictions of the report (first seed). `reference`: "encoder/probe", "encoder/probe@layer", or
// "encoder" when that encoder has one headline row on the split; "" = the first row of each split.
// Returns {"reference", "alpha", "level", "resamples", "permutations", "seed", "basis", "rows": [...]},
// one entry per compared row (the reference itself is not listed). Errors name the result and field.
nlohmann::json paired_comparisons(const nlohmann::json& report, const std::string& reference,
                                  const ComparisonOptions& options = {});

}  // namespace mcpt::reports
