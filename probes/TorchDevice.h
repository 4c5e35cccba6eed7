// The one place where a device name from a suite or a config ("cpu", "cuda", "cuda:N", "auto")
// becomes a LibTorch device: for the probes, the MCPT encoder and pre-training. Only LibTorch
// sources include this (it needs c10's Device, a small header).
#pragma once
#include <string>

#include <c10/core/Device.h>

namespace mcpt::probes {

// "auto" is CUDA when LibTorch sees a CUDA device, else the CPU. Asking for CUDA where there is
// none is an mcpt::Error that begins with `where` (e.g. "suite.encoders[2].device").
c10::Device resolve_device(const std::string& name, const std::string& where);

}  // namespace mcpt::probes
