// L-BFGS (two-loop recursion, Nocedal & Wright, Numerical Optimization, 2nd ed., Algorithm 7.4) with
// a strong Wolfe line search (Algorithms 3.5 and 3.6, safeguarded cubic interpolation).
#include "probes/Lbfgs.h"
#include "probes/Kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mcpt::probes {
namespace {

using kernels::dot_dd;
using kernels::dot_fd;
using kernels::dot_ff;

double max_abs(const std::vector<double>& v) { return kernels::max_abs(v.data(), v.size()); }

struct Point {
  double t, f, g;  // step, value, directional derivative
  bool finite() const { return std::isfinite(f) && std::isfinite(g); }
};

// The minimiser of the cubic through (a.f, a.g) and (b.f, b.g), kept at least a tenth of the
// interval away from either end (bisection when the cubic has no minimiser or b is not finite).
double interpolate(const Point& a, const Point& b) {
  const double lo = std::min(a.t, b.t), hi = std::max(a.t, b.t), width = hi - lo;
  double t = 0.5 * (a.t + b.t);
  if (b.finite()) {
    const double d1 = a.g + b.g - 3 * (a.f - b.f) / (a.t - b.t);
    const double disc = d1 * d1 - a.g * b.g;
    if (disc >= 0) {
      const double d2 = std::copysign(std::sqrt(disc), b.t - a.t);
      const double c = b.t - (b.t - a.t) * (b.g + d2 - d1) / (b.g - a.g + 2 * d2);
      if (std::isfinite(c)) t = c;
    }
  }
  return std::clamp(t, lo + 0.1 * width, hi - 0.1 * width);
}

class LineSearch {
 public:
  LineSearch(LineObjective& f, double f0, double g0, const LbfgsOptions& o) : f_(f), f0_(f0), g0_(g0), o_(o) {}

  // A step satisfying the strong Wolfe conditions, or the best step with sufficient decrease found
  // within the trial budget; t = 0 when there is none.
  Point search(double t) {
    Point prev{0, f0_, g0_};
    for (int i = 0; budget(); ++i) {
      const Point cur = eval(t);
      if (!cur.finite() || cur.f > f0_ + o_.c1 * t * g0_ || (i > 0 && cur.f >= prev.f)) return zoom(prev, cur);
      if (std::abs(cur.g) <= -o_.c2 * g0_) return cur;
      if (cur.g >= 0) return zoom(cur, prev);
      prev = cur;
      t *= 4;  // still descending at a sufficient decrease: a longer step
    }
    return prev;
  }
  int steps() const { return steps_; }

 private:
  bool budget() const { return steps_ < o_.max_line_steps; }
  Point eval(double t) {
    ++steps_;
    const auto [f, g] = f_.along(t);
    return {t, f, g};
  }
  // lo: the best step so far with sufficient decrease (or t = 0); hi: the other end of an interval
  // that holds a strong Wolfe step.
  Point zoom(Point lo, Point hi) {
    while (budget() && std::abs(hi.t - lo.t) > 1e-12 * std::max(1.0, std::abs(lo.t))) {
      const Point cur = eval(interpolate(lo, hi));
      if (!cur.finite() || cur.f > f0_ + o_.c1 * cur.t * g0_ || cur.f >= lo.f) {
        hi = cur;
        continue;
      }
      if (std::abs(cur.g) <= -o_.c2 * g0_) return cur;
      if (cur.g * (hi.t - lo.t) >= 0) hi = lo;
      lo = cur;
    }
    return lo;
  }

  LineObjective& f_;
  const double f0_, g0_;
  const LbfgsOptions& o_;
  int steps_ = 0;
};

}  // namespace

