// STFT chroma (12 pitch classes per frame) shared by the chroma and key-profile encoders.
#pragma once
#include <array>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Audio.h"

namespace mcpt {
class JsonObject;
}

namespace mcpt::harness {

struct ChromaOptions {
  int sample_rate = 22050;
  int n_fft = 4096;      // power of two
  int hop = 2048;
  double fmin = 55.0;    // Hz; bins outside [fmin, fmax] are ignored
  double fmax = 5000.0;
  double tuning = 440.0;  // Hz of A4
  bool log_compress = true;  // log(1 + 100 x) per bin energy, before folding

  void read(JsonObject& cfg);  // reads the keys above from a suite entry
  nlohmann::json to_json() const;
};

// One 12-vector per frame (C, C#, ..., B), each normalised to sum 1 (silence gives zeros).
std::vector<std::array<float, 12>> compute_chroma(const datasets::Audio& audio, const ChromaOptions& options);

// In-place iterative radix-2 FFT of n = re.size() (a power of two) complex values.
void fft_inplace(std::vector<double>& re, std::vector<double>& im);

}  // namespace mcpt::harness
