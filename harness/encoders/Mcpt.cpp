// `mcpt` (and `random-init`): the masked contrastive ViT as an encoder. One embedding layer per
// transformer depth (input tokens, each block, the last after the final norm), one frame per token.
// Options and the checkpoint format: docs/mcpt.md.
#include <cmath>
#include <deque>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <torch/torch.h>

#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "harness/encoders/McptModel.h"
#include "harness/encoders/Mel.h"
#include "probes/Probe.h"
#include "probes/TorchDevice.h"

namespace mcpt::harness {
namespace {

constexpr int kSampleRate = 16000;
constexpr int kHop = 512;

struct McptEncoderConfig {
  McptOptions model;
  std::int64_t crop_samples = 50000;
  MelLog log = MelLog::kLog;
  std::filesystem::path checkpoint;  // empty: random weights from init_seed
  std::string checkpoint_hash;       // FNV-1a 64 of the file's bytes
  std::filesystem::path architecture_from;  // random-init: the checkpoint whose architecture to copy
  std::uint64_t init_seed = 1;
  std::string device = "cpu";
  std::string dtype = "float32";
  int batch_size = 32;
  int threads = 0;
  bool random_init_type = false;
};

// One request in the batching queue: threads calling embed() at once share a forward pass.
struct Pending {
  std::vector<float> mel;
  Embedding result;
  std::exception_ptr error;
  bool done = false;
};

class McptEncoder final : public Encoder {
 public:
  McptEncoder(McptEncoderConfig c, const std::string& path)
      : c_(std::move(c)), mel_(mel_options(c_.log)), device_(probes::resolve_device(c_.device, path + ".device")),
        model_(c_.model) {
    if (c_.threads > 0) probes::set_compute_threads(c_.threads);  // process-wide, as LibTorch's setting is
    if (!c_.checkpoint.empty())
      load_checkpoint(model_, c_.checkpoint);
    else
      model_->reset_parameters(c_.init_seed);
    model_->eval();
    model_->to(device_);
    if (c_.dtype == "bfloat16") model_->to(torch::kBFloat16);
  }

  std::string type() const override { return c_.random_init_type ? "random-init" : "mcpt"; }
  int sample_rate() const override { return kSampleRate; }
  double segment_seconds() const override { return double(c_.crop_samples) / kSampleRate; }
  int num_layers() const override { return int(c_.model.layers()); }

  Embedding embed(const datasets::Audio& a) const override {
    auto req = std::make_shared<Pending>();
    req->mel = mel_of(a);
    {
      std::lock_guard<std::mutex> q(queue_mutex_);
      queue_.push_back(req);
    }
    // Whoever holds the model runs everything queued so far (up to batch_size at a time), so
    // concurrent callers are batched together; a caller whose request was served just returns.
    std::lock_guard<std::mutex> m(model_mutex_);
    while (!req->done) {
      std::vector<std::shared_ptr<Pending>> batch;
      {
        std::lock_guard<std::mutex> q(queue_mutex_);
        while (!queue_.empty() && int(batch.size()) < c_.batch_size) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
      std::vector<const std::vector<float>*> mels;
      for (const auto& b : batch) mels.push_back(&b->mel);
      try {
        auto out = forward(mels);
        for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(out[i]);
      } catch (...) {
        for (auto& b : batch) b->error = std::current_exception();
      }
      for (auto& b : batch) {
        b->done = true;
        b->mel = {};
      }
    }
    if (req->error) std::rethrow_exception(req->error);
    return std::move(req->result);
  }

  std::vector<Embedding> embed_batch(const std::vector<datasets::Audio>& segments) const override {
    std::vector<std::vector<float>> mels(segments.size());
    std::vector<std::exception_ptr> errors(segments.size());
    // Mel spectrograms are independent and torch-free: compute them on LibTorch's thread pool.
    at::parallel_for(0, std::int64_t(segments.size()), 1, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) try {
          mels[size_t(i)] = mel_of(segments[size_t(i)]);
        } catch (...) {
          errors[size_t(i)] = std::current_exception();
        }
    });
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);
    std::vector<Embedding> out;
    out.reserve(segments.size());
    std::lock_guard<std::mutex> m(model_mutex_);
    for (size_t start = 0; start < mels.size(); start += size_t(c_.batch_size)) {
      std::vector<const std::vector<float>*> chunk;
      for (size_t i = start; i < std::min(mels.size(), start + size_t(c_.batch_size)); ++i) chunk.push_back(&mels[i]);
      for (auto& e : forward(chunk)) out.push_back(std::move(e));
    }
    return out;
  }

