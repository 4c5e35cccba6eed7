#include "harness/encoders/Mel.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace mcpt::harness {
namespace {

// Slaney's auditory scale (librosa htk=False): linear below 1 kHz, logarithmic above.
constexpr double kFsp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFsp;
const double kLogStep = std::log(6.4) / 27.0;

double hz_to_mel(double hz) { return hz < kMinLogHz ? hz / kFsp : kMinLogMel + std::log(hz / kMinLogHz) / kLogStep; }
double mel_to_hz(double mel) { return mel < kMinLogMel ? mel * kFsp : kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel)); }

}  // namespace

std::string mel_log_name(MelLog log) {
  switch (log) {
    case MelLog::kNone: return "none";
    case MelLog::kLog: return "log";
    case MelLog::kLog1p: return "log1p";
  }
  return "?";
}

bool parse_mel_log(const std::string& name, MelLog* out) {
  for (MelLog l : {MelLog::kNone, MelLog::kLog, MelLog::kLog1p})
    if (mel_log_name(l) == name) {
      *out = l;
      return true;
    }
  return false;
}

std::vector<double> slaney_mel_filterbank(int sample_rate, int n_fft, int n_mels, double f_min, double f_max) {
  const int bins = n_fft / 2 + 1;
  std::vector<double> edges(size_t(n_mels) + 2);
  const double lo = hz_to_mel(f_min), hi = hz_to_mel(f_max);
  for (int i = 0; i < n_mels + 2; ++i) edges[size_t(i)] = mel_to_hz(lo + (hi - lo) * i / double(n_mels + 1));
  std::vector<double> fb(size_t(n_mels) * bins, 0.0);
  for (int m = 0; m < n_mels; ++m) {
    const double left = edges[size_t(m)], centre = edges[size_t(m) + 1], right = edges[size_t(m) + 2];
    const double norm = 2.0 / (right - left);  // equal area per band
    for (int k = 0; k < bins; ++k) {
      const double f = double(k) * sample_rate / n_fft;
      const double rise = (f - left) / (centre - left), fall = (right - f) / (right - centre);
      const double w = std::max(0.0, std::min(rise, fall));
      fb[size_t(m) * bins + size_t(k)] = w * norm;
    }
  }
  return fb;
}

MelSpectrogram::MelSpectrogram(const MelOptions& o) : o_(o) {
  if (o.n_fft < 16 || (o.n_fft & (o.n_fft - 1)) != 0)
    throw Error(fmt::format("mel: n_fft {} is not a power of two >= 16", o.n_fft));
  if (o.hop < 1) throw Error(fmt::format("mel: hop {} must be positive", o.hop));
  if (o.n_mels < 1) throw Error(fmt::format("mel: n_mels {} must be positive", o.n_mels));
  if (!(o.f_min >= 0.0 && o.f_min < o.f_max && o.f_max <= o.sample_rate / 2.0))
    throw Error(fmt::format("mel: need 0 <= f_min < f_max <= sample_rate/2, got {} and {} at {} Hz", o.f_min, o.f_max,
                            o.sample_rate));
  const int n = o.n_fft, half = n / 2, bins = half + 1;
  window_.resize(size_t(n));
  for (int i = 0; i < n; ++i) window_[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n);  // periodic
  fb_ = slaney_mel_filterbank(o.sample_rate, n, o.n_mels, o.f_min, o.f_max);
  fb_lo_.assign(size_t(o.n_mels), 0);
  fb_hi_.assign(size_t(o.n_mels), 0);
  for (int m = 0; m < o.n_mels; ++m) {
    int lo = bins, hi = 0;
    for (int k = 0; k < bins; ++k)
      if (fb_[size_t(m) * bins + size_t(k)] != 0.0) {
        lo = std::min(lo, k);
        hi = k + 1;
      }
    fb_lo_[size_t(m)] = std::min(lo, hi);
    fb_hi_[size_t(m)] = hi;
  }
  bitrev_.resize(size_t(half));
  int bits = 0;
  while ((1 << bits) < half) ++bits;
  for (int i = 0; i < half; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b)
      if (i & (1 << b)) r |= 1 << (bits - 1 - b);
    bitrev_[size_t(i)] = r;
  }
  tw_re_.resize(size_t(half / 2 + 1));
  tw_im_.resize(size_t(half / 2 + 1));
  for (int k = 0; k <= half / 2; ++k) {
    tw_re_[size_t(k)] = std::cos(2.0 * M_PI * k / half);
    tw_im_[size_t(k)] = -std::sin(2.0 * M_PI * k / half);
  }
  split_re_.resize(size_t(bins));
  split_im_.resize(size_t(bins));
  for (int k = 0; k < bins; ++k) {
    split_re_[size_t(k)] = std::cos(2.0 * M_PI * k / n);
    split_im_[size_t(k)] = -std::sin(2.0 * M_PI * k / n);
  }
}

