// Paired statistics: bootstrap intervals against exact enumeration and analytic variances, the null
// rejection rate and power of the paired tests over many simulated data sets, McNemar against values
// from scipy, and paired comparisons computed from a report's per-track predictions.
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "reports/Metrics.h"
#include "reports/Stats.h"
#include "testutil/TestUtil.h"

using namespace mcpt::reports;

namespace {

// Exact bootstrap distribution of the mean of n values: all n^n equally likely resamples.
std::vector<double> exact_bootstrap_means(const std::vector<double>& v) {
  const size_t n = v.size();
  size_t total = 1;
  for (size_t i = 0; i < n; ++i) total *= n;
  std::vector<double> means;
  for (size_t code = 0; code < total; ++code) {
    size_t c = code;
    double s = 0;
    for (size_t i = 0; i < n; ++i, c /= n) s += v[c % n];
    means.push_back(s / double(n));
  }
  std::sort(means.begin(), means.end());
  return means;
}

// Smallest m with P(mean <= m) >= p, on the exact distribution.
double exact_quantile(const std::vector<double>& sorted, double p) {
  const size_t k = static_cast<size_t>(std::ceil(p * double(sorted.size())));
  return sorted[std::min(sorted.size() - 1, k == 0 ? 0 : k - 1)];
}

// Two systems on n tracks with equal marginal accuracy `p` (H0 true) or different ones; outcomes
// correlated as in real comparisons (both see the same hard tracks): with probability `shared` b
// copies a's outcome before its own accuracy is matched.
struct Pair {
  std::vector<double> a, b;
};
Pair simulate(size_t n, double pa, double pb, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  Pair p;
  for (size_t i = 0; i < n; ++i) {
    const double z = u(rng);  // shared difficulty
    const double za = 0.5 * z + 0.5 * u(rng), zb = 0.5 * z + 0.5 * u(rng);
    // za, zb have the same (triangular) distribution; thresholds at its quantiles give accuracies pa, pb.
    auto quantile = [](double q) { return q < 0.5 ? std::sqrt(q / 2) : 1 - std::sqrt((1 - q) / 2); };
    p.a.push_back(za < quantile(pa) ? 1.0 : 0.0);
    p.b.push_back(zb < quantile(pb) ? 1.0 : 0.0);
  }
  return p;
}

}  // namespace

TEST(Stats, BootstrapIntervalMatchesExactEnumeration) {
  // n = 6: 46,656 equally likely resamples, enumerated. The Monte Carlo percentile interval must lie
  // between the exact quantiles at 1.8 % / 3.2 % (and 96.8 % / 98.2 %): a tolerance of about four
  // standard errors of a tail probability estimated from 40,000 resamples.
  const std::vector<double> v = {0.0, 0.2, 0.3, 0.5, 1.0, 1.0};
  const auto exact = exact_bootstrap_means(v);
  const auto ci = bootstrap_mean_ci(v, {40000, 0.95, 3});
  EXPECT_GE(ci.low, exact_quantile(exact, 0.018));
  EXPECT_LE(ci.low, exact_quantile(exact, 0.032));
  EXPECT_GE(ci.high, exact_quantile(exact, 0.968));
  EXPECT_LE(ci.high, exact_quantile(exact, 0.982));
  EXPECT_LT(exact_quantile(exact, 0.032), exact_quantile(exact, 0.968));  // the check is not vacuous
}

TEST(Stats, BernoulliIntervalMatchesNormalApproximationForLargeN) {
  std::vector<double> v;
  for (int i = 0; i < 4000; ++i) v.push_back(i % 10 < 3 ? 1.0 : 0.0);  // p = 0.3 exactly
  const auto ci = bootstrap_mean_ci(v, {4000, 0.95, 11});
  const double half = 1.959964 * std::sqrt(0.3 * 0.7 / 4000);  // 0.0142
  EXPECT_NEAR((ci.low + ci.high) / 2, 0.3, 0.002);
  EXPECT_NEAR((ci.high - ci.low) / 2, half, 0.07 * half);
}

