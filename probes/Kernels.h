// The probes' hot loops on plain arrays (torch-free): vector algebra of the L-BFGS solver, feature
// standardisation, and the row terms of the softmax-regression objective. On x86-64 each is built
// twice, for AVX2 + FMA (x86-64-v3) and for the baseline, and the loader picks one for the CPU it
// runs on (function multi-versioning), so a generic build still runs them at the wider vectors.
// Sums use fixed partial-sum orders: the same input gives the same bits on a given CPU.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mcpt::probes::kernels {

double dot_dd(const double* a, const double* b, std::size_t n);
double dot_fd(const float* a, const double* b, std::size_t n);
double dot_ff(const float* a, const float* b, std::size_t n);
// The largest |a_i|; infinity when an entry is NaN.
double max_abs(const double* a, std::size_t n);
// y += a x
void axpy_d(double a, const double* x, double* y, std::size_t n);
// y += a x, then returns z . y (the two-loop recursion's next product, fused into one pass over y);
// z may be null (returns 0).
double axpy_dot_f(double a, const float* x, double* y, const float* z, std::size_t n);
// y = a x
void scale_d(double a, const double* x, double* y, std::size_t n);

// One L-BFGS step of length t along d: x += t d; s = t d and y = g - g_old, stored in float32.
void step_pair(double t, const double* d, const double* g, const double* g_old, double* x, float* s, float* y,
               std::size_t n);

// Column means and population variances of a row-major rows x cols matrix, summed in float64.
void column_moments(const float* x, std::size_t rows, std::size_t cols, double* mean, double* var);
// out = (x - mean) / scale, per column.
void standardise(const float* x, std::size_t rows, std::size_t cols, const float* mean, const float* scale,
                 float* out);

// Softmax regression over rows x k logits z + t xd: writes each row minus its maximum into e, and
// row i's shifted logit of its label y_i into zy[i] (e is then exponentiated in place by the caller).
void shifted_logits(const double* z, const double* xd, double t, const std::int64_t* y, std::size_t rows,
                    std::size_t k, double* e, double* zy);
// From exp(shifted logits) e: the loss sum_i w_i (log sum_c e_ic - zy_i) into *loss, d loss / d
// logits r[i * ldr + c] = w_i (softmax_ic - [c = y_i]) as float32, its column sums into gb, and the
// slope sum r . xd into *slope.
void softmax_rows(const double* e, const double* zy, const double* w, const std::int64_t* y, const double* xd,
                  std::size_t rows, std::size_t k, float* r, std::size_t ldr, double* gb, double* loss,
                  double* slope);
// out[i, c] = prod[i * ldp + c] + b[c] (out is rows x k)
void add_bias(const float* prod, std::size_t ldp, const double* b, std::size_t rows, std::size_t k, double* out);
// out[i * ldo + c] = a[i * k + c] as float32 (rows x k into rows ldo apart)
void to_float(const double* a, std::size_t rows, std::size_t k, float* out, std::size_t ldo);
// g = gw + lambda w over rows x k, gw's rows ldg apart (the data term's float32 gradient plus the
// penalty's)
void penalised_gradient(const float* gw, std::size_t ldg, double lambda, const double* w, double* g, std::size_t rows,
                        std::size_t k);

// Inverted-dropout mask: mask[i] = 1 / keep with probability keep, else 0, from a stream fixed by
// `seed` (four interleaved xoshiro256** generators seeded by splitmix64; each 64-bit draw gives two
// 32-bit uniforms, kept when below keep * 2^32). Integer arithmetic only: the same seed gives the same
// mask on every CPU and build. keep in (0, 1].
void dropout_mask(float* mask, std::size_t n, double keep, std::uint64_t seed);

// Products of a tall row-major matrix X (rows x d) with a narrow one (kp columns, kp a multiple of
// 8, e.g. 24 keys), for CPUs with AVX2 + FMA (skinny_products() says whether this one has them;
// otherwise the caller uses its BLAS). Register-blocked with X read in place: OpenBLAS packs X
// afresh for every product, which on these shapes costs it a quarter of its time (probe fit:
// 0.36 ms per product against 0.25-0.28 ms here, docs/performance.md "P4"). Single-threaded.
bool skinny_products();
// Z = X B, with B d x kp and Z rows x kp (row-major).
void product_xb(const float* x, std::size_t rows, std::size_t d, const float* b, std::size_t kp, float* z);
// G = X^T R, with R rows x kp and G d x kp (row-major).
void product_xtr(const float* x, std::size_t rows, std::size_t d, const float* r, std::size_t kp, float* g);

}  // namespace mcpt::probes::kernels
