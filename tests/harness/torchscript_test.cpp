// The `torchscript` encoder on small modules written at test time by make_torchscript_modules.py
// (python3-torch): exact frame statistics through every input convention and output layout, layer
// selection, batching from several threads, fingerprints that follow the file's content, the toy
// export of tools/export_torchscript.py against its eager reference, and every error a suite or a
// model file can cause.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "testutil/TestUtil.h"

using mcpt::datasets::Audio;
using mcpt::harness::Embedding;
using mcpt::harness::Encoder;
using mcpt::harness::EncoderContext;
using mcpt::testutil::error_of;
using mcpt::testutil::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr int kFrame = 100;  // samples per frame in every test module

class TorchScript : public ::testing::Test {
 protected:
  // The modules are written once per build tree (a ctest fixture) and only read here.
  static void SetUpTestSuite() { dir_ = mcpt::testutil::torchscript_modules(); }
  void SetUp() override {
    if (dir_.empty()) GTEST_SKIP() << "python3-torch is not installed: no TorchScript modules to test with";
  }

  static fs::path dir() { return dir_; }

  // An encoder for `file` in the modules folder; `extra` adds or overrides options.
  static std::unique_ptr<Encoder> make(const std::string& file, nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json j = {{"file", file}, {"sample_rate", 16000}, {"segment_seconds", 1.0}};
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    for (auto it = j.begin(); it != j.end();)
      it = it.value().is_null() ? j.erase(it) : std::next(it);
    mcpt::JsonObject cfg(j, "suite.encoders[0]");
    auto e = mcpt::harness::make_encoder("torchscript", cfg, EncoderContext{dir()});
    cfg.finish();
    return e;
  }
  static std::string make_error(const std::string& file, nlohmann::json extra = nlohmann::json::object()) {
    return error_of([&] { make(file, extra); });
  }

 private:
  static fs::path dir_;
};
fs::path TorchScript::dir_;

// A deterministic test signal: two partials plus a slow ramp, so frames differ from one another.
Audio signal(double seconds, float amp = 0.5f, double hz = 440.0) {
  Audio a = mcpt::testutil::sine(hz, seconds, 16000, amp);
  for (size_t i = 0; i < a.samples.size(); ++i)
    a.samples[i] += 0.1f * amp * float(std::sin(0.37 * double(i))) + 0.05f * float(i) / float(a.samples.size());
  return a;
}

// Frame statistics computed here, as the modules compute them: mean, mean square, max, min.
std::vector<std::array<double, 4>> frame_stats(const std::vector<float>& x) {
  std::vector<std::array<double, 4>> out;
  for (size_t f = 0; f + kFrame <= x.size(); f += kFrame) {
    double s = 0, s2 = 0, mx = -1e30, mn = 1e30;
    for (size_t i = f; i < f + kFrame; ++i) {
      s += x[i];
      s2 += double(x[i]) * x[i];
      mx = std::max(mx, double(x[i]));
      mn = std::min(mn, double(x[i]));
    }
    out.push_back({s / kFrame, s2 / kFrame, mx, mn});
  }
  return out;
}

void expect_stats(const Embedding& e, int layer, const std::vector<float>& x) {
  const auto st = frame_stats(x);
  ASSERT_EQ(e.frames, int(st.size()));
  ASSERT_EQ(e.dim, 4);
  for (int f = 0; f < e.frames; ++f)
    for (int d = 0; d < 4; ++d) ASSERT_NEAR(e.frame(layer, f)[d], st[size_t(f)][size_t(d)], 1e-5) << f << " " << d;
}

// The three layers of the layers_* and stacked_* modules: layer k = (mean * (k + 1), max + k).
void expect_three_layers(const Embedding& e, const std::vector<int>& which, const std::vector<float>& x) {
  const auto st = frame_stats(x);
  ASSERT_EQ(e.layers, int(which.size()));
  ASSERT_EQ(e.frames, int(st.size()));
  ASSERT_EQ(e.dim, 2);
  for (size_t l = 0; l < which.size(); ++l)
    for (int f = 0; f < e.frames; ++f) {
      const int k = which[l];
      ASSERT_NEAR(e.frame(int(l), f)[0], st[size_t(f)][0] * (k + 1), 1e-5);
      ASSERT_NEAR(e.frame(int(l), f)[1], st[size_t(f)][2] + k, 1e-5);
    }
}

}  // namespace

