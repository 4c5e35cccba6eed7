#include "reports/Metrics.h"

#include <algorithm>
#include <cmath>

#include "datasets/Error.h"

namespace mcpt::reports {

double quantile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  const double pos = q * double(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

Interval bootstrap_mean_ci(const std::vector<double>& values, const BootstrapOptions& options) {
  if (values.empty() || options.resamples <= 0) return {};
  SplitMix64 rng{options.seed};
  std::vector<double> means(static_cast<size_t>(options.resamples));
  const size_t n = values.size();
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += values[rng.below(n)];
    m = s / double(n);
  }
  std::sort(means.begin(), means.end());
  const double a = (1.0 - options.level) / 2.0;
  return {quantile_sorted(means, a), quantile_sorted(means, 1.0 - a)};
}

KeyMetrics score_tracks(const std::vector<TrackPrediction>& predictions, const datasets::ScoreOptions& options,
                        const BootstrapOptions& bootstrap) {
  KeyMetrics m;
  for (auto r : datasets::kAllRelations) m.categories[datasets::relation_name(r)] = 0;
  std::vector<double> correct, weighted;
  for (const auto& p : predictions) {
    const auto rel = datasets::key_relation(p.reference, p.estimate, options);
    m.categories[datasets::relation_name(rel)]++;
    correct.push_back(rel == datasets::KeyRelation::kCorrect ? 1.0 : 0.0);
    weighted.push_back(datasets::weighted_score(p.reference, p.estimate, options));
  }
  m.n_tracks = static_cast<std::int64_t>(predictions.size());
  if (m.n_tracks == 0) return m;
  for (size_t i = 0; i < correct.size(); ++i) {
    m.accuracy += correct[i];
    m.weighted_score += weighted[i];
  }
  m.accuracy /= double(m.n_tracks);
  m.weighted_score /= double(m.n_tracks);
  if (bootstrap.resamples > 0) {
    m.bootstrap = bootstrap.resamples;
    m.accuracy_ci = bootstrap_mean_ci(correct, bootstrap);
    // The same resampled track sets for both figures: same seed.
    m.weighted_score_ci = bootstrap_mean_ci(weighted, bootstrap);
  }
  return m;
}

nlohmann::json KeyMetrics::to_json() const {
  nlohmann::json j = {{"n_tracks", n_tracks},
                      {"accuracy", accuracy},
                      {"weighted_score", weighted_score},
                      {"categories", categories}};
  if (bootstrap > 0) {
    j["accuracy_ci95"] = {accuracy_ci.low, accuracy_ci.high};
    j["weighted_score_ci95"] = {weighted_score_ci.low, weighted_score_ci.high};
    j["bootstrap_resamples"] = bootstrap;
  }
  return j;
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd r;
  if (values.empty()) return r;
  for (double v : values) r.mean += v;
  r.mean /= double(values.size());
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - r.mean) * (v - r.mean);
    r.std = std::sqrt(ss / double(values.size() - 1));
  }
  return r;
}

}  // namespace mcpt::reports