TEST(Stats, PairedBootstrapMatchesTheAnalyticVarianceOfTheDifference) {
  // 2000 tracks: 200 only a correct, 120 only b correct, the rest concordant.
  std::vector<double> a(2000, 0.0), b(2000, 0.0);
  for (int i = 0; i < 200; ++i) a[size_t(i)] = 1;
  for (int i = 200; i < 320; ++i) b[size_t(i)] = 1;
  for (int i = 320; i < 1400; ++i) a[size_t(i)] = b[size_t(i)] = 1;
  const auto d = paired_bootstrap(a, b, {5000, 0.95, 5});
  EXPECT_EQ(d.n, 2000);
  EXPECT_DOUBLE_EQ(d.difference, 0.04);
  const double se = std::sqrt((0.16 - 0.04 * 0.04) / 2000);  // var(d_i) = P(discordant) - mean^2
  EXPECT_NEAR(d.ci.low, 0.04 - 1.959964 * se, 0.0015);
  EXPECT_NEAR(d.ci.high, 0.04 + 1.959964 * se, 0.0015);
  EXPECT_LT(d.p_value, 0.001);  // z = 4.5
  // Unpaired resampling would ignore the 1080 concordant tracks' correlation: the paired interval
  // is much narrower than the sum of the two separate intervals' half-widths.
  const auto ia = bootstrap_mean_ci(a, {5000, 0.95, 5}), ib = bootstrap_mean_ci(b, {5000, 0.95, 5});
  EXPECT_LT(d.ci.high - d.ci.low, 0.8 * ((ia.high - ia.low) + (ib.high - ib.low)) / std::sqrt(2.0));
  // Deterministic for a seed; a different seed moves the interval a little.
  const auto again = paired_bootstrap(a, b, {5000, 0.95, 5});
  EXPECT_EQ(again.ci.low, d.ci.low);
  EXPECT_EQ(again.p_value, d.p_value);
  EXPECT_NE(paired_bootstrap(a, b, {5000, 0.95, 6}).ci.low, d.ci.low);
}

TEST(Stats, PairedTestsRejectAPlantedNullAtTheNominalRate) {
  // 500 simulated comparisons with equal accuracy (H0 true). At alpha = 0.05 the rejection rate must
  // be within three binomial standard errors of 0.05: sqrt(0.05 * 0.95 / 500) = 0.0097.
  std::mt19937_64 rng(2024);
  const int sims = 500;
  int boot = 0, perm = 0, mcn = 0;
  for (int s = 0; s < sims; ++s) {
    const auto p = simulate(200, 0.7, 0.7, rng);
    boot += paired_bootstrap(p.a, p.b, {500, 0.95, std::uint64_t(s)}).p_value < 0.05;
    perm += randomization_p_value(p.a, p.b, 1000, std::uint64_t(s)) < 0.05;
    std::vector<bool> ca(p.a.begin(), p.a.end()), cb(p.b.begin(), p.b.end());
    mcn += mcnemar(ca, cb).p_value < 0.05;
  }
  const double tol = 3 * std::sqrt(0.05 * 0.95 / sims);
  std::printf("null rejection rates at alpha 0.05: bootstrap %.3f, randomisation %.3f, McNemar %.3f\n",
              double(boot) / sims, double(perm) / sims, double(mcn) / sims);
  EXPECT_NEAR(double(boot) / sims, 0.05, tol) << "paired bootstrap";
  EXPECT_NEAR(double(perm) / sims, 0.05, tol) << "approximate randomisation";
  // McNemar with continuity correction is conservative by design: at most the nominal rate.
  EXPECT_LE(double(mcn) / sims, 0.05 + tol) << "McNemar";
  EXPECT_GT(double(mcn) / sims, 0.01) << "McNemar";
}

