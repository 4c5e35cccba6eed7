// `torchscript`: any TorchScript module a researcher exports (MERT, MuQ, Myna ...) run through
// LibTorch, with no Python at run time. The suite names the file, its sample rate, the input
// convention and how to read the output (docs/torchscript.md); the module is loaded and run once
// on a probe signal when the encoder is built, so shape and layer mistakes surface before any work.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/encoders/Encoder.h"
#include "probes/Probe.h"

namespace mcpt::harness {
namespace {

namespace fs = std::filesystem;

struct TorchScriptOptions {
  std::string file_text;  // as written in the suite
  fs::path file;          // resolved against the suite's folder
  int sample_rate = 0;
  double segment_seconds = 0;
  std::string input = "waveform";  // "waveform": [B, S]; "waveform_channel": [B, 1, S]
  std::string output = "tensor";   // "tensor": one Tensor; "layers": a tuple/list of Tensors, one per layer
  std::string layout = "BTD";      // axes of the Tensor (output "tensor") or of each element (output "layers")
  bool all_layers = true;
  std::vector<std::int64_t> layers;  // as written (negative counts from the end); used when !all_layers
  std::string normalize = "none";    // "none" | "zero_mean_unit_var" (per segment, like Wav2Vec2FeatureExtractor)
  bool pad_to_segment = false;       // zero-pad short segments to the full length
  std::string device = "cpu";        // "cpu" | "cuda" | "auto"
  std::string precision = "float32";  // "float32" | "bfloat16"
  int batch_size = 8;
  int threads = 0;  // 0: leave LibTorch's intra-op thread count alone
};

const std::vector<std::string> kTensorLayouts = {"BTD", "BDT", "BD", "LBTD", "BLTD", "LBD", "BLD"};
const std::vector<std::string> kElementLayouts = {"BTD", "BDT", "BD"};

std::string shape_text(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += fmt::format("{}{}", i ? ", " : "", t.size(i));
  return s + "]";
}

// What a module returned, for messages: "a Tensor [1, 10]", "a tuple of 13 values" ...
std::string describe(const c10::IValue& v) {
  if (v.isTensor()) return "a " + std::to_string(v.toTensor().dim()) + "-D Tensor " + shape_text(v.toTensor());
  if (v.isTuple()) return fmt::format("a tuple of {} values", v.toTuple()->elements().size());
  if (v.isList()) return fmt::format("a list of {} values", v.toListRef().size());
  if (v.isGenericDict()) return "a dict";
  if (v.isNone()) return "None";
  return std::string("a value of type ") + v.tagKind();
}

// The informative line of a torch error: a TorchScript `raise` or a failing operator ends its
// message with "builtins.ValueError: ..." / "RuntimeError: ..." after a traceback; other errors
// say what is wrong on their first line.
std::string torch_error_line(const std::string& what) {
  std::vector<std::string> lines;
  std::istringstream in(what);
  for (std::string l; std::getline(in, l);)
    if (l.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(l);
  if (lines.empty()) return "(no message)";
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    const auto colon = it->find(": ");
    if (colon == std::string::npos || it->find(' ') < colon) continue;
    const std::string head = it->substr(0, colon);
    if (head.size() >= 5 && (head.find("Error") != std::string::npos || head.find("Exception") != std::string::npos))
      return *it;
  }
  return lines.front();
}

std::string exception_line(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return torch_error_line(c->what_without_backtrace());
  return torch_error_line(e.what());
}

// Sets LibTorch's intra-op thread count for one forward and restores it afterwards (forwards of
// one encoder never overlap, and the probes set their own count later).
class ThreadsScope {
 public:
  explicit ThreadsScope(int n) : on_(n > 0) {
    if (!on_) return;
    previous_ = probes::compute_threads();
    if (previous_ != n) probes::set_compute_threads(n);
    else on_ = false;
  }
  ~ThreadsScope() {
    if (on_) probes::set_compute_threads(previous_);
  }
  ThreadsScope(const ThreadsScope&) = delete;
  ThreadsScope& operator=(const ThreadsScope&) = delete;

