// P7 (docs/performance.md): the clean-audio pipeline, decode -> resample -> mel -> MCPT forward, as
// the runner runs it (harness::extract, no cache), against each stage timed alone on the same audio
// and the same threads. Prints one table and a summary line:
//   bench_pipeline [--tracks N=16] [--seconds S=30] [--rate HZ=44100] [--format mp3|wav] [--threads T=2]
//                  [--checkpoint PATH] [--repeats R=3] [--torch-threads N] [--blas-threads N]
//                  [--shifts K1,K2,..] [--engine faster|finer] [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16]
// The tracks are written first (mono chord sequences; mp3 by default, as GiantSteps is). The
// encoder is the default MCPT ViT (vertical patches, dim 384, depth 12: "MCPT-base") with random
// weights unless --checkpoint gives one: the forward costs the same either way. Each stage alone
// and the pipeline are run R times, alternating, and the median wall time is reported; "x real
// time" is seconds of audio per second of wall time. Threads are split between LibTorch and OpenBLAS
// as the harness splits them (probes::set_compute_threads); --torch-threads and --blas-threads
// override the split, to compare others.
// With --shifts, every track is also pitch-shifted by each K (Rubber Band, --engine, R2 by default as
// in the demo; at the encoder's rate, as the runner deforms): one more stage alone ("deform"), the mel
// and forward stages cover the clean and every shifted copy, and the pipeline is the robustness
// analyses' extraction (harness::extract_conditions: clean + the shifts, one decode per track). That
// is issue 9's GiantSteps-sized stand-in run when given --tracks 1763 --seconds 120 --shifts
// -2,-1,1,2,3 --device cuda (whose goal: wall <= 1.5x the slowest stage alone).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <dlfcn.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "augment/Deformation.h"
#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/Pipeline.h"
#include "harness/Suite.h"
#include "harness/encoders/Encoder.h"
#include "harness/encoders/McptModel.h"
#include "harness/encoders/Mel.h"
#include "probes/Probe.h"

namespace fs = std::filesystem;
using namespace mcpt;
using clock_type = std::chrono::steady_clock;

namespace {

struct Args {
  int tracks = 16;
  double seconds = 30;
  int rate = 44100;
  std::string format = "mp3";
  int threads = 2;
  int repeats = 3;
  int torch_threads = 0;  // 0: as --threads
  int blas_threads = 0;   // 0: OpenBLAS's own default
  std::string checkpoint;
  std::vector<double> shifts;  // semitones; empty: the clean pipeline only
  std::string engine = "faster";
  std::string device = "cpu", dtype = "float32";
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "bench_pipeline: %s\nusage: bench_pipeline [--tracks N] [--seconds S] [--rate HZ] "
               "[--format mp3|wav] [--threads T] [--checkpoint PATH] [--repeats R] [--torch-threads N] [--blas-threads N] "
               "[--shifts K1,K2,..] [--engine faster|finer] [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16]\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) usage(k + ": needs a value");
    const std::string v = argv[++i];
    if (k == "--tracks") a.tracks = std::atoi(v.c_str());
    else if (k == "--seconds") a.seconds = std::atof(v.c_str());
    else if (k == "--rate") a.rate = std::atoi(v.c_str());
    else if (k == "--format") a.format = v;
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else if (k == "--repeats") a.repeats = std::atoi(v.c_str());
    else if (k == "--checkpoint") a.checkpoint = v;
    else if (k == "--torch-threads") a.torch_threads = std::atoi(v.c_str());
    else if (k == "--blas-threads") a.blas_threads = std::atoi(v.c_str());
    else if (k == "--engine") a.engine = v;
    else if (k == "--device") a.device = v;
    else if (k == "--dtype") a.dtype = v;
    else if (k == "--shifts") {
      std::stringstream in(v);
      for (std::string item; std::getline(in, item, ',');) {
        char* end = nullptr;
        const double x = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || x == 0) usage("--shifts: expected non-zero semitones separated by commas, got " + v);
        a.shifts.push_back(x);
      }
    }
    else usage("unknown option " + k);
  }
  if (a.tracks < 1 || a.seconds < 4 || a.rate < 8000 || a.threads < 1 || a.repeats < 1 ||
      (a.format != "mp3" && a.format != "wav") || (a.engine != "faster" && a.engine != "finer") ||
      (a.dtype != "float32" && a.dtype != "bfloat16"))
    usage("bad value");
  const bool cuda_n = a.device.rfind("cuda:", 0) == 0 && a.device.size() > 5 &&
                      a.device.find_first_not_of("0123456789", 5) == std::string::npos;
  if (a.device != "cpu" && a.device != "cuda" && !cuda_n) usage("--device: expected cpu, cuda or cuda:N, got " + a.device);
  return a;
}

