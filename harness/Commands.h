// Subcommands implemented outside Cli.cpp. `augment`: deform audio files with any deformation spec
// (for listening, and the batch path the runner's augmentation follows: files in parallel, one
// track in memory per worker).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/Progress.h"

namespace mcpt::harness {

struct AugmentJob {
  std::filesystem::path in, out;
};

struct AugmentOptions {
  std::uint64_t seed = 1;   // every file gets this seed (as if run one by one)
  std::string format;       // wav (16-bit), wav-float, flac, ogg, mp3; "" = from OUT's extension
  int threads = 0;          // files processed side by side; 0 = all cores
  int sample_rate = 0;      // resample the input to this rate first; 0 = the file's rate
  Verbosity verbosity = Verbosity::kNormal;
};

// `deformation` is JSON text, or the path of a file holding it. Output is mono (inputs are
// downmixed, as everywhere in mcpt-eval) and written atomically. With one job an error throws
// mcpt::Error; with several, failures are reported per file on stderr and the return value is
// ExitCode::kIncomplete (4), the other files still being written.
int augment_command(const std::vector<AugmentJob>& jobs, const std::string& deformation, const AugmentOptions& options);
inline int augment_command(const std::string& in, const std::string& out, const std::string& deformation,
                           std::uint64_t seed) {
  AugmentOptions o;
  o.seed = seed;
  return augment_command({{in, out}}, deformation, o);
}
// The command line's form: IN OUT DEFORMATION, or DEFORMATION alone with a list file of
// "IN<tab>OUT" lines (or two whitespace-separated paths; '#' comments and blank lines skipped).
int augment_main(const std::vector<std::string>& args, const std::string& list_file, const AugmentOptions& options);
std::vector<AugmentJob> read_augment_list(const std::filesystem::path& list_file);

// `plot`: the report's figures as PDF/SVG/PNG + CSV into out_dir (formats: "pdf,svg,png" or a subset);
// prints the files written, one per line, unless quiet. Errors name the report file and JSON path.
int plot_command(const std::string& report_path, const std::string& out_dir, const std::string& formats,
                 Verbosity verbosity);

}  // namespace mcpt::harness
