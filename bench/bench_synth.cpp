// The synthetic corpus (datasets/Synthetic.h): what `mcpt-eval synth` costs per track for an SF2 and
// an SF3 (compressed) SoundFont, and what a SoundFont load costs with FluidSynth's full and dynamic
// sample loading, the setting that datasets/Synthetic.cpp chooses by font version (every track gets a
// fresh synthesizer, so the load is paid once per track). docs/performance.md, "Synthetic corpus with a
// compressed SoundFont", records the figures. items/s are tracks per CPU-second (one thread).
#include <unistd.h>

#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>
#include <fluidsynth.h>

#include "datasets/Synthetic.h"

namespace fs = std::filesystem;
using namespace mcpt::datasets;

namespace {

// Debian's GM fonts: the default search's first (TimGM6mb, SF2) and the compressed one the
// pre-training corpus can use (fluidr3mono-gm-soundfont, SF3).
fs::path font(const std::string& which) {
  if (which == "sf3") return "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3";
  return default_soundfont();
}

// 24 tracks (one per key) x 2 s at 16 kHz on one thread, into a fresh folder each iteration.
void BM_SynthCorpus(benchmark::State& state, const std::string& which) {
  SynthOptions o;
  o.tracks = 24;
  o.seconds = 2;
  o.sample_rate = 16000;
  o.threads = int(state.range(0));
  try {
    o.soundfont = font(which);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (!fs::is_regular_file(o.soundfont)) {
    state.SkipWithError(("no SoundFont at " + o.soundfont.string()).c_str());
    return;
  }
  const fs::path dir = fs::temp_directory_path() / ("mcpt-bench-synth-" + std::to_string(::getpid()));
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    state.ResumeTiming();
    render_synthetic_corpus(dir, o);
  }
  fs::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * o.tracks);
  state.SetLabel(o.soundfont.filename().string());
}

// A fresh synthesizer with the font loaded, as each track's; `dynamic` is
// synth.dynamic-sample-loading (samples decoded when a program selects them, not at load).
void BM_LoadSoundFont(benchmark::State& state, const std::string& which, bool dynamic) {
  fs::path path;
  try {
    path = font(which);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  fluid_set_log_function(FLUID_WARN, nullptr, nullptr);
  for (auto _ : state) {
    fluid_settings_t* st = new_fluid_settings();
    fluid_settings_setint(st, "synth.dynamic-sample-loading", dynamic ? 1 : 0);
    fluid_settings_setint(st, "synth.lock-memory", 0);
    fluid_synth_t* synth = new_fluid_synth(st);
    const int id = fluid_synth_sfload(synth, path.c_str(), 1);
    if (id == FLUID_FAILED) {
      state.SkipWithError(("FluidSynth cannot load " + path.string()).c_str());
      delete_fluid_synth(synth);
      delete_fluid_settings(st);
      break;
    }
    benchmark::DoNotOptimize(id);
    delete_fluid_synth(synth);
    delete_fluid_settings(st);
  }
  state.SetLabel(path.filename().string());
}

}  // namespace

BENCHMARK_CAPTURE(BM_SynthCorpus, sf2_default, std::string("sf2"))->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK_CAPTURE(BM_SynthCorpus, sf3_fluidr3mono, std::string("sf3"))->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
BENCHMARK_CAPTURE(BM_LoadSoundFont, sf2_full, std::string("sf2"), false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadSoundFont, sf2_dynamic, std::string("sf2"), true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadSoundFont, sf3_full, std::string("sf3"), false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadSoundFont, sf3_dynamic, std::string("sf3"), true)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
