#include "harness/Suite.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "augment/Deformation.h"
#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "datasets/TextTable.h"
#include "harness/encoders/Encoder.h"

namespace fs = std::filesystem;

namespace mcpt::harness {

nlohmann::json PublishedFigure::to_json() const {
  nlohmann::json j = {{"name", name}, {"dataset", dataset}, {"source", source}};
  if (accuracy >= 0) j["accuracy"] = accuracy;
  if (weighted_score >= 0) j["weighted_score"] = weighted_score;
  if (!note.empty()) j["note"] = note;
  return j;
}

std::string aggregation_name(Aggregation a) {
  return a == Aggregation::kMeanLogits ? "mean_logits" : "majority_vote";
}

namespace {

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : base / q).lexically_normal();
}

SplitRef parse_split_ref(const nlohmann::json& v, const std::string& path,
                         const std::map<std::string, DatasetConfig>& datasets) {
  if (!v.is_string()) throw Error(fmt::format("{}: expected string \"dataset:split\", got {}", path, json_brief(v)));
  const std::string s = v.get<std::string>();
  SplitRef r;
  const auto colon = s.find(':');
  r.dataset = s.substr(0, colon);
  r.split = colon == std::string::npos ? "" : s.substr(colon + 1);
  std::vector<std::string> names;
  for (const auto& [n, d] : datasets) names.push_back(n);
  if (!datasets.count(r.dataset))
    throw Error(fmt::format("{}: {}", path, unknown_name_message("dataset", r.dataset, names)));
  static const std::vector<std::string> splits = {"train", "valid", "test"};
  if (!r.split.empty() && std::find(splits.begin(), splits.end(), r.split) == splits.end())
    throw Error(fmt::format("{}: {}", path, unknown_name_message("split", r.split, splits)));
  return r;
}

std::vector<Sweep> default_sweeps() {
  std::vector<Sweep> v;
  v.push_back({"pitch_shift", "semitones", "semitones", {-6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6}, nlohmann::json::object()});
  v.push_back({"time_stretch", "ratio", "ratio", {0.8, 0.9, 1.1, 1.25}, nlohmann::json::object()});
  // A tilt of +-3 dB/octave about 1 kHz moves 62.5 Hz and 16 kHz by -+12 dB: the issue's +-12 dB.
  v.push_back({"eq", "db_per_octave", "dB/octave", {-3, -1.5, 1.5, 3}, {{"filter", "tilt"}}});
  v.push_back({"noise", "snr_db", "dB SNR", {40, 30, 20, 10, 0}, {{"color", "pink"}}});
  return v;
}

// The seed paper's training-time augmentation: pitch shifts drawn uniformly from -5..+6 semitones.
nlohmann::json default_training_augmentation() {
  return {{"type", "random"}, {"deformation", "pitch_shift"}, {"semitones", {{"uniform_int", {-5, 6}}}}};
}

// Checks a deformation spec now (the registry names the JSON path), so a bad sweep fails before work.
void check_deformation(const nlohmann::json& spec, const std::string& path) { augment::make_deformation(spec, path); }

