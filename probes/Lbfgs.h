// Limited-memory BFGS with a strong Wolfe line search, for smooth objectives whose value along a
// search direction is much cheaper than a full gradient. A linear model is such an objective: once
// the product of the data with the direction is known (one matrix product), every trial step of the
// line search costs only the loss on the logits, and the full gradient (the second product) is
// needed only at the accepted step. Torch-free; the softmax-regression objective lives with the
// probes that use it (Probe.cpp).
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mcpt::probes {

// The objective keeps its own current point; the solver moves it along one direction at a time.
class LineObjective {
 public:
  virtual ~LineObjective() = default;
  // Makes x the current point; returns f(x) and writes the gradient into g (g.size() == x.size()).
  // Also called at the end to check convergence from scratch.
  virtual double reset(const std::vector<double>& x, std::vector<double>& g) = 0;
  // Fixes the search direction d from the current point.
  virtual void set_direction(const std::vector<double>& d) = 0;
  // {f(x + t d), d . grad f(x + t d)}; may return a non-finite value where f overflows.
  virtual std::pair<double, double> along(double t) = 0;
  // Moves the current point to x + t d; returns f there and writes the gradient into g.
  virtual double move(double t, std::vector<double>& g) = 0;
};

struct LbfgsOptions {
  int max_iterations = 500;
  int history = 10;                   // correction pairs kept (scipy's L-BFGS-B default)
  double gradient_tolerance = 1e-5;   // converged when every gradient entry is at most this
  double change_tolerance = 1e-12;    // stop when an iteration lowers f by less than this x max(1, |f|)
  int max_line_steps = 30;            // trial steps per line search
  double c1 = 1e-4, c2 = 0.9;         // sufficient decrease and curvature constants
};

struct LbfgsResult {
  std::vector<double> x;
  double value = 0;
  double max_gradient = 0;   // largest |gradient entry| at x, from a fresh evaluation
  int iterations = 0;
  int line_steps = 0;        // trial steps of every line search together (cheap evaluations)
  int gradients = 0;         // full gradient evaluations
  bool converged = false;    // max_gradient <= gradient_tolerance
  std::string stop;          // "gradient", "change", "iterations", "line search", "not finite"
};

LbfgsResult minimise_lbfgs(LineObjective& f, std::vector<double> x0, const LbfgsOptions& options = {});

}  // namespace mcpt::probes
