// Measurements the augmentation tests make on deformed audio: a tone's frequency to a small
// fraction of a cent (zero-padded FFT for the peak, then the maximum of the Hann-windowed DTFT by
// golden-section search), a sinusoid's amplitude at a known frequency, powers, burst lengths.
#pragma once
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <vector>

#include "datasets/Audio.h"

namespace mcpt::testutil {

inline void fft_in_place(std::vector<std::complex<double>>& a) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const double ang = -2.0 * M_PI / double(len);
    const std::complex<double> wl(std::cos(ang), std::sin(ang));
    for (std::size_t i = 0; i < n; i += len) {
      std::complex<double> w(1.0);
      for (std::size_t k = 0; k < len / 2; ++k) {
        const auto u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        w *= wl;
      }
    }
  }
}

inline std::vector<double> hann(std::size_t n) {
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) w[i] = 0.5 - 0.5 * std::cos(2.0 * M_PI * (double(i) + 0.5) / double(n));
  return w;
}

// The samples of [from, to) as a fraction of the audio's length.
inline std::vector<double> middle(const datasets::Audio& a, double from = 0.25, double to = 0.75) {
  const std::size_t n = a.samples.size();
  return std::vector<double>(a.samples.begin() + std::ptrdiff_t(double(n) * from),
                             a.samples.begin() + std::ptrdiff_t(double(n) * to));
}

// |sum w x e^{-j 2 pi f n / sr}| / sum w: half the amplitude of a sinusoid at f.
inline double windowed_dtft(const std::vector<double>& x, const std::vector<double>& w, double hz, int sr) {
  const double step = 2.0 * M_PI * hz / sr;
  double re = 0, im = 0, ws = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    re += w[i] * x[i] * std::cos(step * double(i));
    im -= w[i] * x[i] * std::sin(step * double(i));
    ws += w[i];
  }
  return std::hypot(re, im) / ws;
}

// Frequency of the strongest sinusoid above min_hz in x (the steady part of a tone).
inline double peak_frequency(const std::vector<double>& x, int sr, double min_hz = 30.0) {
  const auto w = hann(x.size());
  std::size_t nfft = 1;
  while (nfft < 8 * x.size()) nfft <<= 1;
  std::vector<std::complex<double>> a(nfft);
  for (std::size_t i = 0; i < x.size(); ++i) a[i] = x[i] * w[i];
  fft_in_place(a);
  const double bin = double(sr) / double(nfft);
  std::size_t best = std::size_t(std::ceil(min_hz / bin));
  for (std::size_t k = best; k < nfft / 2; ++k)
    if (std::abs(a[k]) > std::abs(a[best])) best = k;
  double lo = (double(best) - 1.0) * bin, hi = (double(best) + 1.0) * bin;
  const double g = (std::sqrt(5.0) - 1.0) / 2.0;
  double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
  double fc = windowed_dtft(x, w, c, sr), fd = windowed_dtft(x, w, d, sr);
  while (hi - lo > 1e-7) {
    if (fc > fd) {
      hi = d, d = c, fd = fc;
      c = hi - g * (hi - lo), fc = windowed_dtft(x, w, c, sr);
    } else {
      lo = c, c = d, fc = fd;
      d = lo + g * (hi - lo), fd = windowed_dtft(x, w, d, sr);
    }
  }
  return (lo + hi) / 2.0;
}

inline double cents(double measured, double expected) { return 1200.0 * std::log2(measured / expected); }

// Amplitude of the sinusoid at `hz` (known) in x.
inline double amplitude_at(const std::vector<double>& x, double hz, int sr) {
  return 2.0 * windowed_dtft(x, hann(x.size()), hz, sr);
}

inline double mean_square(const std::vector<float>& x) {
  double s = 0;
  for (float v : x) s += double(v) * double(v);
  return x.empty() ? 0.0 : s / double(x.size());
}

// Seconds between the first and the last 5 ms block whose RMS is above half the loudest block's.
inline double burst_seconds(const datasets::Audio& a) {
  const std::size_t block = std::size_t(a.sample_rate / 200);
  std::vector<double> rms;
  for (std::size_t i = 0; i + block <= a.samples.size(); i += block) {
    double s = 0;
    for (std::size_t k = 0; k < block; ++k) s += double(a.samples[i + k]) * a.samples[i + k];
    rms.push_back(std::sqrt(s / double(block)));
  }
  const double top = *std::max_element(rms.begin(), rms.end());
  std::size_t first = 0, last = 0;
  for (std::size_t i = 0; i < rms.size(); ++i)
    if (rms[i] > 0.5 * top) {
      if (!first) first = i + 1;
      last = i + 1;
    }
  return double(last - first + 1) * double(block) / a.sample_rate;
}

}  // namespace mcpt::testutil