 private:
  bool on_;
  int previous_ = 0;
};

class TorchScriptEncoder final : public Encoder {
 public:
  TorchScriptEncoder(TorchScriptOptions o, const JsonObject& cfg) : o_(std::move(o)), device_(torch::kCPU) {
    where_ = fmt::format("{}: {}", cfg.path_of("file"), o_.file.string());
    segment_samples_ = static_cast<std::int64_t>(std::llround(o_.segment_seconds * o_.sample_rate));
    resolve_device(cfg);
    load(cfg);
    probe(cfg);
  }

  std::string type() const override { return "torchscript"; }
  int sample_rate() const override { return o_.sample_rate; }
  double segment_seconds() const override { return o_.segment_seconds; }

  Embedding embed(const datasets::Audio& a) const override {
    Request r;
    r.x = prepare(checked(a));
    Request* one[] = {&r};
    submit(one, 1);
    if (r.error) std::rethrow_exception(r.error);
    return std::move(r.result);
  }

  std::vector<Embedding> embed_batch(const std::vector<datasets::Audio>& segments) const override {
    std::vector<Request> requests(segments.size());
    std::vector<Request*> pending;
    for (size_t i = 0; i < segments.size(); ++i) {
      requests[i].x = prepare(checked(segments[i]));
      pending.push_back(&requests[i]);
    }
    submit(pending.data(), pending.size());
    std::vector<Embedding> out;
    for (auto& r : requests) {
      if (r.error) std::rethrow_exception(r.error);
      out.push_back(std::move(r.result));
    }
    return out;
  }

  int num_layers() const override { return static_cast<int>(selected_.size()); }

  // Everything that shapes the embedding: the weights (by content, not by path, so a replaced file
  // never serves stale cache entries and a moved one still hits) and the options that change
  // values. Device, batch size and threads change only the speed, so they are left out.
  std::string fingerprint() const override {
    nlohmann::json j = {{"type", "torchscript"},
                        {"version", 1},
                        {"file_hash", file_hash_},
                        {"sample_rate", o_.sample_rate},
                        {"segment_seconds", o_.segment_seconds},
                        {"input", o_.input},
                        {"output", o_.output},
                        {"layout", o_.layout},
                        {"layers", selected_},
                        {"normalize", o_.normalize},
                        {"pad_to_segment", o_.pad_to_segment},
                        {"precision", o_.precision}};
    return hex64(fnv1a64(j.dump()));
  }

  nlohmann::json spec() const override {
    nlohmann::json layers = o_.all_layers ? nlohmann::json("all") : nlohmann::json(o_.layers);
    return {{"type", "torchscript"},
            {"file", o_.file_text},
            {"file_hash", file_hash_},
            {"file_bytes", file_bytes_},
            {"sample_rate", o_.sample_rate},
            {"segment_seconds", o_.segment_seconds},
            {"input", o_.input},
            {"output", o_.output},
            {"layout", o_.layout},
            {"layers", layers},
            {"selected_layers", selected_},
            {"module_layers", module_layers_},
            {"frames_per_segment", probe_frames_},
            {"dim", dim_},
            {"normalize", o_.normalize},
            {"pad_to_segment", o_.pad_to_segment},
            {"device", device_.is_cuda() ? "cuda" : "cpu"},
            {"precision", o_.precision},
            {"batch_size", o_.batch_size},
            {"threads", o_.threads}};
  }

 private:
  struct Request {
    std::vector<float> x;  // normalised (and padded) samples
    Embedding result;
    std::exception_ptr error;
    bool done = false;
  };

