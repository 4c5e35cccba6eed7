#include "augment/PitchShift.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <rubberband/RubberBandStretcher.h>

#include "augment/Common.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {
namespace {

using RubberBand::RubberBandStretcher;

// Rubber Band supports 8-192 kHz ("do not use rates below 8000 or above 192000 Hz").
constexpr int kMinRate = 8000;
constexpr int kMaxRate = 192000;
// Samples per study() and process() call: 1024, as the `rubberband` command-line tool feeds it.
// Not a free choice: R3 (finer) computes its output hop once per process() call and reuses it for
// every analysis hop that call completes, so with a pitch shift (or any ratio whose mean output hop
// is fractional) its output depends on the block size. Measured on 10 s of 44.1 kHz music, +3
// semitones: 8192-sample blocks gave an SNR of -1.6 dB against 1024-sample blocks, clicks landing
// up to 92 samples later (docs/performance.md); R2 depends on it too, far less (45-78 dB).
constexpr std::size_t kBlock = 1024;

RubberBandOptions rubberband_from_json(JsonObject& o, bool pitch) {
  RubberBandOptions r;
  r.engine = detail::get_choice(o, "engine", r.engine, {"finer", "faster"});
  if (pitch) r.formant = detail::get_choice(o, "formant", r.formant, {"shifted", "preserved"});
  r.transients = detail::get_choice(o, "transients", r.transients, {"crisp", "mixed", "smooth"});
  r.detector = detail::get_choice(o, "detector", r.detector, {"compound", "percussive", "soft"});
  r.phase = detail::get_choice(o, "phase", r.phase, {"laminar", "independent"});
  r.window = detail::get_choice(o, "window", r.window, {"standard", "short", "long"});
  r.smoothing = o.get_bool("smoothing", r.smoothing);
  r.pitch_mode = detail::get_choice(o, "pitch_mode", r.pitch_mode, {"high_speed", "high_quality", "high_consistency"});
  r.channels = detail::get_choice(o, "channels", r.channels, {"apart", "together"});
  // Written by spec() for the record; derived, so ignored on input (a spec read back rebuilds itself).
  o.ignore({"rubberband", "rubberband_block", "label_exact"});
  return r;
}

void rubberband_to_json(const RubberBandOptions& r, bool pitch, nlohmann::json& j) {
  j["engine"] = r.engine;
  if (pitch) j["formant"] = r.formant;
  j["transients"] = r.transients;
  j["detector"] = r.detector;
  j["phase"] = r.phase;
  j["window"] = r.window;
  j["smoothing"] = r.smoothing;
  j["pitch_mode"] = r.pitch_mode;
  j["channels"] = r.channels;
  j["rubberband"] = rubberband_version();
  // The output depends on it (see kBlock), so it is part of the spec, and of the cache keys made from
  // it: embeddings of audio processed in the 8192-sample blocks used before are not reused.
  j["rubberband_block"] = kBlock;
}

RubberBandStretcher::Options flags(const RubberBandOptions& r) {
  RubberBandStretcher::Options f = RubberBandStretcher::OptionProcessOffline |
                                   // One thread per track: parallelism comes from processing tracks side
                                   // by side, and a single thread keeps the output independent of timing.
                                   RubberBandStretcher::OptionThreadingNever;
  f |= r.engine == "finer" ? RubberBandStretcher::OptionEngineFiner : RubberBandStretcher::OptionEngineFaster;
  if (r.formant == "preserved") f |= RubberBandStretcher::OptionFormantPreserved;
  if (r.transients == "mixed") f |= RubberBandStretcher::OptionTransientsMixed;
  if (r.transients == "smooth") f |= RubberBandStretcher::OptionTransientsSmooth;
  if (r.detector == "percussive") f |= RubberBandStretcher::OptionDetectorPercussive;
  if (r.detector == "soft") f |= RubberBandStretcher::OptionDetectorSoft;
  if (r.phase == "independent") f |= RubberBandStretcher::OptionPhaseIndependent;
  if (r.window == "short") f |= RubberBandStretcher::OptionWindowShort;
  if (r.window == "long") f |= RubberBandStretcher::OptionWindowLong;
  if (r.smoothing) f |= RubberBandStretcher::OptionSmoothingOn;
  if (r.pitch_mode == "high_quality") f |= RubberBandStretcher::OptionPitchHighQuality;
  if (r.pitch_mode == "high_consistency") f |= RubberBandStretcher::OptionPitchHighConsistency;
  if (r.channels == "together") f |= RubberBandStretcher::OptionChannelsTogether;
  return f;
}

// Offline two-pass processing, driven as the `rubberband` CLI drives it (our default options act as
// `rubberband -3`'s, resp. `-2 --bl-transients`'s; same block size; output drained after every
// block), so that our output equals the tool's sample for sample. Rubber Band's offline mode removes
// its own start delay, so the output is aligned with the input; its length can differ from
// round(n * ratio) by a sample between engines, so it is cut or zero-padded to exactly that.
datasets::Audio run_rubberband(const datasets::Audio& in, const RubberBandOptions& options, double time_ratio,
                               double pitch_scale) {
  const std::size_t n = in.samples.size();
  RubberBandStretcher s(static_cast<std::size_t>(in.sample_rate), 1, flags(options), time_ratio, pitch_scale);
  s.setExpectedInputDuration(n);
  s.setMaxProcessSize(kBlock);

  for (std::size_t i = 0; i < n; i += kBlock) {
    const float* p = in.samples.data() + i;
    const std::size_t len = std::min(kBlock, n - i);
    s.study(&p, len, i + len >= n);
  }

  datasets::Audio out;
  out.sample_rate = in.sample_rate;
  const std::size_t target = static_cast<std::size_t>(std::llround(double(n) * time_ratio));
  out.samples.reserve(target + kBlock);
  std::vector<float> buffer(kBlock);
  auto drain = [&] {
    for (int a = s.available(); a > 0; a = s.available()) {
      const std::size_t len = std::min<std::size_t>(std::size_t(a), kBlock);
      float* q = buffer.data();
      const std::size_t got = s.retrieve(&q, len);
      out.samples.insert(out.samples.end(), buffer.begin(), buffer.begin() + std::ptrdiff_t(got));
      if (got == 0) break;
    }
  };
  for (std::size_t i = 0; i < n; i += kBlock) {
    const float* p = in.samples.data() + i;
    const std::size_t len = std::min(kBlock, n - i);
    s.process(&p, len, i + len >= n);
    drain();
  }
  // Offline and single-threaded, the final process() call leaves everything retrievable at once
  // (available() then reads -1); drain once more in case a version keeps some back.
  drain();
  out.samples.resize(target, 0.0f);
  return out;
}

void check_total(double semitones, double cents, const std::string& path) {
  const double total = semitones + cents / 100.0;
  if (!(std::fabs(total) <= 24.0))
    throw Error(fmt::format("{}: semitones + cents / 100 = {} is out of range [-24, 24]", path, total));
}

}  // namespace

