// Tests for datasets/Audio.cpp: format round trips, band-limited resampling, downmixing, windowed
// (streamed) reads, the error messages for bad files, and atomic writes.
#include "datasets/Audio.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include "datasets/Error.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt::datasets;
using mcpt::testutil::sine;
using mcpt::testutil::TempDir;

namespace {

// Magnitude of the Hann-windowed DFT of x[begin, end) at `hz` (Goertzel).
double tone_magnitude(const std::vector<float>& x, std::size_t begin, std::size_t end, double hz, int rate) {
  const std::size_t n = end - begin;
  const double w = 2.0 * M_PI * hz / rate;
  double re = 0, im = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double hann = 0.5 - 0.5 * std::cos(2.0 * M_PI * double(i) / double(n - 1));
    re += hann * x[begin + i] * std::cos(w * double(i));
    im -= hann * x[begin + i] * std::sin(w * double(i));
  }
  return std::hypot(re, im);
}

// Frequency from rising zero crossings, each located by linear interpolation.
double zero_crossing_hz(const std::vector<float>& x, std::size_t begin, std::size_t end, int rate) {
  double first = -1, last = -1;
  int count = 0;
  for (std::size_t i = begin + 1; i < end; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const double t = double(i - 1) + double(-x[i - 1]) / double(x[i] - x[i - 1]);
      if (first < 0) first = t;
      last = t;
      ++count;
    }
  }
  if (count < 2) return 0;
  return (count - 1) * double(rate) / (last - first);
}

double rms(const std::vector<float>& x, std::size_t begin, std::size_t end) {
  double s = 0;
  for (std::size_t i = begin; i < end; ++i) s += double(x[i]) * x[i];
  return std::sqrt(s / double(end - begin));
}

// Asserts that `fn` throws mcpt::Error whose message contains every one of `needles`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected mcpt::Error containing '" << *needles.begin() << "'";
  } catch (const mcpt::Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  }
}

// Writes interleaved float frames with libsndfile directly (multichannel, NaN, Inf: things
// write_audio refuses or cannot produce).
void write_raw(const fs::path& p, const std::vector<float>& interleaved, int channels, int rate,
               int format = SF_FORMAT_WAV | SF_FORMAT_FLOAT) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* sf = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(sf, nullptr) << sf_strerror(nullptr);
  const sf_count_t frames = sf_count_t(interleaved.size()) / channels;
  EXPECT_EQ(sf_writef_float(sf, interleaved.data(), frames), frames);
  EXPECT_EQ(sf_close(sf), 0);
}

bool has_temp_files(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

struct FormatCase {
  AudioFormat format;
  const char* name;
  const char* format_name;  // what probe_audio reports
  bool lossless;
};

class RoundTrip : public ::testing::TestWithParam<FormatCase> {};

}  // namespace

