#include "harness/Suite.h"

#include <fstream>
#include <set>

#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"

namespace fs = std::filesystem;

namespace mcpt::harness {

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

}  // namespace

Suite Suite::load(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw Error(fmt::format("{}: no such suite file", file.string()));
  if (fs::is_directory(file, ec)) throw Error(fmt::format("{}: is a folder, expected a suite .json file", file.string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open suite file", file.string()));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
  try {
    return parse(j, fs::absolute(file).lexically_normal());
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()), e.code());
  }
}

Suite Suite::parse(const nlohmann::json& j, const fs::path& file) {
  Suite s;
  s.file = file;
  s.raw = j;
  s.hash = hex64(fnv1a64(j.dump()));
  const fs::path base = file.parent_path();
  JsonObject o(j, "suite");
  s.name = o.require_string("name");
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
      const std::string path = "suite.datasets." + it.key();
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
        throw Error(fmt::format("suite.protocol.test[{}]: \"{}\" overlaps the training or validation split", i, t.text()));
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
        throw Error(fmt::format("{}.name: duplicate encoder name \"{}\" (names identify rows of the report)", path, c.name));
      c.pooling = ej.get_string("pooling", "mean");
      if (c.pooling != "mean" && c.pooling != "mean+std")
        throw Error(fmt::format("{}.pooling: {}", path, unknown_name_message("pooling", c.pooling, {"mean", "mean+std"})));
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
        throw Error(fmt::format("suite.probes[{}]: duplicate probe \"{}\" (give it a \"name\")", i, c.label()));
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
    st.finish();
  }
  o.ignore({"description", "$schema"});
  o.finish();
  return s;
}

}  // namespace mcpt::harness
