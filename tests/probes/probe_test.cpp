// Probes: they learn, stop early on validation with a copy of the best weights, standardise with
// training statistics only, select hyper-parameters on validation only, and reject bad input.
#include <cmath>
#include <random>
#include <set>
#include <tuple>
#include <type_traits>
#include <functional>
#include <memory>
#include <algorithm>
#include <sstream>

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "probes/Probe.h"
#include "testutil/TestUtil.h"

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

// Train, validation and (n_test > 0) test blobs with seeds seed, seed + 1 and seed + 2.
void blob_splits(int n_train, int n_valid, int n_test, int classes, int dim, double sep, unsigned seed, Matrix& xt,
                 std::vector<int>& yt, Matrix& xv, std::vector<int>& yv, Matrix& xs, std::vector<int>& ys) {
  blobs(n_train, classes, dim, sep, seed, xt, yt);
  blobs(n_valid, classes, dim, sep, seed + 1, xv, yv);
  if (n_test > 0) blobs(n_test, classes, dim, sep, seed + 2, xs, ys);
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

// The message of the error ProbeConfig::from_json throws for `j`, or "no error".
std::string config_error(const nlohmann::json& j, const std::string& path) {
  try {
    ProbeConfig::from_json(j, path);
  } catch (const mcpt::Error& e) {
    return e.what();
  }
  return "no error";
}

ProbeConfig config(const std::string& type) {
  nlohmann::json j = {{"type", type}};
  if (type == "mlp") j["hidden"] = {64};
  return ProbeConfig::from_json(j, "probe");
}

// Three fits of `c` on the same data: seeds 42, 42 and 43.
struct ThreeFits {
  std::unique_ptr<mcpt::probes::Probe> a, b, d;  // a and b: seed 42; d: seed 43
};
ThreeFits fit_three(const ProbeConfig& c, const Matrix& xt, const std::vector<int>& yt, const Matrix& xv,
                    const std::vector<int>& yv) {
  ThreeFits f{mcpt::probes::make_probe(c), mcpt::probes::make_probe(c), mcpt::probes::make_probe(c)};
  f.a->fit(xt, yt, xv, yv, 24, 42);
  f.b->fit(xt, yt, xv, yv, 24, 42);
  f.d->fit(xt, yt, xv, yv, 24, 43);
  return f;
}

}  // namespace

TEST(Probe, LinearLearnsSeparableClasses) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(20, 5, 10, 24, 32, 4.0, 1, xt, yt, xv, yv, xs, ys);
  auto p = mcpt::probes::make_probe(config("linear"));
  p->fit(xt, yt, xv, yv, 24, 7);
  EXPECT_GT(accuracy(p->predict(xs), ys), 0.8);  // chance: 1/24; Bayes: about 0.95
}

TEST(Probe, MlpLearnsSeparableClasses) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(20, 5, 10, 24, 32, 4.0, 1, xt, yt, xv, yv, xs, ys);
  auto p = mcpt::probes::make_probe(config("mlp"));
  p->fit(xt, yt, xv, yv, 24, 7);
  EXPECT_GT(accuracy(p->predict(xs), ys), 0.85);
}

TEST(Probe, EarlyStoppingRestoresBestValidationWeights) {
  // Few, noisy training rows in many dimensions: the probe overfits, validation loss turns upward,
  // and the returned weights must be those of the best validation epoch, not the last.
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(3, 20, 0, 4, 200, 1.0, 11, xt, yt, xv, yv, xs, ys);
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
  blob_splits(10, 4, 4, 24, 24, 3.0, 1, xt, yt, xv, yv, xs, ys);
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
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(10, 3, 0, 24, 24, 2.0, 1, xt, yt, xv, yv, xs, ys);
  auto a = mcpt::probes::make_probe(config("mlp"));
  auto b = mcpt::probes::make_probe(config("mlp"));
  a->fit(xt, yt, xv, yv, 24, 42);
  b->fit(xt, yt, xv, yv, 24, 42);
  EXPECT_EQ(a->predict(xv).data, b->predict(xv).data);
}

