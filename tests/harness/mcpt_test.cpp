// The masked contrastive ViT encoder: equal to the Python reference (tools/mcpt_reference.py) on
// the same random weights and audio; checkpoints, fingerprints, options, masking, batching.
// Every model here is tiny (dim 64, depth 2) so the file runs in seconds.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "harness/encoders/McptModel.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
namespace tu = mcpt::testutil;
using mcpt::harness::Embedding;
using mcpt::harness::Encoder;
using mcpt::harness::McptOptions;
using mcpt::harness::McptViT;
using mcpt::harness::Patch;

namespace {

const nlohmann::json kTiny = {{"dim", 64}, {"depth", 2}, {"heads", 2}, {"dim_head", 32}, {"mlp_dim", 128}};

nlohmann::json tiny(nlohmann::json extra = nlohmann::json::object()) {
  auto j = kTiny;
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

std::unique_ptr<Encoder> make(const nlohmann::json& j, const fs::path& base = {}, bool random_init = false) {
  mcpt::JsonObject cfg(j, "enc");
  auto e = random_init ? mcpt::harness::make_random_init_encoder(cfg, {base})
                       : mcpt::harness::make_mcpt_encoder(cfg, {base});
  cfg.finish();
  return e;
}

mcpt::datasets::Audio audio(size_t samples, unsigned seed = 0) {
  auto a = tu::key_chords(mcpt::datasets::Key::parse("A minor"), double(samples) / 16000 + 0.5, 16000, seed);
  a.samples.resize(samples);
  return a;
}

McptViT tiny_model(Patch p, unsigned seed) {
  McptViT m(McptOptions().patch(p).dim(64).depth(2).heads(2).dim_head(32).mlp_dim(128).frames(p == Patch::kVertical ? 98 : 96));
  m->reset_parameters(seed);
  return m;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

bool python_has_torch() {
  static const bool ok = tu::run_command(tu::python() + " -c 'import torch, numpy'").exit_code == 0;
  return ok;
}

}  // namespace

// --- equality with the Python reference

TEST(Mcpt, EqualsThePythonReferenceOnEveryLayer) {
  if (!python_has_torch()) GTEST_SKIP() << "python3-torch is not installed";
  tu::TempDir dir("mcpt-py");
  struct Case {
    const char* patch;
    const char* log;
    size_t wav_samples;  // shorter than the crop: both sides zero-pad
  };
  for (const Case& c : {Case{"base", "log", 60000}, Case{"vertical", "log", 30000}, Case{"hybrid", "log1p", 60000}}) {
    SCOPED_TRACE(c.patch);
    const auto wav = dir / fmt::format("{}.wav", c.patch), ck = dir / fmt::format("{}.safetensors", c.patch),
               out = dir / fmt::format("{}-py.safetensors", c.patch);
    mcpt::datasets::write_audio(wav, audio(c.wav_samples, 3));
    const auto r = tu::run_command(fmt::format(
        "{} {} init --out {} --patch {} --dim 64 --depth 2 --heads 2 --dim-head 32 --mlp-dim 128 --seed 7 --log {} "
        "--wav {} --embed-out {}",
        tu::python(), (tu::source_dir() / "tools/mcpt_reference.py").string(), ck.string(), c.patch, c.log,
        wav.string(), out.string()));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    // The architecture and front end come from the checkpoint's stored configuration.
    auto enc = make({{"checkpoint", ck.filename().string()}}, dir.path());
    auto a = mcpt::datasets::load_audio(wav, 16000);
    a.samples.resize(std::min<size_t>(a.samples.size(), 50000));
    const Embedding e = enc->embed(a);
    const auto ref = mcpt::harness::read_tensor_file(out).tensors.at("layers");  // [layers, tokens, dim]
    ASSERT_EQ(e.layers, ref.size(0));
    ASSERT_EQ(e.frames, ref.size(1));
    ASSERT_EQ(e.dim, ref.size(2));
    EXPECT_EQ(e.layers, 3);
    EXPECT_EQ(e.frames, std::string(c.patch) == "vertical" ? 49 : 48);
    EXPECT_EQ(e.dim, std::string(c.patch) == "hybrid" ? 128 : 64);
    const auto per = size_t(e.frames) * size_t(e.dim);
    for (int l = 0; l < e.layers; ++l) {
      std::vector<float> ours(e.data.begin() + long(l * per), e.data.begin() + long((l + 1) * per));
      auto t = ref[l].contiguous();
      std::vector<float> theirs(t.data_ptr<float>(), t.data_ptr<float>() + per);
      EXPECT_LE(max_diff(ours, theirs), 1e-4) << "layer " << l;
    }
  }
}

// --- shapes, padding, errors on audio

TEST(Mcpt, ShapesFollowThePatchKindAndShortSegmentsArePadded) {
  auto v = make(tiny({{"patch", "vertical"}}));
  EXPECT_EQ(v->sample_rate(), 16000);
  EXPECT_DOUBLE_EQ(v->segment_seconds(), 50000.0 / 16000);
  EXPECT_EQ(v->num_layers(), 3);
  auto e = v->embed(audio(50000));
  EXPECT_EQ(e.layers, 3);
  EXPECT_EQ(e.frames, 49);  // 98 frames / 2
  EXPECT_EQ(e.dim, 64);
  // Padding: a short segment equals the same audio zero-padded to the crop.
  auto short_a = audio(20000), padded = short_a;
  padded.samples.resize(50000, 0.0f);
  EXPECT_EQ(v->embed(short_a).data, v->embed(padded).data);
  auto b = make(tiny({{"patch", "base"}}))->embed(audio(50000));
  EXPECT_EQ(b.frames, 48);  // 8 x 6 patches of 16 x 16 on 96 frames
  auto h = make(tiny({{"patch", "hybrid"}, {"crop_samples", 100000}}))->embed(audio(100000));
  EXPECT_EQ(h.frames, 96);  // 196 frames -> 192; 8 x 12 base tokens and 96 vertical ones
  EXPECT_EQ(h.dim, 128);
  for (float x : h.data) ASSERT_TRUE(std::isfinite(x));

  EXPECT_HAS(tu::error_of([&] { v->embed(audio(50001)); }), "longer than the crop");
  auto wrong = audio(1000);
  wrong.sample_rate = 22050;
  EXPECT_HAS(tu::error_of([&] { v->embed(wrong); }), "expected 16000 Hz");
  EXPECT_HAS(tu::error_of([&] { v->embed(mcpt::datasets::Audio{{}, 16000}); }), "empty");
}

// --- determinism, seeds, batching, threads

TEST(Mcpt, RandomInitIsDeterministicPerSeedAndSeedsDiffer) {
  const auto a = audio(50000, 1);
  auto e1 = make(tiny({{"init_seed", 5}}))->embed(a);
  auto e2 = make(tiny({{"init_seed", 5}}))->embed(a);
  auto e3 = make(tiny({{"init_seed", 6}}))->embed(a);
  EXPECT_EQ(e1.data, e2.data);
  EXPECT_GT(max_diff(e1.data, e3.data), 1e-3);
  EXPECT_EQ(make(tiny({{"init_seed", 5}}))->fingerprint(), make(tiny({{"init_seed", 5}}))->fingerprint());
  EXPECT_NE(make(tiny({{"init_seed", 5}}))->fingerprint(), make(tiny({{"init_seed", 6}}))->fingerprint());
  // Every architecture or front-end option changes the fingerprint; batch size and threads do not.
  const auto base = make(tiny())->fingerprint();
  std::set<std::string> seen{base};
  for (const auto& change : {nlohmann::json{{"patch", "base"}}, {{"dim", 68}}, {{"depth", 3}}, {{"heads", 4}},
                             {{"dim_head", 16}}, {{"mlp_dim", 64}}, {{"crop_samples", 40000}}, {{"log", "log1p"}}})
    EXPECT_TRUE(seen.insert(make(tiny(change))->fingerprint()).second) << change.dump();
  EXPECT_EQ(make(tiny({{"batch_size", 3}, {"threads", 1}}))->fingerprint(), base);
  EXPECT_EQ(make(tiny(), {}, /*random_init=*/true)->type(), "random-init");
}

TEST(Mcpt, BatchedAndConcurrentCallsEqualSingleCalls) {
  auto enc = make(tiny({{"batch_size", 3}}));
  std::vector<mcpt::datasets::Audio> segs;
  for (unsigned i = 0; i < 7; ++i) segs.push_back(audio(50000 - 3000 * i, i));
  std::vector<Embedding> single;
  for (const auto& s : segs) single.push_back(enc->embed(s));
  const auto batched = enc->embed_batch(segs);
  ASSERT_EQ(batched.size(), segs.size());
  for (size_t i = 0; i < segs.size(); ++i) EXPECT_LE(max_diff(batched[i].data, single[i].data), 1e-5) << i;
  // Several threads at once share forward passes through the batching queue.
  std::vector<Embedding> concurrent(segs.size());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < 4; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < segs.size(); i += 4) concurrent[i] = enc->embed(segs[i]);
    });
  for (auto& th : pool) th.join();
  for (size_t i = 0; i < segs.size(); ++i) EXPECT_LE(max_diff(concurrent[i].data, single[i].data), 1e-5) << i;
}