// A chord sequence with harmonics and a little noise: not silence, so the codec and the resampler
// do their real work.
datasets::Audio chords(int rate, double seconds, unsigned seed) {
  datasets::Audio a;
  a.sample_rate = rate;
  a.samples.resize(size_t(std::llround(seconds * rate)));
  const double roots[4] = {0, 5, 7, 0};
  double bases[4], ratios[3];  // the powers, once (the same values as computed per sample)
  for (int b = 0; b < 4; ++b) bases[b] = 220.0 * std::pow(2.0, (roots[b] + seed % 12) / 12.0);
  for (int j = 0; j < 3; ++j) ratios[j] = std::pow(2.0, (j == 0 ? 0.0 : j == 1 ? 4.0 : 7.0) / 12.0);
  unsigned s = seed * 2654435761u + 1;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const double t = double(i) / rate;
    const int bar = int(t / 2.0) % 4;
    const double base = bases[bar];
    double v = 0;
    for (double ratio : ratios)
      for (int h = 1; h <= 4; ++h) v += std::sin(2 * M_PI * base * ratio * h * t) / (h * 6.0);
    s = s * 1664525u + 1013904223u;
    v += 0.01 * (double(s >> 8) / double(1u << 24) - 0.5);
    a.samples[i] = float(0.4 * v * std::exp(-std::fmod(t, 2.0)));
  }
  return a;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  probes::set_compute_threads(args.threads);  // as the harness splits them (probes/Probe.cpp)
  // Overrides, to compare splits: LibTorch's own OpenMP team, OpenBLAS's pool.
  if (args.torch_threads > 0) torch::set_num_threads(args.torch_threads);
  if (args.blas_threads > 0)
    if (auto f = reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(args.blas_threads);
  // The encoder first: a bad --device or --checkpoint fails before the tracks are written.
  nlohmann::json options = {{"type", "random-init"}};
  if (!args.checkpoint.empty()) options = {{"type", "mcpt"}, {"checkpoint", args.checkpoint}};
  options["device"] = args.device;
  options["dtype"] = args.dtype;
  JsonObject cfg(options, "bench.encoder");
  cfg.raw("type");
  auto encoder = harness::make_encoder(options["type"], cfg, harness::EncoderContext{});
  const int sr = encoder->sample_rate();
  const double seg = encoder->segment_seconds();
  harness::EncoderConfig ec;
  ec.name = "mcpt";
  ec.type = options["type"];
  ec.options = options;
  ec.path = "bench.encoder";
  const fs::path dir = fs::temp_directory_path() / fmt::format("mcpt-bench-pipeline-{}", ::getpid());
  fs::create_directories(dir);
  struct RemoveDir {  // the written tracks go, however the benchmark ends
    fs::path p;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } remove_dir{dir};
  std::vector<datasets::Track> tracks(size_t(args.tracks));
  const int writers = std::max(1, int(std::thread::hardware_concurrency()));
  harness::parallel_for(tracks.size(), writers, [&](size_t i) {
    auto& t = tracks[i];
    t.id = fmt::format("t{:03d}", i);
    t.audio = dir / (t.id + "." + args.format);
    t.key = datasets::Key::parse("C major");
    datasets::write_audio(t.audio, chords(args.rate, args.seconds, unsigned(i)),
                          args.format == "mp3" ? datasets::AudioFormat::kMp3 : datasets::AudioFormat::kWav16);
  });
  std::vector<const datasets::Track*> track_ptrs;
  for (const auto& t : tracks) track_ptrs.push_back(&t);
  const double audio_seconds = args.tracks * args.seconds;


  // The stages alone, each over every track, on `threads` workers (LibTorch's own threads for the
  // forward), with their inputs computed beforehand.
  std::vector<datasets::Audio> decoded(tracks.size());
  std::vector<std::vector<float>> resampled(tracks.size());
  // The pitch-shift conditions, and their output per (track, shift): deformed[t * K + k].
  std::vector<harness::Condition> shifts;
  for (double k : args.shifts) {
    harness::Condition c;
    c.name = fmt::format("pitch_shift={:+g}", k);
    c.deformation = augment::make_deformation({{"type", "pitch_shift"}, {"semitones", k}, {"engine", args.engine}},
                                              "bench.shift");
    c.spec = c.deformation->spec();
    shifts.push_back(std::move(c));
  }
  const size_t n_shifts = shifts.size();
  std::vector<datasets::Audio> deformed(tracks.size() * n_shifts);
  std::vector<datasets::Audio> segments;
  harness::MelOptions mo;
  mo.sample_rate = sr;
  mo.hop = 512;
  const harness::MelSpectrogram mel(mo);
  harness::McptOptions model_options;  // the encoder's default architecture
  const std::int64_t frames = model_options.frames();
  std::vector<std::vector<float>> mels;
  harness::McptViT model(model_options);
  model->reset_parameters(0);
  model->eval();
  const torch::Device device(args.device);
  const bool bf16 = args.dtype == "bfloat16";
  model->to(device, bf16 ? torch::kBFloat16 : torch::kFloat32);
  // Batches as [first segment, count): the runner hands the encoder one track's segments at a time
  // (embed_batch), so that is the forward the pipeline runs; fixed batches of 32 (the encoder's
  // batch_size) for comparison.
  std::vector<std::pair<size_t, size_t>> per_track_batches, batches_of_32;
  auto forward = [&](const std::vector<std::pair<size_t, size_t>>& plan) {  // the encoder's own step
    for (const auto& [start, b] : plan) {
      std::vector<const std::vector<float>*> batch;
      for (size_t i = start; i < start + b; ++i) batch.push_back(&mels[i]);
      if (harness::infer_layers(model, batch, device, bf16).size() != b) std::abort();
    }
  };

  struct Stage {
    std::string name;
    std::function<void()> run;
    std::vector<double> walls;
    bool in_pipeline = true;  // false: a variant shown for comparison, not one of the pipeline's stages
  };
  std::vector<Stage> stages = {
      {"decode (libsndfile, native rate)",
       [&] {
         harness::parallel_for(tracks.size(), args.threads, [&](size_t i) { decoded[i] = datasets::load_audio(tracks[i].audio); });
       }, {}},
      {"resample (libsoxr VHQ, to 16 kHz)",
       [&] {
         harness::parallel_for(tracks.size(), args.threads, [&](size_t i) {
           resampled[i] = datasets::resample(decoded[i].samples, decoded[i].sample_rate, sr);
         });
       }, {}},
      {fmt::format("deform ({} pitch shifts, Rubber Band {}, at {} Hz)", n_shifts, args.engine, sr),
       [&] {
         harness::parallel_for(deformed.size(), args.threads, [&](size_t i) {
           const auto& t = tracks[i / n_shifts];
           const auto& c = shifts[i % n_shifts];
           deformed[i] = c.deformation->apply(datasets::Audio{resampled[i / n_shifts], sr}, harness::condition_seed(1, t.id, c));
         });
       }, {}},
      {"mel (128 bands, hop 512)",
       [&] {
         if (segments.empty()) {  // clean and shifted copies of each track, as the pipeline embeds them
           std::vector<const datasets::Audio*> inputs;
           std::vector<datasets::Audio> clean(resampled.size());
           for (size_t t = 0; t < resampled.size(); ++t) {
             clean[t] = datasets::Audio{resampled[t], sr};
             inputs.push_back(&clean[t]);
             for (size_t k = 0; k < n_shifts; ++k) inputs.push_back(&deformed[t * n_shifts + k]);
           }
           for (const auto* r : inputs) {
             const size_t first = segments.size();
             for (auto& s : harness::cut_segments(*r, seg)) segments.push_back(std::move(s));
             for (size_t at = first; at < segments.size(); at += 32)
               per_track_batches.emplace_back(at, std::min<size_t>(32, segments.size() - at));
           }
           for (size_t at = 0; at < segments.size(); at += 32)
             batches_of_32.emplace_back(at, std::min<size_t>(32, segments.size() - at));
         }
         mels.assign(segments.size(), {});
         harness::parallel_for(segments.size(), args.threads, [&](size_t i) {  // the encoder's front end
           const auto& x = segments[i].samples;
           mels[i] = mel.compute_cropped(x.data(), x.size(), size_t(std::llround(seg * sr)), int(frames));
         });
       }, {}},
      {"forward (ViT, one batch per track, all layers out)", [&] { forward(per_track_batches); }, {}},
      {"forward (ViT, batches of 32, all layers out)", [&] { forward(batches_of_32); }, {}, false},
      {"embed (the encoder's embed_batch: mel + forward, per track)",
       [&] {
         for (const auto& [start, b] : per_track_batches) {
           std::vector<datasets::Audio> batch(segments.begin() + long(start), segments.begin() + long(start + b));
           if (encoder->embed_batch(batch).size() != b) std::abort();
         }
       }, {}, false},
  };

  if (n_shifts == 0) stages.erase(stages.begin() + 2);  // no deform stage

  harness::StageTimes times;
  std::vector<double> pipeline_walls;
  harness::ExtractContext cx;
  cx.encoder = encoder.get();
  cx.config = &ec;
  cx.layers = {encoder->num_layers() - 1};
  cx.threads = args.threads;
  cx.verbosity = harness::Verbosity::kQuiet;
  const harness::Condition clean;
  size_t rows = 0;
  for (int r = 0; r < args.repeats; ++r) {
    for (auto& s : stages) {
      const auto t0 = clock_type::now();
      s.run();
      s.walls.push_back(seconds_since(t0));
    }
    harness::StageTimes& tr = times;
    if (r + 1 == args.repeats) cx.times = &tr;
    const auto t0 = clock_type::now();
    std::vector<const harness::Condition*> conds{&clean};
    for (const auto& c : shifts) conds.push_back(&c);
    const auto exs = harness::extract_conditions(cx, track_ptrs, conds, "bench");
    pipeline_walls.push_back(seconds_since(t0));
    rows = 0;
    for (const auto& ex : exs)
      for (const auto& t : ex.per_track) rows += t.at(0).rows;
  }
  std::printf("P7 pipeline stages: %d tracks x %.0f s (%s, %d Hz, mono), %zu conditions (clean%s), %zu segments of "
              "%.3f s, %d threads, %s %s, median of %d; x real time counts each track's audio once\n",
              args.tracks, args.seconds, args.format.c_str(), args.rate, 1 + n_shifts,
              n_shifts ? fmt::format(" + {} pitch shifts", n_shifts).c_str() : "", rows, seg, args.threads,
              args.device.c_str(), args.dtype.c_str(), args.repeats);
  std::printf("| stage | wall (s) | x real time |\n|---|---:|---:|\n");
  double slowest = 0, sum = 0;
  std::string slowest_name;
  for (const auto& s : stages) {
    const double w = median(s.walls);
    std::printf("| %s%s alone | %.2f | %.0f |\n", s.in_pipeline ? "" : "(variant) ", s.name.c_str(), w, audio_seconds / w);
    if (!s.in_pipeline) continue;
    sum += w;
    if (w > slowest) slowest = w, slowest_name = s.name;
  }
  const double pipe = median(pipeline_walls);
  std::printf("| sum of the stages alone | %.2f | %.0f |\n", sum, audio_seconds / sum);
  std::printf("| pipeline (harness::%s, no cache) | %.2f | %.0f |\n", n_shifts ? "extract_conditions" : "extract", pipe,
              audio_seconds / pipe);
  auto cpu = [](const std::atomic<long long>& ns) { return double(ns.load()) * 1e-9; };
  std::printf("pipeline CPU-s by stage (last run, summed over workers): decode+resample %.2f, deform %.2f, embed "
              "(mel+forward) %.2f, pool %.2f\n", cpu(times.decode_ns), cpu(times.deform_ns), cpu(times.embed_ns),
              cpu(times.pool_ns));
  if (n_shifts == 0)
    std::printf("P7 pipeline: %.0fx real time (goal >= 60x); wall / slowest stage alone (%s) = %.2f (goal <= 1.5)\n",
                audio_seconds / pipe, slowest_name.c_str(), pipe / slowest);
  else
    std::printf("P7 pipeline with %zu pitch shifts: %.0fx real time; wall / slowest stage alone (%s) = %.2f (goal "
                "<= 1.5)\n", n_shifts, audio_seconds / pipe, slowest_name.c_str(), pipe / slowest);
  return 0;
} catch (const mcpt::Error& e) {
  std::fprintf(stderr, "bench_pipeline: %s\n", e.what());
  return 3;
}
