// Key-annotated tracks and the loaders that produce them: GiantSteps Key, GiantSteps MTG Key,
// manifests (CSV/TSV/JSON) and the synthetic corpus. Loaders read annotations only; audio is
// decoded later, so `dataset-info` works on a download without its audio.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Key.h"

namespace mcpt::datasets {

struct Track {
  std::string id;               // unique within its dataset
  std::filesystem::path audio;  // absolute or relative to the working directory
  Key key;
  std::string split;            // "train", "valid", "test", or "" when the dataset does not say
  double confidence = -1.0;     // annotation confidence where the dataset gives one, else -1
  double start = 0.0;           // seconds; excerpt start
  double end = -1.0;            // seconds; < 0: to the end of the file
  std::string artist;           // where known (used for grouped splits)
};

struct Exclusion {
  std::string id;
  std::string reason;  // short, stable, countable: "multiple keys", "no key", "low confidence" ...
  std::string detail;  // e.g. the raw label
};

struct Dataset {
  std::string type;  // "giantsteps-key", "giantsteps-mtg-key", "manifest", "synthetic"
  std::filesystem::path root;
  std::vector<Track> tracks;         // usable tracks (after filters)
  std::vector<Exclusion> excluded;   // left out, with why
  std::vector<std::string> missing_audio;  // ids of usable tracks whose audio file is absent

  std::vector<const Track*> split(const std::string& name) const;  // "" selects all
};

// Loader options per type (JSON object; unknown keys rejected with the JSON path in the error):
//   giantsteps-key:     {}  (all 604 tracks, split "test")
//   giantsteps-mtg-key: {"min_confidence": 2, "valid_fraction": 0.1, "split_seed": 1}
//   manifest:           {"manifest": "manifest.csv"}  (relative to root; default: first of
//                        manifest.csv, manifest.tsv, manifest.json in root)
//   synthetic:          see datasets/Synthetic.h (rendered on first use when absent)
// `json_path` prefixes error messages (e.g. "suite.datasets.gs").
Dataset load_dataset(const std::string& type, const std::filesystem::path& root,
                     const nlohmann::json& options = nlohmann::json::object(),
                     const std::string& json_path = "dataset");

Dataset load_giantsteps_key(const std::filesystem::path& root);
struct MtgKeyOptions {
  int min_confidence = 2;
  double valid_fraction = 0.1;
  std::uint64_t split_seed = 1;
};
Dataset load_giantsteps_mtg_key(const std::filesystem::path& root, const MtgKeyOptions& options = {});
Dataset load_manifest(const std::filesystem::path& manifest_file);

std::vector<std::string> dataset_types();  // the known type names

// Summary as printed by `mcpt-eval dataset-info`: tracks, by_mode, by_split, by_key, excluded,
// missing_audio.
nlohmann::json dataset_summary(const Dataset& dataset);

}  // namespace mcpt::datasets
