#include "augment/Gain.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "augment/Common.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"

namespace mcpt::augment {

Gain::Gain(GainOptions options, std::string json_path) : options_(std::move(options)), path_(std::move(json_path)) {
  if (!(options_.db >= -120.0 && options_.db <= 60.0))
    throw Error(fmt::format("{}.db: {} is out of range [-120, 60]", path_, options_.db));
  if (!(options_.ceiling_db >= -60.0 && options_.ceiling_db <= 0.0))
    throw Error(fmt::format("{}.ceiling_db: {} is out of range [-60, 0]", path_, options_.ceiling_db));
  if (options_.clipping != "none" && options_.clipping != "clip" && options_.clipping != "normalize")
    throw Error(fmt::format("{}.clipping: {}", path_,
                            unknown_name_message("value", options_.clipping, {"none", "clip", "normalize"})));
}

std::unique_ptr<Deformation> Gain::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  GainOptions g;
  o.raw("db");  // required
  g.db = o.get_number("db", 0.0, -120.0, 60.0);
  g.clipping = detail::get_choice(o, "clipping", g.clipping, {"none", "clip", "normalize"});
  g.ceiling_db = o.get_number("ceiling_db", g.ceiling_db, -60.0, 0.0);
  o.finish();
  return std::make_unique<Gain>(g, json_path);
}

nlohmann::json Gain::spec() const {
  return {{"type", type()}, {"db", options_.db}, {"clipping", options_.clipping}, {"ceiling_db", options_.ceiling_db}};
}

datasets::Audio Gain::apply(const datasets::Audio& in, std::uint64_t) const {
  detail::check_audio(in, path_);
  double g = std::pow(10.0, options_.db / 20.0);
  const double ceiling = std::pow(10.0, options_.ceiling_db / 20.0);
  if (options_.clipping == "normalize") {
    float peak = 0.0f;
    for (float v : in.samples) peak = std::max(peak, std::fabs(v));
    if (double(peak) * g > ceiling) g = ceiling / double(peak);
  }
  datasets::Audio out;
  out.sample_rate = in.sample_rate;
  out.samples.resize(in.samples.size());
  const bool clip = options_.clipping == "clip";
  for (std::size_t i = 0; i < in.samples.size(); ++i) {
    double v = double(in.samples[i]) * g;
    if (clip) v = std::clamp(v, -ceiling, ceiling);
    out.samples[i] = float(v);
  }
  return out;
}

std::unique_ptr<Deformation> Identity::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  o.finish();
  return std::make_unique<Identity>();
}

}  // namespace mcpt::augment
