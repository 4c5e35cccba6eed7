#include "augment/Chain.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "augment/Common.h"
#include "augment/Gain.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "datasets/TextTable.h"

namespace mcpt::augment {

// ---------------------------------------------------------------------------------------------- chain

Chain::Chain(std::vector<std::shared_ptr<const Deformation>> stages, std::string json_path)
    : stages_(std::move(stages)), path_(std::move(json_path)) {
  if (stages_.empty()) throw Error(fmt::format("{}.stages: expected at least one stage", path_));
}

std::unique_ptr<Deformation> Chain::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  const auto& arr = o.raw("stages");
  if (!arr.is_array() || arr.empty())
    throw Error(fmt::format("{}: expected a non-empty array of deformations, got {}", o.path_of("stages"), json_brief(arr)));
  std::vector<std::shared_ptr<const Deformation>> stages;
  for (std::size_t i = 0; i < arr.size(); ++i)
    stages.push_back(make_deformation(arr[i], fmt::format("{}.stages[{}]", json_path, i)));
  o.finish();
  return std::make_unique<Chain>(std::move(stages), json_path);
}

nlohmann::json Chain::spec() const {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : stages_) stages.push_back(s->spec());
  return {{"type", type()}, {"stages", stages}};
}

datasets::Audio Chain::apply(const datasets::Audio& in, std::uint64_t seed) const {
  datasets::Audio x = stages_[0]->apply(in, derive_seed(seed, 0));
  for (std::size_t i = 1; i < stages_.size(); ++i) x = stages_[i]->apply(x, derive_seed(seed, i));
  return x;
}

// Every label change our deformations make is a transposition, so the chain's is the transposition
// by the rounded total: +0.5 then +0.5 semitones moves the label by 1, not by 2 (rounding each).
datasets::Key Chain::label(const datasets::Key& key) const {
  if (is_random())
    throw Error(fmt::format("{}: the label of a chain with random stages depends on the draw; call sample(seed) first",
                            path_),
                ExitCode::kInternal);
  return key.transposed(detail::rounded_semitones(semitones()));
}

double Chain::semitones() const {
  double s = 0.0;
  for (const auto& d : stages_) s += d->semitones();
  return s;
}

double Chain::duration_factor() const {
  double f = 1.0;
  for (const auto& d : stages_) f *= d->duration_factor();
  return f;
}

bool Chain::label_exact() const { return !is_random() && detail::whole_semitones(semitones()); }

bool Chain::uses_seed() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const auto& d) { return d->uses_seed(); });
}

bool Chain::is_random() const {
  return std::any_of(stages_.begin(), stages_.end(), [](const auto& d) { return d->is_random(); });
}

std::unique_ptr<Deformation> Chain::sample(std::uint64_t seed) const {
  std::vector<std::shared_ptr<const Deformation>> drawn;
  for (std::size_t i = 0; i < stages_.size(); ++i) drawn.push_back(stages_[i]->sample(derive_seed(seed, i)));
  return std::make_unique<Chain>(std::move(drawn), path_);
}

// --------------------------------------------------------------------------------------------- random
namespace {

const std::vector<std::string> kDistributionKinds = {"uniform_int", "uniform", "log_uniform", "choice"};
constexpr std::uint64_t kFireStream = 0x66697265ull;  // "fire"
constexpr std::uint64_t kDrawStream = 0x64726177ull;  // "draw"

bool is_distribution(const nlohmann::json& v) {
  return v.is_object() && v.size() == 1 &&
         std::find(kDistributionKinds.begin(), kDistributionKinds.end(), v.begin().key()) != kDistributionKinds.end();
}

struct Found {
  RandomDeformation::Distribution d;
  std::string dotted;  // JSON path for messages: "deformation.bands[0].gain_db"
};

void find_distributions(const nlohmann::json& v, const std::string& pointer, const std::string& dotted,
                        std::vector<Found>& out) {
  if (is_distribution(v)) {
    out.push_back({{pointer, v.begin().key(), v.begin().value()}, dotted});
    return;
  }
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      find_distributions(it.value(), pointer + "/" + it.key(), dotted + "." + datasets::detail::escaped(it.key()), out);
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i)
      find_distributions(v[i], fmt::format("{}/{}", pointer, i), fmt::format("{}[{}]", dotted, i), out);
  }
}

// Checks a distribution's shape; returns the values worth trying at construction (end points, choices).
std::vector<nlohmann::json> candidates(const RandomDeformation::Distribution& d, const std::string& path) {
  const std::string p = fmt::format("{}.{}", path, d.kind);
  if (d.kind == "choice") {
    if (!d.values.is_array() || d.values.empty())
      throw Error(fmt::format("{}: expected a non-empty array of values, got {}", p, json_brief(d.values)));
    return std::vector<nlohmann::json>(d.values.begin(), d.values.end());
  }
  if (!d.values.is_array() || d.values.size() != 2 || !d.values[0].is_number() || !d.values[1].is_number())
    throw Error(fmt::format("{}: expected [low, high] (two numbers), got {}", p, json_brief(d.values)));
  if (d.kind == "uniform_int" && !(d.values[0].is_number_integer() && d.values[1].is_number_integer()))
    throw Error(fmt::format("{}: expected two integers, got {}", p, json_brief(d.values)));
  const double lo = d.values[0].get<double>(), hi = d.values[1].get<double>();
  if (!(std::fabs(lo) <= 1e15 && std::fabs(hi) <= 1e15) || lo > hi)  // 1e15: integer draws stay exact
    throw Error(fmt::format("{}: expected low <= high, both within +-1e15, got {}", p, json_brief(d.values)));
  if (d.kind == "log_uniform" && !(lo > 0))
    throw Error(fmt::format("{}: expected 0 < low <= high, got {}", p, json_brief(d.values)));
  return {d.values[0], d.values[1]};
}