void MelSpectrogram::fft_half(std::vector<double>& re, std::vector<double>& im) const {
  const size_t m = re.size();
  for (size_t i = 0; i < m; ++i) {
    const size_t j = size_t(bitrev_[i]);
    if (i < j) {
      std::swap(re[i], re[j]);
      std::swap(im[i], im[j]);
    }
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    const size_t step = m / len, h = len / 2;
    for (size_t i = 0; i < m; i += len)
      for (size_t k = 0; k < h; ++k) {
        const double wr = tw_re_[k * step], wi = tw_im_[k * step];
        const size_t a = i + k, b = a + h;
        const double tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
  }
}

void MelSpectrogram::compute(const float* x, size_t n, float* out) const {
  const int nfft = o_.n_fft, half = nfft / 2, bins = half + 1;
  if (n <= size_t(half))
    throw Error(fmt::format("mel: {} samples are too few for reflect padding by n_fft/2 = {}", n, half));
  const int frames = this->frames(n);
  // Reflect padding without the edge sample (numpy/torch "reflect"): index -i reads x[i].
  auto sample = [&](long t) -> double {
    if (t < 0) t = -t;
    if (t >= long(n)) t = 2 * (long(n) - 1) - t;
    return x[size_t(t)];
  };
  std::vector<double> re(static_cast<size_t>(half)), im(static_cast<size_t>(half)), power(static_cast<size_t>(bins));
  for (int f = 0; f < frames; ++f) {
    const long start = long(f) * o_.hop - half;
    // Even samples in the real part, odd ones in the imaginary part: one n/2-point complex FFT.
    if (start >= 0 && start + nfft <= long(n)) {
      const float* p = x + start;
      for (int i = 0; i < half; ++i) {
        re[size_t(i)] = p[2 * i] * window_[size_t(2 * i)];
        im[size_t(i)] = p[2 * i + 1] * window_[size_t(2 * i + 1)];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        re[size_t(i)] = sample(start + 2 * i) * window_[size_t(2 * i)];
        im[size_t(i)] = sample(start + 2 * i + 1) * window_[size_t(2 * i + 1)];
      }
    }
    fft_half(re, im);
    for (int k = 0; k <= half; ++k) {
      const size_t a = size_t(k % half), b = size_t((half - k) % half);
      const double ar = re[a], ai = im[a], br = re[b], bi = -im[b];  // Z[k], conj(Z[half - k])
      const double er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
      const double orr = 0.5 * (ai - bi), oi = -0.5 * (ar - br);
      const double wr = split_re_[size_t(k)], wi = split_im_[size_t(k)];
      const double xr = er + wr * orr - wi * oi, xi = ei + wr * oi + wi * orr;
      power[size_t(k)] = xr * xr + xi * xi;
    }
    for (int m = 0; m < o_.n_mels; ++m) {
      const double* w = fb_.data() + size_t(m) * bins;
      double s = 0.0;
      for (int k = fb_lo_[size_t(m)]; k < fb_hi_[size_t(m)]; ++k) s += w[k] * power[size_t(k)];
      switch (o_.log) {
        case MelLog::kNone: break;
        case MelLog::kLog: s = std::log(s + kMelLogEps); break;
        case MelLog::kLog1p: s = std::log1p(s); break;
      }
      out[size_t(m) * frames + size_t(f)] = float(s);
    }
  }
}

std::vector<float> MelSpectrogram::compute(const std::vector<float>& x) const {
  std::vector<float> out(size_t(o_.n_mels) * size_t(frames(x.size())));
  compute(x.data(), x.size(), out.data());
  return out;
}

std::vector<float> MelSpectrogram::compute_cropped(const float* x, std::size_t n, std::size_t length, int keep) const {
  if (n > length) throw Error(fmt::format("mel: {} samples, longer than the crop of {}", n, length));
  const int all = frames(length);
  if (keep < 1 || keep > all)
    throw Error(fmt::format("mel: {} frames asked of a {}-sample crop, which has {}", keep, length, all));
  std::vector<float> padded(x, x + n);
  padded.resize(length, 0.0f);
  std::vector<float> full(size_t(o_.n_mels) * size_t(all));
  compute(padded.data(), length, full.data());
  if (keep == all) return full;
  std::vector<float> out(size_t(o_.n_mels) * size_t(keep));
  for (int m = 0; m < o_.n_mels; ++m)
    std::copy_n(full.begin() + long(m) * all, keep, out.begin() + long(m) * keep);
  return out;
}

}  // namespace mcpt::harness