TEST_F(TorchScript, FrameStatisticsComeThroughExactly) {
  auto enc = make("stats.pt");
  EXPECT_EQ(enc->type(), "torchscript");
  EXPECT_EQ(enc->sample_rate(), 16000);
  EXPECT_DOUBLE_EQ(enc->segment_seconds(), 1.0);
  const Audio a = signal(1.0);
  const Embedding e = enc->embed(a);
  EXPECT_EQ(e.layers, 1);
  expect_stats(e, 0, a.samples);
  // A short segment (a track shorter than one segment) goes through at its own length.
  const Audio s = signal(0.35);
  expect_stats(enc->embed(s), 0, s.samples);
  const auto spec = enc->spec();
  EXPECT_EQ(spec.at("module_layers"), 1);
  EXPECT_EQ(spec.at("frames_per_segment"), 160);
  EXPECT_EQ(spec.at("dim"), 4);
  EXPECT_EQ(spec.at("file"), "stats.pt");
  EXPECT_EQ(spec.at("device"), "cpu");
}

TEST_F(TorchScript, ZeroMeanUnitVarNormalisesEachSegment) {
  const Audio a = signal(1.0, 0.8f);
  std::vector<float> x = a.samples;
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= double(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  var /= double(x.size());
  for (float& v : x) v = float((v - mean) / std::sqrt(var + 1e-7));
  expect_stats(make("stats.pt", {{"normalize", "zero_mean_unit_var"}})->embed(a), 0, x);
}

TEST_F(TorchScript, ChannelInputConvention) {
  const Audio a = signal(1.0);
  expect_stats(make("stats_channel.pt", {{"input", "waveform_channel"}})->embed(a), 0, a.samples);
  // The same module given [batch, samples] fails while the encoder is built, with the shape passed.
  EXPECT_HAS(make_error("stats_channel.pt"),
             "suite.encoders[0].file: " + (dir() / "stats_channel.pt").string() +
                 ": forward failed on input float32 [1, 16000] (input \"waveform\"): builtins.ValueError: expected "
                 "[batch, 1, samples], got [1, 16000]");
}

TEST_F(TorchScript, EveryLayoutOfHiddenStatesGivesTheSameLayers) {
  const Audio a = signal(1.0);
  expect_three_layers(make("layers_tuple.pt", {{"output", "layers"}})->embed(a), {0, 1, 2}, a.samples);
  expect_three_layers(make("layers_list.pt", {{"output", "layers"}, {"layers", "all"}})->embed(a), {0, 1, 2},
                      a.samples);
  expect_three_layers(make("stacked_lbtd.pt", {{"layout", "LBTD"}})->embed(a), {0, 1, 2}, a.samples);
  expect_three_layers(make("stacked_bltd.pt", {{"layout", "BLTD"}})->embed(a), {0, 1, 2}, a.samples);
  expect_three_layers(make("stacked_bdt.pt", {{"layout", "BDT"}})->embed(a), {0}, a.samples);
  // Selected layers come in the order asked for; negative indices count from the end.
  expect_three_layers(make("layers_tuple.pt", {{"output", "layers"}, {"layers", {-1, 0}}})->embed(a), {2, 0},
                      a.samples);
  expect_three_layers(make("stacked_lbtd.pt", {{"layout", "LBTD"}, {"layers", {1}}})->embed(a), {1}, a.samples);

  // Pooled outputs are one frame per layer.
  const auto st = frame_stats(a.samples);
  double mean = 0;
  for (const auto& f : st) mean += f[0];
  mean /= double(st.size());
  const Embedding bd = make("stacked_bd.pt", {{"layout", "BD"}})->embed(a);
  EXPECT_EQ(bd.layers, 1);
  EXPECT_EQ(bd.frames, 1);
  EXPECT_EQ(bd.dim, 2);
  EXPECT_NEAR(bd.data[0], mean, 1e-5);
  const Embedding lbd = make("stacked_lbd.pt", {{"layout", "LBD"}})->embed(a);
  EXPECT_EQ(lbd.layers, 3);
  EXPECT_EQ(lbd.frames, 1);
  EXPECT_NEAR(lbd.frame(2, 0)[0], 3 * mean, 1e-5);
}

TEST_F(TorchScript, OutputOfTheWrongKindOrRank) {
  EXPECT_HAS(make_error("wrong_rank.pt"),
             "suite.encoders[0].layout: \"BTD\" expects a 3-D Tensor, but the module returned a 2-D Tensor [1, 160] "
             "for input float32 [1, 16000]");
  EXPECT_HAS(make_error("stats.pt", {{"layout", "LBTD"}}), "suite.encoders[0].layout: \"LBTD\" expects a 4-D Tensor");
  EXPECT_HAS(make_error("layers_tuple.pt"),
             "suite.encoders[0].output: \"tensor\", but the module returned a tuple of 3 values for input float32 "
             "[1, 16000] (input \"waveform\") (use output \"layers\" for hidden states)");
  EXPECT_HAS(make_error("stats.pt", {{"output", "layers"}}),
             "suite.encoders[0].output: \"layers\", but the module returned a 3-D Tensor [1, 160, 4]");
  EXPECT_HAS(make_error("layers_tuple.pt", {{"output", "layers"}, {"layout", "BD"}}),
             "suite.encoders[0].layout: \"BD\" expects 2-D Tensors per layer, but layer 0 is a 3-D Tensor [1, 160, 2]");
  EXPECT_HAS(make_error("ragged.pt", {{"output", "layers"}}),
             "suite.encoders[0].output: layer 1 is [1, 160, 2], but layer 0 is [1, 160, 4]: layers must have one shape");
}

TEST_F(TorchScript, LayerSelectionErrors) {
  EXPECT_HAS(make_error("layers_tuple.pt", {{"output", "layers"}, {"layers", {0, 3}}}),
             "suite.encoders[0].layers[1]: layer 3 is out of range: the module returns 3 layers (0..2, or -3..-1 from "
             "the end)");
  EXPECT_HAS(make_error("stats.pt", {{"layers", {-2}}}),
             "suite.encoders[0].layers[0]: layer -2 is out of range: the module returns 1 layer (0..0");
  EXPECT_HAS(make_error("layers_tuple.pt", {{"output", "layers"}, {"layers", {2, -1}}}),
             "suite.encoders[0].layers[1]: layer 2 is selected twice");
  EXPECT_HAS(make_error("stats.pt", {{"layers", "last"}}),
             "suite.encoders[0].layers: expected \"all\" or an array of layer indices, got string \"last\"");
  EXPECT_HAS(make_error("stats.pt", {{"layers", nlohmann::json::array()}}),
             "suite.encoders[0].layers: expected at least one layer index");
  EXPECT_HAS(make_error("stats.pt", {{"layers", {0.5}}}), "suite.encoders[0].layers[0]: expected integer, got number 0.5");
}

TEST_F(TorchScript, ForwardErrorsReportTheShapePassed) {
  // Raises unless given exactly 16000 samples: a 2 s segment fails when the encoder is built ...
  EXPECT_HAS(make_error("fixed_length.pt", {{"segment_seconds", 2}}),
             "fixed_length.pt: forward failed on input float32 [1, 32000] (input \"waveform\"): builtins.ValueError: "
             "expected 16000 samples, got 32000");
  // ... and a short segment fails when embedded, unless it is padded to the segment's length.
  auto enc = make("fixed_length.pt");
  const Audio short_one = signal(0.5);
  EXPECT_HAS(error_of([&] { enc->embed(short_one); }),
             "forward failed on input float32 [1, 8000] (input \"waveform\"): builtins.ValueError: expected 16000 "
             "samples, got 8000");
  const Embedding e = make("fixed_length.pt", {{"pad_to_segment", true}})->embed(short_one);
  std::vector<float> padded = short_one.samples;
  padded.resize(16000, 0.0f);
  expect_stats(e, 0, padded);
}

TEST_F(TorchScript, SampleRateErrors) {
  EXPECT_HAS(make_error("stats_24k.pt"),
             "suite.encoders[0].sample_rate: 16000 Hz, but the module declares sample_rate = 24000");
  EXPECT_NO_THROW(make("stats_24k.pt", {{"sample_rate", 24000}}));
  EXPECT_HAS(make_error("stats.pt", {{"sample_rate", nullptr}}), "suite.encoders[0].sample_rate: missing required key");
  EXPECT_HAS(make_error("stats.pt", {{"sample_rate", 500}}),
             "suite.encoders[0].sample_rate: 500 is out of range [1000, 192000]");
  EXPECT_HAS(make_error("stats.pt", {{"sample_rate", "16k"}}),
             "suite.encoders[0].sample_rate: expected integer, got string \"16k\"");
  EXPECT_HAS(make_error("stats.pt", {{"segment_seconds", nullptr}}),
             "suite.encoders[0].segment_seconds: missing required key");
  auto enc = make("stats.pt");
  Audio a = signal(1.0);
  a.sample_rate = 22050;
  EXPECT_HAS(error_of([&] { enc->embed(a); }), "stats.pt: audio at 22050 Hz, the encoder expects 16000 Hz");
}

TEST_F(TorchScript, FilesThatAreNotModules) {
  EXPECT_HAS(make_error("missing.pt"), "suite.encoders[0].file: " + (dir() / "missing.pt").string() + ": no such file");
  EXPECT_HAS(make_error("."), "is a folder, expected a TorchScript .pt file");
  EXPECT_HAS(make_error("text.pt"), "text.pt: not a TorchScript file (not a zip archive");
  EXPECT_HAS(make_error("truncated.pt"),
             "truncated.pt: cannot be loaded as a TorchScript module (the file is truncated or corrupt)");
  EXPECT_HAS(make_error("state_dict.pt"),
             "state_dict.pt: cannot be loaded as a TorchScript module (weights saved with torch.save are not a "
             "TorchScript module");
  EXPECT_HAS(make_error("pickle.pt"), "pickle.pt: cannot be loaded as a TorchScript module (weights saved with");
  EXPECT_HAS(make_error("", {}), "suite.encoders[0].file: expected a non-empty string");
}

TEST_F(TorchScript, NanOutputIsAnError) {
  auto enc = make("nan_when_loud.pt");  // the quiet probe signal passes
  EXPECT_NO_THROW(enc->embed(signal(1.0, 0.5f)));
  EXPECT_HAS(error_of([&] { enc->embed(signal(1.0, 0.95f)); }),
             "nan_when_loud.pt: the module returned NaN/Inf (layer 0, frame 0) for a segment of 16000 samples");
}

TEST_F(TorchScript, BatchSizeBakedIntoATrace) {
  EXPECT_HAS(make_error("batch1_only.pt"),
             "batch1_only.pt: the module returned 1 items for a batch of 2 (input float32 [2, 16000] (input "
             "\"waveform\"); output a 3-D Tensor [1, 320, 4]); a traced module may have its batch size baked in: set "
             "batch_size 1");
  const Audio a = signal(1.0);
  expect_stats(make("batch1_only.pt", {{"batch_size", 1}})->embed(a), 0, a.samples);
}

// embed() from several threads at once: every caller gets its own segment's embedding, calls are
// gathered into batches no larger than batch_size, and results equal one-at-a-time results.
TEST_F(TorchScript, ConcurrentCallsAreBatchedAndCorrect) {
  auto enc = make("batch_report.pt", {{"batch_size", 3}});
  constexpr int kThreads = 4, kPerThread = 6;
  std::vector<Audio> inputs;
  for (int i = 0; i < kThreads * kPerThread; ++i) inputs.push_back(signal(1.0, 0.2f + 0.02f * i, 200.0 + 37.0 * i));
  std::vector<Embedding> out(inputs.size());
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) out[size_t(t * kPerThread + k)] = enc->embed(inputs[size_t(t * kPerThread + k)]);
    });
  for (auto& th : pool) th.join();
  int batched = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto st = frame_stats(inputs[i].samples);
    ASSERT_EQ(out[i].frames, 160);
    for (int f = 0; f < out[i].frames; ++f) ASSERT_NEAR(out[i].frame(0, f)[0], st[size_t(f)][0], 1e-5) << i;
    const float batch = out[i].frame(0, 0)[1];
    EXPECT_GE(batch, 1.0f);
    EXPECT_LE(batch, 3.0f);
    batched += batch > 1.0f;
  }
  EXPECT_GT(batched, 0) << "four threads never overlapped: no batch was formed";
  // One at a time (batch 1) gives the same frame means.
  auto single = make("batch_report.pt", {{"batch_size", 1}, {"threads", 1}});
  const Embedding e = single->embed(inputs[5]);
  for (int f = 0; f < e.frames; ++f) {
    EXPECT_FLOAT_EQ(e.frame(0, f)[0], out[5].frame(0, f)[0]);
    EXPECT_EQ(e.frame(0, f)[1], 1.0f);
  }
}

