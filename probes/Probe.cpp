// Linear and MLP probes on LibTorch, and hyper-parameter selection on validation.
#include "probes/Probe.h"
#include "probes/Kernels.h"
#include "probes/Lbfgs.h"
#include "probes/SoftmaxObjective.h"
#include "probes/TorchDevice.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>

#include <fmt/format.h>
#include <torch/torch.h>

#include "datasets/Error.h"

namespace mcpt::probes {

c10::Device resolve_device(const std::string& name, const std::string& where) {
  if (name == "cpu") return torch::kCPU;
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (!torch::cuda::is_available())
    throw Error(fmt::format("{}: \"{}\" requested but CUDA is not available in this build or machine (use \"cpu\" or "
                            "\"auto\")",
                            where, name));
  return torch::Device(name);
}

namespace {

// Column means and population standard deviations (clamped at 1e-6) of the training rows, summed in
// float64 (probes/Kernels.h: LibTorch's column reductions took 7 ms for 1,250 rows x 512, a sixth
// of an L-BFGS probe's fit).
void fit_standardisation(const Matrix& x, std::vector<float>& mean, std::vector<float>& scale) {
  const size_t cols = size_t(x.cols);
  std::vector<double> m(cols), var(cols);
  kernels::column_moments(x.data.data(), size_t(x.rows), cols, m.data(), var.data());
  mean.resize(cols);
  scale.resize(cols);
  for (size_t c = 0; c < cols; ++c) {
    mean[c] = float(m[c]);
    scale[c] = std::max(float(std::sqrt(var[c])), 1e-6f);
  }
}

// (x - mean) / scale per column, as a float32 tensor.
torch::Tensor standardised(const Matrix& x, const std::vector<float>& mean, const std::vector<float>& scale) {
  auto out = torch::empty({x.rows, x.cols}, torch::kFloat32);
  kernels::standardise(x.data.data(), size_t(x.rows), size_t(x.cols), mean.data(), scale.data(), out.data_ptr<float>());
  return out;
}

torch::Tensor labels_tensor(const std::vector<int>& y) {
  std::vector<int64_t> v(y.begin(), y.end());
  return torch::from_blob(v.data(), {static_cast<int64_t>(v.size())}, torch::kInt64).clone();
}

class TorchProbe final : public Probe {
 public:
  explicit TorchProbe(ProbeConfig c)
      : config_(std::move(c)), device_(resolve_device(config_.device, fmt::format("probe {} device", config_.label()))) {}

