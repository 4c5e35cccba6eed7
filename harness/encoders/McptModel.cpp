#include "harness/encoders/McptModel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "datasets/Error.h"

namespace mcpt::harness {
namespace {

constexpr const char* kFormat = "mcpt-vit";
constexpr const char* kFormatVersion = "1";

std::string shape_str(torch::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Myna's posemb_sincos_2d: [sin(x w), cos(x w), sin(y w), cos(y w)] with w_k = 10000^(-k/(dim/4 - 1)),
// x the column (time) and y the row (mel) of the token; computed with the same float32 ops.
torch::Tensor posemb_sincos_2d(std::int64_t h, std::int64_t w, std::int64_t dim) {
  const auto q = dim / 4;
  auto y = torch::arange(h, torch::kInt64).view({h, 1}).expand({h, w}).reshape({-1, 1});
  auto x = torch::arange(w, torch::kInt64).view({1, w}).expand({h, w}).reshape({-1, 1});
  auto omega = torch::arange(q, torch::kInt64).to(torch::kFloat32) / float(q - 1);
  omega = 1.0 / torch::pow(10000.0, omega);
  auto ys = y.to(torch::kFloat32) * omega.view({1, q});
  auto xs = x.to(torch::kFloat32) * omega.view({1, q});
  return torch::cat({xs.sin(), xs.cos(), ys.sin(), ys.cos()}, 1);
}

std::pair<std::int64_t, std::int64_t> patch_shape(Patch kind, std::int64_t n_mels) {
  return kind == Patch::kBase ? std::make_pair<std::int64_t, std::int64_t>(16, 16) : std::make_pair(n_mels, std::int64_t(2));
}

}  // namespace

std::string patch_name(Patch p) {
  switch (p) {
    case Patch::kBase: return "base";
    case Patch::kVertical: return "vertical";
    case Patch::kHybrid: return "hybrid";
  }
  return "?";
}

bool parse_patch(const std::string& name, Patch* out) {
  for (Patch p : {Patch::kBase, Patch::kVertical, Patch::kHybrid})
    if (patch_name(p) == name) {
      *out = p;
      return true;
    }
  return false;
}

std::int64_t mcpt_frames_for_crop(std::int64_t crop_samples, std::int64_t hop, Patch patch) {
  const std::int64_t frames = 1 + crop_samples / hop;
  const std::int64_t width = patch == Patch::kVertical ? 2 : 16;
  return frames / width * width;
}

void McptOptions::validate() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw Error(fmt::format("mcpt model: {} {}", field, why));
  };
  if (dim_ < 8 || dim_ % 4 != 0) bad("dim", fmt::format("{} must be a multiple of 4 and at least 8", dim_));
  if (depth_ < 1) bad("depth", fmt::format("{} must be at least 1", depth_));
  if (heads_ < 1) bad("heads", fmt::format("{} must be at least 1", heads_));
  if (dim_head_ < 1) bad("dim_head", fmt::format("{} must be at least 1", dim_head_));
  if (mlp_dim_ < 1) bad("mlp_dim", fmt::format("{} must be at least 1", mlp_dim_));
  if (n_mels_ < 16 || n_mels_ % 16 != 0) bad("n_mels", fmt::format("{} must be a positive multiple of 16", n_mels_));
  if (patch_ == Patch::kHybrid && n_mels_ != 128)
    bad("n_mels", fmt::format("{}: hybrid patches need 128 mel bands (equal base and vertical token counts)", n_mels_));
  const std::int64_t width = patch_ == Patch::kVertical ? 2 : 16;
  if (frames_ < width || frames_ % width != 0)
    bad("frames", fmt::format("{} must be a positive multiple of the patch width {} ({} patches)", frames_, width,
                              patch_name(patch_)));
}

std::int64_t McptOptions::tokens() const {
  return patch_ == Patch::kVertical ? frames_ / 2 : (n_mels_ / 16) * (frames_ / 16);
}