TEST(Stats, PairedTestsDetectAPlantedDifference) {
  // 80 % vs 68 % accuracy on 300 tracks: every test should reject in nearly every data set.
  std::mt19937_64 rng(7);
  const int sims = 100;
  int boot = 0, perm = 0, mcn = 0;
  for (int s = 0; s < sims; ++s) {
    const auto p = simulate(300, 0.80, 0.68, rng);
    boot += paired_bootstrap(p.a, p.b, {500, 0.95, std::uint64_t(s)}).p_value < 0.05;
    perm += randomization_p_value(p.a, p.b, 500, std::uint64_t(s)) < 0.05;
    std::vector<bool> ca(p.a.begin(), p.a.end()), cb(p.b.begin(), p.b.end());
    mcn += mcnemar(ca, cb).p_value < 0.05;
  }
  EXPECT_GE(boot, 90);
  EXPECT_GE(perm, 90);
  EXPECT_GE(mcn, 90);
  // The sign of the difference and its interval follow the planted effect.
  const auto p = simulate(300, 0.80, 0.68, rng);
  const auto d = paired_bootstrap(p.a, p.b, {2000, 0.95, 1});
  EXPECT_GT(d.difference, 0.0);
  EXPECT_LT(d.ci.low, d.difference);
  EXPECT_GT(d.ci.high, d.difference);
}

