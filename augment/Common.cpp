#include "augment/Common.h"

#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace mcpt::augment::detail {

std::string get_choice(JsonObject& o, const std::string& key, const std::string& fallback,
                       const std::vector<std::string>& choices) {
  const std::string v = o.get_string(key, fallback);
  for (const auto& c : choices)
    if (v == c) return v;
  throw Error(fmt::format("{}: {}", o.path_of(key), unknown_name_message("value", v, choices)));
}

void check_audio(const datasets::Audio& in, const std::string& path, int min_rate, int max_rate) {
  if (in.sample_rate < min_rate || in.sample_rate > max_rate)
    throw Error(fmt::format("{}: cannot process audio at {} Hz (expected {}..{} Hz)", path, in.sample_rate, min_rate,
                            max_rate));
  if (in.samples.empty()) throw Error(fmt::format("{}: cannot process empty audio (0 samples)", path));
  for (std::size_t i = 0; i < in.samples.size(); ++i)
    if (!std::isfinite(in.samples[i]))
      throw Error(fmt::format("{}: input has a {} sample at {:.6f} s", path, std::isnan(in.samples[i]) ? "NaN" : "Inf",
                              double(i) / in.sample_rate));
}

int rounded_semitones(double semitones) { return static_cast<int>(std::lround(semitones)); }

bool whole_semitones(double semitones) { return std::fabs(semitones - std::round(semitones)) < 1e-9; }

}  // namespace mcpt::augment::detail
