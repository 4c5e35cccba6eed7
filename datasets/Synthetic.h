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
  int tracks = 96;               // rounded up to a multiple of 24 keys? no: keys cycle, balanced within +-1
  std::uint64_t seed = 1;
  double seconds = 20.0;
  std::filesystem::path soundfont;  // empty: the default General MIDI SoundFont (timgm6mb)
  int sample_rate = 22050;
  double valid_fraction = 0.125;
  double test_fraction = 0.25;

  // From the suite's dataset block; unknown keys are errors naming `json_path`.
  static SynthOptions from_json(const nlohmann::json& j, const std::string& json_path);
  nlohmann::json to_json() const;
};

// Default SoundFont search: $MCPT_SOUNDFONT, then Debian's timgm6mb and other GM fonts.
std::filesystem::path default_soundfont();

using SynthProgress = std::function<void(int done, int total)>;

// Renders the corpus into `out_dir` (created): <id>.wav files, manifest.csv (path,key,split),
// and synth.json (the options, the SoundFont's path and size). Files appear atomically; an existing
// complete corpus with the same options is left as it is.
void render_synthetic_corpus(const std::filesystem::path& out_dir, const SynthOptions& options,
                             const SynthProgress& progress = {});

// True when `out_dir` holds a complete corpus rendered with these options.
bool synthetic_corpus_complete(const std::filesystem::path& out_dir, const SynthOptions& options);

}  // namespace mcpt::datasets
