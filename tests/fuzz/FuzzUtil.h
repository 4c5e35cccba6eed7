// Shared by the libFuzzer targets: a private scratch folder on tmpfs for inputs that must be files,
// and the one rule every target checks: bad input may only end in mcpt::Error with a bad-input exit
// code and a one-line message. Anything else (another exception, ExitCode::kInternal, a crash, a
// sanitizer report, a message with a line break) is a finding.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "datasets/Error.h"

namespace mcpt::fuzz {

// /dev/shm when it exists (no disk writes at 10^4 files a second), else the system temp folder.
// Removed when the process exits normally; a crashed run leaves it for the post-mortem.
inline const std::filesystem::path& scratch() {
  static std::filesystem::path dir;
  if (dir.empty()) {
    std::error_code ec;
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                           ? std::filesystem::path("/dev/shm")
                                           : std::filesystem::temp_directory_path();
    dir = base / ("mcpt-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::atexit([] {
      std::error_code e;
      std::filesystem::remove_all(scratch(), e);
    });
  }
  return dir;
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) std::abort();  // the harness itself failed, not the code under test
}

// Runs f; an mcpt::Error is the expected outcome for bad input, but only with ExitCode::kInput and
// a one-line message (main prints it as the single line on stderr) without raw control bytes.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const mcpt::Error& e) {
    const std::string_view msg = e.what();
    const bool control = std::any_of(msg.begin(), msg.end(), [](char c) {
      return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f';
    });
    if (e.code() != mcpt::ExitCode::kInput || msg.empty() || control) {
      std::fprintf(stderr, "finding: mcpt::Error with exit code %d: %s\n", int(e.code()), e.what());
      std::abort();
    }
  }
}

}  // namespace mcpt::fuzz
