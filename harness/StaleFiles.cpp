#include "harness/StaleFiles.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>
#include <system_error>

namespace fs = std::filesystem;

namespace mcpt::harness {
namespace {
bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

bool process_is_gone(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

int remove_stale_outputs(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    std::string pid;
    if (const auto at = name.rfind(".tmp-"); at != std::string::npos && all_digits(name.substr(at + 5))) {
      pid = name.substr(at + 5);
    } else if (name.size() > 11 && name.rfind(".plots-", 0) == 0 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      const std::string middle = name.substr(7, name.size() - 11);  // <pid>-<n>
      pid = middle.substr(0, middle.find('-'));
    }
    if (!all_digits(pid) || pid.size() > 9 || !process_is_gone(std::stol(pid))) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (!rm) ++removed;
  }
  return removed;
}

}  // namespace mcpt::harness
