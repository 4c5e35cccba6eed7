// Tests for harness/Pretrain.cpp and harness/encoders/Contrastive.cpp: the losses against direct
// computations, that a tiny model learns, that --resume reproduces the unbroken run bit for bit,
// that the checkpoint loads as a suite's encoder, and the config errors.
#include <cmath>
#include <functional>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/Pretrain.h"
#include "harness/encoders/Contrastive.h"
#include "harness/encoders/Encoder.h"
#include "harness/encoders/McptModel.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using namespace mcpt::harness;
using mcpt::testutil::TempDir;
using mcpt::testutil::error_of;

namespace {

// NT-Xent written out element by element in double precision.
double nt_xent_reference(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  const auto b = z1.size(0);
  auto z = torch::cat({z1, z2}).to(torch::kFloat64);
  z = z / z.norm(2, 1, true);
  auto a = z.accessor<double, 2>();
  double total = 0.0;
  for (int64_t i = 0; i < 2 * b; ++i) {
    const int64_t pos = i < b ? i + b : i - b;
    double denom = 0.0, pos_logit = 0.0;
    for (int64_t j = 0; j < 2 * b; ++j) {
      if (j == i) continue;
      double s = 0.0;
      for (int64_t d = 0; d < z.size(1); ++d) s += a[i][d] * a[j][d];
      denom += std::exp(s / tau);
      if (j == pos) pos_logit = s / tau;
    }
    total += -pos_logit + std::log(denom);
  }
  return total / double(2 * b);
}

TEST(Contrastive, NtXentMatchesElementwiseComputation) {
  torch::manual_seed(3);
  auto z1 = torch::randn({5, 7}), z2 = torch::randn({5, 7});
  for (double tau : {0.1, 0.5}) EXPECT_NEAR(nt_xent_loss(z1, z2, tau).item<double>(), nt_xent_reference(z1, z2, tau), 1e-9);
  // Identical views of well-separated rows give a small loss; shuffled pairs a large one.
  auto e = torch::eye(5).repeat({1, 2}) * 3.0;
  EXPECT_LT(nt_xent_loss(e, e, 0.1).item<double>(), 0.01);
  EXPECT_GT(nt_xent_loss(e, e.roll(1, 0), 0.1).item<double>(), 5.0);
}

// SogCLR's objective for one anchor: -s_pos/tau + log(mean over the 2B-2 negatives of exp(s/tau)).
torch::Tensor global_loss_with_batch_denominator(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  const auto b = z1.size(0);
  auto a = z1.to(torch::kFloat64), c = z2.to(torch::kFloat64);
  a = a / a.norm(2, 1, true);
  c = c / c.norm(2, 1, true);
  auto one = [&](const torch::Tensor& x, const torch::Tensor& y) {
    auto cross = x.mm(y.t()) / tau, self = x.mm(x.t()) / tau;
    auto mask = torch::eye(b, torch::kBool).logical_not();
    auto neg = torch::cat({cross.masked_select(mask).view({b, b - 1}), self.masked_select(mask).view({b, b - 1})}, 1);
    return -cross.diagonal() + neg.exp().mean(1).log();
  };
  return torch::cat({one(a, c), one(c, a)}).mean();
}

TEST(Contrastive, SogClrGradientOnFirstVisitIsTheGlobalLossGradient) {
  torch::manual_seed(5);
  auto w = torch::randn({6, 8}, torch::requires_grad()), v = torch::randn({6, 8}, torch::requires_grad());
  SogClrLoss sog(10, 0.2, 0.9);
  auto idx = torch::tensor(std::vector<int64_t>{0, 2, 4, 6, 8, 9});
  auto r = sog.forward(w, v, idx);
  r.surrogate.backward();
  auto gw = w.grad().clone(), gv = v.grad().clone();
  w.grad().zero_();
  v.grad().zero_();
  auto direct = global_loss_with_batch_denominator(w, v, 0.2);
  direct.backward();
  EXPECT_TRUE(torch::allclose(gw, w.grad(), 1e-6, 1e-9)) << gw - w.grad();
  EXPECT_TRUE(torch::allclose(gv, v.grad(), 1e-6, 1e-9));
  EXPECT_NEAR(r.loss, direct.item<double>(), 1e-9);
  // Unvisited examples keep u = 0; visited ones hold the mean of the two views' batch estimates.
  EXPECT_EQ(sog.u()[1].item<double>(), 0.0);
  EXPECT_GT(sog.u()[0].item<double>(), 0.0);
}

TEST(Contrastive, SogClrMovingAverageFollowsGamma) {
  torch::manual_seed(7);
  const double gamma = 0.3, tau = 0.5;
  SogClrLoss sog(4, tau, gamma);
  auto idx = torch::tensor(std::vector<int64_t>{0, 1, 2, 3});
  auto a = torch::randn({4, 3}), b = torch::randn({4, 3});
  sog.forward(a, b, idx);
  const auto u0 = sog.u().clone();
  auto c = torch::randn({4, 3}), d = torch::randn({4, 3});
  SogClrLoss fresh(4, tau, gamma);
  fresh.forward(c, d, idx);  // first visit: u = the batch estimate g
  sog.forward(c, d, idx);
  EXPECT_TRUE(torch::allclose(sog.u(), (1 - gamma) * u0 + gamma * fresh.u(), 1e-12, 1e-12));
}

// A manifest of distinct generated pieces (chords in different keys, different seeds).
fs::path write_corpus(const TempDir& dir, int tracks, double seconds) {
  std::ofstream m(dir / "manifest.csv");
  m << "path,key,split\n";
  for (int i = 0; i < tracks; ++i) {
    const auto key = datasets::Key::from_index(i % 24);
    const auto name = fmt::format("t{:02d}.wav", i);
    datasets::write_audio(dir / name, testutil::key_chords(key, seconds, 16000, unsigned(i)));
    m << name << "," << key.name() << ",train\n";
  }
  return dir.path();
}

nlohmann::json tiny_config(const fs::path& corpus, const fs::path& out) {
  return {{"name", "tiny"},
          {"seed", 11},
          {"output", out.string()},
          {"cache", (out.parent_path() / "cache").string()},
          {"datasets", {{"toy", {{"type", "manifest"}, {"root", corpus.string()}}}}},
          {"model", {{"patch", "vertical"}, {"dim", 32}, {"depth", 1}, {"heads", 2}, {"dim_head", 16}, {"mlp_dim", 64},
                     {"crop_samples", 16000}}},
          {"mask_ratio", 0.5},
          {"optimizer", {{"lr", 3e-3}}},
          {"batch_size", 8},
          {"steps", 40},
          {"checkpoint_every", 10},
          {"log_every", 1},
          {"threads", 1},
          {"loader_threads", 2}};
}

PretrainOutcome run(const nlohmann::json& j, PretrainOptions o = {}) {
  o.verbosity = Verbosity::kQuiet;
  return pretrain(PretrainConfig::parse(j, {}), o);
}

std::vector<double> log_losses(const fs::path& log) {
  std::vector<double> out;
  std::istringstream in(testutil::read_text(log));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,epoch,loss,lr,pairs_per_second,elapsed_seconds,tracks");
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    EXPECT_EQ(f.size(), 7u) << line;
    out.push_back(std::stod(f.at(2)));
  }
  return out;
}

class Pretraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = new TempDir("pretrain-corpus");
    write_corpus(*corpus_, 16, 3.0);
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }
  static TempDir* corpus_;
  TempDir dir_{"pretrain"};
};
TempDir* Pretraining::corpus_ = nullptr;

TEST_F(Pretraining, TinyModelLossDecreases) {
  for (const char* loss : {"sogclr", "nt-xent"}) {
    auto j = tiny_config(corpus_->path(), dir_ / loss);
    j["loss"] = {{"type", loss}};
    const auto r = run(j);
    EXPECT_EQ(r.step, 40);
    EXPECT_EQ(r.tracks, 16);
    const auto losses = log_losses(r.log);
    ASSERT_EQ(losses.size(), 40u);
    double first = 0, last = 0;
    for (int i = 0; i < 8; ++i) first += losses[size_t(i)], last += losses[losses.size() - 1 - size_t(i)];
    EXPECT_LT(last, first * 0.9) << loss << ": mean of the first 8 steps " << first / 8 << ", last 8 " << last / 8;
    for (double l : losses) EXPECT_TRUE(std::isfinite(l));
  }
}

TEST_F(Pretraining, ResumeReproducesTheUnbrokenRun) {
  auto j = tiny_config(corpus_->path(), dir_ / "unbroken");
  j["steps"] = 14;
  j["checkpoint_every"] = 4;
  j["projection"] = {48, 16};
  const auto a = run(j);
  j["output"] = (dir_ / "broken").string();
  PretrainOptions o;
  o.until = 6;  // stops at a step that is not a checkpoint multiple
  auto b = run(j, o);
  EXPECT_EQ(b.step, 6);
  o.until = 9;
  o.resume = true;
  b = run(j, o);
  EXPECT_EQ(b.step, 9);
  EXPECT_EQ(b.steps_this_run, 3);
  o.until = -1;
  b = run(j, o);
  EXPECT_EQ(b.step, 14);
  EXPECT_TRUE(testutil::read_text(a.model) == testutil::read_text(b.model)) << "final weights differ after resuming";
  const auto sa = read_tensor_file(a.state), sb = read_tensor_file(b.state);  // weights, Adam moments, SogCLR u
  ASSERT_EQ(sa.tensors.size(), sb.tensors.size());
  for (const auto& [name, t] : sa.tensors) EXPECT_TRUE(torch::equal(t, sb.tensors.at(name))) << name;
  const auto la = log_losses(a.log), lb = log_losses(b.log);
  EXPECT_EQ(la, lb) << "the resumed log must read as the unbroken one";
  // A finished run resumed again does nothing; extending "steps" continues it.
  b = run(j, o);
  EXPECT_EQ(b.steps_this_run, 0);
  j["steps"] = 16;
  b = run(j, o);
  EXPECT_EQ(b.step, 16);
}