// The seed paper's dropout (0.75, probes/Kernels.h's mask on the CPU): the same seed gives the same
// fit, another seed another one; prediction uses no dropout (two predictions agree); and the probe
// still learns, so the mask keeps units (a mask of zeros fails here; the 1 / keep scale, which
// learning alone does not reveal, is checked by DropoutMask.* in kernels_test.cpp).
TEST(Probe, MlpWithDropoutIsDeterministicPerSeedAndLearns) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(20, 5, 10, 24, 32, 4.0, 1, xt, yt, xv, yv, xs, ys);
  const auto [a, b, d] = fit_three(ProbeConfig::from_json({{"type", "mlp"}, {"hidden", {256}}, {"dropout", 0.75}}, "p"),
                                   xt, yt, xv, yv);
  EXPECT_EQ(a->predict(xv).data, b->predict(xv).data);
  EXPECT_EQ(a->training_log(), b->training_log());
  EXPECT_NE(a->training_log()["train_loss"], d->training_log()["train_loss"]);
  EXPECT_EQ(a->predict(xs).data, a->predict(xs).data) << "dropout at prediction time";
  EXPECT_GT(accuracy(a->predict(xs), ys), 0.85);
}

TEST(Probe, SelectionFollowsTheValidationScoreAndRecordsEveryPoint) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(6, 2, 0, 24, 24, 3.0, 1, xt, yt, xv, yv, xs, ys);
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
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(2, 1, 0, 24, 24, 1.0, 1, xt, yt, xv, yv, xs, ys);
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
  auto message = [](const nlohmann::json& j) { return config_error(j, "suite.probes[1]"); };
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

// --- The classic probing mistakes, each with a test that fails if the mistake is made.
namespace {

// XOR of the signs of the first two dimensions (plus noise dimensions): no linear separator exists.
void xor_data(int n, int dim, unsigned seed, Matrix& x, std::vector<int>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::uniform_int_distribution<int> bit(0, 1);
  x = Matrix(n, dim);
  y.clear();
  for (int i = 0; i < n; ++i) {
    const int a = bit(rng), b = bit(rng);
    x.at(i, 0) = (a ? 2.0f : -2.0f) + 0.5f * noise(rng);
    x.at(i, 1) = (b ? 2.0f : -2.0f) + 0.5f * noise(rng);
    for (int d = 2; d < dim; ++d) x.at(i, d) = noise(rng);
    y.push_back(a ^ b);
  }
}

// Two overlapping classes, class 1 rare (1 in 10): without weighting, the probe favours class 0.
void imbalanced(int n, unsigned seed, Matrix& x, std::vector<int>& y) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  x = Matrix(n, 4);
  y.clear();
  for (int i = 0; i < n; ++i) {
    const int c = i % 10 == 0 ? 1 : 0;
    for (int d = 0; d < 4; ++d) x.at(i, d) = noise(rng) + (d == 0 && c ? 1.2f : 0.0f);
    y.push_back(c);
  }
}

double recall(const Matrix& logits, const std::vector<int>& y, int cls) {
  int hit = 0, total = 0;
  for (int64_t r = 0; r < logits.rows; ++r) {
    if (y[size_t(r)] != cls) continue;
    ++total;
    const float* l = logits.row(r);
    hit += int(std::max_element(l, l + logits.cols) - l) == cls;
  }
  return double(hit) / double(total);
}

std::vector<float> column_means(const Matrix& x) {
  std::vector<double> s(size_t(x.cols), 0.0);
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t c = 0; c < x.cols; ++c) s[size_t(c)] += x.at(r, c);
  std::vector<float> out;
  for (double v : s) out.push_back(float(v / double(x.rows)));
  return out;
}

}  // namespace