// --- checkpoints

TEST(Mcpt, CheckpointRoundTripAndFingerprintFollowsTheFileContent) {
  tu::TempDir dir("mcpt-ck");
  auto m = tiny_model(Patch::kVertical, 1);
  mcpt::harness::save_checkpoint(m, dir / "m.safetensors", {{"log", "log"}, {"crop_samples", 50000}});
  const auto cfg = mcpt::harness::read_checkpoint_config(dir / "m.safetensors");
  EXPECT_EQ(cfg.at("patch"), "vertical");
  EXPECT_EQ(cfg.at("dim"), 64);
  EXPECT_EQ(cfg.at("log"), "log");
  auto back = tiny_model(Patch::kVertical, 2);
  mcpt::harness::load_checkpoint(back, dir / "m.safetensors");
  auto p1 = m->named_parameters(), p2 = back->named_parameters();
  for (const auto& p : p1) EXPECT_TRUE(torch::equal(p.value(), p2[p.key()])) << p.key();

  const nlohmann::json j = {{"checkpoint", "m.safetensors"}};
  auto e1 = make(j, dir.path());
  const auto f1 = e1->fingerprint();
  EXPECT_EQ(make(j, dir.path())->fingerprint(), f1);
  // The suite may omit the architecture (it is stored), and loading gives the saved model's output.
  const auto a = audio(50000, 2);
  auto direct = make(tiny({{"init_seed", 1}}))->embed(a);
  EXPECT_LE(max_diff(e1->embed(a).data, direct.data), 1e-6);
  // Same path, new content: new fingerprint, so the cache cannot serve stale embeddings.
  auto other_model = tiny_model(Patch::kVertical, 3);
  mcpt::harness::save_checkpoint(other_model, dir / "m.safetensors", {{"log", "log"}});
  EXPECT_NE(make(j, dir.path())->fingerprint(), f1);
  // random-init with the checkpoint's architecture: same shapes, other weights.
  auto ri = make({{"architecture_from", "m.safetensors"}, {"init_seed", 9}}, dir.path(), true);
  EXPECT_EQ(ri->embed(a).dim, 64);
  EXPECT_NE(ri->fingerprint(), make(j, dir.path())->fingerprint());
}