Robustness parse_robustness(const nlohmann::json& j, const Suite& s) {
  Robustness r;
  if (j.is_boolean()) {
    r.enabled = j.get<bool>();
    if (r.enabled) r.sweeps = default_sweeps();
    return r;
  }
  JsonObject o(j, "suite.robustness");
  r.enabled = o.get_bool("enabled", true);
  if (o.has("encoders")) {
    const auto& e = o.raw("encoders");
    if (!e.is_array()) throw Error(fmt::format("suite.robustness.encoders: expected an array of encoder names, got {}", json_brief(e)));
    std::vector<std::string> names;
    for (const auto& ec : s.encoders) names.push_back(ec.name);
    for (size_t i = 0; i < e.size(); ++i) {
      const std::string path = fmt::format("suite.robustness.encoders[{}]", i);
      if (!e[i].is_string()) throw Error(fmt::format("{}: expected an encoder name, got {}", path, json_brief(e[i])));
      const auto n = e[i].get<std::string>();
      if (std::find(names.begin(), names.end(), n) == names.end())
        throw Error(fmt::format("{}: {}", path, unknown_name_message("encoder", n, names)));
      r.encoders.push_back(n);
    }
  }
  {
    std::vector<std::string> labels;
    for (const auto& p : s.probes)
      if (p.type != "none") labels.push_back(p.label());
    r.probe = o.get_string("probe", labels.empty() ? "" : labels.front());
    if (std::find(labels.begin(), labels.end(), r.probe) == labels.end())
      throw Error(fmt::format("suite.robustness.probe: {}",
                              unknown_name_message("trainable probe", r.probe, labels)));
  }
  if (o.has("sweeps")) {
    const auto& sw = o.raw("sweeps");
    if (!sw.is_array()) throw Error(fmt::format("suite.robustness.sweeps: expected an array, got {}", json_brief(sw)));
    for (size_t i = 0; i < sw.size(); ++i) {
      const std::string path = fmt::format("suite.robustness.sweeps[{}]", i);
      JsonObject so(sw[i], path);
      Sweep w;
      w.type = so.require_string("type");
      // Checked here, so the error names the sweep's "type" and not the first value's spec built from it.
      if (const auto known = augment::deformation_types(); std::find(known.begin(), known.end(), w.type) == known.end())
        throw Error(fmt::format("{}: {}", so.path_of("type"), unknown_name_message("deformation type", w.type, known)));
      w.parameter = so.require_string("parameter");
      w.unit = so.get_string("unit", w.parameter);
      w.values = so.get_numbers("values", {}, -1e6, 1e6);
      if (w.values.empty()) throw Error(fmt::format("{}.values: expected a non-empty array of numbers", path));
      if (so.has("options")) {
        w.options = so.raw("options");
        if (!w.options.is_object()) throw Error(fmt::format("{}.options: expected an object, got {}", path, json_brief(w.options)));
      }
      so.finish();
      for (size_t k = 0; k < w.values.size(); ++k) check_deformation(w.spec_at(w.values[k]), fmt::format("{}.values[{}]", path, k));
      r.sweeps.push_back(w);
    }
  } else {
    r.sweeps = default_sweeps();
  }
  r.controls = o.get_bool("controls", true);
  r.control_semitones = o.get_number("control_semitones", 3, -24, 24);
  if (o.has("control_options")) {
    r.control_options = o.raw("control_options");
    if (!r.control_options.is_object())
      throw Error(fmt::format("suite.robustness.control_options: expected an object of pitch_shift options, got {}",
                              json_brief(r.control_options)));
  } else {
    for (const auto& w : r.sweeps)
      if (w.type == "pitch_shift") r.control_options = w.options;
  }
  r.consistency = o.get_bool("consistency", true);
  r.invariance = o.get_bool("invariance", true);
  r.decodability = o.get_numbers("decodability", {-6, -3, 0, 3, 6}, -24, 24);
  r.train_shifts = o.get_numbers("train_shifts", {-3, 0, 3}, -24, 24);
  if (!r.train_shifts.empty() && std::find(r.train_shifts.begin(), r.train_shifts.end(), 0.0) == r.train_shifts.end())
    throw Error("suite.robustness.train_shifts: must include 0 (the clean-trained probe is the reference row)");
  if (o.has("training_augmentation")) {
    const auto& a = o.raw("training_augmentation");
    if (a.is_boolean()) {
      if (a.get<bool>()) r.training_augmentation = default_training_augmentation();
    } else {
      r.training_augmentation = a;
    }
  } else {
    r.training_augmentation = default_training_augmentation();
  }
  if (!r.training_augmentation.is_null()) check_deformation(r.training_augmentation, "suite.robustness.training_augmentation");
  r.augmentation_copies = static_cast<int>(o.get_int("augmentation_copies", 2, 1, 64));
  o.finish();
  if (r.controls) {
    nlohmann::json c = r.control_options;
    c["type"] = "pitch_shift";
    c["semitones"] = 0;
    check_deformation(c, "suite.robustness.control_options");
  }
  return r;
}

}  // namespace

nlohmann::json Sweep::spec_at(double value) const {
  nlohmann::json j = options;
  j["type"] = type;
  if (std::floor(value) == value && std::fabs(value) < 1e9) j[parameter] = static_cast<long long>(value);
  else j[parameter] = value;
  return j;
}

Suite Suite::load(const fs::path& file) {
  return parse_json_file(file, "suite file", "a suite .json file",
                         [](const nlohmann::json& j, const fs::path& abs) { return parse(j, abs); });
}