TEST(ProbeMistakes, ScalerIsFittedOnTrainingDataOnly) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(10, 4, 4, 24, 24, 3.0, 1, xt, yt, xv, yv, xs, ys);
  auto p = mcpt::probes::make_probe(config("linear"));
  p->fit(xt, yt, xv, yv, 24, 5);
  const auto st = p->standardisation();
  // The mean is the training split's column mean (a scaler fitted on train+valid or test would differ).
  const auto mt = column_means(xt);
  ASSERT_EQ(st.mean.size(), mt.size());
  for (size_t c = 0; c < mt.size(); ++c) EXPECT_NEAR(st.mean[c], mt[c], 1e-4) << c;
  // Predicting on shifted test data changes nothing about the scaler.
  Matrix shifted = xs;
  for (auto& v : shifted.data) v += 50.0f;
  p->predict(shifted);
  const auto after = p->standardisation();
  EXPECT_EQ(after.mean, st.mean);
  EXPECT_EQ(after.scale, st.scale);
  // A shifted validation split (used for early stopping) does not move it either.
  Matrix xv_shifted = xv;
  for (auto& v : xv_shifted.data) v += 50.0f;
  auto q = mcpt::probes::make_probe(config("linear"));
  q->fit(xt, yt, xv_shifted, yv, 24, 5);
  EXPECT_EQ(q->standardisation().mean, st.mean);
  EXPECT_EQ(q->standardisation().scale, st.scale);
}

TEST(ProbeMistakes, EarlyStoppingRestoresACopyIncludingBatchNormStatistics) {
  // An MLP with batch norm overfits few noisy rows; the restored network (weights and running
  // statistics) must reproduce the best epoch's validation loss: restoring the last epoch, or keeping
  // references to the live parameters, or forgetting the batch-norm buffers, each breaks this.
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(4, 20, 0, 4, 100, 1.0, 21, xt, yt, xv, yv, xs, ys);
  auto c = ProbeConfig::from_json({{"type", "mlp"}, {"hidden", {64}}, {"batch_norm", true}, {"dropout", 0.0},
                                   {"lr", 0.01}, {"epochs", 120}, {"patience", 120}, {"batch_size", 8}},
                                  "p");
  auto p = mcpt::probes::make_probe(c);
  p->fit(xt, yt, xv, yv, 4, 3);
  const auto log = p->training_log();
  ASSERT_LT(log["best_epoch"].get<int>(), 110) << "no overfitting; the test needs the best epoch well before the last";
  EXPECT_LT(log["best_valid_loss"].get<double>(), log["valid_loss"].back().get<double>() - 1e-3);
  EXPECT_NEAR(cross_entropy(p->predict(xv), yv), log["best_valid_loss"].get<double>(), 1e-4);
  // Predicting does not change the model (eval mode: no running-statistics updates).
  EXPECT_EQ(p->predict(xv).data, p->predict(xv).data);
}

TEST(ProbeMistakes, SelectionCannotReceiveTestData) {
  // By construction: the selection's signature has the training and validation splits only; a test
  // split (or its labels) cannot be passed. Changing that signature breaks this line at compile time.
  using Signature = mcpt::probes::Selection (*)(const ProbeConfig&, const Matrix&, const std::vector<int>&,
                                                const Matrix&, const std::vector<int>&, int, std::uint64_t,
                                                const std::function<double(const Matrix&)>&);
  static_assert(std::is_same_v<decltype(&mcpt::probes::select_on_validation), Signature>,
                "select_on_validation must see the training and validation splits only");
  // Instrumented: the score callback receives exactly the validation predictions of each candidate.
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(8, 3, 5, 24, 24, 2.0, 1, xt, yt, xv, yv, xs, ys);
  auto c = ProbeConfig::from_json({{"type", "linear"}, {"epochs", 30}, {"grid", {{"lr", {0.3, 0.01, 0.0001}}}}}, "p");
  std::vector<Matrix> seen;
  auto score = [&](const Matrix& logits) {
    seen.push_back(logits);
    return accuracy(logits, yv);
  };
  auto run = [&](const std::vector<int>& test_labels) {
    // The protocol as the runner follows it: select on validation, then score the test split once.
    seen.clear();
    auto sel = mcpt::probes::select_on_validation(c, xt, yt, xv, yv, 24, 9, score);
    const Matrix test_logits = sel.probe->predict(xs);
    return std::make_tuple(sel.candidates, sel.chosen.to_json(), test_logits.data, accuracy(test_logits, test_labels));
  };
  const auto clean = run(ys);
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& m : seen) EXPECT_EQ(m.rows, xv.rows);
  // Poisoned test labels: every choice and every prediction is identical; only the test score moves.
  std::vector<int> poisoned(ys.size());
  for (size_t i = 0; i < ys.size(); ++i) poisoned[i] = (ys[i] + 7) % 24;
  const auto dirty = run(poisoned);
  EXPECT_EQ(std::get<0>(dirty), std::get<0>(clean));
  EXPECT_EQ(std::get<1>(dirty), std::get<1>(clean));
  EXPECT_EQ(std::get<2>(dirty), std::get<2>(clean));
  EXPECT_NE(std::get<3>(dirty), std::get<3>(clean));
}