  const std::vector<float>& checked(const datasets::Audio& a) const {
    if (a.sample_rate != o_.sample_rate)
      throw Error(fmt::format("{}: audio at {} Hz, the encoder expects {} Hz", where_, a.sample_rate, o_.sample_rate));
    if (a.samples.empty()) throw Error(fmt::format("{}: an empty segment cannot be embedded", where_));
    return a.samples;
  }

  void resolve_device(const JsonObject& cfg) {
    const bool cuda = torch::cuda::is_available();
    if (o_.device == "cuda" && !cuda)
      throw Error(fmt::format("{}: \"cuda\" requested, but this LibTorch sees no CUDA device (use \"cpu\" or \"auto\")",
                              cfg.path_of("device")));
    if (o_.device == "cuda" || (o_.device == "auto" && cuda)) device_ = torch::Device(torch::kCUDA, 0);
  }

  void load(const JsonObject& cfg) {
    std::error_code ec;
    if (!fs::exists(o_.file, ec)) throw Error(fmt::format("{}: no such file", where_));
    if (fs::is_directory(o_.file, ec)) throw Error(fmt::format("{}: is a folder, expected a TorchScript .pt file", where_));
    std::string bytes;
    {
      std::ifstream in(o_.file, std::ios::binary);
      if (!in) throw Error(fmt::format("{}: cannot be opened", where_));
      std::ostringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
    }
    if (bytes.empty()) throw Error(fmt::format("{}: the file is empty", where_));
    // Hash and load the very same bytes, so the fingerprint always describes the weights used.
    file_hash_ = hex64(fnv1a64(bytes));
    file_bytes_ = static_cast<std::int64_t>(bytes.size());
    // torch.jit.save writes a zip archive; anything else is not worth handing to the loader.
    if (bytes.compare(0, 4, std::string("PK\x03\x04", 4)) != 0)
      throw Error(fmt::format("{}: not a TorchScript file (not a zip archive as torch.jit.save writes; "
                              "a different format, or corrupt)",
                              where_));
    torch::jit::ExtraFilesMap extra{{"mcpt.json", ""}};
    try {
      std::istringstream in(bytes);
      module_ = torch::jit::load(in, device_, extra);
    } catch (const std::exception& e) {
      const std::string line = exception_line(e);
      std::string hint;
      if (line.find("central directory") != std::string::npos || line.find("zip archive") != std::string::npos)
        hint = "the file is truncated or corrupt";
      else if (line.find("constants.pkl") != std::string::npos || line.find("code/") != std::string::npos)
        hint = "weights saved with torch.save are not a TorchScript module: export with torch.jit.trace or "
               "torch.jit.script and save with torch.jit.save (docs/torchscript.md)";
      throw Error(fmt::format("{}: cannot be loaded as a TorchScript module{}{}: {}", where_, hint.empty() ? "" : " (",
                              hint.empty() ? "" : hint + ")", line));
    }
    module_.eval();
    if (o_.precision == "bfloat16") module_.to(torch::kBFloat16);
    // A scripted module may declare the rate it was trained at as an attribute.
    if (module_.hasattr("sample_rate")) {
      const auto v = module_.attr("sample_rate");
      if (v.isInt() && v.toInt() != o_.sample_rate)
        throw Error(fmt::format("{}: {} Hz, but the module declares sample_rate = {} ({})", cfg.path_of("sample_rate"),
                                o_.sample_rate, v.toInt(), o_.file.string()));
    }
    if (!extra["mcpt.json"].empty()) check_metadata(extra["mcpt.json"], cfg);
  }