TEST(Mcpt, CorruptTruncatedOrMismatchedCheckpointsNameTheFileAndTensor) {
  tu::TempDir dir("mcpt-bad");
  auto m = tiny_model(Patch::kVertical, 1);
  const auto good = dir / "good.safetensors";
  mcpt::harness::save_checkpoint(m, good, {{"log", "log"}});
  const std::string bytes = tu::read_text(good);

  tu::write_text(dir / "trunc.safetensors", bytes.substr(0, bytes.size() / 2));
  auto msg = tu::error_of([&] { make({{"checkpoint", "trunc.safetensors"}}, dir.path()); });
  EXPECT_HAS(msg, "trunc.safetensors");
  EXPECT_HAS(msg, "truncated");

  tu::write_text(dir / "tiny.safetensors", "abc");
  EXPECT_HAS(tu::error_of([&] { make({{"checkpoint", "tiny.safetensors"}}, dir.path()); }), "too short");

  std::string garbage = bytes;
  garbage[8] = '#';  // the header's opening brace
  tu::write_text(dir / "garbage.safetensors", garbage);
  EXPECT_HAS(tu::error_of([&] { make({{"checkpoint", "garbage.safetensors"}}, dir.path()); }), "not valid JSON");

  // Shapes of another architecture, without a stored configuration: the tensor-level check.
  std::vector<std::pair<std::string, torch::Tensor>> other;
  auto wide = McptViT(McptOptions().dim(32).depth(2).heads(2).dim_head(16).mlp_dim(64));
  for (const auto& p : wide->named_parameters()) other.emplace_back(p.key(), p.value());
  mcpt::harness::write_tensor_file(dir / "other.safetensors", other);
  msg = tu::error_of([&] { make(tiny({{"checkpoint", "other.safetensors"}}), dir.path()); });
  EXPECT_HAS(msg, "other.safetensors");
  EXPECT_HAS(msg, "tensor 'embed_vertical.proj.weight'");
  EXPECT_HAS(msg, "[32, 256]");

  std::vector<std::pair<std::string, torch::Tensor>> right;
  for (const auto& p : m->named_parameters()) right.emplace_back(p.key(), p.value());
  right.pop_back();
  mcpt::harness::write_tensor_file(dir / "missing.safetensors", right);
  EXPECT_HAS(tu::error_of([&] { make(tiny({{"checkpoint", "missing.safetensors"}}), dir.path()); }),
             "tensor 'norm.bias' is missing");
  right.emplace_back("linear_head.weight", torch::zeros({50, 64}));
  right.emplace_back("norm.bias", torch::zeros({64}));
  mcpt::harness::write_tensor_file(dir / "extra.safetensors", right);
  EXPECT_HAS(tu::error_of([&] { make(tiny({{"checkpoint", "extra.safetensors"}}), dir.path()); }),
             "unexpected tensor 'linear_head.weight'");

  // A suite value that contradicts the stored configuration.
  msg = tu::error_of([&] { make({{"checkpoint", "good.safetensors"}, {"depth", 3}}, dir.path()); });
  EXPECT_HAS(msg, "enc.depth");
  EXPECT_HAS(msg, "differs from the checkpoint");
  EXPECT_HAS(tu::error_of([&] { make({{"checkpoint", "nope.safetensors"}}, dir.path()); }), "enc.checkpoint");
}

