// Probes on frozen embeddings: softmax regression ("linear") and shallow-but-wide MLPs ("mlp"),
// trained with AdamW on mini-batches, early-stopped on validation loss (restoring a copy of the best
// weights), with features standardised on the training split only. CPU or CUDA.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probes/Matrix.h"

namespace mcpt::probes {

struct ProbeConfig {
  // "linear", "mlp", or "none": no training, the features are already 24 key scores (ordered as
  // datasets::Key::index()) and are used as logits, e.g. for the key-profile estimator.
  std::string type = "linear";
  std::vector<int> hidden;      // mlp hidden widths, e.g. {2048}
  double dropout = 0.0;
  bool batch_norm = false;
  double lr = 1e-3;  // from_json: 1e-2 for linear, 1e-3 for mlp
  double weight_decay = 1e-4;
  int epochs = 500;        // upper bound; early stopping usually ends sooner
  int batch_size = 256;
  int patience = 20;       // epochs without a better validation loss before stopping
  bool class_weighting = false;  // weight the loss by inverse class frequency (train split)
  // "adamw": mini-batch AdamW with early stopping on the validation loss (lr, batch_size, patience,
  // epochs). "lbfgs" (linear probes only): full-batch L-BFGS (strong Wolfe line search) on
  // mean cross-entropy + weight_decay / 2 * |W|^2 (bias not penalised), solved until the largest
  // gradient entry is below 1e-5 or `epochs` iterations: the objective of scikit-learn's
  // LogisticRegression(C) with weight_decay = 1 / (C * n_train); validation only selects the grid.
  std::string solver = "adamw";
  std::string device = "cpu";    // "cpu", "cuda", "cuda:1", "auto"
  // A named set of defaults applied before the suite's own keys (which override it):
  // "keymyna" = the seed paper's probe for MCPT features (arXiv 2604.10021): one hidden layer of
  // 2048, dropout 0.75, batch 64, lr 3e-4, weight decay 1e-4 (mlp only).
  std::string preset;
  // Hyper-parameter grid: name -> values, for lr, weight_decay, dropout, epochs, batch_size, hidden
  // (width of a single hidden layer). Selected on validation only.
  std::map<std::string, std::vector<double>> grid;

  // Parses one entry of the suite's "probes" list; errors name `json_path`.
  static ProbeConfig from_json(const nlohmann::json& j, const std::string& json_path);
  nlohmann::json to_json() const;
  std::string label() const;  // "linear", "mlp-2048", or the suite's "name" when given
  std::string name;           // optional display name from the suite
  // Every point of the grid applied to this config (one point when the grid is empty).
  std::vector<ProbeConfig> grid_points() const;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Trains on (x_train, y_train) with early stopping on (x_valid, y_valid). Labels are class indices
  // in [0, num_classes). Deterministic for a seed on CPU.
  virtual void fit(const Matrix& x_train, const std::vector<int>& y_train, const Matrix& x_valid,
                   const std::vector<int>& y_valid, int num_classes, std::uint64_t seed) = 0;
  // Logits, one row per input row.
  virtual Matrix predict(const Matrix& x) const = 0;
  // What training did: epochs run, best epoch, best validation loss, per-epoch losses.
  virtual nlohmann::json training_log() const = 0;
  // The feature standardisation fitted on the training split: x' = (x - mean) / scale per column.
  // Empty for probes that do not standardise ("none").
  struct Standardisation {
    std::vector<float> mean, scale;
  };
  virtual Standardisation standardisation() const = 0;
};

// Names of the presets ProbeConfig::from_json knows.
std::vector<std::string> probe_presets();

std::unique_ptr<Probe> make_probe(const ProbeConfig& config);

// Hyper-parameter selection on validation only. `valid_score` maps validation logits to a score
// (higher is better; e.g. track-level accuracy); it never sees test data, and this function never
// receives test data, so the test split cannot leak into the choice.
struct Selection {
  ProbeConfig chosen;
  std::unique_ptr<Probe> probe;           // trained with the chosen configuration
  nlohmann::json candidates;              // every grid point with its validation score
  double valid_score = 0.0;
};
Selection select_on_validation(const ProbeConfig& config, const Matrix& x_train, const std::vector<int>& y_train,
                               const Matrix& x_valid, const std::vector<int>& y_valid, int num_classes,
                               std::uint64_t seed, const std::function<double(const Matrix&)>& valid_score);

std::vector<std::string> probe_types();

// Threads LibTorch uses inside one operation (process-wide).
// Threads for LibTorch's work on the CPU (probes, the MCPT ViT, TorchScript models, pre-training).
// With a pthread OpenBLAS they go to OpenBLAS and LibTorch's own OpenMP team keeps one, since the
// two pools at full size slow each other down (probes/Probe.cpp); applied from the start with one
// thread per core.
int compute_threads();
void set_compute_threads(int n);

}  // namespace mcpt::probes