  // tools/export_torchscript.py stores how the model is meant to be called in the archive
  // (extra file mcpt.json); a suite that says otherwise would compute wrong embeddings silently.
  void check_metadata(const std::string& text, const JsonObject& cfg) const {
    nlohmann::json meta;
    try {
      meta = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw Error(fmt::format("{}: the archive's mcpt.json is not valid JSON: {}", where_, e.what()));
    }
    if (!meta.is_object()) throw Error(fmt::format("{}: the archive's mcpt.json is not a JSON object", where_));
    if (meta.contains("sample_rate") && meta["sample_rate"].is_number_integer() &&
        meta["sample_rate"].get<std::int64_t>() != o_.sample_rate)
      throw Error(fmt::format("{}: {} Hz, but the module's mcpt.json says sample_rate {} ({})",
                              cfg.path_of("sample_rate"), o_.sample_rate, meta["sample_rate"].get<std::int64_t>(),
                              o_.file.string()));
    const std::pair<const char*, const std::string*> keys[] = {
        {"input", &o_.input}, {"output", &o_.output}, {"layout", &o_.layout}, {"normalize", &o_.normalize}};
    for (const auto& [key, value] : keys)
      if (meta.contains(key) && meta[key].is_string() && meta[key].get<std::string>() != *value)
        throw Error(fmt::format("{}: \"{}\", but the module's mcpt.json says \"{}\" ({})", cfg.path_of(key), *value,
                                meta[key].get<std::string>(), o_.file.string()));
  }

  // Runs the module once on a known signal of one segment (and on a batch of two when batching is
  // on): forward errors, output layout, layer indices and a batch size baked into a traced module
  // are all reported now, naming the JSON path, instead of after the first track.
  void probe(const JsonObject& cfg) {
    auto signal = [&](double hz, double amp) {
      std::vector<float> x(static_cast<size_t>(segment_samples_));
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = float(amp * std::sin(2.0 * M_PI * hz * double(i) / o_.sample_rate) +
                     0.3 * amp * std::sin(2.0 * M_PI * 2.7 * hz * double(i) / o_.sample_rate));
      return prepare(x);
    };
    std::vector<std::vector<float>> one = {signal(440.0, 0.1)};
    torch::Tensor out = forward(one, &cfg);  // [1, L, T, D]
    module_layers_ = out.size(1);
    probe_frames_ = out.size(2);
    dim_ = out.size(3);
    if (probe_frames_ == 0 || dim_ == 0)
      throw Error(fmt::format("{}: the module returned an empty output ({} frames x {} dims) for {} samples", where_,
                              probe_frames_, dim_, segment_samples_));
    if (o_.all_layers) {
      for (std::int64_t l = 0; l < module_layers_; ++l) selected_.push_back(l);
    } else {
      for (size_t i = 0; i < o_.layers.size(); ++i) {
        std::int64_t l = o_.layers[i];
        if (l < -module_layers_ || l >= module_layers_)
          throw Error(fmt::format("{}[{}]: layer {} is out of range: the module returns {} layer{} (0..{}, or -{}..-1 "
                                  "from the end)",
                                  cfg.path_of("layers"), i, l, module_layers_, module_layers_ == 1 ? "" : "s",
                                  module_layers_ - 1, module_layers_));
        if (l < 0) l += module_layers_;
        if (std::find(selected_.begin(), selected_.end(), l) != selected_.end())
          throw Error(fmt::format("{}[{}]: layer {} is selected twice", cfg.path_of("layers"), i, l));
        selected_.push_back(l);
      }
    }
    if (o_.batch_size > 1) {
      std::vector<std::vector<float>> two = {signal(440.0, 0.1), signal(660.0, 0.2)};
      forward(two, &cfg);
    }
  }

  std::vector<float> prepare(const std::vector<float>& samples) const {
    std::vector<float> x = samples;
    if (o_.normalize == "zero_mean_unit_var") {
      // Wav2Vec2FeatureExtractor's zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7).
      double mean = 0.0, var = 0.0;
      for (float v : x) mean += v;
      mean /= double(x.size());
      for (float v : x) var += (v - mean) * (v - mean);
      var /= double(x.size());
      const double scale = 1.0 / std::sqrt(var + 1e-7);
      for (float& v : x) v = float((v - mean) * scale);
    }
    if (o_.pad_to_segment && static_cast<std::int64_t>(x.size()) < segment_samples_)
      x.resize(static_cast<size_t>(segment_samples_), 0.0f);
    return x;
  }

