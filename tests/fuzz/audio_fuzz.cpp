// libFuzzer target: decoding arbitrary bytes as audio (libsndfile + its FLAC, Vorbis, MPEG
// decoders, then our downmix, window and resampler). The first input byte picks the extension and
// the load options (target rate, offset, duration); the rest is the file. probe_audio and
// load_audio must either succeed with finite samples of the promised length or fail with a one-line
// bad-input error.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "datasets/Audio.h"
#include "tests/fuzz/FuzzUtil.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  static const char* const kNames[] = {"a.wav", "a.flac", "a.ogg", "a.mp3", "a.aiff", "a.au", "a.caf", "a"};
  const auto file = mcpt::fuzz::scratch() / kNames[ctl & 7];
  mcpt::fuzz::write_file(file, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));

  mcpt::datasets::LoadOptions o;
  // Resampling in half of the runs: creating a converter costs more than decoding a small file, and
  // the converter does not parse the input. Half of those through libsoxr (the default), half
  // through libsamplerate.
  static const int kRates[] = {0, 0, 22050, 44100};
  o.sample_rate = kRates[(ctl >> 3) & 3];
  o.offset = (ctl & 0x20) ? 0.01 : 0.0;
  o.duration = (ctl & 0x40) ? 0.05 : -1.0;
  o.quality = (ctl & 0x80) ? mcpt::datasets::ResampleQuality::kSoxrVhq : mcpt::datasets::ResampleQuality::kFastest;

  mcpt::fuzz::expect_clean([&] {
    const auto info = mcpt::datasets::probe_audio(file);
    if (info.sample_rate <= 0 || info.channels <= 0 || info.frames <= 0) std::abort();
  });
  mcpt::fuzz::expect_clean([&] {
    const auto a = mcpt::datasets::load_audio(file, o);
    if (a.samples.empty() || a.sample_rate <= 0) std::abort();
    if (o.sample_rate != 0 && a.sample_rate != o.sample_rate) std::abort();
    for (float v : a.samples)
      if (!std::isfinite(v)) std::abort();
  });
  return 0;
}
