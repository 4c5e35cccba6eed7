#include "probes/SoftmaxObjective.h"
#include "probes/Kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <torch/torch.h>

namespace mcpt::probes {
namespace {

using Vec = std::vector<double>;

double dot_range(const Vec& a, const Vec& b, size_t n) { return kernels::dot_dd(a.data(), b.data(), n); }

// Row weights summing to one: 1/n each, or w_yi / sum_j w_yj with class weights.
torch::Tensor row_weights(const torch::Tensor& y, const torch::Tensor& class_w, const torch::TensorOptions& f64) {
  torch::Tensor w = class_w.defined() ? class_w.to(f64).index_select(0, y) : torch::ones({y.size(0)}, f64);
  return w / w.sum();
}

// Host memory, one pass over the logits per trial step.
class CpuObjective final : public LineObjective {
 public:
  CpuObjective(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& class_w, int64_t classes,
               double weight_decay, bool skinny)
      : skinny_(skinny),
        x_(x.contiguous()),
        n_(x.size(0)),
        dim_(x.size(1)),
        classes_(classes),
        lambda_(weight_decay),
        kd_(size_t(classes * x.size(1))) {
    const auto yc = y.to(torch::kInt64).contiguous();
    y_.assign(yc.data_ptr<int64_t>(), yc.data_ptr<int64_t>() + n_);
    const auto w = row_weights(yc, class_w.defined() ? class_w.cpu() : class_w, torch::TensorOptions().dtype(torch::kFloat64))
                       .contiguous();
    row_w_.assign(w.data_ptr<double>(), w.data_ptr<double>() + n_);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    // Row strides of the float32 buffers: a multiple of 8 for the AVX2 products (padding stays 0).
    kp_ = skinny_ ? (size_t(classes_) + 7) / 8 * 8 : size_t(classes_);
    wf_ = torch::zeros({dim_, int64_t(kp_)}, f32);
    prod_ = torch::zeros({n_, int64_t(kp_)}, f32);
    rf_ = torch::zeros({n_, int64_t(kp_)}, f32);
    gf_ = torch::zeros({dim_, int64_t(kp_)}, f32);
    e_ = torch::empty({n_, classes_}, torch::TensorOptions().dtype(torch::kFloat64));
    z_.assign(size_t(n_ * classes_), 0.0);
    xd_ = z_;
    zy_.assign(size_t(n_), 0.0);
    gb_.assign(size_t(classes_), 0.0);
  }

  double reset(const std::vector<double>& x, std::vector<double>& g) override {
    theta_ = x;
    if (kernels::max_abs(theta_.data(), kd_) == 0) {  // W = 0 (the start): the logits are the bias
      for (size_t i = 0; i < z_.size(); ++i) z_[i] = theta_[kd_ + i % size_t(classes_)];
    } else {
      product(theta_, z_);
    }
    dir_.assign(theta_.size(), 0.0);
    std::fill(xd_.begin(), xd_.end(), 0.0);
    ww_ = dot_range(theta_, theta_, kd_);
    wd_ = dd_ = 0;
    along(0);
    return move(0, g);
  }

  void set_direction(const std::vector<double>& d) override {
    dir_ = d;
    product(dir_, xd_);
    wd_ = dot_range(theta_, dir_, kd_);
    dd_ = dot_range(dir_, dir_, kd_);
    cached_t_ = std::numeric_limits<double>::quiet_NaN();
  }

  std::pair<double, double> along(double t) override {
    const size_t rows = size_t(n_), k = size_t(classes_);
    double* e = e_.data_ptr<double>();
    kernels::shifted_logits(z_.data(), xd_.data(), t, y_.data(), rows, k, e, zy_.data());
    e_.exp_();  // LibTorch's vectorised exp
    double data = 0, slope = 0;
    kernels::softmax_rows(e, zy_.data(), row_w_.data(), y_.data(), xd_.data(), rows, k, rf_.data_ptr<float>(), kp_,
                          gb_.data(), &data, &slope);
    cached_t_ = t;
    cached_ = {data + 0.5 * lambda_ * (ww_ + 2 * t * wd_ + t * t * dd_), slope + lambda_ * (wd_ + t * dd_)};
    return cached_;
  }

  double move(double t, std::vector<double>& g) override {
    if (!(t == cached_t_)) along(t);
    if (t != 0) {
      kernels::axpy_d(t, xd_.data(), z_.data(), z_.size());
      kernels::axpy_d(t, dir_.data(), theta_.data(), theta_.size());
      ww_ = dot_range(theta_, theta_, kd_);
    }
    g.resize(theta_.size());
    if (skinny_)  // G = X^T R (dim x kp)
      kernels::product_xtr(x_.data_ptr<float>(), size_t(n_), size_t(dim_), rf_.data_ptr<float>(), kp_,
                           gf_.data_ptr<float>());
    else
      at::mm_out(gf_, x_.t(), rf_);
    kernels::penalised_gradient(gf_.data_ptr<float>(), kp_, lambda_, theta_.data(), g.data(), size_t(dim_),
                                size_t(classes_));
    for (size_t c = 0; c < size_t(classes_); ++c) g[kd_ + c] = gb_[c];
    return cached_.first;
  }

 private:
  // out = X W + b (n x classes) for the parameters p = [W (dim x classes), b].
  void product(const Vec& p, Vec& out) {
    kernels::to_float(p.data(), size_t(dim_), size_t(classes_), wf_.data_ptr<float>(), kp_);
    if (skinny_)
      kernels::product_xb(x_.data_ptr<float>(), size_t(n_), size_t(dim_), wf_.data_ptr<float>(), kp_,
                          prod_.data_ptr<float>());
    else
      at::mm_out(prod_, x_, wf_);
    kernels::add_bias(prod_.data_ptr<float>(), kp_, p.data() + kd_, size_t(n_), size_t(classes_), out.data());
  }