  // One forward on equally long inputs; returns the output as float32 [B, L, T, D] on the CPU.
  // `cfg` is set during the probe, so that layout errors name the JSON path.
  torch::Tensor forward(const std::vector<std::vector<float>>& items, const JsonObject* cfg) const {
    const auto batch = static_cast<std::int64_t>(items.size());
    const auto n = static_cast<std::int64_t>(items.front().size());
    torch::Tensor x = torch::empty({batch, n}, torch::kFloat);
    for (std::int64_t b = 0; b < batch; ++b)
      std::copy(items[size_t(b)].begin(), items[size_t(b)].end(), x.data_ptr<float>() + b * n);
    if (o_.input == "waveform_channel") x = x.unsqueeze(1);
    const std::string passed = fmt::format("{} {} (input \"{}\")", o_.precision, shape_text(x), o_.input);
    c10::IValue out;
    {
      ThreadsScope threads(o_.threads);
      torch::NoGradGuard no_grad;
      x = x.to(device_, o_.precision == "bfloat16" ? torch::kBFloat16 : torch::kFloat);
      try {
        out = module_.forward({x});
      } catch (const std::exception& e) {
        throw Error(fmt::format("{}: forward failed on input {}: {}", where_, passed, exception_line(e)));
      }
    }
    const std::string layout_path = cfg ? cfg->path_of("layout") : where_;
    const std::string output_path = cfg ? cfg->path_of("output") : where_;
    torch::Tensor t;
    std::string axes = o_.layout;
    if (o_.output == "tensor") {
      if (!out.isTensor())
        throw Error(fmt::format("{}: \"tensor\", but the module returned {} for input {}{}", output_path, describe(out),
                                passed, out.isTuple() || out.isList() ? " (use output \"layers\" for hidden states)" : ""));
      t = out.toTensor();
    } else {
      std::vector<torch::Tensor> elems;
      if (out.isTuple()) {
        for (const auto& e : out.toTuple()->elements()) {
          if (!e.isTensor())
            throw Error(fmt::format("{}: \"layers\" needs a tuple of Tensors, but the module's tuple holds {}",
                                    output_path, describe(e)));
          elems.push_back(e.toTensor());
        }
      } else if (out.isList()) {
        for (const auto& e : out.toListRef()) {
          if (!e.isTensor())
            throw Error(fmt::format("{}: \"layers\" needs a list of Tensors, but the module's list holds {}",
                                    output_path, describe(e)));
          elems.push_back(e.toTensor());
        }
      } else {
        throw Error(fmt::format("{}: \"layers\", but the module returned {} for input {} (a tuple or list of Tensors, "
                                "one per layer, is expected{})",
                                output_path, describe(out), passed, out.isTensor() ? "; use output \"tensor\"" : ""));
      }
      if (elems.empty()) throw Error(fmt::format("{}: the module returned no layers", output_path));
      for (size_t i = 0; i < elems.size(); ++i) {
        if (elems[i].dim() != static_cast<std::int64_t>(o_.layout.size()))
          throw Error(fmt::format("{}: \"{}\" expects {}-D Tensors per layer, but layer {} is {}", layout_path, o_.layout,
                                  o_.layout.size(), i, describe(elems[i])));
        if (!elems[i].sizes().equals(elems[0].sizes()))
          throw Error(fmt::format("{}: layer {} is {}, but layer 0 is {}: layers must have one shape", output_path, i,
                                  shape_text(elems[i]), shape_text(elems[0])));
      }
      t = torch::stack(elems, 0);
      axes = "L" + o_.layout;
    }
    if (t.dim() != static_cast<std::int64_t>(axes.size()))
      throw Error(fmt::format("{}: \"{}\" expects a {}-D Tensor, but the module returned {} for input {}", layout_path,
                              o_.layout, axes.size(), describe(t), passed));
    // Bring any layout to [B, L, T, D], adding size-1 axes for L and T where the layout has none.
    for (char c : std::string("LT"))
      if (axes.find(c) == std::string::npos) {
        t = t.unsqueeze(-1);
        axes += c;
      }
    std::vector<std::int64_t> order;
    for (char c : std::string("BLTD")) order.push_back(static_cast<std::int64_t>(axes.find(c)));
    t = t.permute(order);
    if (t.size(0) != batch)
      throw Error(fmt::format("{}: the module returned {} items for a batch of {} (input {}; output {}); a traced "
                              "module may have its batch size baked in: set batch_size 1 or trace with a batch of 2",
                              where_, t.size(0), batch, passed, describe(out.isTensor() ? out : c10::IValue(t))));
    if (!t.is_floating_point())
      throw Error(fmt::format("{}: the module returned {} values, expected floating point", where_,
                              std::string(c10::toString(t.scalar_type()))));
    return t.to(torch::kCPU, torch::kFloat).contiguous();
  }

