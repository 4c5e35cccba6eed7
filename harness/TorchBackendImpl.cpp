// The table of LibTorch functions that libmcpt-torch.so gives the rest of mcpt-eval
// (harness/TorchBackend.h). It only takes the addresses of functions defined in the LibTorch
// sources, so it does not include LibTorch itself.
#include "harness/TorchBackend.h"

extern "C" const mcpt::harness::TorchBackend* mcpt_torch_backend() {
  using namespace mcpt;
  static const harness::TorchBackend backend = [] {
    harness::TorchBackend b{};
    b.make_torchscript_encoder = harness::make_torchscript_encoder;
    b.make_mcpt_encoder = harness::make_mcpt_encoder;
    b.make_random_init_encoder = harness::make_random_init_encoder;
    b.make_probe = probes::make_probe;
    b.select_on_validation = probes::select_on_validation;
    b.compute_threads = probes::compute_threads;
    b.set_compute_threads = probes::set_compute_threads;
    b.load_pretrain_config = harness::PretrainConfig::load;
    b.pretrain = harness::pretrain;
    return b;
  }();
  return &backend;
}
