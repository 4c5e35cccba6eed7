// `mcpt-eval pretrain`: the data pipeline (decode once, log-mels cached on disk and held in memory,
// loader threads), the training loop (two masked views per track, NT-Xent or SogCLR, Adam) and
// the state file that makes --resume follow the unbroken trajectory bit for bit.
#include "harness/Pretrain.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "augment/Deformation.h"
#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "datasets/JsonConfig.h"
#include "harness/EmbeddingCache.h"
#include "harness/StaleFiles.h"
#include "harness/Runner.h"
#include "harness/encoders/Contrastive.h"
#include "harness/encoders/McptModel.h"
#include "harness/encoders/Mel.h"
#include "probes/Probe.h"
#include "probes/TorchDevice.h"
#include "reports/Report.h"

namespace fs = std::filesystem;

namespace mcpt::harness {
namespace {

constexpr int kSampleRate = 16000;
constexpr int kHop = 512;
constexpr const char* kStateFormat = "mcpt-pretrain-state";
constexpr const char* kStateVersion = "1";
// Streams of derive_seed(seed, .): the weights, the head, each epoch's order, each step's crops and masks.
constexpr std::uint64_t kStreamHead = 1, kStreamEpoch = 1ull << 40, kStreamStep = 2ull << 40, kStreamMask = 3ull << 40;

constexpr const char* kAudioFolder = "audio-folder";

fs::path resolve(const fs::path& base, const std::string& p) {
  fs::path q(p);
  return (q.is_absolute() ? q : base / q).lexically_normal();
}

SplitRef parse_use(const nlohmann::json& v, const std::string& path, const std::vector<DatasetConfig>& datasets) {
  if (!v.is_string()) throw Error(fmt::format("{}: expected string \"dataset\" or \"dataset:split\", got {}", path, json_brief(v)));
  const std::string s = v.get<std::string>();
  SplitRef r;
  const auto colon = s.find(':');
  r.dataset = s.substr(0, colon);
  r.split = colon == std::string::npos ? "" : s.substr(colon + 1);
  std::vector<std::string> names;
  for (const auto& d : datasets) names.push_back(d.name);
  if (std::find(names.begin(), names.end(), r.dataset) == names.end())
    throw Error(fmt::format("{}: {}", path, unknown_name_message("dataset", r.dataset, names)));
  static const std::vector<std::string> splits = {"train", "valid", "test"};
  if (!r.split.empty() && std::find(splits.begin(), splits.end(), r.split) == splits.end())
    throw Error(fmt::format("{}: {}", path, unknown_name_message("split", r.split, splits)));
  return r;
}

std::string one_of(JsonObject& o, const char* key, const std::string& fallback, const std::vector<std::string>& known) {
  const auto v = o.get_string(key, fallback);
  if (std::find(known.begin(), known.end(), v) == known.end())
    throw Error(fmt::format("{}: {}", o.path_of(key), unknown_name_message(key, v, known)));
  return v;
}

}  // namespace

PretrainConfig PretrainConfig::load(const fs::path& file) {
  return parse_json_file(file, "pre-training config", "a pre-training config .json",
                         [](const nlohmann::json& j, const fs::path& abs) { return parse(j, abs); });
}

PretrainConfig PretrainConfig::parse(const nlohmann::json& j, const fs::path& file) {
  if (!j.is_object()) throw Error(fmt::format("pretrain: expected a JSON object, got {}", json_type_name(j)));
  PretrainConfig c;
  c.file = file;
  c.raw = j;
  const fs::path base = file.empty() ? fs::current_path() : file.parent_path();
  JsonObject o(j, "pretrain");
  o.ignore({"use", "model", "loss", "optimizer", "view_deformations"});  // optional blocks, read below when present
  o.get_string("description", "");
  c.name = o.get_string("name", file.empty() ? "pretrain" : file.stem().string());
  if (c.name.empty() || c.name.find_first_of("/\\") != std::string::npos || c.name == "." || c.name == "..")
    throw Error(fmt::format("pretrain.name: \"{}\" is not a plain name (letters, digits, - and _)", c.name));
  c.seed = o.get_uint("seed", 1);
  c.output = resolve(base, o.get_string("output", "runs/pretrain-" + c.name));
  const auto cache = o.get_string("cache", "cache");
  c.cache = cache.empty() ? fs::path() : resolve(base, cache);

  {
    const auto& d = o.raw("datasets");
    if (!d.is_object() || d.empty())
      throw Error(fmt::format("pretrain.datasets: expected a non-empty object of name -> dataset, got {}", json_brief(d)));
    auto types = datasets::dataset_types();
    types.push_back(kAudioFolder);  // labels are not needed here: any folder of audio files will do
    for (auto it = d.begin(); it != d.end(); ++it) {
      const std::string path = "pretrain.datasets." + it.key();
      if (!it.value().is_object()) throw Error(fmt::format("{}: expected an object, got {}", path, json_brief(it.value())));
      JsonObject dj(it.value(), path);
      DatasetConfig dc;
      dc.name = it.key();
      dc.type = dj.require_string("type");
      if (std::find(types.begin(), types.end(), dc.type) == types.end())
        throw Error(fmt::format("{}.type: {}", path, unknown_name_message("dataset type", dc.type, types)));
      dc.root = resolve(base, dj.require_string("root"));
      dc.options = it.value();
      c.datasets.push_back(dc);
    }
  }
  if (o.has("use")) {
    const auto& u = o.raw("use");
    if (!u.is_array() || u.empty())
      throw Error(fmt::format("pretrain.use: expected a non-empty list of \"dataset:split\", got {}", json_brief(u)));
    for (size_t i = 0; i < u.size(); ++i) c.use.push_back(parse_use(u[i], fmt::format("pretrain.use[{}]", i), c.datasets));
  }

  if (o.has("model")) {
    JsonObject m(o.raw("model"), "pretrain.model");
    c.patch = one_of(m, "patch", c.patch, {"base", "vertical", "hybrid"});
    c.dim = m.get_int("dim", c.dim, 8, 8192);
    c.depth = m.get_int("depth", c.depth, 1, 128);
    c.heads = m.get_int("heads", c.heads, 1, 256);
    c.dim_head = m.get_int("dim_head", c.dim_head, 1, 1024);
    c.mlp_dim = m.get_int("mlp_dim", c.mlp_dim, 1, 65536);
    c.log = one_of(m, "log", c.log, {"log", "log1p", "none"});
    c.crop_samples = m.get_int("crop_samples", c.crop_samples, 2048, 600LL * kSampleRate);
    m.finish();
    if (c.dim % 4 != 0)
      throw Error(fmt::format("pretrain.model.dim: {} is not a multiple of 4 (2-D sin-cos positions)", c.dim));
  }
  c.mask_ratio = o.get_number("mask_ratio", c.mask_ratio, 0.0, 0.99);
  if (o.has("loss")) {
    JsonObject l(o.raw("loss"), "pretrain.loss");
    c.loss = one_of(l, "type", c.loss, {"sogclr", "nt-xent"});
    c.temperature = l.get_number("temperature", c.temperature, 0.02, 10.0);
    c.gamma = l.get_number("gamma", c.gamma, 1e-6, 1.0);
    l.finish();
  }
  c.projection = o.get_ints("projection", {}, 1, 65536);
  if (o.has("optimizer")) {
    JsonObject a(o.raw("optimizer"), "pretrain.optimizer");
    c.optimizer = one_of(a, "type", c.optimizer, {"adam", "adamw"});
    c.lr = a.get_number("lr", c.lr, 1e-9, 1.0);
    c.weight_decay = a.get_number("weight_decay", c.weight_decay, 0.0, 1.0);
    const auto betas = a.get_numbers("betas", {c.beta1, c.beta2}, 0.0, 0.999999);
    if (betas.size() != 2)
      throw Error(fmt::format("pretrain.optimizer.betas: expected two numbers, got {}", betas.size()));
    c.beta1 = betas[0];
    c.beta2 = betas[1];
    c.eps = a.get_number("eps", c.eps, 1e-12, 1.0);
    c.warmup_steps = a.get_int("warmup_steps", c.warmup_steps, 0, 100000000);
    a.finish();
  }
  c.batch_size = o.get_int("batch_size", c.batch_size, 2, 65536);
  c.steps = o.get_int("steps", c.steps, 1, 1000000000);
  c.checkpoint_every = o.get_int("checkpoint_every", c.checkpoint_every, 1, 1000000000);
  c.log_every = o.get_int("log_every", c.log_every, 1, 1000000000);
  c.device = o.get_string("device", c.device);
  if (c.device != "cpu" && c.device != "auto" && c.device != "cuda" && c.device.rfind("cuda:", 0) != 0)
    throw Error(fmt::format("pretrain.device: expected \"cpu\", \"cuda\", \"cuda:N\" or \"auto\", got \"{}\"", c.device));
  c.dtype = one_of(o, "dtype", c.dtype, {"float32", "bfloat16"});
  c.threads = int(o.get_int("threads", 0, 0, 1024));
  c.loader_threads = int(o.get_int("loader_threads", 0, 0, 1024));
  if (o.has("view_deformations")) {
    const auto& v = o.raw("view_deformations");
    if (!v.is_array()) throw Error(fmt::format("pretrain.view_deformations: expected a list of deformations, got {}", json_brief(v)));
    for (size_t i = 0; i < v.size(); ++i) {
      const auto path = fmt::format("pretrain.view_deformations[{}]", i);
      auto d = augment::make_deformation(v[i], path);
      if (d->is_random())
        throw Error(fmt::format("{}: a random deformation cannot be rendered once; list fixed ones (e.g. one "
                                "pitch_shift per semitone)",
                                path));
      c.view_deformations.push_back(d->spec());
    }
  }
  o.finish();

  // Everything that shapes the trajectory: the model, data selection, loss, optimiser and seed.
  // Steps (a run may be extended), logging/checkpoint cadence, paths, threads and device are not.
  nlohmann::json h = {{"seed", c.seed}, {"use", nlohmann::json::array()}, {"datasets", nlohmann::json::object()},
                      {"patch", c.patch}, {"dim", c.dim}, {"depth", c.depth}, {"heads", c.heads},
                      {"dim_head", c.dim_head}, {"mlp_dim", c.mlp_dim}, {"log", c.log},
                      {"crop_samples", c.crop_samples}, {"mask_ratio", c.mask_ratio}, {"loss", c.loss},
                      {"temperature", c.temperature}, {"gamma", c.gamma}, {"projection", c.projection},
                      {"optimizer", c.optimizer}, {"lr", c.lr}, {"weight_decay", c.weight_decay},
                      {"betas", {c.beta1, c.beta2}}, {"eps", c.eps}, {"warmup_steps", c.warmup_steps},
                      {"batch_size", c.batch_size}, {"dtype", c.dtype}, {"view_deformations", c.view_deformations}};
  for (const auto& u : c.use) h["use"].push_back(u.text());
  for (const auto& d : c.datasets) {
    auto opts = d.options;
    opts.erase("root");  // the folder may move; the tracks' content is checked through the data fingerprint
    h["datasets"][d.name] = opts;
  }
  c.hash = hex64(fnv1a64(h.dump()));
  return c;
}

namespace {

struct Example {
  std::string id;  // "<dataset>/<track id>"
  fs::path audio;
  double start = 0.0, end = -1.0;
};

// One track's log-mels: version 0 is the clean audio, version k the (k-1)-th view deformation.
struct TrackMels {
  std::vector<std::vector<float>> versions;  // each n_mels x frames, row-major
  std::int64_t frames = 0;
};

std::string frontend_fingerprint(const MelOptions& m) {
  return hex64(fnv1a64(nlohmann::json({{"what", "pretrain-log-mel"},
                                       {"version", 1},
                                       {"sample_rate", m.sample_rate},
                                       {"n_fft", m.n_fft},
                                       {"hop", m.hop},
                                       {"n_mels", m.n_mels},
                                       {"f_min", m.f_min},
                                       {"f_max", m.f_max},
                                       {"log", mel_log_name(m.log)},
                                       {"resample", datasets::resample_quality_name(datasets::LoadOptions{}.quality)}})
                           .dump()));
}

// {"type": "audio-folder", "root": ..., "extensions": [...], "max_seconds": 60}: every audio file
// under root (sorted paths, so the order is stable), unlabelled, optionally only its first seconds.
datasets::Dataset audio_folder(const DatasetConfig& d) {
  const std::string path = "pretrain.datasets." + d.name;
  JsonObject o(d.options, path);
  o.ignore({"type", "root"});
  std::vector<std::string> ext = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"};
  if (o.has("extensions")) {
    const auto& e = o.raw("extensions");
    if (!e.is_array() || e.empty())
      throw Error(fmt::format("{}.extensions: expected a non-empty list like [\".ogg\"], got {}", path, json_brief(e)));
    ext.clear();
    for (const auto& x : e) {
      if (!x.is_string() || x.get<std::string>().empty() || x.get<std::string>()[0] != '.')
        throw Error(fmt::format("{}.extensions: expected strings starting with '.', got {}", path, json_brief(x)));
      ext.push_back(x.get<std::string>());
    }
  }
  const double max_seconds = o.get_number("max_seconds", -1.0, -1.0, 1e7);  // < 0: whole files
  o.finish();
  std::error_code ec;
  if (!fs::is_directory(d.root, ec)) throw Error(fmt::format("{}.root: {} is not a folder", path, d.root.string()));
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(d.root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    auto e = it->path().extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (std::find(ext.begin(), ext.end(), e) != ext.end()) files.push_back(it->path());
  }
  if (ec) throw Error(fmt::format("{}.root: cannot list {}: {}", path, d.root.string(), ec.message()));
  if (files.empty())
    throw Error(fmt::format("{}.root: no audio files ({}) under {}", path, fmt::join(ext, " "), d.root.string()));
  std::sort(files.begin(), files.end());
  datasets::Dataset ds;
  ds.type = kAudioFolder;
  ds.root = d.root;
  for (const auto& f : files) {
    datasets::Track t;
    t.id = fs::relative(f, d.root).generic_string();
    t.audio = f;
    if (max_seconds > 0) t.end = max_seconds;  // a window past the end is cut short by the decoder
    ds.tracks.push_back(std::move(t));
  }
  return ds;
}

std::vector<Example> select_examples(const PretrainConfig& c, nlohmann::json* summary) {
  std::map<std::string, datasets::Dataset> loaded;
  for (const auto& d : c.datasets) {
    if (d.type == kAudioFolder) {
      loaded[d.name] = audio_folder(d);
      (*summary)[d.name] = {{"type", kAudioFolder}, {"tracks", loaded[d.name].tracks.size()}};
      continue;
    }
    loaded[d.name] = datasets::load_dataset(d.type, d.root, d.options, "pretrain.datasets." + d.name);
    const auto& ds = loaded[d.name];
    if (!ds.missing_audio.empty()) {
      const auto* t = &ds.tracks.front();
      for (const auto& tr : ds.tracks)
        if (tr.id == ds.missing_audio.front()) t = &tr;
      throw Error(fmt::format("pretrain.datasets.{}: {} of {} tracks have no audio (first: {})", d.name,
                              ds.missing_audio.size(), ds.tracks.size(), t->audio.string()));
    }
    (*summary)[d.name] = datasets::dataset_summary(ds);
  }
  std::vector<SplitRef> use = c.use;
  if (use.empty())
    for (const auto& d : c.datasets) use.push_back({d.name, ""});
  std::vector<Example> out;
  std::set<std::string> seen;
  for (const auto& u : use)
    for (const auto* t : loaded.at(u.dataset).split(u.split)) {
      Example e{u.dataset + "/" + t->id, t->audio, t->start, t->end};
      if (seen.insert(e.id).second) out.push_back(std::move(e));
    }
  return out;
}

// Decodes each track once at 16 kHz, renders the view deformations, computes log-mels (from the
// cache when there), on `threads` workers. Errors name the track's file.
std::vector<TrackMels> load_mels(const PretrainConfig& c, const std::vector<Example>& examples,
                                 const MelSpectrogram& mel, EmbeddingCache& cache, Verbosity v) {
  std::vector<std::unique_ptr<augment::Deformation>> defs;
  for (size_t i = 0; i < c.view_deformations.size(); ++i)
    defs.push_back(augment::make_deformation(c.view_deformations[i], fmt::format("pretrain.view_deformations[{}]", i)));
  const auto fp = frontend_fingerprint(mel.options());
  std::vector<TrackMels> out(examples.size());
  std::vector<std::exception_ptr> errors(examples.size());
  std::atomic<size_t> next{0};
  Progress progress("log-mels", std::int64_t(examples.size()), v, "tracks");
  auto work = [&] {
    for (size_t i = next++; i < examples.size(); i = next++) {
      try {
        const auto& e = examples[i];
        auto& tm = out[i];
        tm.versions.resize(defs.size() + 1);
        std::optional<datasets::Audio> audio;
        for (size_t k = 0; k <= defs.size(); ++k) {
          const std::uint64_t seed = augment::derive_seed(c.seed, i);
          const std::string extra = k == 0                      ? "clean"
                                    : defs[k - 1]->uses_seed() ? fmt::format("{} seed {}", defs[k - 1]->spec().dump(), seed)
                                                               : defs[k - 1]->spec().dump();
          const auto key = cache.enabled() ? EmbeddingCache::key_for(fp, e.audio, e.start, e.end, extra) : std::string();
          if (cache.enabled())
            if (auto m = cache.get(key)) {
              tm.frames = m->cols;
              tm.versions[k] = std::move(m->data);
              continue;
            }
          if (!audio) {
            datasets::LoadOptions lo;
            lo.sample_rate = kSampleRate;
            lo.offset = e.start;
            lo.duration = e.end < 0 ? -1.0 : e.end - e.start;
            audio = datasets::load_audio(e.audio, lo);
          }
          datasets::Audio a = k == 0 ? *audio : defs[k - 1]->apply(*audio, seed);
          if (a.samples.size() <= size_t(mel.options().n_fft / 2)) {  // too short for a frame: skipped later
            tm.frames = 0;
            continue;
          }
          probes::Matrix m(mel.options().n_mels, mel.frames(a.samples.size()));
          mel.compute(a.samples.data(), a.samples.size(), m.data.data());
          if (cache.enabled()) cache.put(key, m);
          tm.frames = m.cols;
          tm.versions[k] = std::move(m.data);
        }
      } catch (...) {
        errors[i] = std::current_exception();
      }
      progress.advance();
    }
  };
  int n = c.loader_threads > 0 ? c.loader_threads : int(std::max(1u, std::thread::hardware_concurrency()));
  n = std::min<int>(n, int(std::max<size_t>(1, examples.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  progress.finish();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  // A deformation that changes the length (a resampling shift) gives versions of other lengths:
  // crops are drawn within the shortest.
  for (auto& tm : out) {
    std::int64_t frames = tm.frames;
    for (const auto& ver : tm.versions)
      frames = std::min<std::int64_t>(frames, std::int64_t(ver.size()) / mel.options().n_mels);
    tm.frames = frames;
  }
  return out;
}

// bf16 autocast around the forward pass; the API moved in LibTorch 2.4.
class AutocastGuard {
 public:
  AutocastGuard(bool on, const torch::Device& d) : on_(on), cuda_(d.is_cuda()) {
    if (on_) set(true);
  }
  ~AutocastGuard() {
    if (!on_) return;
    set(false);
    at::autocast::clear_cache();
  }

 private:
  void set(bool enable) const {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const auto type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, enable);
#else
    if (cuda_) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(enable);
    } else {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(enable);
    }
#endif
  }
  bool on_, cuda_;
};

// Linear layers of the projection head, PyTorch's default initialisation from a seeded generator.
torch::nn::Sequential make_head(std::int64_t in, const std::vector<std::int64_t>& widths, std::uint64_t seed) {
  torch::nn::Sequential head;
  std::int64_t d = in;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (i > 0) head->push_back(torch::nn::ReLU());
    head->push_back(torch::nn::Linear(d, widths[i]));
    d = widths[i];
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  for (const auto& m : head->modules(false))
    if (auto* lin = m->as<torch::nn::LinearImpl>()) {
      const double bound = 1.0 / std::sqrt(double(lin->weight.size(1)));
      lin->weight.copy_(torch::empty(lin->weight.sizes(), torch::kFloat32).uniform_(-bound, bound, gen));
      lin->bias.copy_(torch::empty(lin->bias.sizes(), torch::kFloat32).uniform_(-bound, bound, gen));
    }
  return head;
}

struct Param {
  std::string name;  // "model.<name>" or "head.<name>"
  torch::Tensor value, m, v;
};

std::string data_fingerprint(const std::vector<Example>& ex) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& e : ex) h = fnv1a64(fmt::format("{}\t{}\t{}\t{}\n", e.id, e.audio.filename().string(), e.start, e.end), h);
  return hex64(h);
}

// Rows of the loss log: kept across a resume up to the resumed step, so the log reads as one run.
std::vector<std::string> read_log_rows(const fs::path& p, std::int64_t up_to) {
  std::vector<std::string> rows;
  std::ifstream in(p);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    const auto comma = line.find(',');
    if (comma == std::string::npos || line.back() == ',') continue;  // a torn last line
    try {
      if (std::stoll(line.substr(0, comma)) <= up_to && std::count(line.begin(), line.end(), ',') == 6)
        rows.push_back(line);
    } catch (const std::exception&) {
    }
  }
  return rows;
}

