#include "testutil/TestUtil.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace fs = std::filesystem;

namespace mcpt::testutil {

TempDir::TempDir(const std::string& tag) {
  static int counter = 0;
  fs::path base = fs::path(MCPT_TESTUTIL_BINARY_DIR) / "test-tmp";
  fs::create_directories(base);
  path_ = base / fmt::format("{}-{}-{}", tag, ::getpid(), counter++);
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("MCPT_KEEP_TEST_TMP")) fs::remove_all(path_, ec);
}

datasets::Audio sine(double hz, double seconds, int sample_rate, float amplitude) {
  datasets::Audio a;
  a.sample_rate = sample_rate;
  a.samples.resize(static_cast<size_t>(std::llround(seconds * sample_rate)));
  for (size_t i = 0; i < a.samples.size(); ++i)
    a.samples[i] = amplitude * float(std::sin(2.0 * M_PI * hz * double(i) / sample_rate));
  return a;
}

datasets::Audio key_chords(const datasets::Key& key, double seconds, int sample_rate, unsigned seed) {
  datasets::Audio a;
  a.sample_rate = sample_rate;
  a.samples.assign(static_cast<size_t>(std::llround(seconds * sample_rate)), 0.0f);
  if (key.is_none()) return a;
  const bool minor = key.mode() == datasets::Mode::kMinor;
  const int third = minor ? 3 : 4;
  // I, IV, V(major), I  as semitone offsets from the tonic; the leading tone in V marks minor too.
  const std::array<std::array<int, 3>, 4> chords = {{{0, third, 7}, {5, 5 + third, 12}, {7, 11, 14}, {0, third, 7}}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> detune(-0.002, 0.002);
  const size_t n = a.samples.size();
  const size_t per = std::max<size_t>(1, n / chords.size());
  for (size_t c = 0; c < chords.size(); ++c) {
    for (int off : chords[c]) {
      const double midi = 48 + key.tonic() + off;  // C3 region
      const double f0 = 440.0 * std::pow(2.0, (midi - 69) / 12.0) * (1.0 + detune(rng));
      for (int h = 1; h <= 4; ++h) {
        const double f = f0 * h;
        if (f >= sample_rate / 2.0) break;
        for (size_t i = c * per; i < std::min(n, (c + 1) * per); ++i)
          a.samples[i] += float(0.08 / h * std::sin(2.0 * M_PI * f * double(i) / sample_rate));
      }
    }
    // bass: the chord root an octave down
    const double fb = 440.0 * std::pow(2.0, (36 + key.tonic() + chords[c][0] - 69) / 12.0);
    for (size_t i = c * per; i < std::min(n, (c + 1) * per); ++i)
      a.samples[i] += float(0.1 * std::sin(2.0 * M_PI * fb * double(i) / sample_rate));
  }
  return a;
}

static std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command_line) {
  TempDir tmp("cmd");
  const fs::path out = tmp / "out", err = tmp / "err";
  const std::string full = fmt::format("{} >'{}' 2>'{}' </dev/null", command_line, out.string(), err.string());
  const int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

CommandResult run_cli(const std::string& args) { return run_command(fmt::format("'{}' {}", MCPT_TESTUTIL_EXE, args)); }

std::string read_text(const fs::path& p) { return slurp(p); }

void write_text(const fs::path& p, const std::string& text) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
}

namespace {

// Holds an exclusive flock on `path` (created if needed) for the object's lifetime.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

fs::path shared_fixture(const std::string& name, const std::string& key, const std::function<void(const fs::path&)>& make) {
  const fs::path base = fs::path(MCPT_TESTUTIL_BINARY_DIR) / "test-data";
  fs::create_directories(base);
  const fs::path dir = base / name, stamp = base / (name + ".done");
  FileLock lock(base / (name + ".lock"));
  std::error_code ec;
  if (fs::exists(stamp, ec) && slurp(stamp) == key) return dir;
  fs::remove(stamp, ec);
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  make(dir);
  if (!::testing::Test::HasFailure()) write_text(stamp, key);
  return dir;
}

fs::path synth_corpus(const std::string& name, const std::string& args) {
  const fs::path base = fs::path(MCPT_TESTUTIL_BINARY_DIR) / "test-data";
  fs::create_directories(base);
  FileLock lock(base / (name + ".lock"));
  const fs::path dir = base / name;
  const auto r = run_cli(fmt::format("synth --out '{}' {} -q", dir.string(), args));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

std::string exe_identity() {
  std::error_code ec;
  const fs::path exe = MCPT_TESTUTIL_EXE;
  return fmt::format("{} {} {}", exe.string(), fs::file_size(exe, ec),
                     static_cast<long long>(fs::last_write_time(exe, ec).time_since_epoch().count()));
}

fs::path torchscript_modules() {
  static const fs::path dir = [] {
    const fs::path base = fs::path(MCPT_TESTUTIL_BINARY_DIR) / "test-data";
    fs::create_directories(base);
    const fs::path d = base / "torchscript-modules", stamp = base / "torchscript-modules.done",
                   none = base / "torchscript-modules.no-torch";
    const fs::path script = source_dir() / "tests/harness/make_torchscript_modules.py";
    FileLock lock(base / "torchscript-modules.lock");
    // A stamp older than the script is stale: the modules are written again.
    std::error_code ec;
    const auto fresh = [&](const fs::path& p) {
      return fs::exists(p, ec) && fs::last_write_time(p, ec) >= fs::last_write_time(script, ec);
    };
    if (fresh(stamp)) return d;
    if (fresh(none)) return fs::path();
    fs::remove(stamp, ec);
    fs::remove(none, ec);
    if (run_command(python() + " -c 'import torch'").exit_code != 0) {
      write_text(none, "python3-torch is not installed\n");
      return fs::path();
    }
    fs::remove_all(d, ec);
    fs::create_directories(d);
    const auto r = run_command(fmt::format("'{}' '{}' '{}'", python(), script.string(), d.string()));
    if (r.exit_code != 0) {
      ADD_FAILURE() << "make_torchscript_modules.py failed: " << r.out << r.err;
      return fs::path();
    }
    write_text(stamp, "ok\n");
    return d;
  }();
  return dir;
}

fs::path test_data() { return MCPT_TESTUTIL_DATA; }
fs::path source_dir() { return MCPT_TESTUTIL_SOURCE_DIR; }
std::string python() { return MCPT_TESTUTIL_PYTHON; }

}  // namespace mcpt::testutil
