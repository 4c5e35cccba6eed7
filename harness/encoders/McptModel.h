// The masked contrastive ViT (Myna's SimpleViT over mel patches) in LibTorch, its token masking
// for pre-training, and its checkpoint format (safetensors layout, documented in docs/mcpt.md).
// Includes <torch/torch.h>: include it only from .cpp files that use torch.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "harness/encoders/Encoder.h"

namespace mcpt::harness {

// base: 16 x 16 patches; vertical: n_mels x 2 (the whole pitch axis, 2 frames wide); hybrid: both
// token sets through one shared transformer, each on its own, outputs concatenated (Myna's hybrid).
enum class Patch { kBase, kVertical, kHybrid };
std::string patch_name(Patch p);                     // "base", "vertical", "hybrid"
bool parse_patch(const std::string& name, Patch* out);  // false for an unknown name

// Mel frames Myna feeds for a crop: centred frames (1 + crop / hop), cut down to a multiple of the
// primary patch width (16 for base and hybrid, 2 for vertical): 50,000 samples -> 96 or 98.
std::int64_t mcpt_frames_for_crop(std::int64_t crop_samples, std::int64_t hop, Patch patch);

struct McptOptions {
  McptOptions() = default;
  // Throws mcpt::Error naming the offending field when the shapes cannot work.
  void validate() const;
  std::int64_t out_dim() const { return patch_ == Patch::kHybrid ? 2 * dim_ : dim_; }
  std::int64_t tokens() const;  // tokens per patch kind
  std::int64_t layers() const { return depth_ + 1; }
  nlohmann::json to_json() const;  // {"patch", "dim", "depth", "heads", "dim_head", "mlp_dim", "n_mels", "frames"}

  TORCH_ARG(Patch, patch) = Patch::kVertical;
  TORCH_ARG(std::int64_t, dim) = 384;  // a multiple of 4 (2-D sin-cos positions), at least 8
  TORCH_ARG(std::int64_t, depth) = 12;
  TORCH_ARG(std::int64_t, heads) = 6;
  TORCH_ARG(std::int64_t, dim_head) = 64;
  TORCH_ARG(std::int64_t, mlp_dim) = 1536;
  TORCH_ARG(std::int64_t, n_mels) = 128;  // image height; hybrid needs 128 (equal token counts)
  TORCH_ARG(std::int64_t, frames) = 98;   // image width; a multiple of every patch width used
};

// Patch rearrange (token order: mel-patch row major, then time; values p1-major within a patch),
// LayerNorm(patch_dim) -> Linear(patch_dim, dim) -> LayerNorm(dim), plus fixed 2-D sin-cos positions.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(std::int64_t n_mels, std::int64_t frames, std::int64_t patch_h, std::int64_t patch_w,
                 std::int64_t dim);
  torch::Tensor forward(const torch::Tensor& mel);  // [B, n_mels, frames] -> [B, tokens, dim]
  std::int64_t patch_h, patch_w, grid_h, grid_w;
  torch::nn::LayerNorm norm_in{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::LayerNorm norm_out{nullptr};
  torch::Tensor pos;  // buffer [tokens, dim]; not saved (it is a function of the shape)
};
TORCH_MODULE(PatchEmbed);

// Pre-norm multi-head self-attention with bias-free projections; returns the residual branch.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(std::int64_t dim, std::int64_t heads, std::int64_t dim_head);
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t heads, dim_head;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear to_qkv{nullptr}, to_out{nullptr};
};
TORCH_MODULE(Attention);

// LayerNorm -> Linear -> GELU (erf) -> Linear; returns the residual branch.
class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(std::int64_t dim, std::int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(FeedForward);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t dim_head, std::int64_t mlp_dim);
  torch::Tensor forward(torch::Tensor x);  // x + attn(x), then + ff(x)
  Attention attn{nullptr};
  FeedForward ff{nullptr};
};
TORCH_MODULE(Block);