constexpr const char* kLogHeader = "step,epoch,loss,lr,pairs_per_second,elapsed_seconds,tracks";

}  // namespace

PretrainOutcome pretrain(const PretrainConfig& c, const PretrainOptions& opt) {
  PretrainOutcome outcome;
  outcome.state = c.output / "state.safetensors";
  outcome.model = c.output / "model.safetensors";
  outcome.log = c.output / "log.csv";
  outcome.record = c.output / "pretrain.json";
  std::error_code ec;
  if (fs::exists(c.output, ec) && !fs::is_directory(c.output, ec))
    throw Error(fmt::format("pretrain.output: {} exists and is not a folder", c.output.string()));
  const bool have_state = fs::exists(outcome.state, ec);
  if (have_state && !opt.resume)
    throw Error(fmt::format("{}: the output already holds a pre-training run; pass --resume to continue it, or "
                            "choose another output",
                            outcome.state.string()),
                ExitCode::kUsage);
  if (opt.resume && !have_state)
    log_line(opt.verbosity, fmt::format("pretrain: no state in {} yet; starting from step 0", c.output.string()));
  // A run killed while it wrote a checkpoint, the log or the record left "<file>.tmp-<pid>"; the
  // files it renamed into place are whole and are what --resume reads.
  if (const int n = remove_stale_outputs(c.output); n > 0)
    log_line(opt.verbosity, fmt::format("pretrain: removed {} temporary file{} left by a killed run", n, n == 1 ? "" : "s"));

  // Data.
  nlohmann::json data_summary = nlohmann::json::object();
  const auto examples_all = select_examples(c, &data_summary);
  if (examples_all.empty()) throw Error("pretrain.datasets: no tracks selected");
  MelOptions mo;
  mo.sample_rate = kSampleRate;
  mo.hop = kHop;
  if (!parse_mel_log(c.log, &mo.log)) throw Error("pretrain.model.log: unknown", ExitCode::kInternal);
  const MelSpectrogram mel(mo);
  EmbeddingCache cache(c.cache);
  if (c.threads > 0) probes::set_compute_threads(c.threads);
  auto mels_all = load_mels(c, examples_all, mel, cache, opt.verbosity);

  Patch patch;
  parse_patch(c.patch, &patch);
  McptOptions mopt;
  mopt.patch(patch).dim(c.dim).depth(c.depth).heads(c.heads).dim_head(c.dim_head).mlp_dim(c.mlp_dim).n_mels(128);
  mopt.frames(mcpt_frames_for_crop(c.crop_samples, kHop, patch));
  try {
    mopt.validate();
  } catch (const Error& e) {
    throw Error(fmt::format("pretrain.model: {}", e.what()));
  }
  const std::int64_t crop = mopt.frames(), n_mels = mo.n_mels;

  std::vector<Example> examples;
  std::vector<TrackMels> mels;
  for (size_t i = 0; i < examples_all.size(); ++i) {
    if (mels_all[i].frames >= crop) {
      examples.push_back(examples_all[i]);
      mels.push_back(std::move(mels_all[i]));
    } else {
      ++outcome.skipped;
    }
  }
  mels_all.clear();
  const auto n = std::int64_t(examples.size());
  outcome.tracks = int(n);
  if (outcome.skipped > 0)
    log_line(opt.verbosity, fmt::format("pretrain: {} tracks shorter than one crop ({} samples) left out", outcome.skipped,
                                        c.crop_samples));
  if (n < c.batch_size)
    throw Error(fmt::format("pretrain.batch_size: {} pairs per step, but only {} tracks are long enough for a {}-sample "
                            "crop (every pair in a batch must come from a different track)",
                            c.batch_size, n, c.crop_samples));
  const std::string data_fp = data_fingerprint(examples);

  // Model, head, optimiser state, loss state.
  const auto device = probes::resolve_device(c.device, "pretrain.device");
  if (c.dtype == "bfloat16" && !device.is_cuda())
    throw Error("pretrain.dtype: \"bfloat16\" autocast needs a CUDA device (LibTorch's CPU LayerNorm does not take "
                "bfloat16 activations); use \"float32\" on the CPU");
  McptViT model(mopt);
  model->reset_parameters(c.seed);
  auto head = make_head(mopt.out_dim(), c.projection, augment::derive_seed(c.seed, kStreamHead));
  std::vector<Param> params;
  for (const auto& p : model->named_parameters()) params.push_back({"model." + p.key(), p.value(), {}, {}});
  for (const auto& p : head->named_parameters()) params.push_back({"head." + p.key(), p.value(), {}, {}});
  for (auto& p : params) {
    p.m = torch::zeros_like(p.value);
    p.v = torch::zeros_like(p.value);
  }
  SogClrLoss sogclr(n, c.temperature, c.gamma);
  std::int64_t step = 0;
  double elapsed_before = 0.0;

  if (opt.resume && have_state) {
    const auto tf = read_tensor_file(outcome.state);
    auto meta = [&](const char* k) -> std::string {
      auto it = tf.metadata.find(k);
      if (it == tf.metadata.end())
        throw Error(fmt::format("{}: metadata \"{}\" is missing: not a pre-training state file", outcome.state.string(), k));
      return it->second;
    };
    if (meta("format") != kStateFormat)
      throw Error(fmt::format("{}: format \"{}\" is not \"{}\"", outcome.state.string(), meta("format"), kStateFormat));
    if (meta("config_hash") != c.hash)
      throw Error(fmt::format("{}: written by a run with another configuration (hash {}, this config {}); only "
                              "\"steps\", cadence, paths, threads and device may change on --resume",
                              outcome.state.string(), meta("config_hash"), c.hash));
    if (meta("data_fingerprint") != data_fp)
      throw Error(fmt::format("{}: trained on other tracks (data fingerprint {}, now {}); the datasets changed",
                              outcome.state.string(), meta("data_fingerprint"), data_fp));
    try {
      step = std::stoll(meta("step"));
      elapsed_before = std::stod(meta("elapsed_seconds"));
    } catch (const std::exception&) {
      throw Error(fmt::format("{}: metadata step/elapsed_seconds are not numbers", outcome.state.string()));
    }
    torch::NoGradGuard no_grad;
    auto take = [&](const std::string& name, const torch::Tensor& into) {
      auto it = tf.tensors.find(name);
      if (it == tf.tensors.end()) throw Error(fmt::format("{}: tensor '{}' is missing", outcome.state.string(), name));
      if (it->second.sizes() != into.sizes())
        throw Error(fmt::format("{}: tensor '{}' has shape {}, expected {}", outcome.state.string(), name,
                                fmt::join(it->second.sizes(), "x"), fmt::join(into.sizes(), "x")));
      into.copy_(it->second);
    };
    for (auto& p : params) {
      take(p.name, p.value);
      take("adam.m." + p.name, p.m);
      take("adam.v." + p.name, p.v);
    }
    // u is float64; the file format holds float32, so its bytes travel as twice as many float32s.
    auto bits = torch::zeros({2 * n}, torch::kFloat32);
    take("sogclr.u_bits", bits);
    sogclr.u() = bits.view(torch::kFloat64).clone();
  }
  model->to(device);
  head->to(device);
  for (auto& p : params) {
    p.m = p.m.to(device);
    p.v = p.v.to(device);
  }
  // The module's parameters moved with it: refresh the handles.
  {
    size_t i = 0;
    for (const auto& p : model->named_parameters()) params[i++].value = p.value();
    for (const auto& p : head->named_parameters()) params[i++].value = p.value();
  }
  model->train();

  fs::create_directories(c.output, ec);
  if (ec) throw Error(fmt::format("pretrain.output: cannot create {}: {}", c.output.string(), ec.message()));
  std::vector<std::string> log_rows = read_log_rows(outcome.log, step);

  const std::int64_t spe = n / c.batch_size;  // steps per epoch (the last partial batch is dropped)
  const std::int64_t stop = opt.until >= 0 ? std::min(opt.until, c.steps) : c.steps;
  std::vector<std::int64_t> order;
  std::int64_t order_epoch = -1;
  const auto run_start = std::chrono::steady_clock::now();
  double window_loss = 0.0;
  std::int64_t window_n = 0;

  auto write_state = [&](double elapsed) {
    std::vector<std::pair<std::string, torch::Tensor>> t;
    for (const auto& p : params) {
      t.emplace_back(p.name, p.value);
      t.emplace_back("adam.m." + p.name, p.m);
      t.emplace_back("adam.v." + p.name, p.v);
    }
    t.emplace_back("sogclr.u_bits", sogclr.u().contiguous().view(torch::kFloat32));  // the float64 bytes, exactly
    write_tensor_file(outcome.state, t,
                      {{"format", kStateFormat},
                       {"format_version", kStateVersion},
                       {"config_hash", c.hash},
                       {"data_fingerprint", data_fp},
                       {"step", std::to_string(step)},
                       {"elapsed_seconds", fmt::format("{:.3f}", elapsed)},
                       {"config", c.raw.dump()}});
  };
  auto write_outputs = [&](double elapsed) {
    // The model first, then the state: a kill in between leaves a state that is not ahead of the model.
    save_checkpoint(model, outcome.model,
                    {{"log", c.log},
                     {"crop_samples", c.crop_samples},
                     {"sample_rate", kSampleRate},
                     {"n_fft", mo.n_fft},
                     {"hop", mo.hop},
                     {"n_mels", mo.n_mels},
                     {"f_min", mo.f_min},
                     {"f_max", mo.f_max},
                     {"pretrained", {{"name", c.name}, {"config_hash", c.hash}, {"step", step}, {"loss", c.loss},
                                     {"mask_ratio", c.mask_ratio}, {"tracks", n}}}});
    std::string log_text = std::string(kLogHeader) + "\n";
    for (const auto& r : log_rows) log_text += r + "\n";
    reports::write_file_atomic(outcome.log, log_text);
    write_state(elapsed);
    nlohmann::json record = {
        {"schema_version", 1},
        {"kind", "mcpt-pretrain"},
        {"name", c.name},
        {"config", c.raw},
        {"config_file", c.file.string()},
        {"config_hash", c.hash},
        {"data", {{"tracks", n}, {"skipped_short", outcome.skipped}, {"fingerprint", data_fp}, {"datasets", data_summary}}},
        {"model",
         {{"file", outcome.model.filename().string()},
          {"fnv1a64", file_fnv1a64(outcome.model, "the pre-trained model")},
          {"parameters", model->parameter_count()},
          {"architecture", mopt.to_json()}}},
        {"step", step},
        {"steps", c.steps},
        {"last_loss", window_n > 0 ? window_loss / double(window_n) : outcome.last_loss},
        {"elapsed_seconds", elapsed},
        {"provenance", library_versions()}};
    reports::write_json_atomic(outcome.record, record);
  };

  Progress progress("pretraining", stop - step, opt.verbosity, "steps");
  const std::int64_t first_step = step;
  std::vector<float> xbuf(size_t(2 * c.batch_size * n_mels * crop));
  while (step < stop) {
    const std::int64_t epoch = step / spe, pos = step % spe;
    if (epoch != order_epoch) {  // this epoch's order of the tracks: Fisher-Yates from (seed, epoch)
      order.resize(size_t(n));
      for (std::int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
      std::mt19937_64 rng(augment::derive_seed(c.seed, kStreamEpoch + std::uint64_t(epoch)));
      for (std::int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng() % std::uint64_t(i + 1))]);
      order_epoch = epoch;
    }
    // Two crops of each track in the batch, each from the clean track or one of its deformed versions.
    std::mt19937_64 rng(augment::derive_seed(c.seed, kStreamStep + std::uint64_t(step)));
    std::vector<std::int64_t> idx(size_t(c.batch_size));
    for (std::int64_t b = 0; b < c.batch_size; ++b) {
      const auto t = order[size_t(pos * c.batch_size + b)];
      idx[size_t(b)] = t;
      const auto& tm = mels[size_t(t)];
      const auto all = std::int64_t(tm.versions[0].size()) / n_mels;  // row stride of version 0
      for (int view = 0; view < 2; ++view) {
        const auto ver = size_t(rng() % std::uint64_t(tm.versions.size()));
        const auto t0 = std::int64_t(rng() % std::uint64_t(tm.frames - crop + 1));
        const auto& src = tm.versions[ver];
        const auto stride = ver == 0 ? all : std::int64_t(src.size()) / n_mels;
        float* dst = xbuf.data() + size_t(((view * c.batch_size + b) * n_mels) * crop);
        for (std::int64_t m = 0; m < n_mels; ++m)
          std::copy_n(src.data() + m * stride + t0, crop, dst + m * crop);
      }
    }
    auto x = torch::from_blob(xbuf.data(), {2, c.batch_size, n_mels, crop}, torch::kFloat32).clone().to(device);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(augment::derive_seed(c.seed, kStreamMask + std::uint64_t(step)));

    const double lr = c.warmup_steps > 0 && step < c.warmup_steps ? c.lr * double(step + 1) / double(c.warmup_steps) : c.lr;
    for (auto& p : params)
      if (p.value.grad().defined()) p.value.grad().zero_();
    torch::Tensor z1, z2;
    {
      AutocastGuard autocast(c.dtype == "bfloat16", device);
      z1 = model->forward(x[0], c.mask_ratio, gen);
      z2 = model->forward(x[1], c.mask_ratio, gen);
      if (!c.projection.empty()) {
        z1 = head->forward(z1);
        z2 = head->forward(z2);
      }
    }
    z1 = z1.to(torch::kFloat32);
    z2 = z2.to(torch::kFloat32);
    double loss_value;
    if (c.loss == "nt-xent") {
      auto loss = nt_xent_loss(z1, z2, c.temperature);
      loss.backward();
      loss_value = loss.item<double>();
    } else {
      auto r = sogclr.forward(z1, z2, torch::tensor(idx, torch::kLong));
      r.surrogate.backward();
      loss_value = r.loss;
    }
    if (!std::isfinite(loss_value))
      throw Error(fmt::format("pretrain: the loss is {} at step {} (lr {} too high, or bfloat16 overflow?); the last "
                              "checkpoint in {} is intact",
                              loss_value, step, lr, c.output.string()),
                  ExitCode::kIncomplete);
    {  // Adam (torch.optim.Adam's arithmetic; "adamw" decays the weights directly instead of via the gradient)
      torch::NoGradGuard no_grad;
      const double t = double(step + 1);
      const double bc1 = 1.0 - std::pow(c.beta1, t), bc2 = 1.0 - std::pow(c.beta2, t);
      for (auto& p : params) {
        auto g = p.value.grad();
        if (!g.defined()) continue;
        if (c.optimizer == "adam" && c.weight_decay > 0) g = g.add(p.value, c.weight_decay);
        if (c.optimizer == "adamw" && c.weight_decay > 0) p.value.mul_(1.0 - lr * c.weight_decay);
        p.m.mul_(c.beta1).add_(g, 1.0 - c.beta1);
        p.v.mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);
        const auto denom = (p.v.sqrt() / std::sqrt(bc2)).add_(c.eps);
        p.value.addcdiv_(p.m, denom, -lr / bc1);
      }
    }
    ++step;
    window_loss += loss_value;
    ++window_n;
    progress.advance();
    const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    if (step % c.log_every == 0 || step == stop) {
      outcome.last_loss = window_loss / double(window_n);
      const double pps = double((step - first_step) * c.batch_size) / std::max(run_seconds, 1e-9);
      log_rows.push_back(fmt::format("{},{},{:.6f},{:.6g},{:.2f},{:.2f},{}", step, epoch, outcome.last_loss, lr, pps,
                                     elapsed_before + run_seconds, n));
      log_detail(opt.verbosity, fmt::format("step {} loss {:.4f} ({:.1f} pairs/s)", step, outcome.last_loss, pps));
      window_loss = 0.0;
      window_n = 0;
    }
    if (step % c.checkpoint_every == 0 || step == stop) write_outputs(elapsed_before + run_seconds);
  }
  progress.finish();
  if (step == first_step && !fs::exists(outcome.model, ec)) write_outputs(elapsed_before);  // nothing to do: still leave a model
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  outcome.step = step;
  outcome.steps_this_run = step - first_step;
  outcome.examples_per_second = double(outcome.steps_this_run * c.batch_size) / std::max(run_seconds, 1e-9);
  return outcome;
}

}  // namespace mcpt::harness
