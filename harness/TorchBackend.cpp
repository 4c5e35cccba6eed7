// Finding and loading libmcpt-torch.so (harness/TorchBackend.h). No LibTorch here.
#include "harness/TorchBackend.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "datasets/Error.h"

#ifndef MCPT_TORCH_MODULE_BUILD_PATH
#define MCPT_TORCH_MODULE_BUILD_PATH ""
#endif

namespace mcpt::harness {
namespace {

namespace fs = std::filesystem;
using Entry = const TorchBackend* (*)();
constexpr const char* kModuleFile = "libmcpt-torch.so";
constexpr const char* kEntry = "mcpt_torch_backend";

// The table of a libmcpt-torch.so already in the process: linked into this program, or loaded.
Entry entry_in_process() { return reinterpret_cast<Entry>(::dlsym(RTLD_DEFAULT, kEntry)); }

fs::path executable_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::vector<fs::path> candidates() {
  if (const char* env = std::getenv("MCPT_TORCH_MODULE"); env && *env) return {fs::path(env)};
  std::vector<fs::path> out;
  if (const auto dir = executable_dir(); !dir.empty()) out.push_back(dir / kModuleFile);
  const fs::path built = fs::path(MCPT_TORCH_MODULE_BUILD_PATH).lexically_normal();
  std::error_code ec;
  const bool same = !out.empty() && (out.front().lexically_normal() == built || fs::equivalent(out.front(), built, ec));
  if (!built.empty() && !same) out.push_back(built);  // a program of the build tree outside its top folder
  return out;
}

std::mutex g_mutex;
const TorchBackend* g_backend = nullptr;

}  // namespace

const TorchBackend& torch() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_backend) return *g_backend;
  if (const Entry linked = entry_in_process()) return *(g_backend = linked());
  std::string tried;
  for (const auto& path : candidates()) {
    if (!tried.empty()) tried += "; ";
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
      const char* why = ::dlerror();
      tried += why ? why : path.string() + ": cannot load";
      continue;
    }
    if (const auto entry = reinterpret_cast<Entry>(::dlsym(handle, kEntry))) return *(g_backend = entry());
    tried += fmt::format("{}: no symbol {} (not mcpt-eval's LibTorch module)", path.string(), kEntry);
    ::dlclose(handle);
  }
  throw Error(fmt::format("cannot load {}, the LibTorch part of mcpt-eval that this command needs ({}); "
                          "build it with the executable, or set MCPT_TORCH_MODULE to its path",
                          kModuleFile, tried.empty() ? "no path to try" : tried),
              ExitCode::kInternal);
}

bool torch_loaded() { return entry_in_process() != nullptr; }

}  // namespace mcpt::harness