TEST(ProbeMistakes, MlpBeatsLinearOnANonLinearProblem) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  xor_data(400, 8, 1, xt, yt);
  xor_data(100, 8, 2, xv, yv);
  xor_data(400, 8, 3, xs, ys);
  auto lin = mcpt::probes::make_probe(config("linear"));
  lin->fit(xt, yt, xv, yv, 2, 4);
  auto mlp = mcpt::probes::make_probe(
      ProbeConfig::from_json({{"type", "mlp"}, {"hidden", {32}}, {"dropout", 0.1}, {"lr", 0.01}}, "p"));
  mlp->fit(xt, yt, xv, yv, 2, 4);
  const double a_lin = accuracy(lin->predict(xs), ys), a_mlp = accuracy(mlp->predict(xs), ys);
  EXPECT_LT(a_lin, 0.65);  // chance is 0.5: XOR has no linear separator
  EXPECT_GT(a_mlp, 0.9);
}

TEST(ProbeMistakes, ClassWeightingRaisesMinorityRecall) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  imbalanced(2000, 1, xt, yt);
  imbalanced(500, 2, xv, yv);
  imbalanced(2000, 3, xs, ys);
  // Both solvers: L-BFGS runs in float64, so the class weights must follow it there.
  for (const char* solver : {"adamw", "lbfgs"}) {
    SCOPED_TRACE(solver);
    auto plain = ProbeConfig::from_json({{"type", "linear"}, {"lr", 0.01}, {"solver", solver}}, "p");
    auto weighted = plain;
    weighted.class_weighting = true;
    auto a = mcpt::probes::make_probe(plain), b = mcpt::probes::make_probe(weighted);
    a->fit(xt, yt, xv, yv, 2, 1);
    b->fit(xt, yt, xv, yv, 2, 1);
    const double r_plain = recall(a->predict(xs), ys, 1), r_weighted = recall(b->predict(xs), ys, 1);
    EXPECT_LT(r_plain, 0.2);      // the rare class is mostly ignored ...
    EXPECT_GT(r_weighted, 0.55);  // ... unless its errors weigh 9x more
    EXPECT_GT(recall(a->predict(xs), ys, 0), recall(b->predict(xs), ys, 0));  // the price: majority recall
  }
}

TEST(ProbeMistakes, IdenticalSeedIdenticalNumbersOtherSeedOtherNumbers) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(10, 3, 0, 24, 24, 2.0, 1, xt, yt, xv, yv, xs, ys);
  auto c = ProbeConfig::from_json(
      {{"type", "mlp"}, {"hidden", {32, 16}}, {"batch_norm", true}, {"class_weighting", true}, {"epochs", 30}}, "p");
  const auto [a, b, d] = fit_three(c, xt, yt, xv, yv);
  EXPECT_EQ(a->predict(xv).data, b->predict(xv).data);
  EXPECT_EQ(a->training_log(), b->training_log());
  EXPECT_NE(a->predict(xv).data, d->predict(xv).data);
}

