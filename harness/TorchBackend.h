// Everything in mcpt-eval that needs LibTorch, reached through one table of functions.
//
// Debian's LibTorch costs every process that links it about 0.6 CPU-s at start-up (it loads some
// 300 shared libraries and registers its operators), which would make `key-score`, `augment`,
// `validate`, `table`, `plot`, a bad-input error, or a test of the suite parser pay for a library
// they never use. So the LibTorch parts (the MCPT ViT, TorchScript encoders, the random-init
// control, pre-training and the probes' training) are built into their own shared library,
// libmcpt-torch.so, and torch() loads it the first time a command needs one of them.
//
// A program that links libmcpt-torch.so itself (the ViT's and the probes' tests, the benchmarks)
// uses the copy already loaded. Otherwise torch() looks for the library in this order:
//   1. the file named by the environment variable MCPT_TORCH_MODULE;
//   2. libmcpt-torch.so in the folder of the running executable;
//   3. the build tree's copy (its path is compiled in), for test programs and benchmarks.
// When none loads, torch() throws mcpt::Error (exit code 1) naming each path tried and why.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "harness/Pretrain.h"
#include "harness/encoders/Encoder.h"
#include "probes/Probe.h"

namespace mcpt::harness {

struct TorchBackend {
  using EncoderFactoryFn = std::unique_ptr<Encoder> (*)(JsonObject& cfg, const EncoderContext& ctx);
  EncoderFactoryFn make_torchscript_encoder;
  EncoderFactoryFn make_mcpt_encoder;
  EncoderFactoryFn make_random_init_encoder;

  std::unique_ptr<probes::Probe> (*make_probe)(const probes::ProbeConfig& config);
  probes::Selection (*select_on_validation)(const probes::ProbeConfig& config, const probes::Matrix& x_train,
                                            const std::vector<int>& y_train, const probes::Matrix& x_valid,
                                            const std::vector<int>& y_valid, int num_classes, std::uint64_t seed,
                                            const std::function<double(const probes::Matrix&)>& valid_score);
  int (*compute_threads)();
  void (*set_compute_threads)(int n);

  PretrainConfig (*load_pretrain_config)(const std::filesystem::path& file);
  PretrainOutcome (*pretrain)(const PretrainConfig& config, const PretrainOptions& options);
};

// The table, loading libmcpt-torch.so on the first call (thread-safe). Throws mcpt::Error when it
// cannot be loaded; a later call tries again.
const TorchBackend& torch();

// Whether LibTorch is in this process (linked, or loaded by torch()), without loading it.
bool torch_loaded();

}  // namespace mcpt::harness

// Defined by libmcpt-torch.so (harness/TorchBackendImpl.cpp).
extern "C" const mcpt::harness::TorchBackend* mcpt_torch_backend();
