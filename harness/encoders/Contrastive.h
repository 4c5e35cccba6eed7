// Contrastive losses for pre-training the MCPT ViT: NT-Xent (SimCLR) and SogCLR (global contrastive
// loss with per-example moving-average normalisers, Yuan et al. 2022), as Myna trains with.
// Includes <torch/torch.h>: include it only from .cpp files that use torch.
#pragma once
#include <cstdint>

#include <torch/torch.h>

namespace mcpt::harness {

// NT-Xent over a batch of B positive pairs (z1[i], z2[i]): embeddings are L2-normalised, every one of
// the 2B is an anchor whose positive is its pair and whose 2B - 2 negatives are the other rows of
// both views; cross-entropy of the temperature-scaled cosine similarities, averaged over the 2B.
// Computed in float64 whatever the input dtype. z1, z2: [B, D], B >= 2.
torch::Tensor nt_xent_loss(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

// SogCLR: each anchor's softmax denominator is replaced by u_i, a moving average over the steps in
// which example i was drawn (u_i <- (1 - gamma) u_i + gamma g_i, g_i the batch mean of exp(s_ij / tau)
// over the 2B - 2 negatives; gamma = 1 on the first visit). The two views' u are averaged into the
// stored state, as the reference implementation does.
class SogClrLoss {
 public:
  SogClrLoss(std::int64_t examples, double temperature, double gamma);

  struct Result {
    // Differentiable surrogate whose gradient is the SogCLR gradient estimate:
    // mean over anchors of  -s_pos / tau + sum_j w_j s_j / tau / (2B - 2),  w_j = exp(s_j / tau) / u_i (detached).
    torch::Tensor surrogate;
    // The global contrastive loss as SogCLR estimates it: mean of -s_pos / tau + log(u_i) (new u).
    double loss = 0.0;
  };
  // z1, z2: [B, D]; index: int64 [B], each example's index in [0, examples). Updates u.
  Result forward(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& index);

  torch::Tensor& u() { return u_; }  // [examples] float64 on the CPU; 0 = not yet visited
  const torch::Tensor& u() const { return u_; }

 private:
  double temperature_, gamma_;
  torch::Tensor u_;
};

}  // namespace mcpt::harness
