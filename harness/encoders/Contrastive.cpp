#include "harness/encoders/Contrastive.h"

#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace mcpt::harness {
namespace {

void check_pair(const torch::Tensor& z1, const torch::Tensor& z2, const char* what) {
  if (z1.dim() != 2 || z2.dim() != 2 || z1.sizes() != z2.sizes())
    throw Error(fmt::format("{}: expected two [B, D] embeddings of one shape", what), ExitCode::kInternal);
  if (z1.size(0) < 2) throw Error(fmt::format("{}: a batch needs at least 2 pairs, got {}", what, z1.size(0)));
}

torch::Tensor unit_rows(const torch::Tensor& z) {
  namespace F = torch::nn::functional;
  return F::normalize(z.to(torch::kFloat64), F::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

}  // namespace

torch::Tensor nt_xent_loss(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  check_pair(z1, z2, "nt-xent");
  const auto b = z1.size(0);
  auto z = torch::cat({unit_rows(z1), unit_rows(z2)}, 0);  // [2B, D]
  auto logits = z.mm(z.t()) / temperature;
  auto self = torch::eye(2 * b, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  logits = logits.masked_fill(self, -std::numeric_limits<double>::infinity());
  auto target = torch::cat({torch::arange(b, 2 * b), torch::arange(0, b)}).to(z.device());
  return torch::nn::functional::cross_entropy(logits, target);
}

SogClrLoss::SogClrLoss(std::int64_t examples, double temperature, double gamma)
    : temperature_(temperature), gamma_(gamma), u_(torch::zeros({examples}, torch::kFloat64)) {
  if (examples < 2) throw Error(fmt::format("sogclr: needs at least 2 examples, got {}", examples));
}

SogClrLoss::Result SogClrLoss::forward(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& index) {
  check_pair(z1, z2, "sogclr");
  const auto b = z1.size(0);
  if (index.dim() != 1 || index.size(0) != b)
    throw Error("sogclr: index must hold one example index per pair", ExitCode::kInternal);
  const auto idx = index.to(torch::kCPU, torch::kLong);
  if (idx.min().item<std::int64_t>() < 0 || idx.max().item<std::int64_t>() >= u_.size(0))
    throw Error(fmt::format("sogclr: example index outside [0, {})", u_.size(0)), ExitCode::kInternal);
  const double negatives = 2.0 * double(b - 1);
  const auto a = unit_rows(z1), c = unit_rows(z2);
  const auto dev = a.device();
  const auto not_self = torch::eye(b, torch::TensorOptions().dtype(torch::kBool).device(dev)).logical_not();
  const auto neg_mask = torch::cat({not_self, not_self}, 1).to(torch::kFloat64);

  // One view's anchors against the other view's positives and both views' negatives.
  struct Side {
    torch::Tensor pos, logits, exp_neg, g;
  };
  auto side = [&](const torch::Tensor& x, const torch::Tensor& y) {
    Side s;
    auto cross = x.mm(y.t()) / temperature_;  // diagonal: the positives
    s.pos = cross.diagonal();
    s.logits = torch::cat({cross, x.mm(x.t()) / temperature_}, 1);  // [B, 2B]
    s.exp_neg = s.logits.exp() * neg_mask;
    s.g = s.exp_neg.detach().sum(1) / negatives;
    return s;
  };
  const Side s1 = side(a, c), s2 = side(c, a);

  const auto old = u_.index_select(0, idx);
  const auto first = old.eq(0.0).to(torch::kFloat64);
  const auto gam = first + (1.0 - first) * gamma_;
  const auto u1 = (1.0 - gam) * old + gam * s1.g.to(torch::kCPU);
  const auto u2 = (1.0 - gam) * old + gam * s2.g.to(torch::kCPU);
  u_.index_copy_(0, idx, (u1 + u2) / 2.0);

  auto half = [&](const Side& s, const torch::Tensor& u) {
    const auto w = (s.exp_neg / u.to(dev).unsqueeze(1)).detach();
    return -s.pos + (w * s.logits).sum(1) / negatives;
  };
  Result r;
  r.surrogate = torch::cat({half(s1, u1), half(s2, u2)}).mean();
  const auto est = torch::cat({-s1.pos.detach().cpu() + u1.log(), -s2.pos.detach().cpu() + u2.log()}).mean();
  r.loss = est.item<double>();
  return r;
}

}  // namespace mcpt::harness