  nlohmann::json spec() const override {
    nlohmann::json j = result_spec();
    j["device"] = c_.device;
    j["batch_size"] = c_.batch_size;
    j["threads"] = c_.threads;
    return j;
  }
  // Device, batch size and threads do not change the embeddings (beyond float rounding), so they
  // stay out of the fingerprint and the cache is shared across them.
  std::string fingerprint() const override { return hex64(fnv1a64(result_spec().dump())); }

 private:
  static MelOptions mel_options(MelLog log) {
    MelOptions o;
    o.sample_rate = kSampleRate;
    o.hop = kHop;
    o.log = log;
    return o;
  }

  nlohmann::json result_spec() const {
    const auto m = mel_.options();
    nlohmann::json j = {{"type", type()},
                        {"version", 1},  // bump when the computation changes
                        {"architecture", c_.model.to_json()},
                        {"crop_samples", c_.crop_samples},
                        {"front_end",
                         {{"sample_rate", m.sample_rate},
                          {"n_fft", m.n_fft},
                          {"hop", m.hop},
                          {"n_mels", m.n_mels},
                          {"f_min", m.f_min},
                          {"f_max", m.f_max},
                          {"log", mel_log_name(m.log)}}},
                        {"dtype", c_.dtype}};
    if (!c_.checkpoint.empty())
      j["checkpoint"] = {{"path", c_.checkpoint.string()}, {"fnv1a64", c_.checkpoint_hash}};
    else
      j["init_seed"] = c_.init_seed;
    if (!c_.architecture_from.empty()) j["architecture_from"] = c_.architecture_from.string();
    return j;
  }

  // The segment's mel, [n_mels x model frames]. Shorter segments are zero-padded at the end to the
  // crop length (the runner passes a whole track when it is shorter than one segment).
  std::vector<float> mel_of(const datasets::Audio& a) const {
    if (a.sample_rate != kSampleRate)
      throw Error(fmt::format("mcpt: audio at {} Hz, expected {} Hz", a.sample_rate, kSampleRate));
    if (a.samples.empty()) throw Error("mcpt: empty audio segment");
    if (std::int64_t(a.samples.size()) > c_.crop_samples)
      throw Error(fmt::format("mcpt: segment of {} samples is longer than the crop ({} samples)", a.samples.size(),
                              c_.crop_samples));
    // Myna drops the frames past the last whole patch: the model's frames.
    return mel_.compute_cropped(a.samples.data(), a.samples.size(), size_t(c_.crop_samples), int(c_.model.frames()));
  }

  // Called with model_mutex_ held.
  std::vector<Embedding> forward(const std::vector<const std::vector<float>*>& mels) const {
    return infer_layers(model_, mels, device_, c_.dtype == "bfloat16");
  }

  McptEncoderConfig c_;
  MelSpectrogram mel_;
  torch::Device device_;
  mutable McptViT model_;
  mutable std::mutex model_mutex_, queue_mutex_;
  mutable std::deque<std::shared_ptr<Pending>> queue_;
};

std::filesystem::path resolve(const std::filesystem::path& p, const EncoderContext& ctx) {
  return p.is_absolute() || ctx.base_dir.empty() ? p : ctx.base_dir / p;
}

