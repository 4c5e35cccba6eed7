// `logmel`: a baseline of log-mel spectrogram frames (one n_mels vector per STFT frame). The runner's
// pooling turns the frames into per-segment statistics ("mean", or "mean+std"). It is computed by the
// masked contrastive ViT's own front end (Mel.h) with the same defaults (16 kHz, n_fft 2048, hop
// 512, 128 Slaney bands up to 8 kHz, ln(x + 1e-6)), so this row shows what the spectrogram alone
// gives a probe, before any learned model.
#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "harness/encoders/Mel.h"

namespace mcpt::harness {
namespace {

class LogMelEncoder final : public Encoder {
 public:
  LogMelEncoder(const MelOptions& o, double segment) : mel_(o), segment_(segment) {}
  std::string type() const override { return "logmel"; }
  int sample_rate() const override { return mel_.options().sample_rate; }
  double segment_seconds() const override { return segment_; }

  Embedding embed(const datasets::Audio& a) const override {
    const MelOptions& o = mel_.options();
    if (a.sample_rate != o.sample_rate)
      throw Error(fmt::format("logmel: audio at {} Hz, expected {} Hz", a.sample_rate, o.sample_rate));
    if (a.samples.size() <= size_t(o.n_fft / 2))
      throw Error(fmt::format("logmel: a segment of {} samples is too short for n_fft {} (at least {} samples)",
                              a.samples.size(), o.n_fft, o.n_fft / 2 + 1));
    const std::vector<float> bands = mel_.compute(a.samples);  // n_mels x frames
    Embedding e;
    e.layers = 1;
    e.dim = o.n_mels;
    e.frames = mel_.frames(a.samples.size());
    e.data.resize(size_t(e.frames) * size_t(e.dim));
    for (int m = 0; m < e.dim; ++m)
      for (int f = 0; f < e.frames; ++f) e.data[size_t(f) * size_t(e.dim) + size_t(m)] = bands[size_t(m) * size_t(e.frames) + size_t(f)];
    return e;
  }

  nlohmann::json spec() const override {
    const MelOptions& o = mel_.options();
    return {{"type", "logmel"},       {"sample_rate", o.sample_rate}, {"n_fft", o.n_fft},
            {"hop", o.hop},           {"n_mels", o.n_mels},           {"f_min", o.f_min},
            {"f_max", o.f_max},       {"log", mel_log_name(o.log)},   {"segment_seconds", segment_},
            {"mel_scale", "slaney"},  {"norm", "slaney"},             {"window", "hann"},
            {"padding", "reflect"},   {"power", 2},                   {"version", 1}};  // bump when the computation changes
  }
  std::string fingerprint() const override { return hex64(fnv1a64(spec().dump())); }

 private:
  MelSpectrogram mel_;
  double segment_;
};

}  // namespace

std::unique_ptr<Encoder> make_logmel_encoder(JsonObject& cfg, const EncoderContext&) {
  MelOptions o;
  o.sample_rate = static_cast<int>(cfg.get_int("sample_rate", o.sample_rate, 1000, 192000));
  o.n_fft = static_cast<int>(cfg.get_int("n_fft", o.n_fft, 64, 65536));
  if ((o.n_fft & (o.n_fft - 1)) != 0)
    throw Error(fmt::format("{}: {} is not a power of two", cfg.path_of("n_fft"), o.n_fft));
  o.hop = static_cast<int>(cfg.get_int("hop", o.hop, 1, o.n_fft));
  o.n_mels = static_cast<int>(cfg.get_int("n_mels", o.n_mels, 1, 1024));
  const double nyquist = o.sample_rate / 2.0;
  o.f_min = cfg.get_number("f_min", 0.0, 0.0, nyquist);
  o.f_max = cfg.get_number("f_max", nyquist, 0.0, nyquist);
  if (o.f_max <= o.f_min)
    throw Error(fmt::format("{}: {} Hz must be above f_min ({} Hz)", cfg.path_of("f_max"), o.f_max, o.f_min));
  const std::string log = cfg.get_string("log", "log");
  if (!parse_mel_log(log, &o.log))
    throw Error(fmt::format("{}: {}", cfg.path_of("log"),
                            unknown_name_message("log compression", log, {"log", "log1p", "none"})));
  const double segment = cfg.get_number("segment_seconds", 10.0, 0.5, 3600.0);
  // A band narrower than the FFT's bin spacing catches no bin: its output would be a constant.
  const auto fb = slaney_mel_filterbank(o.sample_rate, o.n_fft, o.n_mels, o.f_min, o.f_max);
  const size_t bins = size_t(o.n_fft / 2 + 1);
  for (int m = 0; m < o.n_mels; ++m)
    if (std::all_of(fb.begin() + long(size_t(m) * bins), fb.begin() + long(size_t(m + 1) * bins),
                    [](double w) { return w <= 0.0; }))
      throw Error(fmt::format("{}: {} bands between {} and {} Hz leave band {} without an FFT bin at n_fft {} (use "
                              "fewer bands or a larger n_fft)",
                              cfg.path_of("n_mels"), o.n_mels, o.f_min, o.f_max, m, o.n_fft));
  return std::make_unique<LogMelEncoder>(o, segment);
}

}  // namespace mcpt::harness