nlohmann::json McptOptions::to_json() const {
  return {{"patch", patch_name(patch_)}, {"dim", dim_},         {"depth", depth_},   {"heads", heads_},
          {"dim_head", dim_head_},       {"mlp_dim", mlp_dim_}, {"n_mels", n_mels_}, {"frames", frames_}};
}

// --- modules

PatchEmbedImpl::PatchEmbedImpl(std::int64_t n_mels, std::int64_t frames, std::int64_t ph, std::int64_t pw,
                               std::int64_t dim)
    : patch_h(ph), patch_w(pw), grid_h(n_mels / ph), grid_w(frames / pw) {
  const auto patch_dim = ph * pw;
  norm_in = register_module("norm_in", torch::nn::LayerNorm(torch::nn::LayerNormOptions({patch_dim})));
  proj = register_module("proj", torch::nn::Linear(patch_dim, dim));
  norm_out = register_module("norm_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  pos = register_buffer("pos", posemb_sincos_2d(grid_h, grid_w, dim));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& mel) {
  const auto b = mel.size(0);
  if (mel.dim() != 3 || mel.size(1) != grid_h * patch_h || mel.size(2) != grid_w * patch_w)
    throw Error(fmt::format("mcpt model: input {} does not match the model's [B, {}, {}]", shape_str(mel.sizes()),
                            grid_h * patch_h, grid_w * patch_w));
  auto x = mel.reshape({b, grid_h, patch_h, grid_w, patch_w}).permute({0, 1, 3, 2, 4}).reshape(
      {b, grid_h * grid_w, patch_h * patch_w});
  x = norm_out(proj(norm_in(x)));
  return x + pos.to(x.dtype());
}

AttentionImpl::AttentionImpl(std::int64_t dim, std::int64_t h, std::int64_t dh) : heads(h), dim_head(dh) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  to_qkv = register_module("to_qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * h * dh).bias(false)));
  to_out = register_module("to_out", torch::nn::Linear(torch::nn::LinearOptions(h * dh, dim).bias(false)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const auto b = x.size(0), n = x.size(1);
  // [q | k | v], each heads x dim_head, as Myna's chunk + rearrange lays them out.
  auto qkv = to_qkv(norm(x)).view({b, n, 3, heads, dim_head}).permute({2, 0, 3, 1, 4});
  auto q = qkv[0], k = qkv[1], v = qkv[2];
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(double(dim_head))), -1);
  auto out = torch::matmul(attn, v).transpose(1, 2).reshape({b, n, heads * dim_head});
  return to_out(out);
}

FeedForwardImpl::FeedForwardImpl(std::int64_t dim, std::int64_t hidden) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(norm(x)))); }

BlockImpl::BlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t dim_head, std::int64_t mlp_dim) {
  attn = register_module("attn", Attention(dim, heads, dim_head));
  ff = register_module("ff", FeedForward(dim, mlp_dim));
}

torch::Tensor BlockImpl::forward(torch::Tensor x) {
  x = attn(x) + x;
  return ff(x) + x;
}

torch::Tensor drop_tokens(const torch::Tensor& tokens, double mask_ratio, c10::optional<at::Generator> gen) {
  if (!(mask_ratio >= 0.0 && mask_ratio < 1.0))
    throw Error(fmt::format("mcpt model: mask ratio {} outside [0, 1)", mask_ratio));
  const auto b = tokens.size(0), n = tokens.size(1), d = tokens.size(2);
  const auto masked = static_cast<std::int64_t>(std::floor(mask_ratio * double(n)));
  const auto keep = n - masked;
  if (keep < 1) throw Error(fmt::format("mcpt model: mask ratio {} leaves no token of {}", mask_ratio, n));
  if (masked == 0) return tokens;
  auto idx = torch::rand({b, n}, gen, torch::TensorOptions().dtype(torch::kFloat64)).argsort(/*dim=*/1, /*descending=*/false).narrow(1, 0, keep);
  idx = idx.to(tokens.device());
  return tokens.gather(1, idx.unsqueeze(-1).expand({b, keep, d}));
}

