// The "lbfgs" probe's solver (probes/Lbfgs.h), its softmax-regression objective
// (probes/SoftmaxObjective.h) and the AVX2 products under it (probes/Kernels.h).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include <torch/torch.h>

#include "probes/Kernels.h"
#include "probes/Lbfgs.h"
#include "probes/SoftmaxObjective.h"

using mcpt::probes::LbfgsOptions;
using mcpt::probes::LineObjective;
using mcpt::probes::minimise_lbfgs;

namespace {

// An objective given as a function (value and gradient): every trial step is a full evaluation.
class FunctionObjective final : public LineObjective {
 public:
  using Fn = std::function<double(const std::vector<double>&, std::vector<double>&)>;
  explicit FunctionObjective(Fn f) : f_(std::move(f)) {}
  double reset(const std::vector<double>& x, std::vector<double>& g) override {
    x_ = x;
    return f_(x_, g);
  }
  void set_direction(const std::vector<double>& d) override { d_ = d; }
  std::pair<double, double> along(double t) override {
    std::vector<double> g;
    const double f = f_(at(t), g);
    double slope = 0;
    for (size_t i = 0; i < g.size(); ++i) slope += g[i] * d_[i];
    ++trials;
    return {f, slope};
  }
  double move(double t, std::vector<double>& g) override {
    x_ = at(t);
    return f_(x_, g);
  }
  int trials = 0;

 private:
  std::vector<double> at(double t) const {
    auto y = x_;
    for (size_t i = 0; i < y.size(); ++i) y[i] += t * d_[i];
    return y;
  }
  Fn f_;
  std::vector<double> x_, d_;
};

double rosenbrock(const std::vector<double>& x, std::vector<double>& g) {
  const double a = 1 - x[0], b = x[1] - x[0] * x[0];
  g = {-2 * a - 400 * x[0] * b, 200 * b};
  return a * a + 100 * b * b;
}

}  // namespace

TEST(Lbfgs, MinimisesAnIllConditionedQuadratic) {
  const size_t n = 30;
  std::vector<double> a(n), c(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = std::pow(10.0, 3.0 * double(i) / double(n - 1));  // curvatures 1 ... 1e3
    c[i] = std::sin(double(i));
  }
  FunctionObjective f([&](const std::vector<double>& x, std::vector<double>& g) {
    double v = 0;
    g.resize(n);
    for (size_t i = 0; i < n; ++i) {
      v += 0.5 * a[i] * (x[i] - c[i]) * (x[i] - c[i]);
      g[i] = a[i] * (x[i] - c[i]);
    }
    return v;
  });
  LbfgsOptions o;
  o.gradient_tolerance = 1e-8;
  o.change_tolerance = 0;  // f tends to 0 here: only the gradient may stop it
  const auto r = minimise_lbfgs(f, std::vector<double>(n, 0.0), o);
  EXPECT_TRUE(r.converged) << r.stop << " after " << r.iterations;
  EXPECT_EQ(r.stop, "gradient");
  EXPECT_LE(r.max_gradient, 1e-8);
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(r.x[i], c[i], 1e-8) << i;
  EXPECT_LT(r.iterations, 400);  // scipy's L-BFGS-B (m = 10): 261
  // One full gradient per iteration, plus the start and the check at the end.
  EXPECT_EQ(r.gradients, r.iterations + 2);
}

TEST(Lbfgs, SolvesRosenbrockFromTheClassicStart) {
  FunctionObjective f(rosenbrock);
  const auto r = minimise_lbfgs(f, {-1.2, 1.0});
  ASSERT_TRUE(r.converged) << r.stop;
  EXPECT_NEAR(r.x[0], 1.0, 1e-4);
  EXPECT_NEAR(r.x[1], 1.0, 1e-4);
  EXPECT_LT(r.value, 1e-9);
  EXPECT_EQ(r.line_steps, f.trials);
}

TEST(Lbfgs, StopsAtTheIterationLimitAndSaysSo) {
  FunctionObjective f(rosenbrock);
  LbfgsOptions o;
  o.max_iterations = 3;
  const auto r = minimise_lbfgs(f, {-1.2, 1.0}, o);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.stop, "iterations");
  EXPECT_EQ(r.iterations, 3);
  EXPECT_GT(r.max_gradient, o.gradient_tolerance);
}

// The first trial step lands where the objective is not finite (as the logits of a far step can
// overflow): the line search must come back inside and still find the minimum.
TEST(Lbfgs, BacksOffFromStepsWhereTheObjectiveIsNotFinite) {
  FunctionObjective f([](const std::vector<double>& x, std::vector<double>& g) {
    g = {2 * (x[0] - 0.5)};
    return x[0] < 0.9 ? (x[0] - 0.5) * (x[0] - 0.5) : std::numeric_limits<double>::quiet_NaN();
  });
  const auto r = minimise_lbfgs(f, {0.0});  // steepest descent's first trial: x = 1
  ASSERT_TRUE(r.converged) << r.stop;
  EXPECT_NEAR(r.x[0], 0.5, 1e-6);
  EXPECT_GT(f.trials, 1);
}

TEST(Lbfgs, ANonFiniteStartIsReportedNotHidden) {
  FunctionObjective f([](const std::vector<double>& x, std::vector<double>& g) {
    g = {1.0};
    return x[0] < 0 ? 0.0 : std::numeric_limits<double>::infinity();
  });
  const auto r = minimise_lbfgs(f, {1.0});
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.stop, "not finite");
  EXPECT_EQ(r.iterations, 0);
}