// embed_batch from one caller: same-length segments share forwards of at most batch_size, in order;
// a segment of another length gets its own forward.
TEST_F(TorchScript, EmbedBatchGroupsSegmentsOfEqualLength) {
  auto enc = make("batch_report.pt", {{"batch_size", 3}});
  EXPECT_EQ(enc->num_layers(), 1);
  std::vector<Audio> segs;
  for (int i = 0; i < 6; ++i) segs.push_back(signal(i == 4 ? 0.5 : 1.0, 0.1f + 0.1f * i, 300.0 + 50.0 * i));
  const auto out = enc->embed_batch(segs);
  ASSERT_EQ(out.size(), segs.size());
  const float expected_batch[] = {3, 3, 3, 2, 1, 2};  // [0, 1, 2], then [3, 5], then [4] (half a second)
  for (size_t i = 0; i < segs.size(); ++i) {
    const auto st = frame_stats(segs[i].samples);
    ASSERT_EQ(out[i].frames, int(st.size())) << i;
    for (int f = 0; f < out[i].frames; ++f) ASSERT_NEAR(out[i].frame(0, f)[0], st[size_t(f)][0], 1e-5) << i;
    EXPECT_EQ(out[i].frame(0, 0)[1], expected_batch[i]) << i;
  }
  EXPECT_EQ(make("layers_tuple.pt", {{"output", "layers"}})->num_layers(), 3);
  EXPECT_EQ(make("layers_tuple.pt", {{"output", "layers"}, {"layers", {0, 2}}})->num_layers(), 2);
  Audio wrong = segs[0];
  wrong.sample_rate = 8000;
  segs.push_back(wrong);
  EXPECT_HAS(error_of([&] { enc->embed_batch(segs); }), "audio at 8000 Hz, the encoder expects 16000 Hz");
}

