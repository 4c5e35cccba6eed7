// Probes: they learn, stop early on validation with a copy of the best weights, standardise with
// training statistics only, select hyper-parameters on validation only, and reject bad input.
#include <cmath>
#include <random>
#include <set>
#include <tuple>
#include <algorithm>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "probes/Probe.h"

using mcpt::probes::Matrix;
using mcpt::probes::ProbeConfig;

namespace {

// Gaussian blobs: class c has mean e_c * sep in `dim` dims (dim >= classes).
void blobs(int n_per_class, int classes, int dim, double sep, unsigned seed, Matrix& x, std::vector<int>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  x = Matrix(int64_t(n_per_class) * classes, dim);
  y.clear();
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < n_per_class; ++i) {
      const int64_t r = int64_t(y.size());
      for (int d = 0; d < dim; ++d) x.at(r, d) = noise(rng) + (d == c ? float(sep) : 0.0f);
      y.push_back(c);
    }
}

double accuracy(const Matrix& logits, const std::vector<int>& y) {
  int ok = 0;
  for (int64_t r = 0; r < logits.rows; ++r) {
    const float* l = logits.row(r);
    ok += int(std::max_element(l, l + logits.cols) - l) == y[size_t(r)];
  }
  return double(ok) / double(y.size());
}

double cross_entropy(const Matrix& logits, const std::vector<int>& y) {
  double total = 0;
  for (int64_t r = 0; r < logits.rows; ++r) {
    const float* l = logits.row(r);
    const double m = *std::max_element(l, l + logits.cols);
    double z = 0;
    for (int64_t k = 0; k < logits.cols; ++k) z += std::exp(l[k] - m);
    total += -(l[y[size_t(r)]] - m - std::log(z));
  }
  return total / double(y.size());
}

ProbeConfig config(const std::string& type) {
  nlohmann::json j = {{"type", type}};
  if (type == "mlp") j["hidden"] = {64};
  return ProbeConfig::from_json(j, "probe");
}

}  // namespace

TEST(Probe, LinearLearnsSeparableClasses) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blobs(20, 24, 32, 4.0, 1, xt, yt);
  blobs(5, 24, 32, 4.0, 2, xv, yv);
  blobs(10, 24, 32, 4.0, 3, xs, ys);
  auto p = mcpt::probes::make_probe(config("linear"));
  p->fit(xt, yt, xv, yv, 24, 7);
  EXPECT_GT(accuracy(p->predict(xs), ys), 0.8);  // chance: 1/24; Bayes: about 0.95
}

TEST(Probe, MlpLearnsSeparableClasses) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blobs(20, 24, 32, 4.0, 1, xt, yt);
  blobs(5, 24, 32, 4.0, 2, xv, yv);
  blobs(10, 24, 32, 4.0, 3, xs, ys);
  auto p = mcpt::probes::make_probe(config("mlp"));
  p->fit(xt, yt, xv, yv, 24, 7);
  EXPECT_GT(accuracy(p->predict(xs), ys), 0.85);
}

TEST(Probe, EarlyStoppingRestoresBestValidationWeights) {
  // Few, noisy training rows in many dimensions: the probe overfits, validation loss turns upward,
  // and the returned weights must be those of the best validation epoch, not the last.
  Matrix xt, xv;
  std::vector<int> yt, yv;
  blobs(3, 4, 200, 1.0, 11, xt, yt);
  blobs(20, 4, 200, 1.0, 12, xv, yv);
  auto c = config("linear");
  c.lr = 0.05;
  c.epochs = 150;
  c.patience = 150;  // run all epochs, so the last epoch is far from the best
  auto p = mcpt::probes::make_probe(c);
  p->fit(xt, yt, xv, yv, 4, 3);
  const auto log = p->training_log();
  const int best = log["best_epoch"].get<int>();
  ASSERT_EQ(log["epochs_run"].get<int>(), 150);
  ASSERT_LT(best, 149) << "validation loss never rose; the test needs an overfitting setting";
  const double last = log["valid_loss"].back().get<double>();
  const double best_loss = log["best_valid_loss"].get<double>();
  EXPECT_LT(best_loss, last);
  // The restored model's validation loss is the best one, recomputed from predictions.
  EXPECT_NEAR(cross_entropy(p->predict(xv), yv), best_loss, 1e-4);
}

TEST(Probe, StandardisationUsesTrainingStatisticsOnly) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blobs(10, 24, 24, 3.0, 1, xt, yt);
  blobs(4, 24, 24, 3.0, 2, xv, yv);
  blobs(4, 24, 24, 3.0, 3, xs, ys);
  auto p = mcpt::probes::make_probe(config("linear"));
  p->fit(xt, yt, xv, yv, 24, 5);
  // A row's logits must not depend on which other rows are predicted with it (a scaler fitted on
  // the prediction batch would make them depend).
  const Matrix all = p->predict(xs);
  Matrix one(1, xs.cols);
  std::copy(xs.row(5), xs.row(5) + xs.cols, one.row(0));
  const Matrix single = p->predict(one);
  // (BLAS may round a 1-row product differently from a batched one: allow float noise.)
  for (int64_t k = 0; k < all.cols; ++k) EXPECT_NEAR(single.at(0, k), all.at(5, k), 1e-4);
  // Shifting the whole test batch moves the logits (no re-centring on test data).
  Matrix shifted = xs;
  for (auto& v : shifted.data) v += 10.0f;
  EXPECT_NE(p->predict(shifted).at(0, 0), all.at(0, 0));
}