McptViTImpl::McptViTImpl(McptOptions o) : options_(std::move(o)) {
  options_.validate();
  const auto& p = options_;
  if (p.patch() != Patch::kVertical) {
    auto [ph, pw] = patch_shape(Patch::kBase, p.n_mels());
    embed_base = register_module("embed_base", PatchEmbed(p.n_mels(), p.frames(), ph, pw, p.dim()));
  }
  if (p.patch() != Patch::kBase) {
    auto [ph, pw] = patch_shape(Patch::kVertical, p.n_mels());
    embed_vertical = register_module("embed_vertical", PatchEmbed(p.n_mels(), p.frames(), ph, pw, p.dim()));
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < p.depth(); ++i) blocks->push_back(Block(p.dim(), p.heads(), p.dim_head(), p.mlp_dim()));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({p.dim()})));
}

std::vector<Patch> McptViTImpl::kinds() const {
  if (options_.patch() == Patch::kHybrid) return {Patch::kBase, Patch::kVertical};
  return {options_.patch()};
}

torch::Tensor McptViTImpl::embed(const torch::Tensor& mel, Patch kind) {
  if (kind == Patch::kBase && embed_base) return embed_base(mel);
  if (kind == Patch::kVertical && embed_vertical) return embed_vertical(mel);
  throw Error(fmt::format("mcpt model: no {} patch embedding in a {} model", patch_name(kind),
                          patch_name(options_.patch())));
}

torch::Tensor McptViTImpl::encode(torch::Tensor x, std::vector<torch::Tensor>* layers) {
  if (layers) layers->push_back(x);
  const auto depth = static_cast<std::int64_t>(blocks->size());
  for (std::int64_t i = 0; i < depth; ++i) {
    x = blocks[static_cast<size_t>(i)]->as<BlockImpl>()->forward(x);
    if (layers && i + 1 < depth) layers->push_back(x);
  }
  x = norm(x);
  if (layers) layers->push_back(x);
  return x;
}

torch::Tensor McptViTImpl::forward(const torch::Tensor& mel, double mask_ratio, c10::optional<at::Generator> gen) {
  std::vector<torch::Tensor> pooled;
  for (Patch k : kinds()) {
    auto t = embed(mel, k);
    if (mask_ratio > 0.0) t = drop_tokens(t, mask_ratio, gen);
    pooled.push_back(encode(t).mean(1));
  }
  return pooled.size() == 1 ? pooled[0] : torch::cat(pooled, -1);
}

torch::Tensor McptViTImpl::forward_layers(const torch::Tensor& mel) {
  std::vector<torch::Tensor> per_kind;
  for (Patch k : kinds()) {
    std::vector<torch::Tensor> layers;
    encode(embed(mel, k), &layers);
    per_kind.push_back(torch::stack(layers, 1));
  }
  return per_kind.size() == 1 ? per_kind[0] : torch::cat(per_kind, -1);
}

std::vector<Embedding> infer_layers(McptViT& model, const std::vector<const std::vector<float>*>& mels,
                                    const torch::Device& device, bool bf16) {
  const auto& o = model->options();
  const auto b = std::int64_t(mels.size()), h = o.n_mels(), w = o.frames();
  auto x = torch::empty({b, h, w}, torch::kFloat32);
  for (std::int64_t i = 0; i < b; ++i) {
    if (std::int64_t(mels[size_t(i)]->size()) != h * w)
      throw Error(fmt::format("mcpt model: mel of {} values, the model takes {} x {}", mels[size_t(i)]->size(), h, w));
    std::copy_n(mels[size_t(i)]->data(), h * w, x[i].data_ptr<float>());
  }
  torch::NoGradGuard no_grad;
  x = x.to(device);
  if (bf16) x = x.to(torch::kBFloat16);
  auto y = model->forward_layers(x).to(torch::kCPU, torch::kFloat32).contiguous();  // [B, L, N, D]
  std::vector<Embedding> out(static_cast<size_t>(b));
  const auto per = y.numel() / std::max<std::int64_t>(b, 1);
  for (std::int64_t i = 0; i < b; ++i) {
    auto& e = out[size_t(i)];
    e.layers = int(y.size(1));
    e.frames = int(y.size(2));
    e.dim = int(y.size(3));
    e.data.assign(y.data_ptr<float>() + i * per, y.data_ptr<float>() + (i + 1) * per);
  }
  return out;
}

