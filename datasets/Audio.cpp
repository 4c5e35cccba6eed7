// Decoding (libsndfile), streaming resampling (libsamplerate) and atomic writing of mono audio.
// Reading never holds more than one input block plus the output: a window of a long file costs
// the window, not the file.
#include "datasets/Audio.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>

#include <fmt/format.h>
#include <samplerate.h>
#include <soxr.h>
#include <dlfcn.h>
#include <sndfile.h>
#include <unistd.h>

#include "datasets/Error.h"
#include "datasets/TextTable.h"

namespace fs = std::filesystem;

// libsndfile 1.2 decodes MP3 through libmpg123 without its MPG123_QUIET flag, so a corrupt MP3 makes
// libmpg123 print "Note: Illegal Audio-MPEG-Header ..." and "[src/libmpg123/parse.c:...] warning"
// lines on stderr, around our one-line error (found by tests/e2e/bad_inputs_test.cpp). libsndfile
// offers no way to pass the flag, so this definition interposes the mpg123_new it imports (the
// executable's symbol wins over libmpg123's; GNU ld exports it because libsndfile.so references it),
// calls the real one and adds MPG123_QUIET. The numbers are mpg123.h's: MPG123_ADD_FLAGS = 2,
// MPG123_QUIET = 0x20 (the -dev header is not installed). Without libmpg123 this is never called.
extern "C" {
struct mpg123_handle_struct;
mpg123_handle_struct* mpg123_new(const char* decoder, int* error) {
  using New = mpg123_handle_struct* (*)(const char*, int*);
  using Param = int (*)(mpg123_handle_struct*, int, long, double);
  static const New real = reinterpret_cast<New>(dlsym(RTLD_NEXT, "mpg123_new"));
  static const Param param = [] {
    void* p = dlsym(RTLD_NEXT, "mpg123_param2");  // libmpg123 >= 1.32 name; older: mpg123_param
    return reinterpret_cast<Param>(p ? p : dlsym(RTLD_NEXT, "mpg123_param"));
  }();
  if (!real) {
    if (error) *error = -1;  // MPG123_ERR
    return nullptr;
  }
  mpg123_handle_struct* h = real(decoder, error);
  if (h && param) param(h, /*MPG123_ADD_FLAGS=*/2, /*MPG123_QUIET=*/0x20, 0.0);
  return h;
}
}