  const bool skinny_;  // the AVX2 products (kernels::product_xb / product_xtr), else the BLAS
  torch::Tensor x_;
  int64_t n_, dim_, classes_;
  double lambda_;
  size_t kd_;
  std::vector<int64_t> y_;
  Vec row_w_;
  // float32 product operands and results, rows kp_ apart: W and G (dim x kp_), X W and R (n x kp_);
  // e_: the exp buffer.
  size_t kp_ = 0;
  torch::Tensor wf_, prod_, rf_, gf_, e_;
  Vec theta_, dir_, z_, xd_, zy_, gb_;
  double ww_ = 0, wd_ = 0, dd_ = 0;  // |W|^2, W.D, |D|^2
  double cached_t_ = std::numeric_limits<double>::quiet_NaN();
  std::pair<double, double> cached_{0, 0};
};

// LibTorch operations on x's device (CUDA); parameters travel as float64 host vectors.
class TensorObjective final : public LineObjective {
 public:
  TensorObjective(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& class_w, int64_t classes,
                  double weight_decay)
      : x_(x.contiguous()), classes_(classes), dim_(x.size(1)), lambda_(weight_decay) {
    const auto f64 = x_.options().dtype(torch::kFloat64);
    onehot_ = torch::zeros({x_.size(0), classes}, f64).scatter_(1, y.unsqueeze(1), 1.0);
    row_w_ = row_weights(y, class_w, f64).unsqueeze(1);
  }

  double reset(const std::vector<double>& x, std::vector<double>& g) override {
    w_ = from_vector(x, 0, {dim_, classes_});
    b_ = from_vector(x, classes_ * dim_, {classes_});
    z_ = torch::mm(x_, w_.to(torch::kFloat32)).to(torch::kFloat64) + b_;
    dw_ = torch::zeros_like(w_);
    db_ = torch::zeros_like(b_);
    xd_ = torch::zeros_like(z_);
    wd_ = dd_ = 0;
    ww_ = w_.pow(2).sum().item<double>();
    along(0);
    return move(0, g);
  }

  void set_direction(const std::vector<double>& d) override {
    dw_ = from_vector(d, 0, {dim_, classes_});
    db_ = from_vector(d, classes_ * dim_, {classes_});
    xd_ = torch::mm(x_, dw_.to(torch::kFloat32)).to(torch::kFloat64) + db_;
    wd_ = (w_ * dw_).sum().item<double>();
    dd_ = dw_.pow(2).sum().item<double>();
    cached_t_ = std::numeric_limits<double>::quiet_NaN();
  }

  std::pair<double, double> along(double t) override {
    zt_ = t == 0 ? z_ : torch::add(z_, xd_, t);
    const auto lse = torch::logsumexp(zt_, 1, /*keepdim=*/true);
    const double data = (row_w_ * (lse - (zt_ * onehot_).sum(1, true))).sum().item<double>();
    r_ = row_w_ * (torch::exp(zt_ - lse) - onehot_);  // d loss / d logits
    const double slope = (r_ * xd_).sum().item<double>();
    cached_t_ = t;
    cached_ = {data + 0.5 * lambda_ * (ww_ + 2 * t * wd_ + t * t * dd_), slope + lambda_ * (wd_ + t * dd_)};
    return cached_;
  }

  double move(double t, std::vector<double>& g) override {
    if (!(t == cached_t_)) along(t);
    z_ = zt_;
    if (t != 0) {
      w_.add_(dw_, t);
      b_.add_(db_, t);
      ww_ = w_.pow(2).sum().item<double>();
    }
    const auto gw = torch::mm(x_.t(), r_.to(torch::kFloat32)).to(torch::kFloat64) + lambda_ * w_;
    g.resize(size_t(classes_ * (dim_ + 1)));
    auto out = torch::from_blob(g.data(), {classes_ * (dim_ + 1)}, torch::kFloat64);
    out.narrow(0, 0, classes_ * dim_).view({dim_, classes_}).copy_(gw);
    out.narrow(0, classes_ * dim_, classes_).copy_(r_.sum(0));
    return cached_.first;
  }

 private:
  torch::Tensor from_vector(const std::vector<double>& v, int64_t offset, at::IntArrayRef shape) const {
    int64_t count = 1;
    for (auto s : shape) count *= s;
    return torch::from_blob(const_cast<double*>(v.data()) + offset, {count}, torch::kFloat64)
        .view(shape)
        .to(x_.device(), /*non_blocking=*/false, /*copy=*/true);
  }

  torch::Tensor x_, onehot_, row_w_;
  int64_t classes_, dim_;
  double lambda_;
  torch::Tensor w_, b_, z_, dw_, db_, xd_, zt_, r_;
  double ww_ = 0, wd_ = 0, dd_ = 0;
  double cached_t_ = std::numeric_limits<double>::quiet_NaN();
  std::pair<double, double> cached_{0, 0};
};

}  // namespace

std::unique_ptr<LineObjective> softmax_objective(const at::Tensor& x, const at::Tensor& y, const at::Tensor& class_w,
                                                 std::int64_t classes, double weight_decay, ObjectivePath path) {
  if (path != ObjectivePath::kTensor && x.is_cpu())
    return std::make_unique<CpuObjective>(x, y, class_w, classes, weight_decay,
                                          path == ObjectivePath::kAuto && kernels::skinny_products());
  return std::make_unique<TensorObjective>(x, y, class_w, classes, weight_decay);
}

}  // namespace mcpt::probes
