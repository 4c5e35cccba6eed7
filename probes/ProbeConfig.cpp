// ProbeConfig parsing and grid expansion (no torch here, to keep this file cheap to compile).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "probes/Probe.h"

namespace mcpt::probes {

std::vector<std::string> probe_types() { return {"linear", "mlp", "none"}; }
std::vector<std::string> probe_presets() { return {"keymyna"}; }

ProbeConfig ProbeConfig::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObject o(j, path);
  ProbeConfig c;
  c.type = o.require_string("type");
  const auto types = probe_types();
  if (std::find(types.begin(), types.end(), c.type) == types.end())
    throw Error(fmt::format("{}: {}", o.path_of("type"), unknown_name_message("probe type", c.type, types)));
  c.name = o.get_string("name", "");
  if (c.type == "none") {  // zero-training: the features are the 24 key scores themselves
    o.finish();
    return c;
  }
  // Preset defaults first; the keys below fall back to them, so explicit keys override the preset.
  std::vector<std::int64_t> hidden_default = {512};
  double dropout_default = c.type == "mlp" ? 0.5 : 0.0;
  // Adam on standardised features: a softmax regression tolerates (and needs) a larger step.
  double lr_default = c.type == "linear" ? 1e-2 : 1e-3;
  double weight_decay_default = 1e-4;
  std::int64_t batch_default = 256;
  c.preset = o.get_string("preset", "");
  if (!c.preset.empty()) {
    const auto presets = probe_presets();
    if (std::find(presets.begin(), presets.end(), c.preset) == presets.end())
      throw Error(fmt::format("{}: {}", o.path_of("preset"), unknown_name_message("probe preset", c.preset, presets)));
    if (c.type != "mlp")
      throw Error(fmt::format("{}: preset \"{}\" is an mlp probe (set \"type\": \"mlp\")", o.path_of("preset"), c.preset));
    // keymyna: the seed paper's probe on MCPT features (arXiv 2604.10021).
    hidden_default = {2048};
    dropout_default = 0.75;
    lr_default = 3e-4;
    weight_decay_default = 1e-4;
    batch_default = 64;
  }
  if (c.type == "mlp") {
    for (auto w : o.get_ints("hidden", hidden_default, 1, 1 << 16)) c.hidden.push_back(static_cast<int>(w));
    if (c.hidden.empty()) throw Error(fmt::format("{}: an mlp needs at least one hidden layer", o.path_of("hidden")));
  }
  c.dropout = o.get_number("dropout", dropout_default, 0.0, 0.99);
  c.batch_norm = o.get_bool("batch_norm", false);
  if (c.batch_norm && c.type != "mlp")
    throw Error(fmt::format("{}: only an mlp probe has hidden layers to normalise", o.path_of("batch_norm")));
  c.lr = o.get_number("lr", lr_default, 1e-7, 10.0);
  c.weight_decay = o.get_number("weight_decay", weight_decay_default, 0.0, 10.0);
  c.epochs = static_cast<int>(o.get_int("epochs", 500, 1, 100000));
  c.batch_size = static_cast<int>(o.get_int("batch_size", batch_default, 1, 1 << 20));
  c.patience = static_cast<int>(o.get_int("patience", 20, 1, 100000));
  c.class_weighting = o.get_bool("class_weighting", false);
  c.solver = o.get_string("solver", "adamw");
  if (c.solver != "adamw" && c.solver != "lbfgs")
    throw Error(fmt::format("{}: {}", o.path_of("solver"), unknown_name_message("solver", c.solver, {"adamw", "lbfgs"})));
  if (c.solver == "lbfgs" && c.type != "linear")
    throw Error(fmt::format("{}: \"lbfgs\" solves the convex linear probe; an mlp trains with \"adamw\"",
                            o.path_of("solver")));
  if (c.solver == "lbfgs" && c.dropout > 0)
    throw Error(fmt::format("{}: \"lbfgs\" needs a deterministic objective: dropout must be 0 (got {:g})",
                            o.path_of("dropout"), c.dropout));
  c.device = o.get_string("device", "cpu");
  if (c.device != "cpu" && c.device != "auto" && c.device.rfind("cuda", 0) != 0)
    throw Error(fmt::format("{}: expected \"cpu\", \"cuda\", \"cuda:N\" or \"auto\", got \"{}\"", o.path_of("device"),
                            c.device));
  if (o.has("grid")) {
    JsonObject g(o.raw("grid"), o.path_of("grid"));
    const std::pair<const char*, std::pair<double, double>> ranges[] = {
        {"lr", {1e-7, 10.0}},     {"weight_decay", {0.0, 10.0}}, {"dropout", {0.0, 0.99}},
        {"epochs", {1, 100000}},  {"batch_size", {1, 1 << 20}},  {"hidden", {1, 1 << 16}}};
    for (const auto& [name, range] : ranges) {
      if (!g.has(name)) continue;
      auto values = g.get_numbers(name, {}, range.first, range.second);
      const std::string n = name;
      if ((n == "epochs" || n == "batch_size" || n == "hidden"))
        for (size_t i = 0; i < values.size(); ++i)
          if (values[i] != std::floor(values[i]))
            throw Error(fmt::format("{}.{}[{}]: expected integer, got {}", g.path(), n, i, values[i]));
      if (n == "hidden" && c.type != "mlp")
        throw Error(fmt::format("{}.hidden: only an mlp probe has hidden layers", g.path()));
      if (n == "dropout" && c.solver == "lbfgs" && std::any_of(values.begin(), values.end(), [](double v) { return v > 0; }))
        throw Error(fmt::format("{}.dropout: \"lbfgs\" needs a deterministic objective: dropout must be 0", g.path()));
      c.grid[n] = values;
    }
    g.finish();
  }
  o.finish();
  return c;
}

nlohmann::json ProbeConfig::to_json() const {
  nlohmann::json j = {{"type", type},          {"lr", lr},       {"weight_decay", weight_decay},
                      {"epochs", epochs},      {"batch_size", batch_size}, {"patience", patience},
                      {"dropout", dropout},    {"class_weighting", class_weighting}, {"device", device}};
  if (type == "mlp") {
    j["hidden"] = hidden;
    j["batch_norm"] = batch_norm;
  }
  if (!name.empty()) j["name"] = name;
  if (!preset.empty()) j["preset"] = preset;
  if (solver != "adamw") j["solver"] = solver;
  if (!grid.empty()) j["grid"] = grid;
  return j;
}

std::string ProbeConfig::label() const {
  if (!name.empty()) return name;
  if (type == "linear" && solver == "lbfgs") return "linear-lbfgs";
  if (type != "mlp") return type;
  std::string s = "mlp";
  for (int h : hidden) s += fmt::format("-{}", h);
  return s;
}

std::vector<ProbeConfig> ProbeConfig::grid_points() const {
  std::vector<ProbeConfig> points{*this};
  for (auto& p : points) p.grid.clear();
  for (const auto& [name, values] : grid) {
    std::vector<ProbeConfig> next;
    for (const auto& p : points)
      for (double v : values) {
        ProbeConfig q = p;
        if (name == "lr") q.lr = v;
        else if (name == "weight_decay") q.weight_decay = v;
        else if (name == "dropout") q.dropout = v;
        else if (name == "epochs") q.epochs = static_cast<int>(v);
        else if (name == "batch_size") q.batch_size = static_cast<int>(v);
        else if (name == "hidden") q.hidden = {static_cast<int>(v)};
        next.push_back(q);
      }
    points = std::move(next);
  }
  return points;
}

}  // namespace mcpt::probes