  void fit(const Matrix& x_train, const std::vector<int>& y_train, const Matrix& x_valid,
           const std::vector<int>& y_valid, int num_classes, std::uint64_t seed) override {
    if (x_train.rows == 0) throw Error("probe: the training split is empty");
    if (x_valid.rows == 0) throw Error("probe: the validation split is empty");
    if (x_train.cols != x_valid.cols) throw Error("probe: train and validation features differ in width");
    if (static_cast<int64_t>(y_train.size()) != x_train.rows || static_cast<int64_t>(y_valid.size()) != x_valid.rows)
      throw Error("probe: labels and features differ in count");
    for (int y : y_train)
      if (y < 0 || y >= num_classes) throw Error(fmt::format("probe: training label {} outside [0, {})", y, num_classes));
    // Every random draw of this fit comes from its own generator (weight initialisation under a
    // lock, since LibTorch initialises from the global one), so fits can run on several threads at
    // once and each stays deterministic for its seed.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    gen_ = gen;

    // Standardise with statistics of the training split only.
    fit_standardisation(x_train, mean_, std_);
    const torch::Tensor xt = standardised(x_train, mean_, std_).to(device_);
    const torch::Tensor xv = standardised(x_valid, mean_, std_).to(device_);
    torch::Tensor yt = labels_tensor(y_train).to(device_);
    torch::Tensor yv = labels_tensor(y_valid).to(device_);

    {
      static std::mutex init_mutex;
      std::lock_guard<std::mutex> lock(init_mutex);
      torch::manual_seed(seed);
      build(x_train.cols, num_classes);
    }
    torch::Tensor class_w;
    if (config_.class_weighting) {
      auto counts = torch::bincount(labels_tensor(y_train), {}, num_classes).to(torch::kFloat32);
      class_w = (counts.sum() / (counts.clamp_min(1) * num_classes)).to(device_);
    }
    auto loss_fn = [&](const torch::Tensor& logits, const torch::Tensor& y) {
      return class_w.defined() ? torch::nn::functional::cross_entropy(
                                     logits, y, torch::nn::functional::CrossEntropyFuncOptions().weight(class_w.to(logits.scalar_type())))
                               : torch::nn::functional::cross_entropy(logits, y);
    };

    if (config_.solver == "lbfgs") {
      fit_lbfgs(xt, yt, xv, yv, class_w, loss_fn);
      return;
    }
    torch::optim::AdamW opt(net_->parameters(),
                            torch::optim::AdamWOptions(config_.lr).weight_decay(config_.weight_decay));
    const int64_t n = xt.size(0);
    const int64_t bs = std::min<int64_t>(config_.batch_size, n);
    double best = std::numeric_limits<double>::infinity();
    int since_best = 0;
    log_ = {{"epochs_run", 0}, {"best_epoch", -1}, {"valid_loss", nlohmann::json::array()},
            {"train_loss", nlohmann::json::array()}};
    std::vector<torch::Tensor> best_state;
    for (int epoch = 0; epoch < config_.epochs; ++epoch) {
      net_->train();
      auto perm = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64)).to(device_);
      double total = 0;
      for (int64_t b = 0; b < n; b += bs) {
        auto idx = perm.slice(0, b, std::min(n, b + bs));
        if (idx.size(0) < 2 && config_.batch_norm) continue;
        opt.zero_grad();
        auto loss = loss_fn(forward(xt.index_select(0, idx), true), yt.index_select(0, idx));
        loss.backward();
        opt.step();
        total += loss.item<double>() * double(idx.size(0));
      }
      double vloss;
      {
        torch::NoGradGuard ng;
        net_->eval();
        vloss = loss_fn(forward(xv, false), yv).item<double>();
      }
      log_["train_loss"].push_back(total / double(n));
      log_["valid_loss"].push_back(vloss);
      log_["epochs_run"] = epoch + 1;
      if (vloss < best - 1e-7) {
        best = vloss;
        since_best = 0;
        log_["best_epoch"] = epoch;
        // A deep copy: later steps must not change the restored weights.
        best_state.clear();
        for (const auto& p : net_->parameters()) best_state.push_back(p.detach().clone());
        for (const auto& b : net_->buffers()) best_state.push_back(b.detach().clone());
      } else if (++since_best >= config_.patience) {
        break;
      }
    }
    if (best_state.empty())  // every validation loss was NaN/Inf: there are no weights worth keeping
      throw Error(fmt::format("probe {}: training diverged (validation loss {} in every epoch); lower lr (now {:g}) or "
                              "check the features for NaN/Inf",
                              config_.label(), log_["valid_loss"].empty() ? 0.0 : log_["valid_loss"].back().get<double>(),
                              config_.lr));
    {
      torch::NoGradGuard ng;
      size_t i = 0;
      for (auto& p : net_->parameters()) p.copy_(best_state[i++]);
      for (auto& b : net_->buffers()) b.copy_(best_state[i++]);
    }
    log_["best_valid_loss"] = best;
    net_->eval();
  }

  Matrix predict(const Matrix& x) const override {
    if (!net_) throw Error("probe: predict() before fit()");
    if (size_t(x.cols) != mean_.size()) throw Error("probe: feature width differs from training");
    torch::NoGradGuard ng;
    net_->eval();
    Matrix out;
    if (x.rows == 0) return out;
    auto xt = standardised(x, mean_, std_).to(device_);
    auto logits = forward(xt, false).to(torch::kCPU).contiguous();
    out.rows = logits.size(0);
    out.cols = logits.size(1);
    out.data.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    return out;
  }

  nlohmann::json training_log() const override { return log_; }
  Standardisation standardisation() const override {
    return {mean_, std_};
  }

