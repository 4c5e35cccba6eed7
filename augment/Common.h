// Helpers shared by the deformations' .cpp files (not part of the public API): enumerated JSON
// options, input checks with errors naming the JSON path, a portable seeded generator.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/Audio.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment::detail {

// Reads an optional string that must be one of `choices`; errors list them ("did you mean").
std::string get_choice(JsonObject& o, const std::string& key, const std::string& fallback,
                       const std::vector<std::string>& choices);
// Throws mcpt::Error "<path>: <what is wrong with the audio>" for empty audio, a sample rate outside
// [min_rate, max_rate] Hz, or NaN/Inf samples.
void check_audio(const datasets::Audio& in, const std::string& path, int min_rate = 1000, int max_rate = 768000);
// The whole-semitone label move of a shift, and whether it is exact.
int rounded_semitones(double semitones);
bool whole_semitones(double semitones);

// xoshiro256** (Blackman & Vigna), seeded through splitmix64: specified bit for bit, unlike the
// distributions of <random>, whose algorithms differ between standard libraries.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix(seed);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Box-Muller; both values of a pair are used.
  double gaussian() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * 3.14159265358979323846 * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * 3.14159265358979323846 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};


}  // namespace mcpt::augment::detail