// --- options

TEST(Mcpt, BadOptionsNameTheJsonPath) {
  auto err = [](const nlohmann::json& j) { return tu::error_of([&] { make(j); }); };
  auto msg = err({{"patch", "square"}});
  EXPECT_HAS(msg, "enc.patch");
  EXPECT_HAS(msg, "square");
  EXPECT_HAS(err(tiny({{"dim", 30}})), "enc.dim");
  EXPECT_HAS(err(tiny({{"depth", 0}})), "enc.depth");
  EXPECT_HAS(err(tiny({{"heads", "two"}})), "enc.heads");
  EXPECT_HAS(err(tiny({{"log", "db"}})), "enc.log");
  EXPECT_HAS(err(tiny({{"device", "tpu"}})), "enc.device");
  EXPECT_HAS(err(tiny({{"dtype", "float16"}})), "enc.dtype");
  EXPECT_HAS(err(tiny({{"batch_size", 0}})), "enc.batch_size");
  EXPECT_HAS(err(tiny({{"crop_samples", 100}})), "enc.crop_samples");
  EXPECT_HAS(err(tiny({{"patch", "base"}, {"crop_samples", 4000}})), "enc.crop_samples");
  EXPECT_HAS(err(tiny({{"crop_samples", 48000}, {"segment_seconds", 3}})), "not both");
  EXPECT_HAS(err(tiny({{"widht", 3}})), "enc.widht");
  if (!torch::cuda::is_available()) {
    EXPECT_HAS(err(tiny({{"device", "cuda"}})), "CUDA is not available");
  }
  // segment_seconds is accepted as the crop length.
  EXPECT_DOUBLE_EQ(make(tiny({{"segment_seconds", 4.0}}))->segment_seconds(), 4.0);
}