TEST(ProbeConfig, KeymynaPresetAndOverrides) {
  auto c = ProbeConfig::from_json({{"type", "mlp"}, {"preset", "keymyna"}}, "p");
  EXPECT_EQ(c.hidden, std::vector<int>{2048});
  EXPECT_DOUBLE_EQ(c.dropout, 0.75);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.lr, 3e-4);
  EXPECT_DOUBLE_EQ(c.weight_decay, 1e-4);
  EXPECT_EQ(c.label(), "mlp-2048");
  EXPECT_EQ(c.to_json()["preset"], "keymyna");
  // Explicit keys win over the preset.
  auto d = ProbeConfig::from_json({{"type", "mlp"}, {"preset", "keymyna"}, {"hidden", {1024, 512}}, {"lr", 1e-3}}, "p");
  EXPECT_EQ(d.hidden, (std::vector<int>{1024, 512}));
  EXPECT_DOUBLE_EQ(d.lr, 1e-3);
  EXPECT_DOUBLE_EQ(d.dropout, 0.75);
  EXPECT_EQ(d.label(), "mlp-1024-512");
  auto message = [](const nlohmann::json& j) {
    return mcpt::testutil::error_of([&] { ProbeConfig::from_json(j, "suite.probes[0]"); });
  };
  EXPECT_NE(message({{"type", "mlp"}, {"preset", "keymina"}}).find("suite.probes[0].preset: unknown probe preset \"keymina\" (did you mean \"keymyna\""), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"preset", "keymyna"}}).find("is an mlp probe"), std::string::npos);
  EXPECT_NE(message({{"type", "linear"}, {"batch_norm", true}}).find("suite.probes[0].batch_norm"), std::string::npos);
}