TEST_F(TorchScript, FingerprintFollowsFileContentAndOptions) {
  TempDir tmp("ts-fp");
  fs::copy_file(dir() / "layers_tuple.pt", tmp / "m.pt");
  const std::string base = (tmp / "m.pt").string();
  const nlohmann::json layers = {{"output", "layers"}};
  const std::string fp = make(base, layers)->fingerprint();
  const auto hash = make(base, layers)->spec().at("file_hash");
  EXPECT_EQ(fp, make((dir() / "layers_tuple.pt").string(), layers)->fingerprint()) << "same bytes, another path";
  // Options that only change speed keep the fingerprint; those that change values do not.
  EXPECT_EQ(fp, make(base, {{"output", "layers"}, {"batch_size", 2}, {"threads", 1}, {"device", "auto"}})->fingerprint());
  EXPECT_EQ(make(base, {{"output", "layers"}, {"layers", {2}}})->fingerprint(),
            make(base, {{"output", "layers"}, {"layers", {-1}}})->fingerprint());
  EXPECT_NE(fp, make(base, {{"output", "layers"}, {"layers", {2}}})->fingerprint());
  EXPECT_NE(fp, make(base, {{"output", "layers"}, {"normalize", "zero_mean_unit_var"}})->fingerprint());
  EXPECT_NE(fp, make(base, {{"output", "layers"}, {"segment_seconds", 2}})->fingerprint());
  // A replaced file (same path, other weights) changes the fingerprint, so no stale cache entry is served.
  fs::copy_file(dir() / "layers_list.pt", tmp / "m.pt", fs::copy_options::overwrite_existing);
  const std::string replaced = make(base, layers)->fingerprint();
  EXPECT_NE(fp, replaced);
  EXPECT_NE(make(base, layers)->spec().at("file_hash"), hash);
}