 private:
  // The convex linear probe solved to convergence: L-BFGS with a strong Wolfe line search
  // (probes/Lbfgs.h) on the objective of probes/SoftmaxObjective.h, mean cross-entropy +
  // weight_decay / 2 * |W|^2 (bias free): scikit-learn's LogisticRegression(C) objective divided by
  // n_train, with C = 1 / (weight_decay * n_train). Started at zero, as scikit-learn's, and solved
  // until the largest gradient entry (of the mean objective) is at most 1e-5.
  void fit_lbfgs(const torch::Tensor& xt, const torch::Tensor& yt, const torch::Tensor& xv, const torch::Tensor& yv,
                 const torch::Tensor& class_w,
                 const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& loss_fn) {
    const auto linear = net_->ptr<torch::nn::LinearImpl>(net_->size() - 1);
    const int64_t classes = linear->weight.size(0), dim = linear->weight.size(1);
    const auto objective = softmax_objective(xt, yt, class_w, classes, config_.weight_decay);
    LbfgsOptions options;
    options.max_iterations = config_.epochs;
    options.gradient_tolerance = 1e-5;
    const LbfgsResult r = minimise_lbfgs(*objective, std::vector<double>(size_t((dim + 1) * classes), 0.0), options);
    // A NaN feature makes its whole standardised column NaN: the objective can stay finite at the
    // start (W = 0) while the gradient is not, so both are checked.
    if (!std::isfinite(r.value) || r.stop == "not finite")
      throw Error(fmt::format("probe {}: L-BFGS diverged (objective {}, largest gradient entry {}); check the features "
                              "for NaN/Inf",
                              config_.label(), r.value, r.max_gradient));
    double vloss;
    {
      torch::NoGradGuard ng;
      const auto x = torch::from_blob(const_cast<double*>(r.x.data()), {classes * (dim + 1)}, torch::kFloat64);
      linear->weight.copy_(x.narrow(0, 0, classes * dim).view({dim, classes}).t());  // stored as W^T
      linear->bias.copy_(x.narrow(0, classes * dim, classes));
      vloss = loss_fn(net_->forward(xv), yv).item<double>();
    }
    log_ = {{"solver", "lbfgs"},
            {"epochs_run", r.iterations},  // L-BFGS iterations (two products with the data each)
            {"best_epoch", r.iterations - 1},
            {"line_search_steps", r.line_steps},
            {"gradient_evaluations", r.gradients},
            {"stop", r.stop},
            {"objective", r.value},
            {"max_gradient", r.max_gradient},
            {"converged", r.converged},
            {"train_loss", nlohmann::json::array({r.value})},
            {"valid_loss", nlohmann::json::array({vloss})},
            {"best_valid_loss", vloss}};
    net_->eval();
  }

  // Inverted dropout drawn from this fit's generator (torch::nn::Dropout would use the global one).
  // On the CPU the mask (0 or 1 / keep) comes from kernels::dropout_mask, seeded by one draw from
  // the generator: torch::bernoulli draws each element from the generator's mt19937, which took a
  // quarter of an MLP probe's fit (docs/performance.md, "MLP probe training").
  torch::Tensor dropout(const torch::Tensor& x) const {
    const double keep = 1.0 - config_.dropout;
    if (x.is_cuda()) return torch::dropout(x, config_.dropout, true);
    if (x.scalar_type() != torch::kFloat32) return x * torch::bernoulli(torch::full_like(x, keep), gen_) / keep;
    std::uint64_t seed;
    {
      std::lock_guard<std::mutex> lock(gen_.mutex());
      seed = gen_.get<at::CPUGeneratorImpl>()->random64();
    }
    auto mask = torch::empty(x.sizes(), torch::kFloat32);
    kernels::dropout_mask(mask.data_ptr<float>(), size_t(mask.numel()), keep, seed);
    return x * mask;
  }

  torch::Tensor forward(torch::Tensor x, bool training) const {
    if (training && input_dropout_) x = dropout(x);
    size_t i = 0;
    for (auto& m : *net_) {
      x = m.forward(x);
      if (training && i < drop_after_.size() && drop_after_[i]) x = dropout(x);
      ++i;
    }
    return x;
  }

  void build(int64_t in, int num_classes) {
    net_ = torch::nn::Sequential();
    drop_after_.clear();
    int64_t width = in;
    if (config_.type == "mlp") {
      for (int h : config_.hidden) {
        net_->push_back(torch::nn::Linear(width, h));
        if (config_.batch_norm) net_->push_back(torch::nn::BatchNorm1d(h));
        net_->push_back(torch::nn::ReLU());
        drop_after_.resize(net_->size(), false);
        drop_after_.back() = config_.dropout > 0;
        width = h;
      }
    }
    input_dropout_ = config_.type != "mlp" && config_.dropout > 0;
    net_->push_back(torch::nn::Linear(width, num_classes));
    net_->to(device_);
  }

  ProbeConfig config_;
  torch::Device device_;
  mutable torch::nn::Sequential net_{nullptr};
  std::vector<bool> drop_after_;  // dropout after module i (after each hidden activation)
  bool input_dropout_ = false;
  mutable at::Generator gen_;
  std::vector<float> mean_, std_;  // the training split's standardisation
  nlohmann::json log_;
};