// Keeps a random N - floor(mask_ratio * N) of the N tokens of each row, drawn independently per
// row from `gen` (CPU generator; indices move to the tokens' device). mask_ratio in [0, 1), and at
// least one token must stay. Order of the kept tokens is random (attention and pooling ignore it).
torch::Tensor drop_tokens(const torch::Tensor& tokens, double mask_ratio, c10::optional<at::Generator> gen = c10::nullopt);

class McptViTImpl : public torch::nn::Module {
 public:
  explicit McptViTImpl(McptOptions options = {});
  const McptOptions& options() const { return options_; }

  // Tokens of one patch kind (kBase or kVertical) with positions added: [B, tokens, dim].
  torch::Tensor embed(const torch::Tensor& mel, Patch kind);
  // The shared transformer. Returns the final-normalised tokens; when `layers` is given it receives
  // depth + 1 tensors: the input tokens, the output of each block, the last one after the final norm.
  torch::Tensor encode(torch::Tensor tokens, std::vector<torch::Tensor>* layers = nullptr);
  // Pooled embedding [B, out_dim]: mean over tokens after the final norm (hybrid: base | vertical).
  // mask_ratio > 0 drops tokens before the transformer, per row and per patch kind (pre-training).
  torch::Tensor forward(const torch::Tensor& mel, double mask_ratio = 0.0,
                        c10::optional<at::Generator> gen = c10::nullopt);
  // Every layer's tokens, unmasked: [B, depth + 1, tokens, out_dim] (hybrid concatenates the
  // base and vertical token of the same index; both kinds have the same count).
  torch::Tensor forward_layers(const torch::Tensor& mel);
  // PyTorch's default initialisation (Linear: U(+-1/sqrt(fan_in)); LayerNorm: 1, 0), drawn from
  // its own generator so the weights depend only on the seed.
  void reset_parameters(std::uint64_t seed);
  std::int64_t parameter_count() const;

  PatchEmbed embed_base{nullptr}, embed_vertical{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};

 private:
  std::vector<Patch> kinds() const;
  McptOptions options_;
};
TORCH_MODULE(McptViT);

// The mcpt encoder's inference step, shared with bench/pipeline_stages.cpp so that the benchmark
// times exactly what the encoder runs: stacks the mels (each n_mels x frames floats, row-major) into
// one batch, runs forward_layers on `device` (in bfloat16 when `bf16`) without gradients, and copies
// each segment's [depth + 1, tokens, out_dim] back as float32. The model must be on `device`.
std::vector<Embedding> infer_layers(McptViT& model, const std::vector<const std::vector<float>*>& mels,
                                    const torch::Device& device, bool bf16);

// --- Checkpoints: the safetensors layout. 8-byte little-endian header length, a JSON header
// {"__metadata__": {"format": "mcpt-vit", "format_version": "1", "config": "<JSON string>"},
//  "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}, then raw
// little-endian float32 data. Tensor names are McptViT's parameter names.

struct TensorFile {
  std::map<std::string, torch::Tensor> tensors;  // float32, CPU
  std::map<std::string, std::string> metadata;   // "__metadata__" (strings only, as safetensors says)
};
// Throws mcpt::Error naming the file (and tensor) for a missing, truncated or malformed file.
TensorFile read_tensor_file(const std::filesystem::path& path);
// Written atomically (temporary file + rename). Tensors are converted to contiguous CPU float32.
void write_tensor_file(const std::filesystem::path& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The configuration stored with a checkpoint: the architecture (McptOptions::to_json) merged with
// `extra` (the encoder adds its front end: log, crop_samples, sample_rate ...). Null when absent.
nlohmann::json read_checkpoint_config(const std::filesystem::path& path);
void save_checkpoint(McptViT& model, const std::filesystem::path& path, const nlohmann::json& extra = nlohmann::json::object());
// Copies every parameter from the file. Missing, unexpected or mis-shaped tensors are errors that
// name the file, the tensor and both shapes. Returns the file's stored configuration (or null).
nlohmann::json load_checkpoint(McptViT& model, const std::filesystem::path& path);

}  // namespace mcpt::harness