void McptViTImpl::reset_parameters(std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::NoGradGuard no_grad;
  // Drawn on the CPU in registration order, then copied, so the device does not change the weights.
  auto draw = [&](const torch::Tensor& p, double bound) {
    p.copy_(torch::empty(p.sizes(), torch::kFloat32).uniform_(-bound, bound, gen));
  };
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::LinearImpl>()) {
      const double bound = 1.0 / std::sqrt(double(lin->weight.size(1)));
      draw(lin->weight, bound);
      if (lin->bias.defined()) draw(lin->bias, bound);
    } else if (auto* ln = m->as<torch::nn::LayerNormImpl>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}

std::int64_t McptViTImpl::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

// --- tensor files

TensorFile read_tensor_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the checkpoint", file));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) throw Error(fmt::format("{}: {} bytes, too short to be a checkpoint", file, bytes.size()));
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[size_t(i)]);
  if (header_len > bytes.size() - 8)
    throw Error(fmt::format("{}: header length {} runs past the end of the file ({} bytes): truncated or not a "
                            "safetensors checkpoint",
                            file, header_len, bytes.size()));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + long(header_len));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: the header is not valid JSON ({})", file, e.what()));
  }
  if (!header.is_object()) throw Error(fmt::format("{}: the header is not a JSON object", file));
  const char* data = bytes.data() + 8 + header_len;
  const std::uint64_t data_len = bytes.size() - 8 - header_len;
  TensorFile out;
  for (const auto& item : header.items()) {
    // A plain reference, not a structured binding: clang 14 cannot capture those in the lambda below.
    const std::string& name = item.key();
    const auto& e = item.value();
    if (name == "__metadata__") {
      if (!e.is_object()) throw Error(fmt::format("{}: __metadata__ is not an object", file));
      for (const auto& [k, v] : e.items()) {
        if (!v.is_string()) throw Error(fmt::format("{}: __metadata__.{} is not a string", file, k));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return Error(fmt::format("{}: tensor '{}': {}", file, name, why)); };
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw bad("expected an object with dtype, shape and data_offsets");
    if (!e["dtype"].is_string() || e["dtype"].get<std::string>() != "F32")
      throw bad(fmt::format("dtype {} is not supported (expected \"F32\")", e["dtype"].dump()));
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 1;
    if (!e["shape"].is_array()) throw bad("shape is not an array");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) throw bad(fmt::format("shape {} is not a list of sizes", e["shape"].dump()));
      shape.push_back(d.get<std::int64_t>());
      numel *= d.get<std::uint64_t>();
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("data_offsets is not a pair of byte offsets");
    const auto begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
    if (end < begin || end - begin != numel * 4)
      throw bad(fmt::format("data_offsets [{}, {}] do not hold {} float32 values", begin, end, numel));
    if (end > data_len)
      throw bad(fmt::format("data [{}, {}) runs past the end of the data ({} bytes): the file is truncated", begin, end,
                            data_len));
    auto t = torch::empty(shape, torch::kFloat32);
    std::memcpy(t.data_ptr<float>(), data + begin, numel * 4);  // little-endian hosts only (x86-64, arm64)
    out.tensors.emplace(name, std::move(t));
  }
  return out;
}