// --- masking and training

TEST(Mcpt, MaskingKeepsTheRequestedFractionOfTokensPerRow) {
  torch::NoGradGuard no_grad;
  const auto tokens = torch::arange(2 * 49).to(torch::kFloat32).view({2, 49, 1}).expand({2, 49, 3}).contiguous();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const auto kept = mcpt::harness::drop_tokens(tokens, 0.9, gen);
  ASSERT_EQ(kept.size(1), 5);  // 49 - floor(0.9 * 49) = 5, as Myna keeps
  for (int64_t b = 0; b < 2; ++b) {
    std::set<int> ids;
    for (int64_t i = 0; i < 5; ++i) {
      const int v = int(kept[b][i][0].item<float>());
      EXPECT_EQ(v / 49, b) << "a kept token comes from its own row";
      ids.insert(v);
    }
    EXPECT_EQ(ids.size(), 5u) << "no token kept twice";
  }
  EXPECT_EQ(mcpt::harness::drop_tokens(tokens, 0.5, gen).size(1), 25);
  EXPECT_EQ(mcpt::harness::drop_tokens(tokens, 0.0, gen).size(1), 49);
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(3), g2 = at::make_generator<at::CPUGeneratorImpl>(3);
  EXPECT_TRUE(torch::equal(mcpt::harness::drop_tokens(tokens, 0.9, g1), mcpt::harness::drop_tokens(tokens, 0.9, g2)));
  EXPECT_HAS(tu::error_of([&] { mcpt::harness::drop_tokens(tokens, 1.0, gen); }), "mask ratio");
}

TEST(Mcpt, MaskedForwardIsTrainable) {
  auto m = tiny_model(Patch::kHybrid, 4);
  m->train();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto mel = torch::randn({4, 128, 96}, gen);
  const auto z = m->forward(mel, 0.9, gen);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{4, 128}));
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-2));
  // Pull two masked views of the same input together: the loss must fall.
  auto loss_of = [&] { return (m->forward(mel, 0.9, gen) - m->forward(mel, 0.9, gen)).pow(2).mean(); };
  const double first = loss_of().item<double>();
  for (int i = 0; i < 20; ++i) {
    opt.zero_grad();
    auto loss = loss_of();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(loss_of().item<double>(), first);
  const auto layers = m->forward_layers(mel);
  EXPECT_EQ(layers.sizes(), (std::vector<int64_t>{4, 3, 48, 128}));
}

