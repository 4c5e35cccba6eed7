#include "probes/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

// AVX2 + FMA and baseline builds of each function, chosen at load time (GCC and Clang on x86-64).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MCPT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MCPT_CLONES
#endif

namespace mcpt::probes::kernels {
namespace {
// Four partial sums: a single running sum is one long dependency chain and cannot use vectors.
template <class A, class B>
inline double dot4(const A* a, const B* b, std::size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += double(a[i]) * double(b[i]);
    s1 += double(a[i + 1]) * double(b[i + 1]);
    s2 += double(a[i + 2]) * double(b[i + 2]);
    s3 += double(a[i + 3]) * double(b[i + 3]);
  }
  for (; i < n; ++i) s0 += double(a[i]) * double(b[i]);
  return (s0 + s2) + (s1 + s3);
}
}  // namespace

MCPT_CLONES double dot_dd(const double* a, const double* b, std::size_t n) { return dot4(a, b, n); }
MCPT_CLONES double dot_fd(const float* a, const double* b, std::size_t n) { return dot4(a, b, n); }
MCPT_CLONES double dot_ff(const float* a, const float* b, std::size_t n) { return dot4(a, b, n); }

MCPT_CLONES double max_abs(const double* a, std::size_t n) {
  double m = 0;
  bool nan = false;
  for (std::size_t i = 0; i < n; ++i) {
    m = std::max(m, std::abs(a[i]));
    nan |= a[i] != a[i];
  }
  return nan ? std::numeric_limits<double>::infinity() : m;
}

MCPT_CLONES void axpy_d(double a, const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] += a * x[i];
}
MCPT_CLONES double axpy_dot_f(double a, const float* x, double* y, const float* z, std::size_t n) {
  if (!z) {
    for (std::size_t i = 0; i < n; ++i) y[i] += a * double(x[i]);
    return 0;
  }
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    y[i] += a * double(x[i]);
    y[i + 1] += a * double(x[i + 1]);
    y[i + 2] += a * double(x[i + 2]);
    y[i + 3] += a * double(x[i + 3]);
    s0 += double(z[i]) * y[i];
    s1 += double(z[i + 1]) * y[i + 1];
    s2 += double(z[i + 2]) * y[i + 2];
    s3 += double(z[i + 3]) * y[i + 3];
  }
  for (; i < n; ++i) {
    y[i] += a * double(x[i]);
    s0 += double(z[i]) * y[i];
  }
  return (s0 + s2) + (s1 + s3);
}

MCPT_CLONES void scale_d(double a, const double* x, double* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = a * x[i];
}

MCPT_CLONES void step_pair(double t, const double* d, const double* g, const double* g_old, double* x, float* s,
                           float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double si = t * d[i];
    x[i] += si;
    s[i] = float(si);
    y[i] = float(g[i] - g_old[i]);
  }
}

MCPT_CLONES void column_moments(const float* x, std::size_t rows, std::size_t cols, double* mean, double* var) {
  std::fill(mean, mean + cols, 0.0);
  std::fill(var, var + cols, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) mean[c] += double(x[r * cols + c]);
  for (std::size_t c = 0; c < cols; ++c) mean[c] /= double(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const double d = double(x[r * cols + c]) - mean[c];
      var[c] += d * d;
    }
  for (std::size_t c = 0; c < cols; ++c) var[c] /= double(rows);
}

MCPT_CLONES void standardise(const float* x, std::size_t rows, std::size_t cols, const float* mean,
                             const float* scale, float* out) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) out[r * cols + c] = (x[r * cols + c] - mean[c]) / scale[c];
}

MCPT_CLONES void shifted_logits(const double* z, const double* xd, double t, const std::int64_t* y, std::size_t rows,
                                std::size_t k, double* e, double* zy) {
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t o = i * k;
    double m = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
      e[o + c] = z[o + c] + t * xd[o + c];
      m = std::max(m, e[o + c]);
    }
    for (std::size_t c = 0; c < k; ++c) e[o + c] -= m;
    zy[i] = e[o + std::size_t(y[i])];
  }
}

MCPT_CLONES void softmax_rows(const double* e, const double* zy, const double* w, const std::int64_t* y,
                              const double* xd, std::size_t rows, std::size_t k, float* r, std::size_t ldr,
                              double* gb, double* loss, double* slope) {
  std::fill(gb, gb + k, 0.0);
  double data = 0, sl = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t o = i * k;
    float* ri_row = r + i * ldr;
    double sum = 0;
    for (std::size_t c = 0; c < k; ++c) sum += e[o + c];
    const double scale = w[i] / sum;
    data += w[i] * (std::log(sum) - zy[i]);
    double row_slope = 0;
    for (std::size_t c = 0; c < k; ++c) {
      const double ri = e[o + c] * scale;
      ri_row[c] = float(ri);
      row_slope += ri * xd[o + c];
      gb[c] += ri;
    }
    // The label's term of (softmax - one-hot).
    const std::size_t yi = std::size_t(y[i]);
    ri_row[yi] = float(e[o + yi] * scale - w[i]);
    row_slope -= w[i] * xd[o + yi];
    gb[yi] -= w[i];
    sl += row_slope;
  }
  *loss = data;
  *slope = sl;
}