TEST_P(RoundTrip, SineKeepsRateLengthAndPitch) {
  const FormatCase& c = GetParam();
  TempDir dir("audio");
  const int rate = 44100;
  const Audio in = sine(440.0, 1.0, rate, 0.5f);
  const fs::path p = dir / (std::string("tone.") + c.name);
  write_audio(p, in, c.format);

  const AudioInfo info = probe_audio(p);
  EXPECT_EQ(info.sample_rate, rate);
  EXPECT_EQ(info.channels, 1);
  EXPECT_NE(info.format.find(c.format_name), std::string::npos) << info.format;

  const Audio out = load_audio(p);
  EXPECT_EQ(out.sample_rate, rate);
  const auto n = std::ptrdiff_t(in.samples.size());
  const auto m = std::ptrdiff_t(out.samples.size());
  if (c.lossless) {
    EXPECT_EQ(m, n);
    EXPECT_EQ(info.frames, n);
  } else {
    // Encoder delay and padding: libsndfile's LAME/Vorbis paths are gapless, but allow a frame.
    EXPECT_LE(std::abs(m - n), 1152) << "read " << m << " of " << n;
    EXPECT_LE(std::abs(info.frames - n), 1152);
  }
  ASSERT_GT(m, rate / 2);

  // Dominant frequency: 440 Hz towers over its neighbours and zero crossings agree.
  const std::size_t b = 2048, e = std::size_t(m) - 2048;
  const double at = tone_magnitude(out.samples, b, e, 440, rate);
  for (double other : {220.0, 400.0, 480.0, 880.0})
    EXPECT_GT(at, 100 * tone_magnitude(out.samples, b, e, other, rate)) << other << " Hz";
  EXPECT_NEAR(zero_crossing_hz(out.samples, b, e, rate), 440.0, 0.5);
  EXPECT_NEAR(rms(out.samples, b, e), 0.5 / std::sqrt(2.0), c.lossless ? 1e-4 : 0.02);

  if (c.lossless) {
    const float tol = c.format == AudioFormat::kWavFloat ? 0.0f : 1.0f / 32768;
    float worst = 0;
    for (std::size_t i = 0; i < in.samples.size(); ++i)
      worst = std::max(worst, std::fabs(out.samples[i] - in.samples[i]));
    EXPECT_LE(worst, tol);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip,
                         ::testing::Values(FormatCase{AudioFormat::kWav16, "wav", "WAV", true},
                                           FormatCase{AudioFormat::kWavFloat, "wav", "WAV", true},
                                           FormatCase{AudioFormat::kFlac, "flac", "FLAC", true},
                                           FormatCase{AudioFormat::kOgg, "ogg", "OGG", false},
                                           FormatCase{AudioFormat::kMp3, "mp3", "MPEG Layer III", false}),
                         [](const auto& info) {
                           return std::string(info.param.name) +
                                  (info.param.format == AudioFormat::kWavFloat ? "Float" : "");
                         });

TEST(Audio, WriteClipsIntegerFormats) {
  TempDir dir("audio");
  Audio a;
  a.sample_rate = 8000;
  a.samples = {0.0f, 2.0f, -3.0f, 0.5f};
  write_audio(dir / "clip.wav", a, AudioFormat::kWav16);
  const Audio b = load_audio(dir / "clip.wav");
  ASSERT_EQ(b.samples.size(), 4u);
  EXPECT_NEAR(b.samples[1], 1.0f, 1e-4);  // clipped, not wrapped to a negative value
  EXPECT_NEAR(b.samples[2], -1.0f, 1e-4);
  EXPECT_NEAR(b.samples[3], 0.5f, 1e-4);
}

struct ResampleCase {
  int from, to;
};
class ResampleTone : public ::testing::TestWithParam<ResampleCase> {};

TEST_P(ResampleTone, KeepsFrequencyLengthAndAmplitude) {
  const auto [from, to] = GetParam();
  const Audio in = sine(1000.0, 1.0, from, 0.5f);
  for (ResampleQuality q : {ResampleQuality::kSoxrVhq, ResampleQuality::kSoxrHq, ResampleQuality::kBest,
                            ResampleQuality::kMedium, ResampleQuality::kFastest}) {
    SCOPED_TRACE(resample_quality_name(q));
    const std::vector<float> out = resample(in.samples, from, to, q);
    const auto expected = std::llround(double(in.samples.size()) * to / from);
    EXPECT_NEAR(double(out.size()), double(expected), 2.0);
    const std::size_t b = to / 10, e = out.size() - to / 10;  // skip the filter's edge transients
    EXPECT_NEAR(zero_crossing_hz(out, b, e, to), 1000.0, 0.05);
    EXPECT_NEAR(rms(out, b, e) * std::sqrt(2.0), 0.5, 0.005);  // amplitude within 1%
  }
}

INSTANTIATE_TEST_SUITE_P(Rates, ResampleTone, ::testing::Values(ResampleCase{44100, 16000}, ResampleCase{22050, 48000}),
                         [](const auto& info) {
                           return std::to_string(info.param.from) + "to" + std::to_string(info.param.to);
                         });

TEST(Audio, ResampleRemovesToneAboveNewNyquist) {
  // 10 kHz cannot exist at 16 kHz; a naive (non band-limited) resampler would alias it to 6 kHz.
  const Audio in = sine(10000.0, 1.0, 44100, 0.5f);
  const std::vector<float> best = resample(in.samples, 44100, 16000, ResampleQuality::kBest);
  const std::size_t b = 1600, e = best.size() - 1600;
  EXPECT_LT(rms(best, b, e), 0.5 / std::sqrt(2.0) * 1e-5);  // below -100 dB (measured about -150)
  const std::vector<float> fast = resample(in.samples, 44100, 16000, ResampleQuality::kFastest);
  EXPECT_LT(rms(fast, b, e), 0.5 / std::sqrt(2.0) * 1e-4);  // below -80 dB (measured about -110)
  // The same tone below Nyquist passes: the attenuation above is the filter, not lost signal.
  const std::vector<float> up = resample(in.samples, 44100, 48000, ResampleQuality::kBest);
  EXPECT_NEAR(rms(up, 4800, up.size() - 4800), 0.5 / std::sqrt(2.0), 0.005);
}

TEST(Audio, SoxrVhqRemovesToneAboveNewNyquist) {
  const Audio in = sine(10000.0, 1.0, 44100, 0.5f);
  const std::vector<float> out = resample(in.samples, 44100, 16000);  // the default: soxr_vhq
  EXPECT_LT(rms(out, 1600, out.size() - 1600), 0.5 / std::sqrt(2.0) * 1e-5);  // below -100 dB
}

// What the mel front ends need near the top of their range: soxr_vhq (steep filter) keeps a 7.7 kHz
// tone at 16 kHz within 0.01 dB (measured -0.001 dB; libsamplerate's best sinc loses 3.9 dB there,
// its medium one 29 dB), and keeps time: a resampled sine has the phase of the sine sampled at the new
// rate (no filter delay left in the output), to within 0.01 of an output sample.
TEST(Audio, SoxrVhqPassbandReachesNearNyquistAndKeepsTime) {
  auto gain_db = [](const std::vector<float>& y) {
    return 20.0 * std::log10(rms(y, 4000, y.size() - 4000) * std::sqrt(2.0) / 0.5);
  };
  const std::vector<float> top = resample(sine(7700.0, 2.0, 22050, 0.5f).samples, 22050, 16000);
  EXPECT_NEAR(gain_db(top), 0.0, 0.01);
  const std::vector<float> medium =
      resample(sine(7700.0, 2.0, 22050, 0.5f).samples, 22050, 16000, ResampleQuality::kMedium);
  EXPECT_LT(gain_db(medium), -10.0);  // the check can tell a narrower filter apart

  for (ResampleQuality q : {ResampleQuality::kSoxrVhq, ResampleQuality::kSoxrHq, ResampleQuality::kBest}) {
    SCOPED_TRACE(resample_quality_name(q));
    const double f = 1000.0;
    const std::vector<float> y = resample(sine(f, 2.0, 44100, 0.5f).samples, 44100, 16000, q);
    double c = 0, s = 0;
    for (std::size_t i = 4000; i + 4000 < y.size(); ++i) {
      c += y[i] * std::cos(2 * M_PI * f * double(i) / 16000);
      s += y[i] * std::sin(2 * M_PI * f * double(i) / 16000);
    }
    const double delay_samples = std::atan2(-c, s) / (2 * M_PI * f) * 16000;
    EXPECT_NEAR(delay_samples, 0.0, 0.01);
  }
}

// load_audio resamples block by block (65,536 frames); the result must not depend on the blocks.
TEST(Audio, StreamingResampleEqualsWholeSignal) {
  TempDir dir("rs");
  const Audio in = mcpt::testutil::key_chords(Key::parse("E minor"), 7.0, 44100, 3);  // 308,700 frames
  write_audio(dir / "a.wav", in, AudioFormat::kWavFloat);
  for (ResampleQuality q : {ResampleQuality::kSoxrVhq, ResampleQuality::kBest}) {
    SCOPED_TRACE(resample_quality_name(q));
    LoadOptions o;
    o.sample_rate = 16000;
    o.quality = q;
    const Audio streamed = load_audio(dir / "a.wav", o);
    const std::vector<float> whole = resample(in.samples, 44100, 16000, q);
    ASSERT_EQ(streamed.samples.size(), whole.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < whole.size(); ++i)
      max_diff = std::max(max_diff, double(std::abs(streamed.samples[i] - whole[i])));
    EXPECT_LT(max_diff, 1e-6);
  }
}

TEST(Audio, ResamplerNames) {
  for (ResampleQuality q : {ResampleQuality::kSoxrVhq, ResampleQuality::kSoxrHq, ResampleQuality::kBest,
                            ResampleQuality::kMedium, ResampleQuality::kFastest})
    EXPECT_EQ(parse_resample_quality(resample_quality_name(q), "x"), q);
  EXPECT_EQ(LoadOptions{}.quality, ResampleQuality::kSoxrVhq);
  expect_error([] { parse_resample_quality("sox", "suite.encoders[0].resample"); },
               {"suite.encoders[0].resample", "unknown resampler \"sox\"", "soxr_vhq"});
}

TEST(Audio, ResampleEdgeCases) {
  const std::vector<float> x = {0.1f, 0.2f, 0.3f};
  EXPECT_EQ(resample(x, 16000, 16000), x);
  EXPECT_TRUE(resample({}, 16000, 8000).empty());
  expect_error([&] { resample(x, 0, 16000); }, {"resample", "sample rate"});
  expect_error([&] { resample(x, 16000, -1); }, {"resample"});
}

TEST(Audio, LoadResamplesToRequestedRate) {
  TempDir dir("audio");
  write_audio(dir / "a.wav", sine(1000.0, 2.0, 44100, 0.5f), AudioFormat::kWavFloat);
  const Audio a = load_audio(dir / "a.wav", 16000);
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_EQ(a.samples.size(), 32000u);
  EXPECT_NEAR(zero_crossing_hz(a.samples, 1600, 30400, 16000), 1000.0, 0.05);
  EXPECT_NEAR(rms(a.samples, 1600, 30400) * std::sqrt(2.0), 0.5, 0.005);
  // Same rate as the file: no resampling, exact samples.
  const Audio same = load_audio(dir / "a.wav", 44100);
  EXPECT_EQ(same.samples, sine(1000.0, 2.0, 44100, 0.5f).samples);
}

TEST(Audio, DownmixIsTheMeanOfChannels) {
  TempDir dir("audio");
  const int rate = 8000, n = 4000;
  const Audio x = sine(300.0, double(n) / rate, rate, 0.6f);

  std::vector<float> opposite, left_only;
  for (float v : x.samples) {
    opposite.insert(opposite.end(), {v, -v});
    left_only.insert(left_only.end(), {v, 0.0f});
  }
  write_raw(dir / "opposite.wav", opposite, 2, rate);
  const Audio silence = load_audio(dir / "opposite.wav");
  ASSERT_EQ(silence.samples.size(), std::size_t(n));
  for (float v : silence.samples) ASSERT_EQ(v, 0.0f);

  write_raw(dir / "left.wav", left_only, 2, rate);
  const Audio half = load_audio(dir / "left.wav");
  ASSERT_EQ(half.samples.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) ASSERT_FLOAT_EQ(half.samples[i], x.samples[i] / 2);

  std::vector<float> six;
  for (float v : x.samples)
    for (int c = 0; c < 6; ++c) six.push_back(v);
  write_raw(dir / "six.wav", six, 6, rate);
  EXPECT_EQ(probe_audio(dir / "six.wav").channels, 6);
  EXPECT_EQ(load_audio(dir / "six.wav").samples, x.samples);

  // Integer PCM: the same identity, within quantisation.
  write_raw(dir / "six16.wav", six, 6, rate, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  const Audio six16 = load_audio(dir / "six16.wav");
  ASSERT_EQ(six16.samples.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) ASSERT_NEAR(six16.samples[i], x.samples[i], 1.0 / 32768);
}

TEST(Audio, WindowIsSampleExact) {
  TempDir dir("audio");
  const int rate = 8000, n = 3 * rate;
  Audio ramp;  // each sample names its own index, exactly representable as float
  ramp.sample_rate = rate;
  for (int i = 0; i < n; ++i) ramp.samples.push_back(float(i) / (1 << 20));
  const fs::path p = dir / "ramp.wav";
  write_audio(p, ramp, AudioFormat::kWavFloat);

  const Audio w = load_audio(p, 0, 0.5, 0.25);
  ASSERT_EQ(w.samples.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(w.samples[i], float(4000 + i) / (1 << 20));

  // Offsets round to the nearest sample.
  EXPECT_EQ(load_audio(p, 0, 1.00006, 0.001).samples.front(), float(8000) / (1 << 20));
  // A window running past the end is cut short; duration < 0 reads to the end.
  EXPECT_EQ(load_audio(p, 0, 2.5, 1.0).samples.size(), 4000u);
  EXPECT_EQ(load_audio(p, 0, 1.0).samples.size(), 16000u);
  EXPECT_EQ(load_audio(p, 0, 1.0).samples.back(), float(n - 1) / (1 << 20));
  // The last sample alone is still inside.
  EXPECT_EQ(load_audio(p, 0, double(n - 1) / rate).samples.size(), 1u);

  expect_error([&] { load_audio(p, 0, 3.0); }, {"ramp.wav", "past the end"});
  expect_error([&] { load_audio(p, 0, 10.0, 1.0); }, {"ramp.wav", "past the end"});
  expect_error([&] { load_audio(p, 0, -0.5); }, {"ramp.wav", "offset"});
  expect_error([&] { load_audio(p, 0, 0.0, 0.0); }, {"ramp.wav", "duration"});
  expect_error([&] { load_audio(p, 5); }, {"ramp.wav", "sample rate"});
}

TEST(Audio, WindowOfCompressedFileMatchesFullRead) {
  // Lossy decoders must give the same samples for a window as for the whole file: libsndfile
  // 1.2.0's own seeking in MP3 (zeros after the seek) and Ogg (wrong position near the end) does not.
  TempDir dir("audio");
  const int rate = 44100;
  Audio chirp;
  chirp.sample_rate = rate;
  for (int i = 0; i < 3 * rate; ++i) {
    const double t = double(i) / rate;
    chirp.samples.push_back(float(0.5 * std::sin(2 * M_PI * (300 + 100 * t) * t)));
  }
  for (const auto& [format, name] : {std::pair{AudioFormat::kMp3, "c.mp3"}, std::pair{AudioFormat::kOgg, "c.ogg"},
                                     std::pair{AudioFormat::kFlac, "c.flac"}}) {
    SCOPED_TRACE(name);
    write_audio(dir / name, chirp, format);
    const Audio full = load_audio(dir / name);
    for (double offset : {0.5, 1.2345, 2.9}) {
      const Audio w = load_audio(dir / name, 0, offset, 0.05);
      const auto s = std::size_t(std::llround(offset * rate));
      ASSERT_EQ(w.samples.size(), 2205u);
      ASSERT_LE(s + w.samples.size(), full.samples.size());
      for (std::size_t i = 0; i < w.samples.size(); ++i)
        ASSERT_EQ(w.samples[i], full.samples[s + i]) << "offset " << offset << " sample " << i;
    }
  }
}

TEST(Audio, WindowOfLongFileIsStreamed) {
  TempDir dir("audio");
  const int rate = 22050, n = 180 * rate;  // three minutes: the window is 1/90 of it
  Audio ramp;
  ramp.sample_rate = rate;
  ramp.samples.resize(std::size_t(n));
  for (int i = 0; i < n; ++i) ramp.samples[std::size_t(i)] = float(i) / (1 << 22);
  const fs::path p = dir / "long.wav";
  write_audio(p, ramp, AudioFormat::kWavFloat);
  ramp.samples = {};
  EXPECT_EQ(probe_audio(p).frames, n);

  // Crosses several 64k-frame read blocks.
  const Audio w = load_audio(p, 0, 100.0, 5.0);
  ASSERT_EQ(w.samples.size(), std::size_t(5 * rate));
  for (int i = 0; i < 5 * rate; ++i) ASSERT_EQ(w.samples[std::size_t(i)], float(100 * rate + i) / (1 << 22)) << i;

  // The same window resampled while streaming: a ramp stays a ramp (away from the cut edges).
  const Audio r = load_audio(p, 16000, 100.0, 5.0);
  ASSERT_EQ(r.samples.size(), std::size_t(5 * 16000));
  for (int j = 1600; j < 5 * 16000 - 1600; j += 97) {
    const double expected = (100.0 * rate + j * double(rate) / 16000) / (1 << 22);
    ASSERT_NEAR(r.samples[std::size_t(j)], expected, 1e-5) << j;
  }
}

TEST(Audio, MissingFile) {
  TempDir dir("audio");
  expect_error([&] { probe_audio(dir / "nope.wav"); }, {"nope.wav", "no such file"});
  expect_error([&] { load_audio(dir / "nope.wav"); }, {"nope.wav", "no such file"});
}

TEST(Audio, Directory) {
  TempDir dir("audio");
  fs::create_directories(dir / "folder.wav");
  expect_error([&] { load_audio(dir / "folder.wav"); }, {"folder.wav", "directory"});
}

TEST(Audio, EmptyFile) {
  TempDir dir("audio");
  mcpt::testutil::write_text(dir / "zero.wav", "");
  expect_error([&] { probe_audio(dir / "zero.wav"); }, {"zero.wav", "empty"});
  expect_error([&] { load_audio(dir / "zero.wav"); }, {"zero.wav", "empty"});
}

TEST(Audio, TextFileNamedMp3) {
  TempDir dir("audio");
  mcpt::testutil::write_text(dir / "notes.mp3", "these are liner notes, not audio\n");
  expect_error([&] { probe_audio(dir / "notes.mp3"); }, {"notes.mp3", "unsupported or corrupt"});
  try {
    probe_audio(dir / "notes.mp3");
  } catch (const mcpt::Error& e) {
    EXPECT_EQ(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  expect_error([&] { load_audio(dir / "notes.mp3"); }, {"notes.mp3"});
}

TEST(Audio, TruncatedWav) {
  TempDir dir("audio");
  const fs::path head = dir / "head.wav";
  write_audio(head, sine(440, 0.5, 8000), AudioFormat::kWav16);
  fs::resize_file(head, 20);  // inside the fmt chunk
  expect_error([&] { probe_audio(head); }, {"head.wav", "unsupported or corrupt"});
  expect_error([&] { load_audio(head); }, {"head.wav"});

  // Cut in the data: what is there is read, the header's promise is not trusted.
  const fs::path body = dir / "body.wav";
  write_audio(body, sine(440, 0.5, 8000), AudioFormat::kWav16);
  fs::resize_file(body, 44 + 2 * 1000);
  EXPECT_EQ(load_audio(body).samples.size(), 1000u);
}

TEST(Audio, WavWithZeroFrames) {
  TempDir dir("audio");
  Audio nothing;
  nothing.sample_rate = 16000;
  write_audio(dir / "silent.wav", nothing, AudioFormat::kWav16);
  expect_error([&] { probe_audio(dir / "silent.wav"); }, {"silent.wav", "empty"});
  expect_error([&] { load_audio(dir / "silent.wav"); }, {"silent.wav", "empty"});
}

TEST(Audio, NonFiniteSamples) {
  TempDir dir("audio");
  std::vector<float> x = sine(440, 1.0, 8000).samples;
  x[4000] = std::numeric_limits<float>::quiet_NaN();
  write_raw(dir / "nan.wav", x, 1, 8000);
  expect_error([&] { load_audio(dir / "nan.wav"); }, {"nan.wav", "NaN", "0.5"});
  // Also through a window and with resampling.
  expect_error([&] { load_audio(dir / "nan.wav", 16000, 0.25, 0.5); }, {"nan.wav", "NaN", "0.5"});

  x[4000] = 0;
  x[6000] = -std::numeric_limits<float>::infinity();
  write_raw(dir / "inf.wav", x, 1, 8000);
  expect_error([&] { load_audio(dir / "inf.wav"); }, {"inf.wav", "Inf", "0.75"});
  // A window before the bad sample is fine.
  EXPECT_EQ(load_audio(dir / "inf.wav", 0, 0.0, 0.5).samples.size(), 4000u);
}

TEST(Audio, UnreadableFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  TempDir dir("audio");
  const fs::path p = dir / "locked.wav";
  write_audio(p, sine(440, 0.1, 8000));
  fs::permissions(p, fs::perms::none);
  expect_error([&] { probe_audio(p); }, {"locked.wav", "cannot read"});
  fs::permissions(p, fs::perms::owner_all);
}

TEST(Audio, ImplausibleSampleRate) {
  TempDir dir("audio");
  std::vector<float> x(100, 0.1f);
  write_raw(dir / "slow.wav", x, 1, 10);
  expect_error([&] { probe_audio(dir / "slow.wav"); }, {"slow.wav", "sample rate"});
}

TEST(Audio, WriteCreatesNestedFolders) {
  TempDir dir("audio");
  const fs::path p = dir / "a" / "b" / "c" / "tone.flac";
  write_audio(p, sine(440, 0.2, 16000), AudioFormat::kFlac);
  EXPECT_EQ(load_audio(p).samples.size(), 3200u);
  EXPECT_FALSE(has_temp_files(dir.path()));
  // Overwriting replaces the file.
  write_audio(p, sine(440, 0.1, 16000), AudioFormat::kFlac);
  EXPECT_EQ(load_audio(p).samples.size(), 1600u);
  EXPECT_FALSE(has_temp_files(dir.path()));
}

TEST(Audio, FailedWriteLeavesNoTempFile) {
  TempDir dir("audio");
  const Audio tone = sine(440, 0.2, 16000);
  mcpt::testutil::write_text(dir / "plain", "a file, not a folder");
  expect_error([&] { write_audio(dir / "plain" / "sub" / "x.wav", tone); }, {"x.wav"});

  // A rate the encoder cannot take is refused before anything is written.
  Audio hi = sine(440, 0.2, 96000);
  expect_error([&] { write_audio(dir / "hi.mp3", hi, AudioFormat::kMp3); }, {"hi.mp3", "MP3"});

  // Everything is written, then the rename fails: the target is a folder.
  fs::create_directories(dir / "taken.wav");
  expect_error([&] { write_audio(dir / "taken.wav", tone); }, {"taken.wav"});
  EXPECT_TRUE(fs::is_directory(dir / "taken.wav"));

  Audio bad = tone;
  bad.samples[10] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { write_audio(dir / "bad.wav", bad); }, {"bad.wav", "NaN"});
  EXPECT_FALSE(fs::exists(dir / "bad.wav"));

  Audio norate = tone;
  norate.sample_rate = 0;
  expect_error([&] { write_audio(dir / "norate.wav", norate); }, {"norate.wav", "sample rate"});

  EXPECT_FALSE(has_temp_files(dir.path()));
}