// The encoder's inference step (also what bench_pipeline times): one Embedding per mel, each the
// model's forward_layers row for that mel; a mel of the wrong size is an error naming both sizes.
TEST(Mcpt, InferLayersSplitsTheBatchIntoEqualEmbeddings) {
  auto m = tiny_model(Patch::kVertical, 6);
  m->eval();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const auto mel = torch::randn({3, 128, 98}, gen);
  std::vector<std::vector<float>> mels(3);
  for (int64_t i = 0; i < 3; ++i) mels[size_t(i)].assign(mel[i].data_ptr<float>(), mel[i].data_ptr<float>() + 128 * 98);
  std::vector<const std::vector<float>*> batch = {&mels[0], &mels[1], &mels[2]};
  const auto out = mcpt::harness::infer_layers(m, batch, torch::kCPU, false);
  torch::Tensor ref;
  {
    torch::NoGradGuard no_grad;
    ref = m->forward_layers(mel).contiguous();
  }
  ASSERT_EQ(out.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    const auto& e = out[size_t(i)];
    EXPECT_EQ(e.layers, 3);
    EXPECT_EQ(e.frames, 49);
    EXPECT_EQ(e.dim, 64);
    const std::vector<float> want(ref[i].data_ptr<float>(), ref[i].data_ptr<float>() + ref[i].numel());
    ASSERT_EQ(e.data.size(), want.size());
    EXPECT_LT(max_diff(e.data, want), 1e-5) << "segment " << i;
  }
  // The batch does not mix rows: the middle mel alone gives the middle embedding.
  const auto alone = mcpt::harness::infer_layers(m, {&mels[1]}, torch::kCPU, false);
  EXPECT_LT(max_diff(alone.at(0).data, out[1].data), 1e-5);
  std::vector<float> short_mel(128 * 96);
  EXPECT_HAS(tu::error_of([&] { mcpt::harness::infer_layers(m, {&short_mel}, torch::kCPU, false); }),
             "mel of 12288 values, the model takes 128 x 98");
}

// --- precision and device

namespace {
// ||a - b|| / ||b||
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}
}  // namespace

// "dtype": "bfloat16" runs the model and its input in bf16 (8 bits of mantissa): the embeddings stay
// within a few per cent of float32's, come back as float32, and differ from them (the option is used).
TEST(Mcpt, BFloat16EmbeddingsAreCloseToFloat32) {
  const auto a = audio(50000, 3);
  const auto f32 = make(tiny({{"init_seed", 9}}))->embed(a);
  const auto bf16 = make(tiny({{"init_seed", 9}, {"dtype", "bfloat16"}}))->embed(a);
  ASSERT_EQ(bf16.data.size(), f32.data.size());
  EXPECT_EQ(bf16.layers, f32.layers);
  const double err = relative_error(bf16.data, f32.data);
  EXPECT_LT(err, 0.05);
  EXPECT_GT(err, 1e-4) << "bfloat16 gave float32's numbers: the dtype was not applied";
}

// On a CUDA device the encoder gives the CPU's embeddings (float32 to float rounding, bf16 within the
// same bound as on the CPU), in one call and in a batch. Skipped where LibTorch sees no CUDA device
// (bench/gpu-check.sh runs it on a GPU machine).
TEST(Mcpt, OnACudaDeviceEmbeddingsEqualTheCpus) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<mcpt::datasets::Audio> segs;
  for (unsigned i = 0; i < 5; ++i) segs.push_back(audio(50000 - 5000 * i, i));
  const auto cpu = make(tiny({{"init_seed", 4}}))->embed_batch(segs);
  const auto gpu = make(tiny({{"init_seed", 4}, {"device", "cuda"}}))->embed_batch(segs);
  const auto gpu_bf16 = make(tiny({{"init_seed", 4}, {"device", "cuda"}, {"dtype", "bfloat16"}}))->embed_batch(segs);
  const auto one = make(tiny({{"init_seed", 4}, {"device", "cuda"}}))->embed(segs[2]);
  ASSERT_EQ(gpu.size(), cpu.size());
  ASSERT_EQ(gpu_bf16.size(), cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_EQ(gpu[i].data.size(), cpu[i].data.size());
    EXPECT_LT(relative_error(gpu[i].data, cpu[i].data), 1e-4) << "segment " << i;
    EXPECT_LT(relative_error(gpu_bf16[i].data, cpu[i].data), 0.05) << "segment " << i;
  }
  EXPECT_LT(relative_error(one.data, cpu[2].data), 1e-4);
}