Suite Suite::parse(const nlohmann::json& j, const fs::path& file) {
  Suite s;
  s.file = file;
  s.raw = j;
  s.hash = hex64(fnv1a64(j.dump()));
  const fs::path base = file.parent_path();
  JsonObject o(j, "suite");
  s.name = o.require_string("name");
  // The name becomes the default output folder (runs/<name>) and labels files: keep it a plain name
  // so a suite cannot direct output outside its folder.
  if (s.name.empty() || s.name == "." || s.name == ".." ||
      s.name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != std::string::npos)
    throw Error(fmt::format("suite.name: {} is not a plain name (letters, digits, '.', '_', '-'; it names the "
                            "default output folder runs/<name>)",
                            json_brief(j["name"])));
  s.seed = o.get_uint("seed", 1);
  s.output = resolve(base, o.get_string("output", "runs/" + s.name));
  const std::string cache = o.get_string("cache", "cache");
  s.cache = cache.empty() ? fs::path() : resolve(base, cache);
  s.threads = static_cast<int>(o.get_int("threads", 0, 0, 1024));

  {
    const auto& d = o.raw("datasets");
    if (!d.is_object() || d.empty())
      throw Error(fmt::format("suite.datasets: expected a non-empty object of name -> dataset, got {}", json_brief(d)));
    const auto types = datasets::dataset_types();
    for (auto it = d.begin(); it != d.end(); ++it) {
      const std::string path = "suite.datasets." + datasets::detail::escaped(it.key());  // one-line messages
      JsonObject dj(it.value(), path);
      DatasetConfig c;
      c.name = it.key();
      c.type = dj.require_string("type");
      if (std::find(types.begin(), types.end(), c.type) == types.end())
        throw Error(fmt::format("{}.type: {}", path, unknown_name_message("dataset type", c.type, types)));
      c.root = resolve(base, dj.require_string("root"));
      c.options = it.value();
      s.datasets[c.name] = c;
    }
  }
  {
    JsonObject p(o.raw("protocol"), "suite.protocol");
    s.protocol.train = parse_split_ref(p.raw("train"), "suite.protocol.train", s.datasets);
    s.protocol.valid = parse_split_ref(p.raw("valid"), "suite.protocol.valid", s.datasets);
    const auto& t = p.raw("test");
    if (t.is_string()) {
      s.protocol.test.push_back(parse_split_ref(t, "suite.protocol.test", s.datasets));
    } else if (t.is_array() && !t.empty()) {
      for (size_t i = 0; i < t.size(); ++i)
        s.protocol.test.push_back(parse_split_ref(t[i], fmt::format("suite.protocol.test[{}]", i), s.datasets));
    } else {
      throw Error(fmt::format("suite.protocol.test: expected \"dataset:split\" or a non-empty array of them, got {}",
                              json_brief(t)));
    }
    const std::string agg = p.get_string("aggregation", "mean_logits");
    if (agg == "mean_logits") s.protocol.aggregation = Aggregation::kMeanLogits;
    else if (agg == "majority_vote") s.protocol.aggregation = Aggregation::kMajorityVote;
    else
      throw Error(fmt::format("suite.protocol.aggregation: {}",
                              unknown_name_message("aggregation", agg, {"mean_logits", "majority_vote"})));
    p.finish();
    if (s.protocol.train.text() == s.protocol.valid.text())
      throw Error("suite.protocol.valid: must differ from suite.protocol.train (selection on training data)");
    for (size_t i = 0; i < s.protocol.test.size(); ++i) {
      const auto& t = s.protocol.test[i];
      if (t.text() == s.protocol.train.text() || t.text() == s.protocol.valid.text() ||
          (t.dataset == s.protocol.train.dataset && (t.split.empty() || s.protocol.train.split.empty())))
        throw Error(fmt::format("suite.protocol.test[{}]: {} overlaps the training or validation split", i,
                                datasets::detail::quoted(t.text())));
    }
  }
  {
    const auto& e = o.raw("encoders");
    if (!e.is_array() || e.empty()) throw Error("suite.encoders: expected a non-empty array of encoders");
    std::set<std::string> names;
    const auto types = encoder_types();
    for (size_t i = 0; i < e.size(); ++i) {
      const std::string path = fmt::format("suite.encoders[{}]", i);
      JsonObject ej(e[i], path);
      EncoderConfig c;
      c.path = path;
      c.type = ej.require_string("type");
      if (std::find(types.begin(), types.end(), c.type) == types.end())
        throw Error(fmt::format("{}.type: {}", path, unknown_name_message("encoder type", c.type, types)));
      c.name = ej.get_string("name", c.type);
      if (!names.insert(c.name).second)
        throw Error(fmt::format("{}.name: duplicate encoder name {} (names identify rows of the report)", path,
                                datasets::detail::quoted(c.name)));
      c.pooling = ej.get_string("pooling", "mean");
      if (ej.has("resample"))
        c.resample = datasets::parse_resample_quality(ej.require_string("resample"), path + ".resample");
      if (c.pooling != "mean" && c.pooling != "mean+std")
        throw Error(fmt::format("{}.pooling: {}", path, unknown_name_message("pooling", c.pooling, {"mean", "mean+std"})));
      if (ej.has("layer") && ej.has("layers"))
        throw Error(fmt::format("{}: give \"layer\" or \"layers\", not both", path));
      if (ej.has("layer")) {
        c.layers = {static_cast<int>(ej.get_int("layer", -1, -10000, 10000))};
      } else if (ej.has("layers") && c.type == "torchscript") {
        // The TorchScript encoder reads "layers" itself (which hidden states the module returns);
        // every returned layer is then probed.
        c.all_layers = true;
        c.layers.clear();
      } else if (ej.has("layers")) {
        const auto& l = ej.raw("layers");
        if (l.is_string() && l.get<std::string>() == "all") {
          c.all_layers = true;
          c.layers.clear();
        } else {
          const auto v = ej.get_ints("layers", {}, -10000, 10000);
          if (v.empty()) throw Error(fmt::format("{}.layers: expected \"all\" or a non-empty array of layer indices", path));
          c.layers.assign(v.begin(), v.end());
        }
      }
      c.options = e[i];
      s.encoders.push_back(c);
    }
  }
  {
    const auto& p = o.raw("probes");
    if (!p.is_array() || p.empty()) throw Error("suite.probes: expected a non-empty array of probes");
    std::set<std::string> labels;
    for (size_t i = 0; i < p.size(); ++i) {
      auto c = probes::ProbeConfig::from_json(p[i], fmt::format("suite.probes[{}]", i));
      if (!labels.insert(c.label()).second)
        throw Error(fmt::format("suite.probes[{}]: duplicate probe {} (give it a \"name\")", i,
                                datasets::detail::quoted(c.label())));
      s.probes.push_back(c);
    }
  }
  if (o.has("metric")) {
    JsonObject m(o.raw("metric"), "suite.metric");
    s.metric.allow_descending_fifths = m.get_bool("allow_descending_fifths", false);
    m.finish();
  }
  if (o.has("statistics")) {
    JsonObject st(o.raw("statistics"), "suite.statistics");
    s.statistics.seeds = static_cast<int>(st.get_int("seeds", 1, 1, 1000));
    s.statistics.bootstrap = static_cast<int>(st.get_int("bootstrap", 1000, 0, 1000000));
    s.statistics.reference = st.get_string("reference", "");
    s.statistics.alpha = st.get_number("alpha", 0.05, 1e-9, 0.5);
    if (!s.statistics.reference.empty()) {  // checked now, so a typo fails before any work is done
      const auto& ref = s.statistics.reference;
      const std::string enc = ref.substr(0, ref.find('/'));
      const std::string probe = ref.find('/') == std::string::npos ? "" : ref.substr(ref.find('/') + 1, ref.find('@') - ref.find('/') - 1);
      std::vector<std::string> encs, labels;
      for (const auto& e : s.encoders) encs.push_back(e.name);
      for (const auto& p : s.probes) labels.push_back(p.label());
      if (std::find(encs.begin(), encs.end(), enc) == encs.end())
        throw Error(fmt::format("suite.statistics.reference: {}: {}", datasets::detail::quoted(ref),
                                unknown_name_message("encoder", enc, encs)));
      if (ref.find('/') != std::string::npos && std::find(labels.begin(), labels.end(), probe) == labels.end())
        throw Error(fmt::format("suite.statistics.reference: {}: {}", datasets::detail::quoted(ref),
                                unknown_name_message("probe", probe, labels)));
    }
    st.finish();
  }
  if (o.has("robustness")) s.robustness = parse_robustness(o.raw("robustness"), s);
  if (o.has("published")) {  // figures quoted from papers, shown apart from measured rows
    const auto& p = o.raw("published");
    if (!p.is_array()) throw Error(fmt::format("suite.published: expected an array of figures, got {}", json_brief(p)));
    for (size_t i = 0; i < p.size(); ++i) {
      JsonObject f(p[i], fmt::format("suite.published[{}]", i));
      PublishedFigure fig;
      fig.name = f.require_string("name");
      fig.dataset = f.require_string("dataset");
      fig.source = f.require_string("source");
      fig.note = f.get_string("note", "");
      for (auto [key, out] : {std::pair<const char*, double*>{"accuracy", &fig.accuracy}, {"weighted_score", &fig.weighted_score}})
        if (f.has(key)) {
          const auto& v = f.raw(key);
          if (v.is_number() && v.get<double>() > 1.0 && v.get<double>() <= 100.0)
            throw Error(fmt::format("{}: expected a fraction in [0, 1], got {} (write {:g} % as {:g})", f.path_of(key),
                                    v.get<double>(), v.get<double>(), v.get<double>() / 100.0));
          *out = f.get_number(key, -1.0, 0.0, 1.0);
        }
      if (fig.accuracy < 0 && fig.weighted_score < 0)
        throw Error(fmt::format("{}: give accuracy and/or weighted_score", f.path()));
      f.finish();
      s.published.push_back(fig);
    }
  }
  o.ignore({"description", "$schema"});
  o.finish();
  return s;
}

}  // namespace mcpt::harness