TEST(Stats, RandomizationMatchesExactEnumeration) {
  const std::vector<double> a = {1, 1, 0.5, 1, 0.3, 1, 1, 0, 1, 1, 0.2, 1, 1, 0.5};
  const std::vector<double> b = {0, 1, 0.5, 0, 0.3, 1, 0.5, 0, 0, 1, 0.0, 1, 0.3, 0.5};
  const double exact = exact_randomization_p_value(a, b);
  const double mc = randomization_p_value(a, b, 40000, 9);
  EXPECT_NEAR(mc, exact, 0.006);  // 4 standard errors at p ~ 0.1
  EXPECT_GT(exact, 0.0);
  EXPECT_LT(exact, 0.2);
  // Exact by hand for a tiny case: differences {1, 1, 1}: only the all-kept and all-flipped of the
  // eight sign patterns reach |sum| = 3.
  EXPECT_DOUBLE_EQ(exact_randomization_p_value({1, 1, 1}, {0, 0, 0}), 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(randomization_p_value(a, a, 100, 1), 1.0);
}

TEST(Stats, McNemarMatchesKnownValues) {
  // scipy.stats.binomtest(2, 12, 0.5).pvalue = 0.03857421875 = 2 * (1 + 12 + 66) / 4096
  auto r = mcnemar(10, 2);
  EXPECT_EQ(r.method, "exact");
  EXPECT_NEAR(r.p_value, 0.03857421875, 1e-14);
  EXPECT_EQ(mcnemar(2, 10).p_value, r.p_value);  // symmetric
  // (|25 - 10| - 1)^2 / 35 = 5.6; scipy.stats.chi2.sf(5.6, 1) = 0.01796047752607879
  r = mcnemar(25, 10);
  EXPECT_EQ(r.method, "chi2_cc");
  EXPECT_DOUBLE_EQ(r.statistic, 5.6);
  EXPECT_NEAR(r.p_value, 0.01796047752607879, 1e-12);
  // The switch: 24 discordant items exact, 25 chi-square.
  EXPECT_EQ(mcnemar(12, 12).method, "exact");
  EXPECT_DOUBLE_EQ(mcnemar(12, 12).p_value, 1.0);
  EXPECT_EQ(mcnemar(13, 12).method, "chi2_cc");
  EXPECT_DOUBLE_EQ(mcnemar(13, 12).p_value, 1.0);  // |b - c| - 1 = 0
  EXPECT_DOUBLE_EQ(mcnemar(0, 0).p_value, 1.0);
  EXPECT_DOUBLE_EQ(binomial_two_sided_p(0, 5), 2.0 / 32.0);
  // scipy.stats.binomtest(40, 100).pvalue = 0.056887933640980
  EXPECT_NEAR(binomial_two_sided_p(40, 100), 0.05688793364098, 1e-10);
  EXPECT_NEAR(chi2_1_sf(3.841458820694124), 0.05, 1e-12);
  // From correctness vectors: a right / b wrong twice, the reverse once.
  r = mcnemar(std::vector<bool>{true, true, false, true, false}, std::vector<bool>{false, false, true, true, false});
  EXPECT_EQ(r.only_a, 2);
  EXPECT_EQ(r.only_b, 1);
  EXPECT_THROW(mcnemar(std::vector<bool>{true}, std::vector<bool>{}), mcpt::Error);
  EXPECT_THROW(paired_bootstrap({1.0}, {1.0, 0.0}, {}), mcpt::Error);
}

// --- Paired comparisons from a report.
namespace {

nlohmann::json result(const std::string& enc, const std::string& probe, const std::vector<std::string>& relations,
                      const std::string& split = "test") {
  static const std::map<std::string, double> score = {
      {"correct", 1.0}, {"fifth", 0.5}, {"relative", 0.3}, {"parallel", 0.2}, {"other", 0.0}};
  nlohmann::json preds = nlohmann::json::array();
  for (size_t t = 0; t < relations.size(); ++t)
    preds.push_back({{"id", "t" + std::to_string(t)}, {"relation", relations[t]}, {"score", score.at(relations[t])}});
  return {{"dataset", "synth"}, {"split", split}, {"encoder", enc}, {"probe", probe}, {"predictions", preds}};
}

std::vector<std::string> relations(size_t n, size_t correct, const std::string& wrong = "other") {
  std::vector<std::string> r(n, wrong);
  for (size_t i = 0; i < correct; ++i) r[i] = "correct";
  return r;
}

}  // namespace

TEST(Stats, PairedComparisonsFromReportPredictions) {
  nlohmann::json report = {{"results", nlohmann::json::array()}};
  report["results"].push_back(result("chroma", "linear", relations(200, 100)));  // 50 %
  report["results"].push_back(result("mcpt", "mlp", relations(200, 150)));       // 75 %, same tracks plus 50 more
  report["results"].push_back(result("kp", "none", relations(200, 100, "fifth")));  // same accuracy, higher weighted
  const auto c = paired_comparisons(report, "", {0.05, 2000, 2000, 0.95, 1});
  EXPECT_EQ(c["reference"], "(first row of each test split)");
  ASSERT_EQ(c["rows"].size(), 2u);
  const auto& up = c["rows"][0];
  EXPECT_EQ(up["encoder"], "mcpt");
  EXPECT_EQ(up["reference"]["encoder"], "chroma");
  EXPECT_EQ(up["n"], 200);
  EXPECT_DOUBLE_EQ(up["accuracy"]["difference"].get<double>(), 0.25);
  EXPECT_EQ(up["mcnemar"]["only_row_correct"], 50);
  EXPECT_EQ(up["mcnemar"]["only_reference_correct"], 0);
  EXPECT_EQ(up["mcnemar"]["method"], "chi2_cc");
  EXPECT_LT(up["mcnemar"]["p_value"].get<double>(), 1e-6);
  EXPECT_TRUE(up["significant"]["accuracy"].get<bool>());
  EXPECT_TRUE(up["significant"]["weighted_score"].get<bool>());
  EXPECT_LT(up["accuracy"]["ci"][0].get<double>(), 0.25);
  EXPECT_GT(up["accuracy"]["ci"][0].get<double>(), 0.15);
  const auto& same = c["rows"][1];
  EXPECT_DOUBLE_EQ(same["accuracy"]["difference"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(same["mcnemar"]["p_value"].get<double>(), 1.0);
  EXPECT_FALSE(same["significant"]["accuracy"].get<bool>());
  EXPECT_DOUBLE_EQ(same["weighted_score"]["difference"].get<double>(), 0.25);  // 100 fifths x 0.5 / 200
  EXPECT_TRUE(same["significant"]["weighted_score"].get<bool>());

  // A named reference; tracks are paired by id, not by position.
  auto shuffled = report;
  auto& preds = shuffled["results"][1]["predictions"];
  std::reverse(preds.begin(), preds.end());
  const auto byname = paired_comparisons(shuffled, "kp/none", {0.05, 500, 500, 0.95, 1});
  ASSERT_EQ(byname["rows"].size(), 2u);
  EXPECT_EQ(byname["rows"][0]["encoder"], "chroma");
  EXPECT_DOUBLE_EQ(byname["rows"][1]["accuracy"]["difference"].get<double>(), 0.25);
  EXPECT_EQ(paired_comparisons(report, "kp", {0.05, 0, 0, 0.95, 1})["rows"][0]["reference"]["encoder"], "kp");
  // resamples 0: no bootstrap fields, McNemar still there.
  const auto plain = paired_comparisons(report, "", {0.05, 0, 0, 0.95, 1});
  EXPECT_FALSE(plain["rows"][0]["accuracy"].contains("ci"));
  EXPECT_TRUE(plain["rows"][0].contains("mcnemar"));
}

TEST(Stats, PairedComparisonsPerTestSplitAndErrors) {
  nlohmann::json report = {{"results", nlohmann::json::array()}};
  report["results"].push_back(result("a", "linear", relations(30, 10)));
  report["results"].push_back(result("a", "mlp", relations(30, 20)));
  report["results"].push_back(result("a", "linear", relations(10, 5), "other"));
  report["results"].push_back(result("a", "mlp", relations(10, 6), "other"));
  const auto c = paired_comparisons(report, "a/mlp", {0.05, 100, 100, 0.95, 1});
  ASSERT_EQ(c["rows"].size(), 2u);  // one comparison per split, each against that split's own reference
  EXPECT_EQ(c["rows"][0]["split"], "test");
  EXPECT_EQ(c["rows"][1]["split"], "other");
  EXPECT_EQ(c["rows"][1]["reference"]["result_index"], 3);

  auto message = [&](const nlohmann::json& r, const std::string& ref) {
    return mcpt::testutil::error_of([&] { paired_comparisons(r, ref, {0.05, 10, 10, 0.95, 1}); });
  };
  EXPECT_HAS(message(report, "b/linear"), "reference row \"b/linear\": no such result on synth:test (rows: a/linear, a/mlp)");
  EXPECT_HAS(message(report, "a"), "2 results match");
  auto broken = report;
  broken["results"][1]["predictions"].erase(0);
  EXPECT_HAS(message(broken, ""), "results[1] (a/mlp on synth:test).predictions: 29 predictions, the reference row has 30");
  broken = report;
  broken["results"][1]["predictions"][0]["id"] = "zzz";
  EXPECT_HAS(message(broken, ""), "no prediction for track \"t0\"");
  broken = report;
  broken["results"][0].erase("predictions");
  EXPECT_HAS(message(broken, ""), "results[0] (a/linear on synth:test).predictions: missing");
  EXPECT_HAS(mcpt::testutil::error_of([&] { paired_comparisons(report, "", {1.5, 10, 10, 0.95, 1}); }),
             "statistics.alpha");
}

TEST(Stats, LayerSweepsAreRepresentedByTheLayerChosenOnValidation) {
  nlohmann::json report = {{"results", nlohmann::json::array()}};
  report["results"].push_back(result("ref", "linear", relations(20, 10)));
  for (int layer = 0; layer < 4; ++layer) {
    auto r = result("vit", "linear", relations(20, size_t(10 + layer)));
    r["layer"] = layer;
    // Validation prefers layer 2; test accuracy is highest at layer 3 (must not be picked).
    r["selection"] = {{"valid_score", layer == 2 ? 0.9 : 0.5}};
    report["results"].push_back(r);
  }
  EXPECT_EQ(headline_rows(report), (std::vector<size_t>{0, 3}));
  EXPECT_EQ(row_label(report["results"][3]), "vit/linear@2");
  const auto c = paired_comparisons(report, "", {0.05, 10, 10, 0.95, 1});
  ASSERT_EQ(c["rows"].size(), 1u);
  EXPECT_EQ(c["rows"][0]["layer"], 2);
  // A result marked layer_selected wins over the validation score.
  report["results"][1]["layer_selected"] = true;
  EXPECT_EQ(headline_rows(report), (std::vector<size_t>{0, 1}));
  // A specific layer can be the reference.
  EXPECT_EQ(paired_comparisons(report, "vit/linear@3", {0.05, 10, 10, 0.95, 1})["rows"].size(), 2u);
}
