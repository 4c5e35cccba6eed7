#include "harness/Progress.h"

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

namespace mcpt::harness {

Progress::Progress(std::string stage, std::int64_t total, Verbosity verbosity, const std::string& unit)
    : stage_(std::move(stage)), unit_(unit), total_(total), verbosity_(verbosity), tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_) {
  if (verbosity_ != Verbosity::kQuiet && !tty_) fmt::print(stderr, "{}: {} {}\n", stage_, total_, unit_);
}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if ((tty_ && since > 0.1) || (!tty_ && since > 5.0)) {
    last_ = now;
    draw(false);
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (verbosity_ == Verbosity::kQuiet) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? double(total_ - done_) / rate : 0.0;
  if (tty_) {
    const int width = 30;
    const int filled = total_ > 0 ? int(width * double(done_) / double(total_)) : width;
    fmt::print(stderr, "\r{:<28} [{}{}] {}/{} {:.1f} {}/s ETA {:.0f}s   ", stage_, std::string(size_t(filled), '#'),
               std::string(size_t(width - filled), '.'), done_, total_, rate, unit_, eta);
    if (final) fmt::print(stderr, "\n");
  } else if (final) {
    fmt::print(stderr, "{}: done {}/{} {} in {:.1f} s\n", stage_, done_, total_, unit_, elapsed);
  } else {
    fmt::print(stderr, "{}: {}/{} {} ({:.1f}/s, ETA {:.0f} s)\n", stage_, done_, total_, unit_, rate, eta);
  }
  std::fflush(stderr);
}

void log_line(Verbosity v, const std::string& line) {
  if (v != Verbosity::kQuiet) fmt::print(stderr, "{}\n", line);
}
void log_detail(Verbosity v, const std::string& line) {
  if (v == Verbosity::kVerbose) fmt::print(stderr, "{}\n", line);
}

}  // namespace mcpt::harness