TEST_F(TorchScript, BadOptionsNameTheJsonPath) {
  EXPECT_HAS(make_error("stats.pt", {{"input", "wave"}}),
             "suite.encoders[0].input: unknown input convention \"wave\" (known: waveform, waveform_channel)");
  EXPECT_HAS(make_error("stats.pt", {{"output", "tensors"}}), "suite.encoders[0].output: unknown output kind \"tensors\"");
  EXPECT_HAS(make_error("stats.pt", {{"layout", "TBD"}}),
             "suite.encoders[0].layout: unknown layout \"TBD\" (did you mean \"BD\"? known: BTD, BDT, BD, LBTD, BLTD, "
             "LBD, BLD)");
  EXPECT_HAS(make_error("layers_tuple.pt", {{"output", "layers"}, {"layout", "LBTD"}}),
             "suite.encoders[0].layout: unknown layout for each layer of output \"layers\" \"LBTD\"");
  EXPECT_HAS(make_error("stats.pt", {{"normalize", "peak"}}), "suite.encoders[0].normalize: unknown normalisation \"peak\"");
  EXPECT_HAS(make_error("stats.pt", {{"device", "tpu"}}), "suite.encoders[0].device: unknown device \"tpu\"");
  EXPECT_HAS(make_error("stats.pt", {{"precision", "fp16"}}), "suite.encoders[0].precision: unknown precision \"fp16\"");
  EXPECT_HAS(make_error("stats.pt", {{"batch_size", 0}}), "suite.encoders[0].batch_size: 0 is out of range [1, 4096]");
  EXPECT_HAS(make_error("stats.pt", {{"threads", -1}}), "suite.encoders[0].threads: -1 is out of range [0, 1024]");
  EXPECT_HAS(make_error("stats.pt", {{"segment_seconds", 0}}), "suite.encoders[0].segment_seconds: 0 is out of range");
  EXPECT_HAS(make_error("stats.pt", {{"pad_to_segment", 1}}), "suite.encoders[0].pad_to_segment: expected boolean");
  EXPECT_HAS(make_error("stats.pt", {{"fiel", "x"}}), "suite.encoders[0].fiel: unknown key \"fiel\" (did you mean \"file\"?");
  // cuda where this LibTorch has none: an error naming the path (or, on a CUDA build, it works).
  try {
    make("stats.pt", {{"device", "cuda"}});
  } catch (const mcpt::Error& e) {
    EXPECT_HAS(std::string(e.what()), "suite.encoders[0].device: \"cuda\" requested, but this LibTorch sees no CUDA device");
  }
}