LbfgsResult minimise_lbfgs(LineObjective& f, std::vector<double> x0, const LbfgsOptions& o) {
  LbfgsResult r;
  r.x = std::move(x0);
  const size_t n = r.x.size();
  std::vector<double> g(n), d(n), g_old(n);
  double fx = f.reset(r.x, g);
  r.gradients = 1;
  const int m = std::max(1, o.history);
  const auto mm = static_cast<size_t>(m);
  // The correction pairs are kept in float32: they only shape the approximate inverse Hessian, and
  // reading them twice per iteration is the solver's own main cost (memory traffic), which float32
  // halves. Their products (rho, y.y) are computed from the stored values, so H stays positive
  // definite.
  std::vector<std::vector<float>> s_hist(mm, std::vector<float>(n)), y_hist = s_hist;
  std::vector<double> rho(mm), yy(mm), alpha(mm);
  int stored = 0, newest = -1;
  bool fresh = true;  // g was evaluated from scratch (reset) at r.x
  r.stop = "iterations";
  while (true) {
    const double g_max = max_abs(g);
    if (!std::isfinite(fx) || !std::isfinite(g_max)) {
      r.stop = "not finite";
      break;
    }
    if (g_max <= o.gradient_tolerance) {
      if (!fresh) {  // confirm on a gradient computed from scratch, not carried along the steps
        fx = f.reset(r.x, g);
        ++r.gradients;
        fresh = true;
        continue;
      }
      r.stop = "gradient";
      break;
    }
    if (r.iterations >= o.max_iterations) break;
    // d = -H g by the two-loop recursion, H0 = (s.y / y.y) I from the newest pair. Each pass over d
    // both applies one pair and forms the product the next pair needs.
    kernels::scale_d(-1.0, g.data(), d.data(), n);
    auto slot_of = [&](int k) { return size_t((newest - k + m) % m); };  // k = 0: the newest pair
    if (stored > 0) {
      double sd = dot_fd(s_hist[slot_of(0)].data(), d.data(), n);
      for (int k = 0; k < stored; ++k) {
        const size_t j = slot_of(k);
        alpha[j] = rho[j] * sd;
        sd = kernels::axpy_dot_f(-alpha[j], y_hist[j].data(), d.data(),
                                 k + 1 < stored ? s_hist[slot_of(k + 1)].data() : nullptr, n);
      }
      kernels::scale_d(1.0 / (rho[slot_of(0)] * yy[slot_of(0)]), d.data(), d.data(), n);
      double yd = dot_fd(y_hist[slot_of(stored - 1)].data(), d.data(), n);
      for (int k = stored - 1; k >= 0; --k) {
        const size_t j = slot_of(k);
        yd = kernels::axpy_dot_f(alpha[j] - rho[j] * yd, s_hist[j].data(), d.data(),
                                 k > 0 ? y_hist[slot_of(k - 1)].data() : nullptr, n);
      }
    }
    double gd = dot_dd(g.data(), d.data(), n);
    if (!(gd < 0)) {  // not a descent direction (rounding): start again from steepest descent
      stored = 0;
      kernels::scale_d(-1.0, g.data(), d.data(), n);
      gd = -dot_dd(g.data(), g.data(), n);
    }
    // The first step of steepest descent has no curvature estimate: length 1 in x.
    const double t0 = stored == 0 ? std::min(1.0, 1.0 / std::sqrt(-gd)) : 1.0;
    f.set_direction(d);
    LineSearch ls(f, fx, gd, o);
    const Point step = ls.search(t0);
    r.line_steps += ls.steps();
    if (step.t <= 0) {
      if (stored > 0) {  // the curvature pairs misled the search: retry from steepest descent
        stored = 0;
        continue;
      }
      r.stop = "line search";
      break;
    }
    g_old.swap(g);  // move() writes every entry of g
    const double f_new = f.move(step.t, g);
    ++r.gradients;
    ++r.iterations;
    fresh = false;
    const int slot = (newest + 1) % m;
    auto& s = s_hist[size_t(slot)];
    auto& y = y_hist[size_t(slot)];
    kernels::step_pair(step.t, d.data(), g.data(), g_old.data(), r.x.data(), s.data(), y.data(), n);
    const double sy = dot_ff(s.data(), y.data(), n), y2 = dot_ff(y.data(), y.data(), n);
    if (sy > 1e-10 * y2) {  // keep H positive definite: skip pairs without positive curvature
      rho[size_t(slot)] = 1.0 / sy;
      yy[size_t(slot)] = y2;
      newest = slot;
      stored = std::min(stored + 1, m);
    } else if (stored == m) {
      stored = m - 1;  // the slot written was the oldest pair's
    }
    const double change = fx - f_new;
    fx = f_new;
    if (std::abs(change) <= o.change_tolerance * std::max(1.0, std::abs(fx))) {
      r.stop = "change";
      break;
    }
  }
  if (!fresh) {
    fx = f.reset(r.x, g);
    ++r.gradients;
  }
  r.value = fx;
  r.max_gradient = max_abs(g);
  r.converged = std::isfinite(fx) && r.max_gradient <= o.gradient_tolerance;
  return r;
}

}  // namespace mcpt::probes