namespace mcpt::datasets {
namespace {

// Rates outside this range are treated as a corrupt header (or a caller's mistake), not audio.
constexpr int kMinSampleRate = 1000;
constexpr int kMaxSampleRate = 768000;
// libvorbis opens above ~200 kHz but then encodes nothing; MPEG Layer III has a fixed rate table.
constexpr int kMaxOggSampleRate = 192000;
constexpr int kMp3SampleRates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
// Frames per read/resample block: large enough to amortise calls, small enough to bound memory.
constexpr sf_count_t kBlockFrames = 65536;
// At most this many interleaved samples per block (4 MB): a corrupt header claiming 1024 channels
// must not cost 256 MB a block.
constexpr sf_count_t kMaxBlockSamples = sf_count_t(1) << 20;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw Error(fmt::format("{}: {}", path.string(), what));
}

std::string rate_range_text() { return fmt::format("{}..{} Hz", kMinSampleRate, kMaxSampleRate); }

bool valid_rate(long long rate) { return rate >= kMinSampleRate && rate <= kMaxSampleRate; }

struct SndfileCloser {
  void operator()(SNDFILE* sf) const { sf_close(sf); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

struct SrcDeleter {
  void operator()(SRC_STATE* s) const { src_delete(s); }
};

int converter_type(ResampleQuality quality) {
  switch (quality) {
    case ResampleQuality::kBest: return SRC_SINC_BEST_QUALITY;
    case ResampleQuality::kMedium: return SRC_SINC_MEDIUM_QUALITY;
    case ResampleQuality::kFastest: return SRC_SINC_FASTEST;
    case ResampleQuality::kSoxrVhq:
    case ResampleQuality::kSoxrHq: break;  // not libsamplerate converters (StreamResampler uses soxr)
  }
  return SRC_SINC_BEST_QUALITY;
}

}  // namespace

std::string resample_quality_name(ResampleQuality q) {
  switch (q) {
    case ResampleQuality::kSoxrVhq: return "soxr_vhq";
    case ResampleQuality::kSoxrHq: return "soxr_hq";
    case ResampleQuality::kBest: return "sinc_best";
    case ResampleQuality::kMedium: return "sinc_medium";
    case ResampleQuality::kFastest: return "sinc_fastest";
  }
  return "soxr_vhq";
}

std::string soxr_version_text() { return soxr_version(); }

ResampleQuality parse_resample_quality(const std::string& name, const std::string& where) {
  for (ResampleQuality q : {ResampleQuality::kSoxrVhq, ResampleQuality::kSoxrHq, ResampleQuality::kBest,
                            ResampleQuality::kMedium, ResampleQuality::kFastest})
    if (resample_quality_name(q) == name) return q;
  throw Error(fmt::format("{}: unknown resampler {} (expected one of soxr_vhq, soxr_hq, sinc_best, sinc_medium, "
                          "sinc_fastest)",
                          where, detail::quoted(name)));
}

namespace {

// Checks the things a file system can tell us before libsndfile gets a chance to give a vaguer
// message ("Format not recognised" for a directory or an empty file).
void check_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) fail(path, "no such file");
  if (ec) fail(path, fmt::format("cannot stat: {}", ec.message()));
  if (st.type() == fs::file_type::directory) fail(path, "is a directory, not an audio file");
  if (st.type() != fs::file_type::regular)
    fail(path, "not a regular file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(path, fmt::format("cannot read: {}", std::strerror(errno)));
  std::fclose(f);
  const auto size = fs::file_size(path, ec);
  if (!ec && size == 0) fail(path, "empty file (0 bytes)");
}

struct OpenFile {
  SndfilePtr sf;
  SF_INFO info{};
};

// Frames per read for this file: a short file in one block of its own size (the fuzzer showed the
// zeroed 64k-frame buffers dominating the cost of small files), never more than kMaxBlockSamples.
// The header's frame count is only a hint (MP3): reads still go on until the decoder's EOF.
sf_count_t block_frames(const SF_INFO& info) {
  sf_count_t n = std::min(kBlockFrames, std::max<sf_count_t>(1, kMaxBlockSamples / std::max(1, info.channels)));
  if (info.frames > 0 && info.frames != SF_COUNT_MAX) n = std::min(n, std::max<sf_count_t>(4096, info.frames));
  return n;
}

OpenFile open_checked(const fs::path& path) {
  check_file(path);
  OpenFile f;
  f.sf.reset(sf_open(path.c_str(), SFM_READ, &f.info));
  // sf_strerror(nullptr) reads libsndfile's global last-open error: under concurrent failing opens
  // the text may belong to another file, which only affects the wording of this message.
  if (!f.sf) {
    std::string why = sf_strerror(nullptr);
    // The MPEG decoder answers "File does not exist ..." for any file it cannot sync to, which
    // would contradict check_file() above.
    if (why.find("does not exist") != std::string::npos) why = "no known audio format found in it";
    fail(path, fmt::format("unsupported or corrupt audio file ({})", why));
  }
  if (f.info.channels <= 0) fail(path, "zero channels");
  if (!valid_rate(f.info.samplerate))
    fail(path, fmt::format("implausible sample rate {} Hz (expected {})", f.info.samplerate, rate_range_text()));
  if (f.info.frames == 0) fail(path, "empty audio (0 frames)");
  return f;
}

std::string format_name(SNDFILE* sf, int format) {
  SF_FORMAT_INFO major{};
  major.format = format & SF_FORMAT_TYPEMASK;
  if (sf_command(sf, SFC_GET_FORMAT_INFO, &major, sizeof major) != 0 || !major.name) return "unknown";
  // "MPEG-1/2 Audio" does not say which layer; the subtype name does.
  if ((format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG) {
    SF_FORMAT_INFO sub{};
    sub.format = format & SF_FORMAT_SUBMASK;
    if (sf_command(sf, SFC_GET_FORMAT_INFO, &sub, sizeof sub) == 0 && sub.name) return sub.name;
  }
  return major.name;
}

// Streaming resampler: push blocks, then finish() to flush the filter tail. Output is appended to
// `out`. libsoxr or a libsamplerate converter behind one interface; both give output aligned with the
// input (the filter delay is taken out), which tests/datasets/audio_test.cpp checks.
class StreamResampler {
 public:
  StreamResampler(int from_rate, int to_rate, ResampleQuality quality, sf_count_t buffer_frames = kBlockFrames)
      : ratio_(double(to_rate) / double(from_rate)), buffer_(std::size_t(std::max<sf_count_t>(buffer_frames, 4096))) {
    if (quality == ResampleQuality::kSoxrVhq || quality == ResampleQuality::kSoxrHq) {
      const unsigned long recipe =
          quality == ResampleQuality::kSoxrVhq ? (SOXR_VHQ | SOXR_STEEP_FILTER) : static_cast<unsigned long>(SOXR_HQ);
      const soxr_quality_spec_t q = soxr_quality_spec(recipe, 0);
      const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
      const soxr_runtime_spec_t rt = soxr_runtime_spec(1);  // callers parallelise over tracks
      soxr_error_t err = nullptr;
      soxr_.reset(soxr_create(from_rate, to_rate, 1, &err, &io, &q, &rt));
      if (!soxr_ || err)
        throw Error(fmt::format("cannot create resampler: {}", err ? err : "soxr_create failed"), ExitCode::kInternal);
      return;
    }
    int err = 0;
    state_.reset(src_new(converter_type(quality), 1, &err));
    if (!state_) throw Error(fmt::format("cannot create resampler: {}", src_strerror(err)), ExitCode::kInternal);
  }

  void push(const float* in, long frames, std::vector<float>& out) { process(in, frames, false, out); }
  void finish(std::vector<float>& out) { process(nullptr, 0, true, out); }

 private:
  void process(const float* in, long frames, bool last, std::vector<float>& out) {
    if (soxr_) {
      // Input is consumed whole (soxr buffers internally); output drains in buffer-sized pieces.
      // A null input flushes the tail.
      int idle = 0;
      for (;;) {
        size_t idone = 0, odone = 0;
        const soxr_error_t err = soxr_process(soxr_.get(), last ? nullptr : in, last ? 0 : size_t(frames),
                                              last ? nullptr : &idone, buffer_.data(), buffer_.size(), &odone);
        if (err) throw Error(fmt::format("resampling failed: {}", err), ExitCode::kInternal);
        out.insert(out.end(), buffer_.begin(), buffer_.begin() + long(odone));
        if (!last) {
          in += idone;
          frames -= long(idone);
          if (frames == 0 && odone < buffer_.size()) return;
        } else if (odone == 0) {
          return;
        }
        idle = (idone > 0 || odone > 0) ? 0 : idle + 1;
        if (idle > 2) throw Error("resampling made no progress", ExitCode::kInternal);
      }
    }
    int idle = 0;
    for (;;) {
      SRC_DATA d{};
      d.data_in = in;
      d.input_frames = frames;
      d.data_out = buffer_.data();
      d.output_frames = long(buffer_.size());
      d.src_ratio = ratio_;
      d.end_of_input = last ? 1 : 0;
      if (int err = src_process(state_.get(), &d))
        throw Error(fmt::format("resampling failed: {}", src_strerror(err)), ExitCode::kInternal);
      out.insert(out.end(), buffer_.begin(), buffer_.begin() + d.output_frames_gen);
      in += d.input_frames_used;
      frames -= d.input_frames_used;
      const bool progress = d.input_frames_used > 0 || d.output_frames_gen > 0;
      idle = progress ? 0 : idle + 1;
      if (frames == 0 && (!last || d.output_frames_gen == 0)) return;
      if (idle > 2) throw Error("resampling made no progress", ExitCode::kInternal);
    }
  }

  struct SoxrDeleter {
    void operator()(soxr_t s) const { soxr_delete(s); }
  };
  double ratio_;
  std::unique_ptr<SRC_STATE, SrcDeleter> state_;
  std::unique_ptr<std::remove_pointer_t<soxr_t>, SoxrDeleter> soxr_;
  std::vector<float> buffer_;
};

// `who` starts the message: "resample" or the file being loaded.
void check_resample_rates(int from_rate, int to_rate, const std::string& who) {
  if (!valid_rate(from_rate) || !valid_rate(to_rate))
    throw Error(fmt::format("{}: sample rates must be in {}, got {} -> {} Hz", who, rate_range_text(), from_rate,
                            to_rate));
  if (!src_is_valid_ratio(double(to_rate) / from_rate))
    throw Error(fmt::format("{}: resampling {} -> {} Hz is beyond libsamplerate's ratio range 1/256..256", who,
                            from_rate, to_rate));
}

// The converter's output length drifts by a sample or two from n*to/from depending on how the
// flush rounds; fix it so every caller sees the same, predictable length.
void fix_length(std::vector<float>& out, std::size_t in_frames, int from_rate, int to_rate) {
  const auto expected = std::size_t(std::llround(double(in_frames) * to_rate / from_rate));
  out.resize(expected, 0.0f);
}

}  // namespace

AudioInfo probe_audio(const fs::path& path) {
  OpenFile f = open_checked(path);
  AudioInfo info;
  info.sample_rate = f.info.samplerate;
  info.channels = f.info.channels;
  info.frames = f.info.frames;
  info.format = format_name(f.sf.get(), f.info.format);
  if (info.frames < 0 || info.frames == SF_COUNT_MAX) {
    // Length unknown to the container (some MP3 streams without a Xing/LAME header): count it.
    const sf_count_t bf = block_frames(f.info);
    std::vector<float> buf(std::size_t(bf) * f.info.channels);
    std::int64_t n = 0;
    for (sf_count_t r; (r = sf_readf_float(f.sf.get(), buf.data(), bf)) > 0;) n += r;
    if (n == 0) fail(path, "empty audio (0 frames)");
    info.frames = n;
  }
  return info;
}

Audio load_audio(const fs::path& path, const LoadOptions& options) {
  if (!std::isfinite(options.offset) || options.offset < 0)
    fail(path, fmt::format("offset must be a finite number of seconds >= 0, got {}", options.offset));
  if (std::isnan(options.duration) || options.duration == 0)
    fail(path, fmt::format("duration must be > 0 seconds (or < 0 for the whole file), got {}", options.duration));
  if (options.sample_rate != 0 && !valid_rate(options.sample_rate))
    fail(path, fmt::format("target sample rate {} Hz outside {}", options.sample_rate, rate_range_text()));

  OpenFile f = open_checked(path);
  SNDFILE* sf = f.sf.get();
  const int rate = f.info.samplerate;
  const int channels = f.info.channels;
  const double file_seconds = double(f.info.frames) / rate;

  auto past_end = [&] {
    fail(path, fmt::format("offset {:.3f} s is past the end of the audio ({:.3f} s)", options.offset, file_seconds));
  };
  const double start_d = std::round(options.offset * rate);
  if (start_d >= 0x1p62) past_end();  // also keeps the conversion below defined
  const auto start = sf_count_t(start_d);
  // < 0: read to the end of the stream, however long the decoder says it is.
  sf_count_t want = -1;
  if (options.duration > 0) {
    const double w = std::round(options.duration * rate);
    want = w >= double(std::numeric_limits<sf_count_t>::max()) ? std::numeric_limits<sf_count_t>::max() : sf_count_t(w);
    if (want == 0) fail(path, fmt::format("duration {} s is shorter than one sample at {} Hz", options.duration, rate));
  }

  const sf_count_t bf = block_frames(f.info);
  std::vector<float> block(std::size_t(bf) * channels);
  // libsndfile 1.2.0 cannot be trusted to seek in lossy streams: after an MP3 seek the first
  // decoded frames come back as zeros, and Ogg Vorbis seeks near the end (or after a read to EOF)
  // land on the wrong samples. Those are decoded from the start and dropped instead, which costs
  // decode time but gives the same samples as a full read.
  const int major = f.info.format & SF_FORMAT_TYPEMASK;
  const bool exact_seek = f.info.seekable && major != SF_FORMAT_MPEG && major != SF_FORMAT_OGG;
  if (start > 0) {
    if (exact_seek) {
      if (sf_seek(sf, start, SEEK_SET) < 0) past_end();
    } else {
      // Decode and drop, still one block at a time.
      for (sf_count_t left = start; left > 0;) {
        const sf_count_t r = sf_readf_float(sf, block.data(), std::min(left, bf));
        if (r <= 0) past_end();
        left -= r;
      }
    }
  }

  const bool resampling = options.sample_rate != 0 && options.sample_rate != rate;
  if (resampling) check_resample_rates(rate, options.sample_rate, path.string());
  std::unique_ptr<StreamResampler> resampler;
  if (resampling) resampler = std::make_unique<StreamResampler>(rate, options.sample_rate, options.quality, bf);

  Audio audio;
  audio.sample_rate = resampling ? options.sample_rate : rate;
  // Reserve what the header promises for the window (the decoder may deliver a little more or less),
  // but a header is only a claim: a 43-byte FLAC file can promise 4e11 frames (found by fuzz_audio).
  // Beyond kMaxReserve (12 min at 44.1 kHz) the vector grows with what is actually decoded.
  constexpr double kMaxReserve = double(1 << 25);
  if (f.info.frames > 0 && f.info.frames != SF_COUNT_MAX) {
    sf_count_t expect = std::max<sf_count_t>(0, f.info.frames - start);
    if (want >= 0) expect = std::min(expect, want);
    audio.samples.reserve(std::size_t(std::min(double(expect) * audio.sample_rate / rate, kMaxReserve)) + 1);
  }

  std::vector<float> mono(std::size_t(resampling ? bf : 0));
  sf_count_t got = 0;
  // The loop ends on the decoder's EOF (a short or empty read), never on the header's frame count,
  // which is an estimate for some MP3 files.
  while (want < 0 || got < want) {
    const sf_count_t ask = want < 0 ? bf : std::min(bf, want - got);
    const sf_count_t r = sf_readf_float(sf, block.data(), ask);
    if (r <= 0) break;
    float* dst;
    if (resampling) {
      dst = mono.data();
    } else {
      audio.samples.resize(audio.samples.size() + std::size_t(r));
      dst = audio.samples.data() + audio.samples.size() - std::size_t(r);
    }
    for (sf_count_t i = 0; i < r; ++i) {
      const float* frame = block.data() + std::size_t(i) * channels;
      double sum = 0.0;  // in double, the mean of identical channels is exactly that channel
      for (int c = 0; c < channels; ++c) {
        const float v = frame[c];
        if (!std::isfinite(v))
          fail(path, fmt::format("{} sample at {:.6f} s (channel {})", std::isnan(v) ? "NaN" : "Inf",
                                 double(start + got + i) / rate, c));
        sum += v;
      }
      dst[i] = float(sum / channels);
    }
    if (resampling) resampler->push(mono.data(), long(r), audio.samples);
    got += r;
  }
  if (sf_error(sf) != SF_ERR_NO_ERROR)
    fail(path, fmt::format("decoding failed after {:.3f} s: {}", double(start + got) / rate, sf_strerror(sf)));
  if (got == 0) {
    if (start > 0) past_end();
    fail(path, "empty audio (no frames could be decoded)");
  }
  if (resampling) {
    resampler->finish(audio.samples);
    fix_length(audio.samples, std::size_t(got), rate, options.sample_rate);
    // A few frames at a high rate can round to nothing (found by fuzz_audio); never return no audio.
    if (audio.samples.empty())
      fail(path, fmt::format("{} frame{} at {} Hz {} shorter than one sample at {} Hz", got, got == 1 ? "" : "s", rate,
                             got == 1 ? "is" : "are", options.sample_rate));
  }
  return audio;
}

std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate, ResampleQuality quality) {
  check_resample_rates(from_rate, to_rate, "resample");
  if (from_rate == to_rate || samples.empty()) return samples;
  std::vector<float> out;
  out.reserve(std::size_t(double(samples.size()) * to_rate / from_rate) + 16);
  StreamResampler r(from_rate, to_rate, quality);
  for (std::size_t i = 0; i < samples.size(); i += std::size_t(kBlockFrames)) {
    const std::size_t n = std::min(samples.size() - i, std::size_t(kBlockFrames));
    r.push(samples.data() + i, long(n), out);
  }
  r.finish(out);
  fix_length(out, samples.size(), from_rate, to_rate);
  return out;
}

void write_audio(const fs::path& path, const Audio& audio, AudioFormat format) {
  const int rate = audio.sample_rate;
  if (!valid_rate(rate))
    fail(path, fmt::format("cannot write sample rate {} Hz (expected {})", rate, rate_range_text()));
  int sf_format = 0;
  switch (format) {
    case AudioFormat::kWav16: sf_format = SF_FORMAT_WAV | SF_FORMAT_PCM_16; break;
    case AudioFormat::kWavFloat: sf_format = SF_FORMAT_WAV | SF_FORMAT_FLOAT; break;
    case AudioFormat::kFlac: sf_format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    case AudioFormat::kOgg:
      if (rate > kMaxOggSampleRate)
        fail(path, fmt::format("Ogg Vorbis cannot encode {} Hz (at most {} Hz)", rate, kMaxOggSampleRate));
      sf_format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
      break;
    case AudioFormat::kMp3:
      if (std::find(std::begin(kMp3SampleRates), std::end(kMp3SampleRates), rate) == std::end(kMp3SampleRates))
        fail(path, fmt::format("MP3 cannot encode {} Hz (supported: 8000, 11025, 12000, 16000, 22050, 24000, "
                               "32000, 44100, 48000)",
                               rate));
      sf_format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
      break;
  }
  for (std::size_t i = 0; i < audio.samples.size(); ++i)
    if (!std::isfinite(audio.samples[i]))
      fail(path, fmt::format("cannot write a {} sample (at {:.6f} s)", std::isnan(audio.samples[i]) ? "NaN" : "Inf",
                             double(i) / rate));

  std::error_code ec;
  const fs::path parent = path.parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) fail(path, fmt::format("cannot create folder {}: {}", parent.string(), ec.message()));
  }
  if (path.filename().empty()) fail(path, "not a file name");

  // Same folder as the target, so the rename is atomic and never crosses file systems.
  const fs::path tmp = fs::path(path.string() + fmt::format(".tmp-{}", ::getpid()));
  struct TempGuard {
    fs::path p;
    bool armed = true;
    ~TempGuard() {
      std::error_code e;
      if (armed) fs::remove(p, e);
    }
  } guard{tmp};

  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = sf_format;
  SndfilePtr sf(sf_open(tmp.c_str(), SFM_WRITE, &info));
  if (!sf) fail(path, fmt::format("cannot write ({})", sf_strerror(nullptr)));
  // Integer formats wrap around on overflow unless told to clip.
  sf_command(sf.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);

  const auto n = sf_count_t(audio.samples.size());
  for (sf_count_t i = 0; i < n; i += kBlockFrames) {
    const sf_count_t len = std::min(kBlockFrames, n - i);
    if (sf_writef_float(sf.get(), audio.samples.data() + i, len) != len)
      fail(path, fmt::format("write failed ({})", sf_strerror(sf.get())));
  }
  // Lossy encoders flush on close, so its result matters as much as the writes'.
  if (int err = sf_close(sf.release()))
    fail(path, fmt::format("write failed on close ({})", sf_error_number(err)));

  fs::rename(tmp, path, ec);
  if (ec) fail(path, fmt::format("cannot move the written file into place: {}", ec.message()));
  guard.armed = false;
}

}  // namespace mcpt::datasets