TEST_F(Pretraining, RefusesToOverwriteAndChecksTheStateOnResume) {
  auto j = tiny_config(corpus_->path(), dir_ / "run");
  j["steps"] = 2;
  run(j);
  try {
    run(j);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_HAS(std::string(e.what()), "--resume");
  }
  PretrainOptions o;
  o.resume = true;
  j["mask_ratio"] = 0.75;
  EXPECT_HAS(error_of([&] { run(j, o); }), "another configuration");
  j["mask_ratio"] = 0.5;
  // A state file cut short is named, never half-read.
  const auto state = dir_ / "run" / "state.safetensors";
  const auto text = testutil::read_text(state);
  testutil::write_text(state, text.substr(0, text.size() / 2));
  EXPECT_HAS(error_of([&] { run(j, o); }), "state.safetensors");
}

TEST_F(Pretraining, CheckpointLoadsAsTheSuiteEncoder) {
  auto j = tiny_config(corpus_->path(), dir_ / "enc");
  j["steps"] = 3;
  const auto r = run(j);
  nlohmann::json cfg = {{"checkpoint", r.model.string()}};
  JsonObject o(cfg, "suite.encoders[0]");
  auto enc = make_encoder("mcpt", o, {});
  EXPECT_EQ(enc->sample_rate(), 16000);
  EXPECT_DOUBLE_EQ(enc->segment_seconds(), 1.0);  // the crop it was trained with
  nlohmann::json cfg2 = {{"architecture_from", r.model.string()}};
  JsonObject o2(cfg2, "suite.encoders[1]");
  auto control = make_encoder("random-init", o2, {});
  const auto audio = testutil::key_chords(datasets::Key::parse("D minor"), 1.0, 16000, 1);
  const auto e1 = enc->embed(audio), e2 = control->embed(audio);
  ASSERT_EQ(e1.data.size(), e2.data.size());
  EXPECT_NE(e1.data, e2.data);
  // The model is the pre-trained one: the same weights the state file holds.
  McptViT m(McptOptions().patch(Patch::kVertical).dim(32).depth(1).heads(2).dim_head(16).mlp_dim(64).frames(32));
  load_checkpoint(m, r.model);
  const auto st = read_tensor_file(r.state);
  for (const auto& p : m->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), st.tensors.at("model." + p.key()))) << p.key();
}

TEST_F(Pretraining, ViewDeformationsRunAndBFloat16IsRefusedOnTheCpu) {
  auto j = tiny_config(corpus_->path(), dir_ / "bf16");
  j["steps"] = 3;
  j["dtype"] = "bfloat16";
  EXPECT_HAS(error_of([&] { run(j); }), "pretrain.dtype");
  j["dtype"] = "float32";
  j["view_deformations"] = {{{"type", "resample_shift"}, {"semitones", 2}}, {{"type", "gain"}, {"db", -6}}};
  const auto r = run(j);
  EXPECT_EQ(r.step, 3);
  for (double l : log_losses(r.log)) EXPECT_TRUE(std::isfinite(l));
}