nlohmann::json draw(const RandomDeformation::Distribution& d, std::uint64_t seed) {
  detail::Rng rng(seed);
  const double u = rng.uniform();
  if (d.kind == "choice") {
    const std::size_t n = d.values.size();
    return d.values[std::min(n - 1, std::size_t(u * double(n)))];
  }
  if (d.kind == "uniform_int") {
    const std::int64_t lo = d.values[0].get<std::int64_t>(), hi = d.values[1].get<std::int64_t>();
    return std::min(hi, lo + std::int64_t(std::floor(u * double(hi - lo + 1))));
  }
  const double lo = d.values[0].get<double>(), hi = d.values[1].get<double>();
  if (d.kind == "log_uniform") return std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)));
  return lo + u * (hi - lo);
}

}  // namespace

std::unique_ptr<Deformation> RandomDeformation::from_json(const nlohmann::json& j, const std::string& json_path) {
  JsonObject o(j, json_path);
  o.ignore({"type"});
  auto r = std::make_unique<RandomDeformation>();
  r->path_ = json_path;
  const std::string inner = o.require_string("deformation");
  const auto types = deformation_types();
  if (std::find(types.begin(), types.end(), inner) == types.end())
    throw Error(fmt::format("{}: {}", o.path_of("deformation"), unknown_name_message("deformation type", inner, types)));
  if (inner == "random")
    throw Error(fmt::format("{}: a random deformation cannot draw another one (write the distributions in one)",
                            o.path_of("deformation")));
  r->probability_ = o.get_number("probability", 1.0, 0.0, 1.0);
  // The remaining fields are the inner deformation's; JsonObject's unknown-key check is left to it.
  r->template_ = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "type" && it.key() != "deformation" && it.key() != "probability") r->template_[it.key()] = it.value();
  r->template_["type"] = inner;

  std::vector<Found> found;
  find_distributions(r->template_, "", json_path, found);
  std::vector<std::vector<nlohmann::json>> cands;
  for (const auto& f : found) {
    cands.push_back(candidates(f.d, f.dotted));
    r->distributions_.push_back(f.d);
  }
  // Every candidate of each distribution, the others at their first: catches a bad range at once.
  auto with = [&](std::size_t which, std::size_t k) {
    nlohmann::json t = r->template_;
    for (std::size_t i = 0; i < found.size(); ++i)
      t[nlohmann::json::json_pointer(found[i].d.pointer)] = cands[i][i == which ? k : 0];
    return t;
  };
  const std::unique_ptr<Deformation> first = make_deformation(with(0, 0), json_path);
  for (std::size_t i = 0; i < found.size(); ++i)
    for (std::size_t k = 1; k < cands[i].size(); ++k) make_deformation(with(i, k), json_path);

  // Canonical spec: the inner deformation's (defaults filled) with the distributions put back, when
  // its layout has every distribution's place; else the fields as written.
  nlohmann::json canon = first->spec();
  bool fits = true;
  for (const auto& f : found) fits = fits && canon.contains(nlohmann::json::json_pointer(f.d.pointer));
  if (!fits) canon = r->template_;
  for (const auto& f : found) {
    const nlohmann::json::json_pointer ptr(f.d.pointer);
    canon[ptr] = nlohmann::json{{f.d.kind, f.d.values}};
    // "label_exact" beside a drawn value describes the first candidate only.
    auto& parent = canon[ptr.parent_pointer()];
    if (parent.is_object()) parent.erase("label_exact");
  }
  canon.erase("type");
  r->spec_ = {{"type", "random"}, {"deformation", inner}, {"probability", r->probability_}};
  r->spec_.update(canon);
  return r;
}

std::unique_ptr<Deformation> RandomDeformation::sample(std::uint64_t seed) const {
  if (probability_ < 1.0) {
    detail::Rng fire(derive_seed(seed, kFireStream));
    if (!(fire.uniform() < probability_)) return std::make_unique<Identity>();
  }
  nlohmann::json t = template_;
  const std::uint64_t base = derive_seed(seed, kDrawStream);
  for (const auto& d : distributions_)
    t[nlohmann::json::json_pointer(d.pointer)] = draw(d, derive_seed(base, fnv1a64(d.pointer)));
  return make_deformation(t, path_);
}

datasets::Audio RandomDeformation::apply(const datasets::Audio& in, std::uint64_t seed) const {
  return sample(seed)->apply(in, seed);
}

datasets::Key RandomDeformation::label(const datasets::Key&) const {
  throw Error(fmt::format("{}: the label of a random deformation depends on the draw; call sample(seed) first", path_),
              ExitCode::kInternal);
}

double RandomDeformation::semitones() const {
  throw Error(fmt::format("{}: a random deformation's shift depends on the draw; call sample(seed) first", path_),
              ExitCode::kInternal);
}

double RandomDeformation::duration_factor() const {
  throw Error(fmt::format("{}: a random deformation's duration depends on the draw; call sample(seed) first", path_),
              ExitCode::kInternal);
}

}  // namespace mcpt::augment
