// The objective the "lbfgs" linear probe minimises (probes/Lbfgs.h): the (class-weighted) mean
// cross-entropy of a softmax regression on standardised rows plus weight_decay / 2 * |W|^2, the
// bias unpenalised, over the parameters W (dim x classes, row-major: logits = X W + b) followed by
// the bias b.
//
// The two products with the data, X W and X^T R, run in float32 like the data; everything else
// is float64. The logits are kept and moved along the search direction, so a direction costs one
// product (X D), a trial step of the line search none, and the gradient at the accepted step one.
// On the CPU the loss, its slope and the gradient's row terms are one pass over the logits (and one
// vectorised exp); on other devices they are LibTorch operations.
#pragma once
#include <cstdint>
#include <memory>

#include <ATen/core/Tensor.h>

#include "probes/Lbfgs.h"

namespace mcpt::probes {

// How the objective is computed. kAuto: on the CPU one pass over the logits with the AVX2 products
// where the CPU has them (else the BLAS), on other devices LibTorch operations. The others force a
// path, so that the tests can compare them on any machine.
enum class ObjectivePath { kAuto, kCpuBlas, kTensor };

// x: rows x dim, float32, contiguous, on any device; y: int64 labels in [0, classes) on x's device;
// class_w: one weight per class, or undefined (as cross_entropy's `weight`: the loss is
// sum_i w_yi ce_i / sum_i w_yi).
std::unique_ptr<LineObjective> softmax_objective(const at::Tensor& x, const at::Tensor& y, const at::Tensor& class_w,
                                                 std::int64_t classes, double weight_decay,
                                                 ObjectivePath path = ObjectivePath::kAuto);

}  // namespace mcpt::probes