// "none": the features are already key scores; validation only checks the width.
class IdentityProbe final : public Probe {
 public:
  void fit(const Matrix& x_train, const std::vector<int>&, const Matrix&, const std::vector<int>&, int num_classes,
           std::uint64_t) override {
    check(x_train, num_classes);
    classes_ = num_classes;
  }
  Matrix predict(const Matrix& x) const override {
    check(x, classes_);
    return x;
  }
  nlohmann::json training_log() const override { return {{"epochs_run", 0}, {"note", "no training (type none)"}}; }
  Standardisation standardisation() const override { return {}; }

 private:
  static void check(const Matrix& x, int num_classes) {
    if (x.rows > 0 && x.cols != num_classes)
      throw Error(fmt::format("probe \"none\" needs features that are {} key scores, got width {} (use it with the "
                              "key-profile encoder, or choose a linear/mlp probe)",
                              num_classes, x.cols));
  }
  int classes_ = 24;
};

}  // namespace

namespace {
// Debian's LibTorch runs its own kernels on an OpenMP team (libgomp) and hands matrix products to
// OpenBLAS (libblas.so.3), whose pthread build keeps a second pool of threads. With both pools at n
// threads, each pool's idle threads spin-wait on the cores the other needs: on 2 cores the MCPT ViT
// forward took 3.42 s with both at 2 against 1.44 s with LibTorch's team at 1 and OpenBLAS at 2,
// and 2.29 s the other way round (bench/pipeline_stages.cpp; docs/performance.md, "P7"). Several
// fits side by side oversubscribed the cores 3-4x the same way. So with a pthread OpenBLAS, n
// compute threads are OpenBLAS's, and LibTorch's own team has one; with another BLAS (found at run
// time, so any works unchanged) LibTorch's team has n.
using BlasSetThreads = void (*)(int);
using BlasParallel = int (*)();  // 0: sequential build, 1: pthreads, 2: OpenMP
BlasSetThreads blas_set_threads() {
  static auto f = reinterpret_cast<BlasSetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  return f;
}
bool blas_has_own_pool() {
  static const bool own = [] {
    const auto f = reinterpret_cast<BlasParallel>(::dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    return blas_set_threads() && f && f() == 1;
  }();
  return own;
}
std::atomic<int> g_compute_threads{0};
}  // namespace

int compute_threads() {
  const int n = g_compute_threads.load();
  return n > 0 ? n : torch::get_num_threads();
}
void set_compute_threads(int n) {
  n = std::max(1, n);
  g_compute_threads = n;
  if (blas_has_own_pool()) {
    torch::set_num_threads(1);
    blas_set_threads()(n);
  } else {
    torch::set_num_threads(n);
    if (blas_set_threads()) blas_set_threads()(n);
  }
}

namespace {
// The split applies from the start, with LibTorch's default count (one thread per core).
const bool kThreadsSplit = (set_compute_threads(torch::get_num_threads()), true);
}  // namespace

std::unique_ptr<Probe> make_probe(const ProbeConfig& config) {
  if (config.type == "none") return std::make_unique<IdentityProbe>();
  return std::make_unique<TorchProbe>(config);
}

Selection select_on_validation(const ProbeConfig& config, const Matrix& x_train, const std::vector<int>& y_train,
                               const Matrix& x_valid, const std::vector<int>& y_valid, int num_classes,
                               std::uint64_t seed, const std::function<double(const Matrix&)>& valid_score) {
  Selection sel;
  sel.candidates = nlohmann::json::array();
  bool have = false;
  for (const auto& point : config.grid_points()) {
    auto probe = make_probe(point);
    probe->fit(x_train, y_train, x_valid, y_valid, num_classes, seed);
    const double score = valid_score(probe->predict(x_valid));
    auto log = probe->training_log();
    sel.candidates.push_back({{"config", point.to_json()},
                              {"valid_score", score},
                              {"best_epoch", log["best_epoch"]},
                              {"best_valid_loss", log["best_valid_loss"]}});
    // Ties keep the earlier grid point, so the choice does not depend on floating-point noise order.
    if (!have || score > sel.valid_score) {
      have = true;
      sel.valid_score = score;
      sel.chosen = point;
      sel.probe = std::move(probe);
    }
  }
  return sel;
}

}  // namespace mcpt::probes
