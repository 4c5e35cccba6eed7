// Progress of a long stage on stderr: on a terminal a bar with rate and ETA, redrawn in place; in a
// log (not a TTY) one plain line every few seconds. Thread-safe; silent when quiet.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace mcpt::harness {

enum class Verbosity { kQuiet, kNormal, kVerbose };

class Progress {
 public:
  Progress(std::string stage, std::int64_t total, Verbosity verbosity, const std::string& unit = "items");
  ~Progress();
  void advance(std::int64_t n = 1);
  void finish();

 private:
  void draw(bool final);
  std::string stage_, unit_;
  std::int64_t total_, done_ = 0;
  Verbosity verbosity_;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mu_;
};

// Prints a line on stderr unless quiet (and only when verbose, for `detail`).
void log_line(Verbosity v, const std::string& line);
void log_detail(Verbosity v, const std::string& line);

}  // namespace mcpt::harness
