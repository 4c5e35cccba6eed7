// `mcpt-eval augment`: load, deform, write; files side by side on a small thread pool.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "augment/Deformation.h"
#include "datasets/Audio.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/Commands.h"

namespace fs = std::filesystem;

namespace mcpt::harness {
namespace {

datasets::AudioFormat parse_format(const std::string& format, const fs::path& out) {
  std::string f = format;
  if (f.empty()) {
    std::string ext = out.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".wav") f = "wav";
    else if (ext == ".flac") f = "flac";
    else if (ext == ".ogg" || ext == ".oga") f = "ogg";
    else if (ext == ".mp3") f = "mp3";
    else
      throw Error(fmt::format("{}: cannot tell the format from the extension \"{}\" (use .wav, .flac, .ogg, .mp3 or "
                              "--format wav|wav-float|flac|ogg|mp3)",
                              out.string(), ext),
                  ExitCode::kUsage);
  }
  if (f == "wav") return datasets::AudioFormat::kWav16;
  if (f == "wav-float") return datasets::AudioFormat::kWavFloat;
  if (f == "flac") return datasets::AudioFormat::kFlac;
  if (f == "ogg") return datasets::AudioFormat::kOgg;
  if (f == "mp3") return datasets::AudioFormat::kMp3;
  throw Error(fmt::format("--format: {}", unknown_name_message("format", f, {"wav", "wav-float", "flac", "ogg", "mp3"})),
              ExitCode::kUsage);
}

std::string read_deformation_text(const std::string& arg) {
  const auto first = arg.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && arg[first] == '{') return arg;
  std::error_code ec;
  if (!fs::is_regular_file(arg, ec))
    throw Error(fmt::format("deformation: \"{}\" is neither JSON text (starting with '{{') nor a readable file", arg),
                ExitCode::kUsage);
  std::ifstream in(arg);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Deforms one file; returns the seconds of audio processed.
double augment_one(const AugmentJob& job, const augment::Deformation& d, datasets::AudioFormat format,
                   const AugmentOptions& o) {
  datasets::LoadOptions lo;
  lo.sample_rate = o.sample_rate;
  const datasets::Audio in = datasets::load_audio(job.in, lo);
  datasets::Audio out;
  try {
    out = d.apply(in, o.seed);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", job.in.string(), e.what()), e.code());
  }
  if (format != datasets::AudioFormat::kWavFloat) {
    const auto clipped = std::count_if(out.samples.begin(), out.samples.end(), [](float v) { return std::fabs(v) > 1.0f; });
    if (clipped > 0)
      log_line(o.verbosity, fmt::format("{}: {} samples beyond full scale were clipped (use --format wav-float, or a gain "
                                        "stage with \"clipping\": \"normalize\")",
                                        job.out.string(), clipped));
  }
  datasets::write_audio(job.out, out, format);
  return in.duration();
}

}  // namespace

std::vector<AugmentJob> read_augment_list(const fs::path& list_file) {
  std::ifstream in(list_file);
  if (!in) throw Error(fmt::format("{}: cannot open the list file", list_file.string()));
  std::vector<AugmentJob> jobs;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    AugmentJob job;
    const auto tab = line.find('\t', first);
    if (tab != std::string::npos) {
      job.in = line.substr(first, tab - first);
      job.out = line.substr(tab + 1);
      if (line.find('\t', tab + 1) != std::string::npos) job.out = "";  // a third field
    } else {
      std::istringstream ss(line);
      std::string a, b, extra;
      ss >> a >> b >> extra;
      if (extra.empty()) job.in = a, job.out = b;
    }
    if (job.in.empty() || job.out.empty())
      throw Error(fmt::format("{}:{}: expected \"IN<tab>OUT\" (or two paths without spaces), got \"{}\"",
                              list_file.string(), number, line));
    jobs.push_back(job);
  }
  if (jobs.empty()) throw Error(fmt::format("{}: no IN OUT pairs in the list file", list_file.string()));
  return jobs;
}

int augment_command(const std::vector<AugmentJob>& jobs, const std::string& deformation, const AugmentOptions& o) {
  if (jobs.empty()) throw Error("augment: no files to process", ExitCode::kUsage);
  const std::string text = read_deformation_text(deformation);
  const auto d = augment::parse_deformation(text, "deformation");
  std::vector<datasets::AudioFormat> formats;
  for (const auto& j : jobs) formats.push_back(parse_format(o.format, j.out));  // every name checked before any work
  log_detail(o.verbosity, fmt::format("deformation: {}", d->spec().dump()));
  if (d->semitones() != 0.0 && !d->is_random())
    log_detail(o.verbosity, fmt::format("labels move by {:+d} semitones{}", int(std::lround(d->semitones())),
                                        d->label_exact() ? "" : " (rounded from a fractional shift)"));

  const auto start = std::chrono::steady_clock::now();
  if (jobs.size() == 1) {
    const double seconds = augment_one(jobs[0], *d, formats[0], o);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_detail(o.verbosity, fmt::format("{:.1f} s of audio in {:.2f} s ({:.1f}x real time)", seconds, wall,
                                        wall > 0 ? seconds / wall : 0.0));
    if (o.verbosity != Verbosity::kQuiet) fmt::print("{}\n", jobs[0].out.string());
    return 0;
  }

  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::max(1, std::min<int>(o.threads > 0 ? o.threads : cores, int(jobs.size())));
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::vector<std::string> errors(jobs.size());
  double audio_seconds = 0.0;
  Progress progress("augmenting", std::int64_t(jobs.size()), o.verbosity, "files");
  auto worker = [&] {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      try {
        const double s = augment_one(jobs[i], *d, formats[i], o);
        std::lock_guard<std::mutex> lock(mu);
        audio_seconds += s;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
      progress.advance();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  progress.finish();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int failed = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (errors[i].empty()) {
      if (o.verbosity != Verbosity::kQuiet) fmt::print("{}\n", jobs[i].out.string());
    } else {
      ++failed;
      fmt::print(stderr, "mcpt-eval: error: {}\n", errors[i]);
    }
  }
  log_detail(o.verbosity, fmt::format("{} files, {:.1f} s of audio in {:.2f} s on {} threads ({:.1f}x real time)",
                                      jobs.size() - std::size_t(failed), audio_seconds, wall, threads,
                                      wall > 0 ? audio_seconds / wall : 0.0));
  if (failed) {
    fmt::print(stderr, "mcpt-eval: {} of {} files could not be augmented\n", failed, jobs.size());
    return static_cast<int>(ExitCode::kIncomplete);
  }
  return 0;
}

int augment_main(const std::vector<std::string>& args, const std::string& list_file, const AugmentOptions& options) {
  if (!list_file.empty()) {
    if (args.size() != 1)
      throw Error("augment --list FILE takes one argument, the deformation (JSON text or file)", ExitCode::kUsage);
    return augment_command(read_augment_list(list_file), args[0], options);
  }
  if (args.size() != 3)
    throw Error("augment: expected IN OUT DEFORMATION (or DEFORMATION with --list FILE), e.g. mcpt-eval augment in.wav "
                "out.wav '{\"type\": \"pitch_shift\", \"semitones\": 3}'",
                ExitCode::kUsage);
  return augment_command({{args[0], args[1]}}, args[2], options);
}

}  // namespace mcpt::harness
