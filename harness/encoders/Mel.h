// The mel front end of the masked contrastive encoder, as Myna computes it (nnAudio's
// MelSpectrogram): centred frames with reflect padding, periodic Hann window, power spectrum,
// Slaney-scale mel filters with Slaney (area) normalisation, then an optional log. No torch here.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace mcpt::harness {

// How mel power is compressed before the model. kLog: ln(x + kMelLogEps); kLog1p: ln(1 + x), what
// Myna's `--log_mel` training flag does; kNone: the power itself, what Myna's inference example feeds.
enum class MelLog { kNone, kLog, kLog1p };
constexpr double kMelLogEps = 1e-6;
std::string mel_log_name(MelLog log);                      // "none", "log", "log1p"
bool parse_mel_log(const std::string& name, MelLog* out);  // false for an unknown name

struct MelOptions {
  int sample_rate = 16000;
  int n_fft = 2048;  // a power of two; also the window length
  int hop = 512;
  int n_mels = 128;
  double f_min = 0.0;
  double f_max = 8000.0;  // at most sample_rate / 2
  MelLog log = MelLog::kLog;
};

// Triangular Slaney-scale filters (librosa's htk=False, norm="slaney"), n_mels x (n_fft/2 + 1),
// row-major, computed in double precision.
std::vector<double> slaney_mel_filterbank(int sample_rate, int n_fft, int n_mels, double f_min, double f_max);

// Configured once, then compute() from any number of threads (it keeps no mutable state).
class MelSpectrogram {
 public:
  explicit MelSpectrogram(const MelOptions& options);  // throws mcpt::Error for impossible options
  const MelOptions& options() const { return o_; }
  // Frames for n samples: frame t is centred on sample t * hop, so 1 + n / hop of them.
  int frames(std::size_t samples) const { return 1 + static_cast<int>(samples / static_cast<std::size_t>(o_.hop)); }
  // out: n_mels x frames(n) floats, row-major (mel band 0 = lowest, first). Needs n > n_fft / 2
  // (reflect padding, as torch and nnAudio require); throws mcpt::Error otherwise.
  void compute(const float* x, std::size_t n, float* out) const;
  std::vector<float> compute(const std::vector<float>& x) const;
  // The mel of x zero-padded at the end to `length` samples, first `keep` frames only: n_mels x keep,
  // row-major. The MCPT encoder's front end (a segment shorter than the crop is padded; the frames
  // past the last whole patch are dropped, as Myna's). Throws mcpt::Error when n > length or keep is
  // not in [1, frames(length)].
  std::vector<float> compute_cropped(const float* x, std::size_t n, std::size_t length, int keep) const;

 private:
  void fft_half(std::vector<double>& re, std::vector<double>& im) const;  // complex FFT of n_fft / 2 points
  MelOptions o_;
  std::vector<double> window_;               // periodic Hann, n_fft
  std::vector<double> fb_;                   // n_mels x bins
  std::vector<int> fb_lo_, fb_hi_;           // non-zero bin range [lo, hi) per band
  std::vector<int> bitrev_;                  // bit reversal of n_fft / 2
  std::vector<double> tw_re_, tw_im_;        // exp(-2 pi i k / (n_fft / 2))
  std::vector<double> split_re_, split_im_;  // exp(-2 pi i k / n_fft), real-FFT unpacking
};

}  // namespace mcpt::harness
