// Helpers shared by the tests: temporary folders, generated tones and chords, running the CLI.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/Audio.h"
#include "datasets/Key.h"

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

std::filesystem::path test_data();    // tests/data
std::filesystem::path source_dir();   // project root
std::string python();                 // Debian's python3 (with mir_eval, jsonschema)

}  // namespace mcpt::testutil
