// probes/Kernels.h: the inverted-dropout mask the MLP probes train with.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "probes/Kernels.h"

namespace k = mcpt::probes::kernels;

namespace {
std::vector<float> mask(std::size_t n, double keep, std::uint64_t seed) {
  std::vector<float> m(n, -1.0f);
  k::dropout_mask(m.data(), n, keep, seed);
  return m;
}
}  // namespace

// Each entry is 0 or 1 / keep, kept with probability keep: the kept fraction of 10^6 entries lies
// within 5 standard deviations of keep, and the mask's mean within as many of 1 (inverted dropout
// leaves the expected activation unchanged).
TEST(DropoutMask, KeepsTheRequestedFractionScaledByOneOverKeep) {
  for (const double keep : {0.25, 0.5, 0.9, 0.999}) {
    const std::size_t n = 1000000;
    const auto m = mask(n, keep, 42);
    std::size_t kept = 0, pairs = 0;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(m[i] == 0.0f || m[i] == float(1.0 / keep)) << "entry " << i << " is " << m[i];
      kept += m[i] != 0.0f;
      if (i + 1 < n) pairs += m[i] != 0.0f && m[i + 1] != 0.0f;
      sum += m[i];
    }
    const double sd = std::sqrt(keep * (1 - keep) / double(n));
    EXPECT_NEAR(double(kept) / double(n), keep, 5 * sd) << "keep " << keep;
    EXPECT_NEAR(sum / double(n), 1.0, 5 * sd / keep) << "keep " << keep;
    // Neighbours are independent: both kept with probability keep^2.
    const double sd2 = std::sqrt(keep * keep * (1 - keep * keep) / double(n));
    EXPECT_NEAR(double(pairs) / double(n - 1), keep * keep, 6 * sd2) << "keep " << keep;
  }
}

// The mask is a function of the seed alone: the same seed gives the same mask (fits stay
// deterministic per seed), other seeds other masks, and a shorter mask is the start of a longer
// one, whatever the length's remainder (the tail is drawn like a whole block).
TEST(DropoutMask, FollowsTheSeedOnlyAndShorterMasksArePrefixes) {
  const auto a = mask(4099, 0.25, 7);
  EXPECT_EQ(a, mask(4099, 0.25, 7));
  const auto b = mask(4099, 0.25, 8);
  std::size_t same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  EXPECT_LT(same, a.size() * 3 / 4 + 100) << "seeds 7 and 8 gave nearly the same mask";
  for (const std::size_t n : {0, 1, 7, 8, 15, 16, 17, 31, 33, 1000}) {
    const auto p = mask(n, 0.25, 7);
    EXPECT_TRUE(std::equal(p.begin(), p.end(), a.begin())) << "length " << n;
  }
  // Nothing past n is written.
  std::vector<float> guard(20, -1.0f);
  k::dropout_mask(guard.data(), 19, 0.5, 3);
  EXPECT_EQ(guard[19], -1.0f);
}

TEST(DropoutMask, KeepOneKeepsEverything) {
  for (float v : mask(101, 1.0, 5)) EXPECT_EQ(v, 1.0f);
}