MCPT_CLONES void add_bias(const float* prod, std::size_t ldp, const double* b, std::size_t rows, std::size_t k,
                          double* out) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < k; ++c) out[i * k + c] = double(prod[i * ldp + c]) + b[c];
}

MCPT_CLONES void to_float(const double* a, std::size_t rows, std::size_t k, float* out, std::size_t ldo) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < k; ++c) out[i * ldo + c] = float(a[i * k + c]);
}

MCPT_CLONES void penalised_gradient(const float* gw, std::size_t ldg, double lambda, const double* w, double* g,
                                    std::size_t rows, std::size_t k) {
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < k; ++c) g[i * k + c] = double(gw[i * ldg + c]) + lambda * w[i * k + c];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MCPT_SKINNY 1
#define MCPT_AVX2 __attribute__((target("avx2,fma"), always_inline)) inline
namespace {
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4)));
MCPT_AVX2 v8f load8(const float* p) { return *reinterpret_cast<const v8f_unaligned*>(p); }
MCPT_AVX2 void store8(float* p, v8f v) { *reinterpret_cast<v8f_unaligned*>(p) = v; }

// z[0..rows) x [0, 8V) = x * b over V vectors of columns; 4 rows at a time, 4V accumulators.
template <int V>
MCPT_AVX2 void xb_panel(const float* x, std::size_t rows, std::size_t d, const float* b, std::size_t ldb, float* z,
                        std::size_t ldz) {
  std::size_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    v8f acc[4][V] = {};
    const float* xi = x + i * d;
    for (std::size_t k = 0; k < d; ++k) {
      v8f bk[V];
      for (int v = 0; v < V; ++v) bk[v] = load8(b + k * ldb + 8 * v);
      for (int r = 0; r < 4; ++r) {
        const float xr = xi[std::size_t(r) * d + k];
        for (int v = 0; v < V; ++v) acc[r][v] += xr * bk[v];
      }
    }
    for (int r = 0; r < 4; ++r)
      for (int v = 0; v < V; ++v) store8(z + (i + std::size_t(r)) * ldz + 8 * v, acc[r][v]);
  }
  for (const float* xi = x + i * d; i < rows; ++i, xi += d) {
    v8f acc[V] = {};
    for (std::size_t k = 0; k < d; ++k)
      for (int v = 0; v < V; ++v) acc[v] += xi[k] * load8(b + k * ldb + 8 * v);
    for (int v = 0; v < V; ++v) store8(z + i * ldz + 8 * v, acc[v]);
  }
}

// g[0..d) x [0, 8V) = x^T r over V vectors of columns: blocks of 64 rows of x (kept in cache), 4
// columns of x at a time, 4V accumulators.
template <int V>
MCPT_AVX2 void xtr_panel(const float* x, std::size_t rows, std::size_t d, const float* r, std::size_t ldr, float* g,
                         std::size_t ldg) {
  for (std::size_t j = 0; j < d; ++j)
    for (int v = 0; v < V; ++v) store8(g + j * ldg + 8 * v, v8f{});
  constexpr std::size_t kBlock = 64;
  for (std::size_t i0 = 0; i0 < rows; i0 += kBlock) {
    const std::size_t i1 = std::min(rows, i0 + kBlock);
    std::size_t j = 0;
    for (; j + 4 <= d; j += 4) {
      v8f acc[4][V];
      for (int c = 0; c < 4; ++c)
        for (int v = 0; v < V; ++v) acc[c][v] = load8(g + (j + std::size_t(c)) * ldg + 8 * v);
      for (std::size_t i = i0; i < i1; ++i) {
        v8f ri[V];
        for (int v = 0; v < V; ++v) ri[v] = load8(r + i * ldr + 8 * v);
        const float* xi = x + i * d + j;
        for (int c = 0; c < 4; ++c)
          for (int v = 0; v < V; ++v) acc[c][v] += xi[c] * ri[v];
      }
      for (int c = 0; c < 4; ++c)
        for (int v = 0; v < V; ++v) store8(g + (j + std::size_t(c)) * ldg + 8 * v, acc[c][v]);
    }
    for (; j < d; ++j) {
      v8f acc[V];
      for (int v = 0; v < V; ++v) acc[v] = load8(g + j * ldg + 8 * v);
      for (std::size_t i = i0; i < i1; ++i)
        for (int v = 0; v < V; ++v) acc[v] += x[i * d + j] * load8(r + i * ldr + 8 * v);
      for (int v = 0; v < V; ++v) store8(g + j * ldg + 8 * v, acc[v]);
    }
  }
}
}  // namespace
#endif

