// Mono float audio, decoded through libsndfile (WAV, FLAC, OGG, MP3 ...) and resampled with libsoxr
// (default) or libsamplerate. Long files are read in blocks, so only the requested window is held in
// memory.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mcpt::datasets {

struct Audio {
  std::vector<float> samples;  // mono
  int sample_rate = 0;
  double duration() const { return sample_rate > 0 ? double(samples.size()) / sample_rate : 0.0; }
};

// The resampler behind load_audio and resample():
//   kSoxrVhq   libsoxr, very high quality (28-bit, ~170 dB) with a steep filter: flat (within 0.01 dB)
//              to 96 % of the lower Nyquist, -0.3 dB at 99 %; about 35x faster than kBest. The default.
//   kSoxrHq    libsoxr, high quality (20-bit) with its default filter (passband to ~91 %): librosa's
//              default ("soxr_hq").
//   kBest, kMedium, kFastest  libsamplerate's sinc converters (SRC_SINC_BEST/MEDIUM/FASTEST).
// Figures: tests/datasets/audio_test.cpp (Resample*), docs/performance.md ("Resampling").
enum class ResampleQuality { kBest, kMedium, kFastest, kSoxrVhq, kSoxrHq };
// Names as suites spell them: "soxr_vhq", "soxr_hq", "sinc_best", "sinc_medium", "sinc_fastest".
std::string resample_quality_name(ResampleQuality q);
// Throws mcpt::Error "<where>: unknown resampler ..." listing the names.
ResampleQuality parse_resample_quality(const std::string& name, const std::string& where);
std::string soxr_version_text();  // libsoxr's version string, for report provenance

struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  std::int64_t frames = 0;
  std::string format;  // e.g. "WAV (Microsoft)", "MPEG Layer 3"
  double duration() const { return sample_rate > 0 ? double(frames) / sample_rate : 0.0; }
};

struct LoadOptions {
  int sample_rate = 0;     // target rate; 0 keeps the file's rate
  double offset = 0.0;     // seconds from the start
  double duration = -1.0;  // seconds; < 0 reads to the end
  ResampleQuality quality = ResampleQuality::kSoxrVhq;
};

// Throws mcpt::Error naming the file and what is wrong (missing, unreadable, unsupported, empty,
// zero channels, NaN/Inf samples, offset past the end). Sample rates outside 1000..768000 Hz are
// rejected as implausible. load_audio downmixes to the mean of the channels, reads only the
// [offset, offset + duration) window (a window running past the end is cut short), and when
// resampling returns exactly round(frames * to / from) samples.
AudioInfo probe_audio(const std::filesystem::path& path);
Audio load_audio(const std::filesystem::path& path, const LoadOptions& options = {});
inline Audio load_audio(const std::filesystem::path& path, int sample_rate, double offset = 0.0,
                        double duration = -1.0) {
  LoadOptions o;
  o.sample_rate = sample_rate;
  o.offset = offset;
  o.duration = duration;
  return load_audio(path, o);
}

// Band-limited resampling; from == to returns a copy. Rates must be in 1000..768000 Hz with a ratio
// within 1/256..256 (libsamplerate's range, kept for every resampler).
std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate,
                            ResampleQuality quality = ResampleQuality::kSoxrVhq);

enum class AudioFormat { kWav16, kWavFloat, kFlac, kOgg, kMp3 };
// Writes mono audio atomically (temp file `<path>.tmp-<pid>` + rename), creating the folder if
// needed. The format follows `format`, not the extension. Integer formats clip to [-1, 1]; NaN/Inf
// samples are refused. kWav16/kFlac: 16-bit PCM; kOgg: Vorbis VBR, at most 192 kHz; kMp3: LAME,
// only the MPEG rates 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000 Hz.
void write_audio(const std::filesystem::path& path, const Audio& audio, AudioFormat format = AudioFormat::kWav16);

}  // namespace mcpt::datasets