TEST(Probe, DeterministicForASeed) {
  Matrix xt, xv;
  std::vector<int> yt, yv;
  blobs(10, 24, 24, 2.0, 1, xt, yt);
  blobs(3, 24, 24, 2.0, 2, xv, yv);
  auto a = mcpt::probes::make_probe(config("mlp"));
  auto b = mcpt::probes::make_probe(config("mlp"));
  a->fit(xt, yt, xv, yv, 24, 42);
  b->fit(xt, yt, xv, yv, 24, 42);
  EXPECT_EQ(a->predict(xv).data, b->predict(xv).data);
}

TEST(Probe, SelectionFollowsTheValidationScoreAndRecordsEveryPoint) {
  Matrix xt, xv;
  std::vector<int> yt, yv;
  blobs(6, 24, 24, 3.0, 1, xt, yt);
  blobs(2, 24, 24, 3.0, 2, xv, yv);
  auto c = ProbeConfig::from_json({{"type", "linear"}, {"epochs", 5}, {"grid", {{"lr", {0.1, 0.01, 0.001}}}}}, "p");
  int call = 0;
  // A validation score that prefers the second grid point, whatever the logits say.
  auto sel = mcpt::probes::select_on_validation(c, xt, yt, xv, yv, 24, 1, [&](const Matrix& logits) {
    EXPECT_EQ(logits.rows, xv.rows);  // the selection sees validation rows only
    return call++ == 1 ? 1.0 : 0.0;
  });
  EXPECT_EQ(call, 3);
  EXPECT_DOUBLE_EQ(sel.chosen.lr, 0.01);
  ASSERT_EQ(sel.candidates.size(), 3u);
  EXPECT_DOUBLE_EQ(sel.candidates[1]["valid_score"].get<double>(), 1.0);
  EXPECT_TRUE(sel.chosen.grid.empty());
}

TEST(Probe, NoneProbePassesKeyScoresThrough) {
  Matrix x(2, 24);
  x.at(0, 3) = 1.0f;
  x.at(1, 20) = 1.0f;
  auto p = mcpt::probes::make_probe(config("none"));
  p->fit(x, {3, 20}, x, {3, 20}, 24, 1);
  EXPECT_EQ(p->predict(x).data, x.data);
  Matrix wrong(1, 12);
  EXPECT_THROW(p->predict(wrong), mcpt::Error);
}

TEST(Probe, BadInputIsAClearError) {
  Matrix xt, xv;
  std::vector<int> yt, yv;
  blobs(2, 24, 24, 1.0, 1, xt, yt);
  blobs(1, 24, 24, 1.0, 2, xv, yv);
  auto p = mcpt::probes::make_probe(config("linear"));
  EXPECT_THROW(p->fit(Matrix(0, 24), {}, xv, yv, 24, 1), mcpt::Error);
  EXPECT_THROW(p->fit(xt, yt, Matrix(0, 24), {}, 24, 1), mcpt::Error);
  auto bad = yt;
  bad[0] = 24;
  EXPECT_THROW(p->fit(xt, bad, xv, yv, 24, 1), mcpt::Error);
  Matrix narrow(xv.rows, 10);
  EXPECT_THROW(p->fit(xt, yt, narrow, yv, 24, 1), mcpt::Error);
  EXPECT_THROW(p->predict(xv), mcpt::Error);  // before fit
}

TEST(ProbeConfig, ErrorsNameTheJsonPath) {
  auto message = [](const nlohmann::json& j) {
    try {
      ProbeConfig::from_json(j, "suite.probes[1]");
    } catch (const mcpt::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({{"type", "linaer"}}).find("did you mean \"linear\""), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"lr", "fast"}}).find("suite.probes[1].lr: expected number"), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"lrr", 0.1}}).find("suite.probes[1].lrr: unknown key"), std::string::npos);
  EXPECT_NE(message({{"type", "mlp"}, {"hidden", {0}}}).find("suite.probes[1].hidden[0]"), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"grid", {{"hidden", {8}}}}}).find("grid.hidden"), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"epochs", 1.5}}).find("expected integer"), std::string::npos);
  EXPECT_NE(message({{"lr", 0.1}}).find("suite.probes[1].type: missing"), std::string::npos);
}

TEST(ProbeConfig, GridExpandsToEveryCombination) {
  auto c = ProbeConfig::from_json(
      {{"type", "mlp"}, {"grid", {{"lr", {1e-3, 1e-2}}, {"hidden", {128, 256}}, {"dropout", {0.1, 0.5, 0.75}}}}}, "p");
  const auto points = c.grid_points();
  ASSERT_EQ(points.size(), 12u);
  std::set<std::tuple<double, int, double>> seen;
  for (const auto& p : points) seen.insert({p.lr, p.hidden.at(0), p.dropout});
  EXPECT_EQ(seen.size(), 12u);
}