  // Requests from concurrent embed()/embed_batch() calls are gathered into batches: whichever
  // caller finds the module idle runs one forward for up to batch_size waiting requests of the same
  // length, while the others wait. Forwards never overlap (one module, one set of intra-op
  // threads), and a request is answered by exactly one forward, whoever runs it.
  void submit(Request* const* requests, size_t count) const {
    std::unique_lock<std::mutex> lock(mutex_);
    for (size_t i = 0; i < count; ++i) queue_.push_back(requests[i]);
    auto all_done = [&] {
      for (size_t i = 0; i < count; ++i)
        if (!requests[i]->done) return false;
      return true;
    };
    while (!all_done()) {
      if (busy_) {
        cv_.wait(lock);
        continue;
      }
      busy_ = true;
      std::vector<Request*> batch;
      const size_t n = queue_.front()->x.size();
      for (auto it = queue_.begin(); it != queue_.end() && batch.size() < size_t(o_.batch_size);) {
        if ((*it)->x.size() == n) {
          batch.push_back(*it);
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      lock.unlock();
      run(batch);
      lock.lock();
      for (Request* q : batch) q->done = true;
      busy_ = false;
      cv_.notify_all();
    }
  }

  void run(const std::vector<Request*>& batch) const {
    torch::Tensor out;
    try {
      std::vector<std::vector<float>> items;
      items.reserve(batch.size());
      for (const Request* q : batch) items.push_back(q->x);
      out = forward(items, nullptr);
      if (out.size(1) != module_layers_ || out.size(3) != dim_)
        throw Error(fmt::format("{}: the module returned {} layers x {} dims, but {} x {} for the probe signal", where_,
                                out.size(1), out.size(3), module_layers_, dim_));
    } catch (...) {
      for (Request* q : batch) q->error = std::current_exception();
      return;
    }
    const auto frames = out.size(2);
    const auto index = torch::tensor(selected_, torch::kLong);
    for (size_t b = 0; b < batch.size(); ++b) {
      Request& q = *batch[b];
      try {
        torch::Tensor e = out[static_cast<std::int64_t>(b)].index_select(0, index).contiguous();  // [L', T, D]
        Embedding& emb = q.result;
        emb.layers = static_cast<int>(selected_.size());
        emb.frames = static_cast<int>(frames);
        emb.dim = static_cast<int>(dim_);
        emb.data.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
        for (size_t i = 0; i < emb.data.size(); ++i)
          if (!std::isfinite(emb.data[i])) {
            const auto per_layer = size_t(frames) * size_t(dim_);
            throw Error(fmt::format("{}: the module returned NaN/Inf (layer {}, frame {}) for a segment of {} samples",
                                    where_, selected_[i / per_layer], (i % per_layer) / size_t(dim_), q.x.size()));
          }
      } catch (...) {
        q.error = std::current_exception();
      }
    }
  }

  TorchScriptOptions o_;
  std::string where_;  // "suite.encoders[i].file: /path/model.pt", the start of every message
  std::int64_t segment_samples_ = 0;
  torch::Device device_;
  mutable torch::jit::Module module_;
  std::string file_hash_;
  std::int64_t file_bytes_ = 0;
  std::int64_t module_layers_ = 0, probe_frames_ = 0, dim_ = 0;
  std::vector<std::int64_t> selected_;  // layer indices into the module's output, non-negative

  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  mutable std::deque<Request*> queue_;
  mutable bool busy_ = false;
};

std::string one_of(JsonObject& cfg, const std::string& key, const std::string& fallback,
                   const std::vector<std::string>& allowed, const char* what) {
  const std::string v = cfg.get_string(key, fallback);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    throw Error(fmt::format("{}: {}", cfg.path_of(key), unknown_name_message(what, v, allowed)));
  return v;
}

}  // namespace

std::unique_ptr<Encoder> make_torchscript_encoder(JsonObject& cfg, const EncoderContext& ctx) {
  TorchScriptOptions o;
  o.file_text = cfg.require_string("file");
  o.file = fs::path(o.file_text);
  if (o.file.is_relative() && !ctx.base_dir.empty()) o.file = ctx.base_dir / o.file;
  o.file = o.file.lexically_normal();
  if (!cfg.has("sample_rate"))
    throw Error(fmt::format("{}: missing required key (the rate the model was trained at, e.g. 24000 for MERT)",
                            cfg.path_of("sample_rate")));
  o.sample_rate = static_cast<int>(cfg.get_int("sample_rate", 0, 1000, 192000));
  if (!cfg.has("segment_seconds"))
    throw Error(fmt::format("{}: missing required key (seconds of audio per forward, e.g. 5)",
                            cfg.path_of("segment_seconds")));
  o.segment_seconds = cfg.get_number("segment_seconds", 0.0, 0.1, 3600.0);
  o.input = one_of(cfg, "input", o.input, {"waveform", "waveform_channel"}, "input convention");
  o.output = one_of(cfg, "output", o.output, {"tensor", "layers"}, "output kind");
  o.layout = one_of(cfg, "layout", o.layout, o.output == "tensor" ? kTensorLayouts : kElementLayouts,
                    o.output == "tensor" ? "layout" : "layout for each layer of output \"layers\"");
  if (cfg.has("layers")) {
    const auto& v = cfg.raw("layers");
    if (v.is_string() && v.get<std::string>() == "all") {
      o.all_layers = true;
    } else if (v.is_array()) {
      o.layers = cfg.get_ints("layers", {}, -4096, 4095);
      if (o.layers.empty()) throw Error(fmt::format("{}: expected at least one layer index", cfg.path_of("layers")));
      o.all_layers = false;
    } else {
      throw Error(fmt::format("{}: expected \"all\" or an array of layer indices, got {} {}", cfg.path_of("layers"),
                              json_type_name(v), json_brief(v)));
    }
  }
  o.normalize = one_of(cfg, "normalize", o.normalize, {"none", "zero_mean_unit_var"}, "normalisation");
  o.pad_to_segment = cfg.get_bool("pad_to_segment", o.pad_to_segment);
  o.device = one_of(cfg, "device", o.device, {"cpu", "cuda", "auto"}, "device");
  o.precision = one_of(cfg, "precision", o.precision, {"float32", "bfloat16"}, "precision");
  o.batch_size = static_cast<int>(cfg.get_int("batch_size", o.batch_size, 1, 4096));
  o.threads = static_cast<int>(cfg.get_int("threads", o.threads, 0, 1024));
  return std::make_unique<TorchScriptEncoder>(std::move(o), cfg);
}

}  // namespace mcpt::harness
