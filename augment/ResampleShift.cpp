#include "augment/ResampleShift.h"

#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <samplerate.h>

#include "augment/Common.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {
namespace {

constexpr long kBlock = 8192;

int converter(const std::string& quality) {
  if (quality == "fastest") return SRC_SINC_FASTEST;
  if (quality == "medium") return SRC_SINC_MEDIUM_QUALITY;
  return SRC_SINC_BEST_QUALITY;
}

struct SrcDeleter {
  void operator()(SRC_STATE* s) const { src_delete(s); }
};

}  // namespace

std::string libsamplerate_version() { return src_get_version(); }

ResampleShift::ResampleShift(ResampleShiftOptions options, std::string json_path)
    : options_(std::move(options)), path_(std::move(json_path)) {
  if (!(std::fabs(options_.semitones) <= 24.0))
    throw Error(fmt::format("{}.semitones: {} is out of range [-24, 24]", path_, options_.semitones));
  if (options_.quality != "best" && options_.quality != "medium" && options_.quality != "fastest")
    throw Error(fmt::format("{}.quality: {}", path_,
                            unknown_name_message("value", options_.quality, {"best", "medium", "fastest"})));
}

std::unique_ptr<Deformation> ResampleShift::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type", "libsamplerate", "label_exact"});  // the last two: written by spec(), derived
  ResampleShiftOptions r;
  o.raw("semitones");  // required
  r.semitones = o.get_number("semitones", 0.0, -24.0, 24.0);
  r.quality = detail::get_choice(o, "quality", r.quality, {"best", "medium", "fastest"});
  o.finish();
  return std::make_unique<ResampleShift>(r, json_path);
}

nlohmann::json ResampleShift::spec() const {
  return {{"type", type()},
          {"semitones", options_.semitones},
          {"quality", options_.quality},
          {"label_exact", label_exact()},
          {"libsamplerate", libsamplerate_version()}};
}

double ResampleShift::duration_factor() const { return std::pow(2.0, -options_.semitones / 12.0); }

datasets::Key ResampleShift::label(const datasets::Key& key) const {
  return key.transposed(detail::rounded_semitones(options_.semitones));
}

bool ResampleShift::label_exact() const { return detail::whole_semitones(options_.semitones); }

datasets::Audio ResampleShift::apply(const datasets::Audio& in, std::uint64_t) const {
  detail::check_audio(in, path_);
  // Output samples per input sample; libsamplerate takes a real ratio, so non-integer rate
  // relations (every shift but octaves) are exact rather than rounded to an integer rate.
  const double ratio = duration_factor();
  const std::size_t n = in.samples.size();
  const std::size_t target = static_cast<std::size_t>(std::llround(double(n) * ratio));
  datasets::Audio out;
  out.sample_rate = in.sample_rate;
  out.samples.reserve(target + std::size_t(kBlock));
  int err = 0;
  std::unique_ptr<SRC_STATE, SrcDeleter> state(src_new(converter(options_.quality), 1, &err));
  if (!state) throw Error(fmt::format("{}: cannot create resampler: {}", path_, src_strerror(err)), ExitCode::kInternal);
  std::vector<float> buffer(std::size_t(double(kBlock) * ratio) + 64);
  std::size_t pos = 0;
  // Feed blocks; after the input ends, keep calling with end_of_input until the converter is empty.
  for (int guard = 0; guard < 1 << 24; ++guard) {
    SRC_DATA d{};
    const long len = long(std::min<std::size_t>(std::size_t(kBlock), n - pos));
    d.data_in = in.samples.data() + pos;
    d.input_frames = len;
    d.data_out = buffer.data();
    d.output_frames = long(buffer.size());
    d.src_ratio = ratio;
    d.end_of_input = pos + std::size_t(len) >= n ? 1 : 0;
    if (int e = src_process(state.get(), &d))
      throw Error(fmt::format("{}: resampling failed: {}", path_, src_strerror(e)), ExitCode::kInternal);
    pos += std::size_t(d.input_frames_used);
    out.samples.insert(out.samples.end(), buffer.begin(), buffer.begin() + d.output_frames_gen);
    if (d.end_of_input && d.output_frames_gen == 0) break;
  }
  // libsamplerate's sinc converters are delay-compensated; the count can still differ from
  // round(n * ratio) by a sample or so at the end.
  out.samples.resize(target, 0.0f);
  return out;
}

}  // namespace mcpt::augment