std::unique_ptr<Encoder> make(JsonObject& cfg, const EncoderContext& ctx, bool random_init) {
  McptEncoderConfig c;
  c.random_init_type = random_init;
  // The configuration stored with a checkpoint gives the defaults; suite values must agree with it.
  nlohmann::json stored;
  std::string stored_from;
  const char* weights_key = random_init ? "architecture_from" : "checkpoint";
  if (cfg.has(weights_key)) {
    const auto p = resolve(cfg.require_string(weights_key), ctx);
    if (!std::filesystem::is_regular_file(p))
      throw Error(fmt::format("{}: {} does not exist or is not a file", cfg.path_of(weights_key), p.string()));
    stored = read_checkpoint_config(p);
    stored_from = p.string();
    (random_init ? c.architecture_from : c.checkpoint) = p;
  }
  auto stored_int = [&](const char* key, std::int64_t fallback) {
    return stored.is_object() && stored.contains(key) && stored[key].is_number_integer() ? stored[key].get<std::int64_t>()
                                                                                          : fallback;
  };
  auto stored_str = [&](const char* key, const std::string& fallback) {
    return stored.is_object() && stored.contains(key) && stored[key].is_string() ? stored[key].get<std::string>()
                                                                                   : fallback;
  };
  auto agree = [&](const char* key, const nlohmann::json& value) {
    if (stored.is_object() && stored.contains(key) && stored[key] != value)
      throw Error(fmt::format("{}: {} differs from the checkpoint {}, whose weights were trained with {}",
                              cfg.path_of(key), value.dump(), stored_from, stored[key].dump()));
  };

  const auto patch_s = cfg.get_string("patch", stored_str("patch", "vertical"));
  Patch patch;
  if (!parse_patch(patch_s, &patch))
    throw Error(fmt::format("{}: {}", cfg.path_of("patch"),
                            unknown_name_message("patch", patch_s, {"base", "vertical", "hybrid"})));
  agree("patch", patch_s);
  auto arch_int = [&](const char* key, std::int64_t def, std::int64_t lo, std::int64_t hi) {
    const auto v = cfg.get_int(key, stored_int(key, def), lo, hi);
    agree(key, v);
    return v;
  };
  c.model.patch(patch)
      .dim(arch_int("dim", 384, 8, 8192))
      .depth(arch_int("depth", 12, 1, 128))
      .heads(arch_int("heads", 6, 1, 256))
      .dim_head(arch_int("dim_head", 64, 1, 1024))
      .mlp_dim(arch_int("mlp_dim", 1536, 1, 65536))
      .n_mels(128);
  if (c.model.dim() % 4 != 0)
    throw Error(fmt::format("{}: {} is not a multiple of 4 (2-D sin-cos positions)", cfg.path_of("dim"), c.model.dim()));
  if (stored.is_object()) {
    // The front end the weights were trained with must be the one this encoder computes.
    const MelOptions m;
    for (const auto& [key, ours] : std::vector<std::pair<const char*, double>>{
             {"sample_rate", kSampleRate}, {"n_fft", m.n_fft}, {"hop", kHop}, {"n_mels", m.n_mels},
             {"f_min", m.f_min}, {"f_max", m.f_max}})
      if (stored.contains(key) && (!stored[key].is_number() || stored[key].get<double>() != ours))
        throw Error(fmt::format("{}: the checkpoint's {} is {}, this encoder computes {}", stored_from, key,
                                stored[key].dump(), ours));
  }

  const auto log_s = cfg.get_string("log", stored_str("log", "log"));
  if (!parse_mel_log(log_s, &c.log))
    throw Error(fmt::format("{}: {}", cfg.path_of("log"), unknown_name_message("log", log_s, {"log", "log1p", "none"})));
  agree("log", log_s);

  // The crop may differ from training (positions are a fixed function of the shape).
  if (cfg.has("crop_samples") && cfg.has("segment_seconds"))
    throw Error(fmt::format("{}: give crop_samples or segment_seconds, not both", cfg.path()));
  if (cfg.has("segment_seconds"))
    c.crop_samples = std::llround(cfg.get_number("segment_seconds", 0, 0.128, 600.0) * kSampleRate);
  else
    c.crop_samples = cfg.get_int("crop_samples", stored_int("crop_samples", 50000), 2048, 600LL * kSampleRate);
  c.model.frames(mcpt_frames_for_crop(c.crop_samples, kHop, patch));
  const std::int64_t width = patch == Patch::kVertical ? 2 : 16;
  if (c.model.frames() < width)
    throw Error(fmt::format("{}: {} samples give {} mel frames, fewer than one {}-frame patch", cfg.path_of("crop_samples"),
                            c.crop_samples, 1 + c.crop_samples / kHop, width));

  if (!c.checkpoint.empty() && cfg.has("init_seed"))
    throw Error(fmt::format("{}: only for random weights (this entry loads {})", cfg.path_of("init_seed"),
                            c.checkpoint.string()));
  c.init_seed = cfg.get_uint("init_seed", c.init_seed);
  c.device = cfg.get_string("device", c.device);
  if (c.device != "cpu" && c.device != "auto" && c.device != "cuda" && c.device.rfind("cuda:", 0) != 0)
    throw Error(fmt::format("{}: expected \"cpu\", \"cuda\", \"cuda:N\" or \"auto\", got \"{}\"", cfg.path_of("device"),
                            c.device));
  c.dtype = cfg.get_string("dtype", c.dtype);
  if (c.dtype != "float32" && c.dtype != "bfloat16")
    throw Error(fmt::format("{}: expected \"float32\" or \"bfloat16\", got \"{}\"", cfg.path_of("dtype"), c.dtype));
  c.batch_size = int(cfg.get_int("batch_size", c.batch_size, 1, 4096));
  c.threads = int(cfg.get_int("threads", c.threads, 0, 1024));
  try {
    c.model.validate();
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", cfg.path(), e.what()));
  }
  if (!c.checkpoint.empty()) c.checkpoint_hash = file_fnv1a64(c.checkpoint, "the checkpoint");
  return std::make_unique<McptEncoder>(std::move(c), cfg.path());
}

}  // namespace

std::unique_ptr<Encoder> make_mcpt_encoder(JsonObject& cfg, const EncoderContext& ctx) { return make(cfg, ctx, false); }
std::unique_ptr<Encoder> make_random_init_encoder(JsonObject& cfg, const EncoderContext& ctx) {
  return make(cfg, ctx, true);
}

}  // namespace mcpt::harness