std::string rubberband_version() { return RUBBERBAND_VERSION; }

PitchShift::PitchShift(PitchShiftOptions options, std::string json_path)
    : options_(std::move(options)), path_(std::move(json_path)) {
  check_total(options_.semitones, options_.cents, path_);
}

std::unique_ptr<Deformation> PitchShift::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  PitchShiftOptions p;
  p.semitones = o.get_number("semitones", 0.0, -24.0, 24.0);
  p.cents = o.get_number("cents", 0.0, -2400.0, 2400.0);
  p.rubberband = rubberband_from_json(o, true);
  o.finish();  // first, so a misspelt "semitone" is named as such
  if (!o.has("semitones") && !o.has("cents"))
    throw Error(fmt::format("{}: pitch_shift needs \"semitones\" and/or \"cents\"", json_path));
  return std::make_unique<PitchShift>(p, json_path);
}

nlohmann::json PitchShift::spec() const {
  nlohmann::json j = {{"type", type()}, {"semitones", options_.semitones}, {"cents", options_.cents}};
  rubberband_to_json(options_.rubberband, true, j);
  j["label_exact"] = label_exact();
  return j;
}

datasets::Audio PitchShift::apply(const datasets::Audio& in, std::uint64_t) const {
  detail::check_audio(in, path_, kMinRate, kMaxRate);
  return run_rubberband(in, options_.rubberband, 1.0, std::pow(2.0, semitones() / 12.0));
}

datasets::Key PitchShift::label(const datasets::Key& key) const {
  return key.transposed(detail::rounded_semitones(semitones()));
}

bool PitchShift::label_exact() const { return detail::whole_semitones(semitones()); }

TimeStretch::TimeStretch(TimeStretchOptions options, std::string json_path)
    : options_(std::move(options)), path_(std::move(json_path)) {
  if (!(options_.ratio > 0.25 && options_.ratio < 4.0))
    throw Error(fmt::format("{}.ratio: {} is out of range (0.25, 4)", path_, options_.ratio));
}

std::unique_ptr<Deformation> TimeStretch::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  TimeStretchOptions t;
  o.raw("ratio");  // required
  t.ratio = o.get_number("ratio", 1.0, -1e300, 1e300);
  t.rubberband = rubberband_from_json(o, false);
  o.finish();
  return std::make_unique<TimeStretch>(t, json_path);
}

nlohmann::json TimeStretch::spec() const {
  nlohmann::json j = {{"type", type()}, {"ratio", options_.ratio}};
  rubberband_to_json(options_.rubberband, false, j);
  return j;
}

datasets::Audio TimeStretch::apply(const datasets::Audio& in, std::uint64_t) const {
  detail::check_audio(in, path_, kMinRate, kMaxRate);
  return run_rubberband(in, options_.rubberband, options_.ratio, 1.0);
}

}  // namespace mcpt::augment
