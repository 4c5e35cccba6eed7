// Synthetic corpus with exact keys: tonal pieces (key-defining chord progressions, bass, melody)
// rendered by FluidSynth through a General MIDI SoundFont, balanced over the 24 keys, with a
// manifest.csv giving each file's key and split. Deterministic for a seed and SoundFont.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace mcpt::datasets {

struct SynthOptions {
  int tracks = 96;  // 24..100000; keys cycle through a seeded order of the 24, so counts differ by <= 1
  std::uint64_t seed = 1;
  double seconds = 20.0;            // 2..600, length of every file
  std::filesystem::path soundfont;  // empty: default_soundfont()
  int sample_rate = 22050;          // 8000..96000; files are mono 16-bit WAV
  double valid_fraction = 0.125;    // each in [0, 0.5]; the rest is "train"
  double test_fraction = 0.25;
  // Rendering threads, 0: all cores (capped at the core count). Not part of the corpus: any count
  // gives the same bytes, so it is neither read from nor written to JSON.
  int threads = 0;

  // From the suite's dataset block ("type" and "root" are passed through and ignored); unknown
  // keys, wrong types and out-of-range values are errors naming `json_path`.
  static SynthOptions from_json(const nlohmann::json& j, const std::string& json_path);
  nlohmann::json to_json() const;
};

// Default SoundFont search: $MCPT_SOUNDFONT, then Debian's timgm6mb and other GM fonts. Throws
// mcpt::Error when none is found.
std::filesystem::path default_soundfont();

// Called on the calling thread as tracks finish (`done` counts tracks already on disk too).
using SynthProgress = std::function<void(int done, int total)>;

// Renders the corpus into `out_dir` (created): <id>.wav files, manifest.csv (path,key,split),
// and synth.json (the options, the SoundFont's path and size, the FluidSynth version). The manifest
// and synth.json are written last, so a killed render reads as incomplete; a re-render with the same
// options keeps the files already written, with other options it removes the corpus's files first.
// An existing complete corpus with the same options is left as it is.
void render_synthetic_corpus(const std::filesystem::path& out_dir, const SynthOptions& options,
                             const SynthProgress& progress = {});

// True when `out_dir` holds a complete corpus rendered with these options.
bool synthetic_corpus_complete(const std::filesystem::path& out_dir, const SynthOptions& options);

}  // namespace mcpt::datasets
