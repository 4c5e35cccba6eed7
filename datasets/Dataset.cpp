// Dataset type registry: options validated with their JSON paths, then the loader for the type.
#include "datasets/Dataset.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "datasets/Synthetic.h"
#include "datasets/TextTable.h"

namespace fs = std::filesystem;

namespace mcpt::datasets {

std::vector<const Track*> Dataset::split(const std::string& name) const {
  std::vector<const Track*> out;
  for (const auto& t : tracks)
    if (name.empty() || t.split == name) out.push_back(&t);
  return out;
}

std::vector<std::string> dataset_types() { return {"giantsteps-key", "giantsteps-mtg-key", "manifest", "synthetic"}; }

namespace {

// The manifest of a "manifest" dataset: the option, else root itself when it is a file, else the
// first of manifest.csv, manifest.tsv, manifest.json in root.
fs::path find_manifest(const fs::path& root, const std::string& option) {
  std::error_code ec;
  if (!option.empty()) return fs::path(option).is_absolute() ? fs::path(option) : root / option;
  if (fs::is_regular_file(root, ec)) return root;
  if (!fs::is_directory(root, ec))
    throw Error(fmt::format("manifest: root folder not found: {} (expected a folder holding manifest.csv, "
                            "manifest.tsv or manifest.json, or a manifest file)",
                            root.string()));
  for (const char* name : {"manifest.csv", "manifest.tsv", "manifest.json"})
    if (fs::is_regular_file(root / name, ec)) return root / name;
  throw Error(fmt::format("manifest: no manifest.csv, manifest.tsv or manifest.json in {} (or name one with the "
                          "option \"manifest\")",
                          root.string()));
}

}  // namespace

Dataset load_dataset(const std::string& type, const fs::path& root, const nlohmann::json& options,
                     const std::string& json_path) {
  const auto known = dataset_types();
  if (std::find(known.begin(), known.end(), type) == known.end())
    throw Error(fmt::format("{}.type: {}", json_path, unknown_name_message("dataset type", type, known)));

  // The suite passes the whole dataset block; "type" and "root" were read by the caller.
  nlohmann::json opts = options.is_null() ? nlohmann::json::object() : options;
  JsonObject o(opts, json_path);
  o.ignore({"type", "root"});

  // Options are validated before any file is read, so a typo is reported as a typo.
  std::function<Dataset()> load;
  if (type == "giantsteps-key") {
    load = [&] { return load_giantsteps_key(root); };
  } else if (type == "giantsteps-mtg-key") {
    MtgKeyOptions m;
    m.min_confidence = int(o.get_int("min_confidence", m.min_confidence, 0, 2));
    m.valid_fraction = o.get_number("valid_fraction", m.valid_fraction, 0.0, 1.0);
    m.split_seed = o.get_uint("split_seed", m.split_seed);
    load = [&root, m] { return load_giantsteps_mtg_key(root, m); };
  } else if (type == "manifest") {
    const std::string file = o.get_string("manifest", "");
    load = [&root, file] { return load_manifest(find_manifest(root, file)); };
  } else {  // synthetic
    nlohmann::json synth = opts;
    synth.erase("type");
    synth.erase("root");
    const SynthOptions s = SynthOptions::from_json(synth, json_path);
    for (auto it = opts.begin(); it != opts.end(); ++it) o.ignore({it.key().c_str()});  // checked by from_json
    load = [&root, s] {
      // The corpus is rendered on first use (the demo suite relies on this) and reused after.
      if (!synthetic_corpus_complete(root, s)) render_synthetic_corpus(root, s);
      Dataset ds = load_manifest(root / "manifest.csv");
      ds.type = "synthetic";
      ds.root = root;
      return ds;
    };
  }
  o.finish();

  try {
    return load();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", json_path, e.what()), e.code());
  }
}

nlohmann::json dataset_summary(const Dataset& dataset) {
  nlohmann::json by_mode = {{"major", 0}, {"minor", 0}};
  nlohmann::json by_split = nlohmann::json::object();
  nlohmann::json by_key = nlohmann::json::object();
  nlohmann::json excluded = nlohmann::json::object();
  auto bump = [](nlohmann::json& j, const std::string& k) { j[k] = j.value(k, 0) + 1; };
  for (const auto& t : dataset.tracks) {
    bump(by_mode, t.key.is_none() ? "none" : mode_name(t.key.mode()));
    bump(by_split, t.split.empty() ? "unassigned" : t.split);
    bump(by_key, t.key.name());
  }
  for (const auto& e : dataset.excluded) bump(excluded, e.reason);
  return {{"type", dataset.type},
          {"root", dataset.root.string()},
          {"tracks", dataset.tracks.size()},
          {"by_mode", by_mode},
          {"by_split", by_split},
          {"by_key", by_key},
          {"excluded", excluded},
          {"missing_audio", dataset.missing_audio.size()}};
}

}  // namespace mcpt::datasets