TEST(PretrainConfigs, ShippedConfigsParse) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(testutil::source_dir() / "configs" / "pretrain")) {
    if (e.path().extension() != ".json") continue;
    const auto c = PretrainConfig::load(e.path());
    EXPECT_TRUE(c.output.is_absolute()) << e.path();
    EXPECT_EQ(c.mask_ratio, 0.9) << e.path() << ": the shipped configs follow the method";
    EXPECT_TRUE(c.view_deformations.empty()) << e.path() << ": no pitch augmentation";
    ++n;
  }
  EXPECT_GE(n, 2);
}

TEST_F(Pretraining, ConfigErrorsNameTheField) {
  const auto c = corpus_->path();
  auto bad = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = tiny_config(c, dir_ / "bad");
    edit(j);
    return error_of([&] { run(j); });
  };
  EXPECT_HAS(bad([](auto& j) { j["mask_rate"] = 0.9; }), "pretrain.mask_rate: unknown key");
  EXPECT_HAS(bad([](auto& j) { j["mask_ratio"] = 1.0; }), "pretrain.mask_ratio");
  EXPECT_HAS(bad([](auto& j) { j["loss"] = {{"type", "infonce"}}; }), "pretrain.loss.type");
  EXPECT_HAS(bad([](auto& j) { j["model"]["patch"] = "square"; }), "pretrain.model.patch");
  EXPECT_HAS(bad([](auto& j) { j["model"]["dim"] = 30; }), "pretrain.model.dim");
  EXPECT_HAS(bad([](auto& j) { j["batch_size"] = 32; }), "only 16 tracks");
  EXPECT_HAS(bad([](auto& j) { j["use"] = {"toys:train"}; }), "pretrain.use[0]");
  EXPECT_HAS(bad([](auto& j) { j["datasets"]["toy"]["root"] = "/nonexistent/x"; }), "/nonexistent/x");
  EXPECT_HAS(bad([](auto& j) { j["view_deformations"] = {{{"type", "pitch_shift"}, {"semitones", 1000}}}; }),
             "pretrain.view_deformations[0].semitones");
  EXPECT_HAS(bad([](auto& j) {
               j["view_deformations"] = {{{"type", "random"}, {"deformation", "pitch_shift"},
                                          {"semitones", {{"uniform_int", {-2, 2}}}}}};
             }),
             "random deformation");
  EXPECT_HAS(bad([](auto& j) { j["model"]["crop_samples"] = 10 * 16000; }), "only 0 tracks");
  EXPECT_FALSE(fs::exists(dir_ / "bad" / "state.safetensors")) << "a failed start leaves no state behind";
}

}  // namespace

// On a CUDA device pre-training runs in float32 and under bf16 autocast: the loss falls as on the
// CPU, every logged loss is finite, and the checkpoint loads into the CPU encoder. Skipped where
// LibTorch sees no CUDA device (bench/gpu-check.sh runs it on a GPU machine).
TEST_F(Pretraining, OnACudaDeviceLossFallsInFloat32AndBFloat16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const char* dtype : {"float32", "bfloat16"}) {
    auto j = tiny_config(corpus_->path(), dir_ / dtype);
    j["device"] = "cuda";
    j["dtype"] = dtype;
    const auto r = run(j);
    EXPECT_EQ(r.step, 40) << dtype;
    const auto losses = log_losses(r.log);
    ASSERT_EQ(losses.size(), 40u) << dtype;
    double first = 0, last = 0;
    for (int i = 0; i < 8; ++i) first += losses[size_t(i)], last += losses[losses.size() - 1 - size_t(i)];
    EXPECT_LT(last, first * 0.9) << dtype;
    for (double l : losses) EXPECT_TRUE(std::isfinite(l)) << dtype;
    nlohmann::json cfg = {{"checkpoint", r.model.string()}};
    JsonObject o(cfg, "suite.encoders[0]");
    const auto e = make_encoder("mcpt", o, {})->embed(testutil::key_chords(datasets::Key::parse("E major"), 1.0, 16000, 2));
    for (float v : e.data) ASSERT_TRUE(std::isfinite(v)) << dtype;
  }
}