// The "lbfgs" solver solves the convex objective of scikit-learn's LogisticRegression: on the same
// standardised data, with weight_decay = 1 / (C * n_train), its class probabilities equal
// scikit-learn's (lbfgs, multinomial, solved to tol 1e-10) on held-out rows; with class_weighting
// on imbalanced classes they equal those of class_weight="balanced" (the same n / (K n_k), whose
// weights sum to n, so the same C). An AdamW probe with early stopping does not: it is checked to
// differ, so the comparison can tell the two apart.
TEST(Probe, LbfgsSolvesScikitLearnsLogisticRegression) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(40, 10, 20, 5, 20, 1.2, 11, xt, yt, xv, yv, xs, ys);
  const double c = 0.5;

  mcpt::testutil::TempDir dir("lbfgs");
  auto dump = [&](const Matrix& m, const std::vector<int>& y, const std::string& name) {
    std::string text;
    for (int64_t r = 0; r < m.rows; ++r) {
      text += std::to_string(y[size_t(r)]);
      for (int64_t k = 0; k < m.cols; ++k) text += fmt::format(" {:.9g}", m.at(r, k));
      text += "\n";
    }
    mcpt::testutil::write_text(dir / name, text);
  };
  dump(xs, ys, "test.txt");
  mcpt::testutil::write_text(dir / "fit.py", fmt::format(R"(import numpy as np, sys
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
tr = np.loadtxt(sys.argv[1]); te = np.loadtxt(sys.argv[2])
s = StandardScaler().fit(tr[:, 1:])
clf = LogisticRegression(C={}, tol=1e-10, max_iter=100000, class_weight=None if sys.argv[3] == "none" else sys.argv[3])
clf.fit(s.transform(tr[:, 1:]), tr[:, 0].astype(int))
np.savetxt(sys.stdout, clf.predict_proba(s.transform(te[:, 1:])), fmt="%.9g")
)",
                                                         c));
  auto sklearn = [&](const Matrix& x, const std::vector<int>& y, const std::string& class_weight) {
    dump(x, y, "train.txt");
    const auto r = mcpt::testutil::run_command(mcpt::testutil::python() + " " + (dir / "fit.py").string() + " " +
                                               (dir / "train.txt").string() + " " + (dir / "test.txt").string() + " " +
                                               class_weight);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  // The largest difference between our softmax(logits) and scikit-learn's probabilities.
  auto softmax_diff = [&](const Matrix& l, const std::string& probabilities) {
    std::istringstream in(probabilities);
    double worst = 0;
    for (int64_t row = 0; row < l.rows; ++row) {
      const float* v = l.row(row);
      const double m = *std::max_element(v, v + l.cols);
      double z = 0;
      for (int64_t k = 0; k < l.cols; ++k) z += std::exp(v[k] - m);
      for (int64_t k = 0; k < l.cols; ++k) {
        double p = 0;
        in >> p;
        worst = std::max(worst, std::abs(std::exp(v[k] - m) / z - p));
      }
    }
    EXPECT_TRUE(bool(in)) << "scikit-learn printed fewer probabilities than rows x classes";
    return worst;
  };
  auto fit = [&](const Matrix& x, const std::vector<int>& y, nlohmann::json config) {
    auto cfg = ProbeConfig::from_json(config, "probe");
    auto probe = mcpt::probes::make_probe(cfg);
    probe->fit(x, y, xv, yv, 5, 1);
    const auto log = probe->training_log();
    EXPECT_TRUE(log.at("converged").get<bool>()) << log.dump();
    return probe->predict(xs);
  };

  const double wd = 1.0 / (c * double(xt.rows));
  EXPECT_EQ(ProbeConfig::from_json({{"type", "linear"}, {"solver", "lbfgs"}}, "probe").label(), "linear-lbfgs");
  const std::string plain = sklearn(xt, yt, "none");
  EXPECT_LT(softmax_diff(fit(xt, yt, {{"type", "linear"}, {"solver", "lbfgs"}, {"weight_decay", wd}}), plain), 2e-4);

  // Imbalanced: 8 rows of class 0 and 20 of class 1 against 40 of each other class (rows are in
  // class order).
  Matrix xi;
  std::vector<int> yi;
  for (int64_t r = 0; r < xt.rows; ++r) {
    const int y = yt[size_t(r)], within = int(r % 40);
    if ((y == 0 && within >= 8) || (y == 1 && within >= 20)) continue;
    xi.append_row(std::vector<float>(xt.row(r), xt.row(r) + xt.cols));
    yi.push_back(y);
  }
  const double wdi = 1.0 / (c * double(xi.rows));
  const Matrix weighted = fit(xi, yi, {{"type", "linear"}, {"solver", "lbfgs"}, {"weight_decay", wdi}, {"class_weighting", true}});
  EXPECT_LT(softmax_diff(weighted, sklearn(xi, yi, "balanced")), 2e-4);
  // ... and the weights matter: the unweighted fit of the same rows is another solution.
  EXPECT_GT(softmax_diff(fit(xi, yi, {{"type", "linear"}, {"solver", "lbfgs"}, {"weight_decay", wdi}}),
                         sklearn(xi, yi, "balanced")),
            1e-2);

  auto adamw = mcpt::probes::make_probe(ProbeConfig::from_json({{"type", "linear"}, {"weight_decay", wd}}, "probe"));
  adamw->fit(xt, yt, xv, yv, 5, 1);
  EXPECT_GT(softmax_diff(adamw->predict(xs), plain), 1e-2);
}

TEST(ProbeConfig, LbfgsOnlyForDeterministicLinearProbes) {
  auto message = [](const nlohmann::json& j) { return config_error(j, "suite.probes[0]"); };
  EXPECT_HAS(message({{"type", "mlp"}, {"solver", "lbfgs"}}), "suite.probes[0].solver: \"lbfgs\" solves the convex linear probe");
  EXPECT_HAS(message({{"type", "linear"}, {"solver", "lbfgs"}, {"dropout", 0.2}}), "suite.probes[0].dropout");
  EXPECT_HAS(message({{"type", "linear"}, {"solver", "lbfgs"}, {"grid", {{"dropout", {0.0, 0.5}}}}}),
             "suite.probes[0].grid.dropout");
  EXPECT_HAS(message({{"type", "linear"}, {"solver", "bfgs"}}), "suite.probes[0].solver: unknown solver \"bfgs\"");
  EXPECT_EQ(ProbeConfig::from_json({{"type", "linear"}}, "p").solver, "adamw");
  EXPECT_EQ(ProbeConfig::from_json({{"type", "linear"}, {"solver", "lbfgs"}}, "p").to_json().at("solver"), "lbfgs");
}