TEST_F(TorchScript, ThreadsAndBfloat16) {
  const Audio a = signal(1.0);
  const Embedding f32 = make("stats.pt")->embed(a);
  const Embedding one = make("stats.pt", {{"threads", 1}})->embed(a);
  EXPECT_EQ(f32.data, one.data);
  const Embedding bf = make("stats.pt", {{"precision", "bfloat16"}})->embed(a);
  ASSERT_EQ(bf.data.size(), f32.data.size());
  for (size_t i = 0; i < bf.data.size(); ++i) ASSERT_NEAR(bf.data[i], f32.data[i], 0.02 * (1.0 + std::fabs(f32.data[i])));
}

// tools/export_torchscript.py --toy: a traced conv+transformer with its calling convention stored in
// the archive; the C++ embedding of the reference signal equals the eager Python model's.
TEST_F(TorchScript, ToyExportMatchesEagerPython) {
  TempDir tmp("ts-toy");
  const auto r = mcpt::testutil::run_command(
      mcpt::testutil::python() + " " + (mcpt::testutil::source_dir() / "tools/export_torchscript.py").string() +
      " --toy --segment-seconds 2 --out " + (tmp / "toy.pt").string() + " --reference " + (tmp / "toy.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_HAS(r.out, "\"type\": \"torchscript\"");
  const auto ref = nlohmann::json::parse(mcpt::testutil::read_text(tmp / "toy.json"));
  const nlohmann::json opts = {{"segment_seconds", 2.0}, {"output", "layers"}, {"normalize", "zero_mean_unit_var"}};
  auto enc = make((tmp / "toy.pt").string(), opts);
  // The same signal as export_torchscript.py's test_signal(16000, 2.0).
  Audio a;
  a.sample_rate = 16000;
  for (int i = 0; i < 32000; ++i)
    a.samples.push_back(float(0.3 * std::sin(2 * M_PI * 440.0 * i / 16000) + 0.2 * std::sin(2 * M_PI * 1234.0 * i / 16000)));
  const Embedding e = enc->embed(a);
  ASSERT_EQ(e.layers, ref.at("layers").get<int>());
  ASSERT_EQ(e.frames, ref.at("frames").get<int>());
  ASSERT_EQ(e.dim, ref.at("dim").get<int>());
  const auto data = ref.at("data").get<std::vector<float>>();
  ASSERT_EQ(data.size(), e.data.size());
  double worst = 0;
  for (size_t i = 0; i < data.size(); ++i) worst = std::max(worst, double(std::fabs(data[i] - e.data[i])));
  EXPECT_LT(worst, 1e-4);
  // The archive's mcpt.json holds the convention the model was exported for.
  auto opts_other = opts;
  opts_other["normalize"] = "none";
  EXPECT_HAS(make_error((tmp / "toy.pt").string(), opts_other),
             "suite.encoders[0].normalize: \"none\", but the module's mcpt.json says \"zero_mean_unit_var\"");
  opts_other = opts;
  opts_other["sample_rate"] = 24000;
  EXPECT_HAS(make_error((tmp / "toy.pt").string(), opts_other),
             "suite.encoders[0].sample_rate: 24000 Hz, but the module's mcpt.json says sample_rate 16000");
  opts_other = opts;
  opts_other["input"] = "waveform_channel";
  EXPECT_HAS(make_error((tmp / "toy.pt").string(), opts_other),
             "suite.encoders[0].input: \"waveform_channel\", but the module's mcpt.json says \"waveform\"");
}

// A TorchScript module run on a CUDA device gives the CPU's embeddings (float rounding), batched or
// not. Skipped where LibTorch sees no CUDA device (bench/gpu-check.sh runs it on a GPU machine).
TEST_F(TorchScript, OnACudaDeviceEmbeddingsEqualTheCpus) {
  std::unique_ptr<mcpt::harness::Encoder> on_gpu;
  try {
    on_gpu = make("stats.pt", {{"device", "cuda"}});
  } catch (const mcpt::Error& e) {
    if (std::string(e.what()).find("sees no CUDA device") != std::string::npos) GTEST_SKIP() << "no CUDA device";
    throw;
  }
  const std::vector<Audio> segs = {signal(1.0), signal(1.0, 0.3f, 220.0), signal(1.0, 0.7f, 330.0)};
  const auto cpu = make("stats.pt")->embed_batch(segs);
  const auto gpu = on_gpu->embed_batch(segs);
  const auto one = make("stats.pt", {{"device", "cuda"}})->embed(segs[1]);
  ASSERT_EQ(gpu.size(), cpu.size());
  auto close = [](const Embedding& a, const Embedding& b) {
    if (a.data.size() != b.data.size() || a.data.empty()) return false;
    double scale = 0, diff = 0;
    for (size_t i = 0; i < a.data.size(); ++i) {
      scale = std::max(scale, double(std::fabs(b.data[i])));
      diff = std::max(diff, double(std::fabs(a.data[i] - b.data[i])));
    }
    return diff <= 1e-4 * std::max(scale, 1.0);
  };
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_TRUE(close(gpu[i], cpu[i])) << "segment " << i;
  EXPECT_TRUE(close(one, cpu[1]));
}