namespace {
inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

namespace {
typedef std::uint64_t u64x4 __attribute__((vector_size(32)));
typedef std::uint32_t u32x8 __attribute__((vector_size(32)));
typedef std::int32_t i32x8 __attribute__((vector_size(32)));

// Four xoshiro256** generators side by side (one per 64-bit lane): their next outputs into r.
// Shifts, xors and adds only (x * 5 and x * 9 as shifts and adds), so it runs on AVX2 vectors.
// (By reference: vector arguments by value change the ABI between the clones.)
inline void xoshiro_next(u64x4 (&s)[4], u64x4& r) {
  const u64x4 a = s[1] + (s[1] << 2);  // * 5
  const u64x4 b = (a << 7) | (a >> 57);
  r = b + (b << 3);  // * 9
  const u64x4 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
}
}  // namespace

MCPT_CLONES void dropout_mask(float* mask, std::size_t n, double keep, std::uint64_t seed) {
  const float scale = float(1.0 / keep);
  if (keep >= 1.0) {
    std::fill(mask, mask + n, scale);
    return;
  }
  // Two sets of four generators (two independent chains keep the vector units busy); each step
  // gives 16 uniforms of 32 bits, in the order of the outputs' halves in memory.
  u64x4 a[4], b[4];
  for (int lane = 0; lane < 4; ++lane)
    for (int w = 0; w < 4; ++w) a[w][lane] = splitmix64(seed);
  for (int lane = 0; lane < 4; ++lane)
    for (int w = 0; w < 4; ++w) b[w][lane] = splitmix64(seed);
  const std::uint32_t threshold = std::uint32_t(keep * 4294967296.0);  // keep < 1: below 2^32
  std::uint32_t scale_bits;
  std::memcpy(&scale_bits, &scale, sizeof scale_bits);
  const u32x8 thr = u32x8{} + threshold;
  const u32x8 bits = u32x8{} + scale_bits;
  auto draw = [&](float* out16) {
    u64x4 ra, rb;
    xoshiro_next(a, ra);
    xoshiro_next(b, rb);
    u32x8 ua, ub;
    std::memcpy(&ua, &ra, sizeof ua);
    std::memcpy(&ub, &rb, sizeof ub);
    const u32x8 ma = u32x8(i32x8(ua < thr)) & bits, mb = u32x8(i32x8(ub < thr)) & bits;
    std::memcpy(out16, &ma, sizeof ma);
    std::memcpy(out16 + 8, &mb, sizeof mb);
  };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) draw(mask + i);
  if (i < n) {
    float tail[16];
    draw(tail);
    std::copy(tail, tail + (n - i), mask + i);
  }
}

bool skinny_products() {
#ifdef MCPT_SKINNY
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return have;
#else
  return false;
#endif
}

#ifdef MCPT_SKINNY
namespace {
// Columns in panels of 24 (3 vectors: 12 accumulators and 4 operands fill the 16 registers), the
// last one of 8 or 16.
template <int V>
MCPT_AVX2 void panel(bool transposed, const float* x, std::size_t rows, std::size_t d, const float* a, std::size_t kp,
                     float* out) {
  if (transposed)
    xtr_panel<V>(x, rows, d, a, kp, out, kp);
  else
    xb_panel<V>(x, rows, d, a, kp, out, kp);
}
MCPT_AVX2 void panels(bool transposed, const float* x, std::size_t rows, std::size_t d, const float* a,
                      std::size_t kp, float* out) {
  for (std::size_t c = 0; c < kp; c += 24) {
    const std::size_t w = std::min<std::size_t>(24, kp - c);
    if (w == 24)
      panel<3>(transposed, x, rows, d, a + c, kp, out + c);
    else if (w == 16)
      panel<2>(transposed, x, rows, d, a + c, kp, out + c);
    else
      panel<1>(transposed, x, rows, d, a + c, kp, out + c);
  }
}
}  // namespace

__attribute__((target("avx2,fma"))) void product_xb(const float* x, std::size_t rows, std::size_t d, const float* b,
                                                    std::size_t kp, float* z) {
  panels(false, x, rows, d, b, kp, z);
}
__attribute__((target("avx2,fma"))) void product_xtr(const float* x, std::size_t rows, std::size_t d, const float* r,
                                                     std::size_t kp, float* g) {
  panels(true, x, rows, d, r, kp, g);
}
#else  // callers check skinny_products() first
void product_xb(const float*, std::size_t, std::size_t, const float*, std::size_t, float*) { std::abort(); }
void product_xtr(const float*, std::size_t, std::size_t, const float*, std::size_t, float*) { std::abort(); }
#endif

}  // namespace mcpt::probes::kernels
