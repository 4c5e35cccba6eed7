// Helpers shared by the tests: temporary folders, generated tones and chords, running the CLI.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/Audio.h"
#include "datasets/Error.h"
#include "datasets/Key.h"

// Expects `part` inside the string `msg`, printing the whole message when it is not.
#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

namespace mcpt::testutil {

// A fresh folder under the build tree, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "t");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

datasets::Audio sine(double hz, double seconds, int sample_rate, float amplitude = 0.5f);
// A stand-in "piece" in a key: tonic triad, subdominant, dominant, tonic; additive harmonics.
// Deterministic for (key, seconds, sample_rate, seed).
datasets::Audio key_chords(const datasets::Key& key, double seconds, int sample_rate, unsigned seed = 0);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a shell command line, capturing stdout and stderr separately.
CommandResult run_command(const std::string& command_line);
// Runs the mcpt-eval executable under test with the given argument string.
CommandResult run_cli(const std::string& args);

std::string read_text(const std::filesystem::path& p);
void write_text(const std::filesystem::path& p, const std::string& text);

// The message of the mcpt::Error thrown by f, or "" (and a test failure) when none is thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const mcpt::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected mcpt::Error";
  return "";
}

// Fixtures shared by several test processes, made once per build tree under build/test-data/ and
// reused. ctest makes them first (FIXTURES_SETUP tests in tests/CMakeLists.txt, which run
// `mcpt_test_fixtures`); a test program run by hand makes them itself. A lock file keeps two
// processes from making the same fixture at once; a stamp file marks a finished one.

// The folder build/test-data/<name>, made by make(folder) unless a finished one exists for the same
// `key` (say, the inputs it was made from and the executable's identity); the folder is emptied
// first. Returns the folder; a failure inside make() is a test failure, and no stamp is written.
std::filesystem::path shared_fixture(const std::string& name, const std::string& key,
                                     const std::function<void(const std::filesystem::path&)>& make);
// Identity of the mcpt-eval executable under test (size and modification time): a key part for
// fixtures made by running it, so a rebuilt executable makes them again.
std::string exe_identity();

// A synthetic corpus rendered by `mcpt-eval synth --out build/test-data/<name> <args>`, for the e2e
// tests; the synth command reuses a complete corpus, and the lock keeps two test processes from
// rendering the same one at once.
std::filesystem::path synth_corpus(const std::string& name, const std::string& args);

// The TorchScript test modules written by tests/harness/make_torchscript_modules.py (python3-torch),
// or an empty path when python3-torch is not installed (the tests skip).
std::filesystem::path torchscript_modules();

std::filesystem::path test_data();    // tests/data
std::filesystem::path source_dir();   // project root
std::string python();                 // Debian's python3 (with mir_eval, jsonschema)

}  // namespace mcpt::testutil
