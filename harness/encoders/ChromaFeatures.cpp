#include "harness/encoders/ChromaFeatures.h"

#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::harness {

void ChromaOptions::read(JsonObject& cfg) {
  sample_rate = static_cast<int>(cfg.get_int("sample_rate", sample_rate, 4000, 192000));
  n_fft = static_cast<int>(cfg.get_int("n_fft", n_fft, 256, 65536));
  if ((n_fft & (n_fft - 1)) != 0) throw Error(fmt::format("{}: {} is not a power of two", cfg.path_of("n_fft"), n_fft));
  hop = static_cast<int>(cfg.get_int("hop", hop, 16, n_fft));
  fmin = cfg.get_number("fmin", fmin, 10.0, 20000.0);
  fmax = cfg.get_number("fmax", fmax, fmin, 96000.0);
  if (fmax >= sample_rate / 2.0) fmax = sample_rate / 2.0 - 1.0;
  tuning = cfg.get_number("tuning", tuning, 400.0, 480.0);
  log_compress = cfg.get_bool("log_compress", log_compress);
}

nlohmann::json ChromaOptions::to_json() const {
  return {{"sample_rate", sample_rate}, {"n_fft", n_fft},   {"hop", hop},
          {"fmin", fmin},               {"fmax", fmax},     {"tuning", tuning},
          {"log_compress", log_compress}};
}

void fft_inplace(std::vector<double>& re, std::vector<double>& im) {
  const size_t n = re.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      std::swap(re[i], re[j]);
      std::swap(im[i], im[j]);
    }
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double ang = -2.0 * M_PI / double(len);
    const double wr = std::cos(ang), wi = std::sin(ang);
    for (size_t i = 0; i < n; i += len) {
      double cr = 1.0, ci = 0.0;
      for (size_t k = 0; k < len / 2; ++k) {
        const size_t a = i + k, b = i + k + len / 2;
        const double tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
        const double nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
}

std::vector<std::array<float, 12>> compute_chroma(const datasets::Audio& audio, const ChromaOptions& o) {
  if (audio.sample_rate != o.sample_rate)
    throw Error(fmt::format("chroma: audio at {} Hz, expected {} Hz", audio.sample_rate, o.sample_rate));
  const int n = o.n_fft;
  std::vector<double> window(n);
  for (int i = 0; i < n; ++i) window[i] = 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n);
  // Bin -> (pitch class, weight): energy near a semitone's centre counts most.
  std::vector<int> bin_pc(n / 2 + 1, -1);
  std::vector<double> bin_w(n / 2 + 1, 0.0);
  for (int k = 1; k <= n / 2; ++k) {
    const double f = double(k) * o.sample_rate / n;
    if (f < o.fmin || f > o.fmax) continue;
    const double p = 69.0 + 12.0 * std::log2(f / o.tuning);
    const double r = std::round(p);
    bin_pc[k] = ((static_cast<int>(r) % 12) + 12) % 12;
    bin_w[k] = 1.0 - std::fabs(p - r);  // 1 at the centre, 0.5 at the boundary
  }
  const auto& x = audio.samples;
  std::vector<std::array<float, 12>> out;
  if (x.empty()) return out;
  // Frames centred on t = i * hop, zero-padded at the edges.
  const size_t frames = 1 + x.size() / size_t(o.hop);
  std::vector<double> re(n), im(n);
  for (size_t fi = 0; fi < frames; ++fi) {
    const long centre = long(fi) * o.hop;
    for (int i = 0; i < n; ++i) {
      const long t = centre - n / 2 + i;
      re[i] = (t >= 0 && t < long(x.size())) ? x[size_t(t)] * window[i] : 0.0;
      im[i] = 0.0;
    }
    fft_inplace(re, im);
    std::array<double, 12> c{};
    for (int k = 1; k <= n / 2; ++k) {
      if (bin_pc[k] < 0) continue;
      double e = re[k] * re[k] + im[k] * im[k];
      if (o.log_compress) e = std::log1p(100.0 * e);
      c[bin_pc[k]] += bin_w[k] * e;
    }
    double sum = 0;
    for (double v : c) sum += v;
    std::array<float, 12> cf{};
    if (sum > 1e-12)
      for (int i = 0; i < 12; ++i) cf[i] = float(c[i] / sum);
    out.push_back(cf);
  }
  return out;
}

}  // namespace mcpt::harness