// With a pthread OpenBLAS (Debian's default libblas.so.3) the compute threads go to OpenBLAS and
// LibTorch's own OpenMP team keeps one: the two pools at full size made the ViT forward 2.4x slower
// (docs/performance.md, "P3"). With another BLAS, LibTorch gets them.
TEST(ComputeThreads, SplitBetweenLibTorchAndAPthreadOpenBlas) {
  const auto parallel = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  const auto blas_threads = reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  const bool split = parallel && blas_threads && parallel() == 1;
  for (int n : {2, 1, 3}) {
    mcpt::probes::set_compute_threads(n);
    EXPECT_EQ(mcpt::probes::compute_threads(), n);
    if (split) {
      EXPECT_EQ(at::get_num_threads(), 1) << n;
      EXPECT_EQ(blas_threads(), n);
    } else {
      EXPECT_EQ(at::get_num_threads(), n);
    }
  }
  mcpt::probes::set_compute_threads(0);  // at least one
  EXPECT_EQ(mcpt::probes::compute_threads(), 1);
}

// Features with a NaN (a broken encoder, a corrupt cache that slipped through) stop the fit with
// an error that names the probe and says what to check, for either solver; no probe is returned
// half-trained.
TEST(ProbeMistakes, NanFeaturesStopTheFitWithAClearError) {
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(10, 3, 0, 4, 8, 2.0, 1, xt, yt, xv, yv, xs, ys);
  xt.at(3, 2) = std::numeric_limits<float>::quiet_NaN();
  for (const char* solver : {"adamw", "lbfgs"}) {
    SCOPED_TRACE(solver);
    auto p = mcpt::probes::make_probe(
        ProbeConfig::from_json({{"type", "linear"}, {"solver", solver}, {"epochs", 20}, {"name", "lin"}}, "p"));
    const std::string e = mcpt::testutil::error_of([&] { p->fit(xt, yt, xv, yv, 4, 1); });
    EXPECT_HAS(e, "probe lin");
    EXPECT_HAS(e, "NaN");
  }
}

// On a CUDA device every probe kind learns as on the CPU: AdamW fits (their mini-batch order and
// dropout come from other generators there, so only the accuracy is compared) and the L-BFGS solver
// (a convex problem solved to a gradient tolerance: the same logits up to float rounding). Skipped
// where LibTorch sees no CUDA device (bench/gpu-check.sh runs it on a GPU machine).
TEST(Probe, OnACudaDeviceFitsAsOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  Matrix xt, xv, xs;
  std::vector<int> yt, yv, ys;
  blob_splits(20, 5, 10, 24, 32, 4.0, 1, xt, yt, xv, yv, xs, ys);
  for (const auto& j : {nlohmann::json{{"type", "linear"}}, nlohmann::json{{"type", "mlp"}, {"hidden", {64}}, {"dropout", 0.5}},
                        nlohmann::json{{"type", "linear"}, {"solver", "lbfgs"}}}) {
    auto on = [&](const std::string& device) {
      auto c = j;
      c["device"] = device;
      auto p = mcpt::probes::make_probe(ProbeConfig::from_json(c, "probe"));
      p->fit(xt, yt, xv, yv, 24, 7);
      return p->predict(xs);
    };
    const Matrix cpu = on("cpu"), gpu = on("cuda");
    ASSERT_EQ(gpu.rows, cpu.rows);
    EXPECT_GT(accuracy(gpu, ys), 0.8) << j.dump();
    EXPECT_NEAR(accuracy(gpu, ys), accuracy(cpu, ys), 0.05) << j.dump();
    if (j.contains("solver")) {
      double num = 0, den = 0;
      for (int64_t r = 0; r < cpu.rows; ++r)
        for (int64_t k = 0; k < cpu.cols; ++k) {
          num += std::pow(double(gpu.at(r, k)) - cpu.at(r, k), 2);
          den += std::pow(double(cpu.at(r, k)), 2);
        }
      EXPECT_LT(std::sqrt(num / den), 1e-3) << "L-BFGS logits on the GPU differ from the CPU's";
    }
  }
}