// The AVX2 products against a float64 reference, at sizes that exercise every remainder: rows and
// columns not multiples of 4, one to several panels of 24 columns.
TEST(SkinnyProducts, AgreeWithAPlainSumAtEveryShape) {
  if (!mcpt::probes::kernels::skinny_products()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (size_t rows : {1, 3, 4, 9, 70}) {
    for (size_t d : {1, 5, 8, 13}) {
      for (size_t kp : {8, 16, 24, 32, 48, 56}) {
        SCOPED_TRACE(testing::Message() << rows << " x " << d << ", kp " << kp);
        std::vector<float> x(rows * d), b(d * kp), r(rows * kp), z(rows * kp), g(d * kp);
        for (auto& v : x) v = normal(rng);
        for (auto& v : b) v = normal(rng);
        for (auto& v : r) v = normal(rng);
        mcpt::probes::kernels::product_xb(x.data(), rows, d, b.data(), kp, z.data());
        mcpt::probes::kernels::product_xtr(x.data(), rows, d, r.data(), kp, g.data());
        for (size_t i = 0; i < rows; ++i)
          for (size_t c = 0; c < kp; ++c) {
            double s = 0;
            for (size_t k = 0; k < d; ++k) s += double(x[i * d + k]) * double(b[k * kp + c]);
            ASSERT_NEAR(z[i * kp + c], s, 1e-5 * (1 + std::abs(s))) << "Z[" << i << "," << c << "]";
          }
        for (size_t j = 0; j < d; ++j)
          for (size_t c = 0; c < kp; ++c) {
            double s = 0;
            for (size_t i = 0; i < rows; ++i) s += double(x[i * d + j]) * double(r[i * kp + c]);
            ASSERT_NEAR(g[j * kp + c], s, 1e-5 * (1 + std::abs(s))) << "G[" << j << "," << c << "]";
          }
      }
    }
  }
}

namespace {

struct Problem {
  torch::Tensor x, y, class_w;
  int64_t classes;
};

Problem problem(int64_t rows, int64_t dim, int64_t classes, bool weighted, uint64_t seed) {
  torch::manual_seed(seed);
  Problem p;
  p.x = torch::randn({rows, dim});
  p.y = torch::randint(classes, {rows}, torch::kInt64);
  p.classes = classes;
  if (weighted) p.class_w = torch::rand({classes}) + 0.5;
  return p;
}

std::vector<double> random_vector(size_t n, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(n);
  for (auto& e : v) e = normal(rng);
  return v;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

// The CPU pass (with the AVX2 products where this CPU has them, and with the BLAS) and the LibTorch
// operations (the path other devices take) compute the same objective, slope and gradient; the
// slope is the derivative of the value along the direction and the gradient's product with it.
TEST(SoftmaxObjective, CpuPassesAndTensorOperationsAgreeAndSlopesAreDerivatives) {
  using mcpt::probes::ObjectivePath;
  for (const auto& [classes, weighted] : std::vector<std::pair<int64_t, bool>>{{5, false}, {5, true}, {24, false}, {30, true}}) {
    for (const ObjectivePath path : {ObjectivePath::kAuto, ObjectivePath::kCpuBlas}) {
      SCOPED_TRACE(testing::Message() << classes << " classes, class weights " << weighted << ", path "
                                      << (path == ObjectivePath::kAuto ? "auto" : "cpu-blas"));
      const auto p = problem(53, 11, classes, weighted, uint64_t(classes));
      const double lambda = 0.03;
      auto fused = mcpt::probes::softmax_objective(p.x, p.y, p.class_w, classes, lambda, path);
      auto plain = mcpt::probes::softmax_objective(p.x, p.y, p.class_w, classes, lambda, ObjectivePath::kTensor);
      const size_t n = size_t((11 + 1) * classes);
      const auto theta = random_vector(n, 1, 0.3), dir = random_vector(n, 2, 0.2);
      std::vector<double> g1, g2;
      const double f1 = fused->reset(theta, g1), f2 = plain->reset(theta, g2);
      EXPECT_NEAR(f1, f2, 1e-6 * std::abs(f2));
      EXPECT_LT(max_abs_diff(g1, g2), 1e-6);
      ASSERT_EQ(g1.size(), n);

      fused->set_direction(dir);
      plain->set_direction(dir);
      double gd = 0;
      for (size_t i = 0; i < n; ++i) gd += g1[i] * dir[i];
      EXPECT_NEAR(fused->along(0).second, gd, 1e-6 * (1 + std::abs(gd)));
      for (double t : {0.0, 0.4, 1.7}) {
        const auto a = fused->along(t), b = plain->along(t);
        EXPECT_NEAR(a.first, b.first, 1e-6 * std::abs(b.first)) << t;
        EXPECT_NEAR(a.second, b.second, 1e-6 * (1 + std::abs(b.second))) << t;
        const double h = 1e-3, fd = (fused->along(t + h).first - fused->along(t - h).first) / (2 * h);
        EXPECT_NEAR(a.second, fd, 1e-3 * (1 + std::abs(fd))) << t;
      }
      const double m1 = fused->move(0.7, g1), m2 = plain->move(0.7, g2);
      EXPECT_NEAR(m1, m2, 1e-6 * std::abs(m2));
      EXPECT_LT(max_abs_diff(g1, g2), 1e-6);
      // The carried logits equal the logits computed afresh at the new point.
      auto moved = theta;
      for (size_t i = 0; i < n; ++i) moved[i] += 0.7 * dir[i];
      std::vector<double> g3;
      EXPECT_NEAR(fused->reset(moved, g3), m1, 1e-6 * std::abs(m1));
      EXPECT_LT(max_abs_diff(g1, g3), 1e-6);
    }
  }
}
