// Linear and MLP probes on LibTorch, and hyper-parameter selection on validation.
#include "probes/Probe.h"
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

torch::Tensor to_tensor(const Matrix& m) {
  return torch::from_blob(const_cast<float*>(m.data.data()), {m.rows, m.cols}, torch::kFloat32).clone();
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
    torch::Tensor xt = to_tensor(x_train);
    mean_ = xt.mean(0);
    std_ = xt.std(0, /*unbiased=*/false).clamp_min(1e-6);
    xt = ((xt - mean_) / std_).to(device_);
    torch::Tensor xv = ((to_tensor(x_valid) - mean_) / std_).to(device_);
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
      fit_lbfgs(xt, yt, xv, yv, loss_fn);
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
    if (x.cols != mean_.size(0)) throw Error("probe: feature width differs from training");
    torch::NoGradGuard ng;
    net_->eval();
    Matrix out;
    if (x.rows == 0) return out;
    auto xt = ((to_tensor(x) - mean_) / std_).to(device_);
    auto logits = forward(xt, false).to(torch::kCPU).contiguous();
    out.rows = logits.size(0);
    out.cols = logits.size(1);
    out.data.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
    return out;
  }

  nlohmann::json training_log() const override { return log_; }
  Standardisation standardisation() const override {
    Standardisation st;
    if (!mean_.defined()) return st;
    auto m = mean_.contiguous(), sd = std_.contiguous();
    st.mean.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
    st.scale.assign(sd.data_ptr<float>(), sd.data_ptr<float>() + sd.numel());
    return st;
  }

 private:
  // The convex linear probe solved to convergence: full-batch L-BFGS with a strong Wolfe line
  // search on mean cross-entropy + weight_decay / 2 * |W|^2 (bias free), scikit-learn's
  // LogisticRegression objective scaled by 1 / n (C = 1 / (weight_decay * n)). In float64, so the
  // gradient tolerance means the same as in scikit-learn's float64 solver.
  void fit_lbfgs(const torch::Tensor& xt32, const torch::Tensor& yt, const torch::Tensor& xv32, const torch::Tensor& yv,
                 const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>& loss_fn) {
    net_->to(torch::kFloat64);
    const torch::Tensor xt = xt32.to(torch::kFloat64), xv = xv32.to(torch::kFloat64);
    const auto linear = net_->ptr<torch::nn::LinearImpl>(net_->size() - 1);
    torch::optim::LBFGS opt(net_->parameters(), torch::optim::LBFGSOptions(1.0)
                                                    .max_iter(config_.epochs)
                                                    .max_eval(config_.epochs * 5 / 4 + 1)
                                                    .tolerance_grad(1e-5)
                                                    .tolerance_change(1e-12)
                                                    .history_size(20)
                                                    .line_search_fn("strong_wolfe"));
    int evaluations = 0;
    double last = 0;
    auto objective = [&]() -> torch::Tensor {
      opt.zero_grad();
      auto loss = loss_fn(net_->forward(xt), yt) + 0.5 * config_.weight_decay * linear->weight.pow(2).sum();
      loss.backward();
      ++evaluations;
      last = loss.item<double>();
      return loss;
    };
    opt.step(objective);
    double grad_max = 0;
    for (const auto& p : net_->parameters())
      if (p.grad().defined()) grad_max = std::max(grad_max, p.grad().abs().max().item<double>());
    if (!std::isfinite(last))
      throw Error(fmt::format("probe {}: L-BFGS diverged (objective {}); check the features for NaN/Inf", config_.label(),
                              last));
    double vloss;
    {
      torch::NoGradGuard ng;
      vloss = loss_fn(net_->forward(xv), yv).item<double>();
    }
    net_->to(torch::kFloat32);
    log_ = {{"solver", "lbfgs"},
            {"epochs_run", evaluations},  // objective evaluations (iterations plus line-search steps)
            {"best_epoch", evaluations - 1},
            {"objective", last},
            {"max_gradient", grad_max},
            {"converged", grad_max <= 1e-5},
            {"train_loss", nlohmann::json::array({last})},
            {"valid_loss", nlohmann::json::array({vloss})},
            {"best_valid_loss", vloss}};
    net_->eval();
  }

  // Inverted dropout drawn from this fit's generator (torch::nn::Dropout would use the global one).
  torch::Tensor dropout(const torch::Tensor& x) const {
    const double keep = 1.0 - config_.dropout;
    if (x.is_cuda()) return torch::dropout(x, config_.dropout, true);
    auto mask = torch::bernoulli(torch::full_like(x, keep), gen_);
    return x * mask / keep;
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
  torch::Tensor mean_, std_;
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