void write_tensor_file(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const std::uint64_t n = std::uint64_t(c.numel()) * 4;
    header[name] = {{"dtype", "F32"}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as safetensors writers do
  const auto dir = path.parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  const auto tmp = std::filesystem::path(path.string() + ".tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot write the checkpoint", tmp.string()));
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((std::uint64_t(h.size()) >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), std::streamsize(h.size()));
    for (const auto& c : data) out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), std::streamsize(c.numel() * 4));
    out.flush();
    if (!out) throw Error(fmt::format("{}: write failed (disk full?)", tmp.string()));
  }
  std::filesystem::rename(tmp, path);
}

nlohmann::json read_checkpoint_config(const std::filesystem::path& path) {
  // Reads only the header, so asking for the configuration of a large checkpoint is cheap.
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open the checkpoint", file));
  unsigned char len[8];
  if (!in.read(reinterpret_cast<char*>(len), 8)) throw Error(fmt::format("{}: too short to be a checkpoint", file));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  const auto size = std::filesystem::file_size(path);
  if (n > size - 8)
    throw Error(fmt::format("{}: header length {} runs past the end of the file ({} bytes): truncated or not a "
                            "safetensors checkpoint",
                            file, n, size));
  std::string h(n, '\0');
  in.read(h.data(), std::streamsize(n));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: the header is not valid JSON ({})", file, e.what()));
  }
  if (!header.is_object() || !header.contains("__metadata__") || !header["__metadata__"].is_object() ||
      !header["__metadata__"].contains("config"))
    return nullptr;
  const auto& meta = header["__metadata__"];
  if (meta.contains("format") && meta["format"] != kFormat)
    throw Error(fmt::format("{}: format {} is not \"{}\"", file, meta["format"].dump(), kFormat));
  if (!meta["config"].is_string()) throw Error(fmt::format("{}: __metadata__.config is not a string", file));
  try {
    auto c = nlohmann::json::parse(meta["config"].get<std::string>());
    if (!c.is_object()) throw Error(fmt::format("{}: __metadata__.config is not a JSON object", file));
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: __metadata__.config is not valid JSON ({})", file, e.what()));
  }
}

void save_checkpoint(McptViT& model, const std::filesystem::path& path, const nlohmann::json& extra) {
  nlohmann::json config = model->options().to_json();
  for (const auto& [k, v] : extra.items()) config[k] = v;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value());
  write_tensor_file(path, tensors, {{"format", kFormat}, {"format_version", kFormatVersion}, {"config", config.dump()}});
}

nlohmann::json load_checkpoint(McptViT& model, const std::filesystem::path& path) {
  const std::string file = path.string();
  auto tf = read_tensor_file(path);
  if (auto it = tf.metadata.find("format"); it != tf.metadata.end() && it->second != kFormat)
    throw Error(fmt::format("{}: format \"{}\" is not \"{}\"", file, it->second, kFormat));
  const std::string arch = model->options().to_json().dump();
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters();
  for (const auto& p : params) {
    auto it = tf.tensors.find(p.key());
    if (it == tf.tensors.end())
      throw Error(fmt::format("{}: tensor '{}' is missing (the model is {}); a checkpoint of another architecture?",
                              file, p.key(), arch));
    if (it->second.sizes() != p.value().sizes())
      throw Error(fmt::format("{}: tensor '{}' has shape {}, the model needs {} (the model is {})", file, p.key(),
                              shape_str(it->second.sizes()), shape_str(p.value().sizes()), arch));
    p.value().copy_(it->second);
  }
  for (const auto& [name, t] : tf.tensors)
    if (!params.contains(name))
      throw Error(fmt::format("{}: unexpected tensor '{}' (the model is {}); a checkpoint of another architecture?",
                              file, name, arch));
  auto it = tf.metadata.find("config");
  if (it == tf.metadata.end()) return nullptr;
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: __metadata__.config is not valid JSON ({})", file, e.what()));
  }
}

}  // namespace mcpt::harness
