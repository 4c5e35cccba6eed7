// The bad-input catalogue (issue 8): every case runs the mcpt-eval executable on one broken input
// and asserts the documented exit code (3 bad input, 2 bad command line), a one-line error on
// stderr that names the file and the field, line or JSON path, and no partial output (no
// report.json, no temporary file in the output or cache folder). Inputs that are odd but valid
// (1/2/6 channels, 8 kHz .. 192 kHz, 8/24-bit, BOM, CRLF) must run. Inputs are generated here;
// docs/reliability.md lists the cases.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "datasets/Audio.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::datasets::Audio;
using mcpt::datasets::AudioFormat;
using mcpt::datasets::Key;
using mcpt::testutil::CommandResult;
using mcpt::testutil::read_text;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;
using mcpt::testutil::write_text;

namespace {

constexpr int kRate = 16000;
constexpr double kSeconds = 3.0;

std::string bytes_of(const fs::path& p) { return read_text(p); }

void append_le(std::string& s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A RIFF/WAVE file from interleaved samples in [-1, 1] (NaN/Inf pass through for float): PCM 8, 16
// or 24 bit (format 1) or IEEE float 32 bit (format 3). write_audio refuses NaN and writes mono
// only, so the odd files are built by hand.
std::string wav_bytes(int rate, int channels, int bits, bool is_float, const std::vector<double>& x) {
  std::string data;
  for (double v : x) {
    if (is_float) {
      const float f = static_cast<float>(v);
      std::uint32_t u;
      std::memcpy(&u, &f, 4);
      append_le(data, u, 4);
    } else if (bits == 8) {
      data += static_cast<char>(static_cast<std::uint8_t>(std::lround(128 + 127 * v)));  // unsigned
    } else {
      const double scale = bits == 16 ? 32767.0 : 8388607.0;
      append_le(data, static_cast<std::uint32_t>(static_cast<std::int32_t>(std::lround(v * scale))), bits / 8);
    }
  }
  std::string w = "RIFF";
  append_le(w, 36 + data.size(), 4);
  w += "WAVEfmt ";
  append_le(w, 16, 4);
  append_le(w, is_float ? 3 : 1, 2);
  append_le(w, static_cast<std::uint64_t>(channels), 2);
  append_le(w, static_cast<std::uint64_t>(rate), 4);
  append_le(w, static_cast<std::uint64_t>(rate) * channels * bits / 8, 4);
  append_le(w, static_cast<std::uint64_t>(channels) * bits / 8, 2);
  append_le(w, static_cast<std::uint64_t>(bits), 2);
  w += "data";
  append_le(w, data.size(), 4);
  return w + data;
}

// `channels` copies of a key-defining signal, interleaved.
std::vector<double> interleaved(const Key& key, int rate, int channels, double seconds = kSeconds) {
  const Audio a = mcpt::testutil::key_chords(key, seconds, rate);
  std::vector<double> x;
  x.reserve(a.samples.size() * channels);
  for (float v : a.samples)
    for (int c = 0; c < channels; ++c) x.push_back(v);
  return x;
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// Files a failed run must not leave: the report, tables, plots, or any temporary file.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return found;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == "report.json" || name.find(".tmp") != std::string::npos || name.rfind("results.", 0) == 0)
      found.push_back(it->path().string());
  }
  return found;
}

// True when this process can read a file that has mode 000 (root can): then "unreadable" cannot be
// produced and that case is skipped.
bool can_read_mode_000(const fs::path& p) { return ::access(p.c_str(), R_OK) == 0; }

class BadInputs : public ::testing::Test {
 protected:
  TempDir tmp{"bad"};
  fs::path data = tmp / "data";
  fs::path out = tmp / "out";
  fs::path cache = tmp / "cache";
  // Manifest rows after the header; tests append to it and call write_manifest().
  std::vector<std::string> rows;

  void SetUp() override {
    fs::create_directories(data);
    const char* keys[] = {"C major", "A minor", "G major", "E minor", "D major", "B minor", "F major", "D minor"};
    const char* splits[] = {"train", "train", "train", "train", "valid", "valid", "test", "test"};
    for (int i = 0; i < 8; ++i) {
      const std::string name = fmt::format("t{}.wav", i);
      mcpt::datasets::write_audio(data / name, mcpt::testutil::key_chords(Key::parse(keys[i]), kSeconds, kRate, i));
      rows.push_back(fmt::format("{},{},{}", name, keys[i], splits[i]));
    }
    write_manifest();
  }

  void write_manifest() {
    std::string text = "path,key,split\n";
    for (const auto& r : rows) text += r + "\n";
    write_text(data / "manifest.csv", text);
  }

  // Adds a test track whose audio file holds `bytes`; returns its path.
  fs::path add_test_file(const std::string& name, const std::string& bytes, const std::string& key = "C major") {
    write_text(data / name, bytes);
    rows.push_back(fmt::format("{},{},test", name, key));
    write_manifest();
    return data / name;
  }

  nlohmann::json suite() const {
    return {{"name", "bad-inputs"},
            {"seed", 1},
            {"output", out.string()},
            {"cache", cache.string()},
            {"datasets", {{"m", {{"type", "manifest"}, {"root", data.string()}}}}},
            {"protocol", {{"train", "m:train"}, {"valid", "m:valid"}, {"test", "m:test"}}},
            {"encoders", {{{"name", "kp"}, {"type", "key-profile"}, {"segment_seconds", 2}}}},
            {"probes", {{{"type", "none"}}}},
            {"statistics", {{"seeds", 1}, {"bootstrap", 0}}}};
  }

  fs::path write_suite(const nlohmann::json& j, const std::string& name = "suite.json") const {
    const fs::path p = tmp / name;
    write_text(p, j.dump(2));
    return p;
  }
  fs::path write_suite_text(const std::string& text, const std::string& name = "suite.json") const {
    const fs::path p = tmp / name;
    write_text(p, text);
    return p;
  }

  static CommandResult run(const fs::path& suite_file, const std::string& sub = "run") {
    return run_cli(fmt::format("{} '{}' -q", sub, suite_file.string()));
  }

  // The catalogue's contract for one bad input.
  void expect_bad(const CommandResult& r, const std::vector<std::string>& parts, int code = 3) const {
    EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err << "\nstdout: " << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << "one line on stderr, got: " << r.err;
    EXPECT_EQ(r.err.rfind("mcpt-eval: error: ", 0), 0u) << r.err;
    for (const auto& p : parts) EXPECT_HAS(r.err, p);
    EXPECT_EQ(r.err.find("internal"), std::string::npos) << r.err;
    EXPECT_TRUE(leftovers(out).empty()) << "partial output: " << leftovers(out).front();
    EXPECT_TRUE(leftovers(cache).empty() || leftovers(cache).front().find(".tmp") == std::string::npos)
        << "temporary file left in the cache: " << leftovers(cache).front();
  }

  void expect_ok(const CommandResult& r) const {
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err;
    EXPECT_TRUE(fs::exists(out / "report.json"));
  }

  // Number of per-track predictions of the first result in the report.
  size_t scored_tracks() const {
    std::ifstream in(out / "report.json");
    const auto j = nlohmann::json::parse(in);
    return j.at("results").at(0).at("predictions").size();
  }

  // One run with one bad test track: exit 3 and the file named.
  void expect_bad_audio(const std::string& name, const std::string& bytes, const std::vector<std::string>& parts) {
    const fs::path f = add_test_file(name, bytes);
    std::vector<std::string> all = {f.string()};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_bad(run(write_suite(suite())), all);
  }

  std::string encoded(AudioFormat format, int rate = kRate, double seconds = kSeconds) const {
    const fs::path p = tmp / "enc.bin";
    mcpt::datasets::write_audio(p, mcpt::testutil::key_chords(Key::parse("C major"), seconds, rate), format);
    std::string b = bytes_of(p);
    fs::remove(p);
    return b;
  }
};

// A corrupt body: the first `keep` bytes of a real file, then bytes that are no codec's.
std::string corrupt(std::string b, size_t keep) {
  for (size_t i = keep; i < b.size(); ++i) b[i] = static_cast<char>((i * 7919u) & 0xff);
  return b;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The fixture itself must run, or every "bad" case below would pass for the wrong reason.
TEST_F(BadInputs, TheCleanSuiteRuns) {
  const auto r = run(write_suite(suite()));
  expect_ok(r);
  EXPECT_EQ(scored_tracks(), 2u);
}

// --- audio: empty, truncated, corrupt, per format ------------------------------------------------
TEST_F(BadInputs, EmptyWav) { expect_bad_audio("e.wav", "", {"empty file (0 bytes)"}); }
TEST_F(BadInputs, EmptyFlac) { expect_bad_audio("e.flac", "", {"empty file (0 bytes)"}); }
TEST_F(BadInputs, EmptyOgg) { expect_bad_audio("e.ogg", "", {"empty file (0 bytes)"}); }
TEST_F(BadInputs, EmptyMp3) { expect_bad_audio("e.mp3", "", {"empty file (0 bytes)"}); }

TEST_F(BadInputs, TruncatedWavHeader) {
  expect_bad_audio("t.wav", encoded(AudioFormat::kWav16).substr(0, 30), {"unsupported or corrupt audio file"});
}
TEST_F(BadInputs, TruncatedFlacHeader) {
  expect_bad_audio("t.flac", encoded(AudioFormat::kFlac).substr(0, 20), {"unsupported or corrupt audio file"});
}
TEST_F(BadInputs, TruncatedOggHeader) {
  expect_bad_audio("t.ogg", encoded(AudioFormat::kOgg).substr(0, 100), {"unsupported or corrupt audio file"});
}
TEST_F(BadInputs, TruncatedMp3) {
  // A few bytes of an MP3: no frame can be synchronised to.
  expect_bad_audio("t.mp3", encoded(AudioFormat::kMp3).substr(0, 40), {"t.mp3"});
}
TEST_F(BadInputs, CorruptWavHeader) {
  // "RIFF....WAVE" then garbage where the fmt chunk should be.
  expect_bad_audio("c.wav", corrupt(encoded(AudioFormat::kWav16), 12), {"unsupported or corrupt audio file"});
}
TEST_F(BadInputs, CorruptFlac) {
  expect_bad_audio("c.flac", corrupt(encoded(AudioFormat::kFlac), 4), {"c.flac"});
}
TEST_F(BadInputs, CorruptOgg) { expect_bad_audio("c.ogg", corrupt(encoded(AudioFormat::kOgg), 4), {"c.ogg"}); }
TEST_F(BadInputs, CorruptMp3) { expect_bad_audio("c.mp3", corrupt(encoded(AudioFormat::kMp3), 0), {"c.mp3"}); }
TEST_F(BadInputs, TextNamedMp3) {
  expect_bad_audio("notes.mp3", "These are my notes, not audio.\nSecond line.\n", {"unsupported or corrupt audio file"});
}
TEST_F(BadInputs, TextNamedWav) {
  expect_bad_audio("notes.wav", "path,key\nx.wav,C major\n", {"unsupported or corrupt audio file"});
}

// Truncated inside the audio data (header intact): the decoders stop early without an error, so
// this is indistinguishable from a shorter file for WAV; the run goes on with what is there and
// still scores every track.
TEST_F(BadInputs, WavTruncatedInTheDataStillScores) {
  const std::string w = encoded(AudioFormat::kWav16);
  add_test_file("half.wav", w.substr(0, w.size() / 2));
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 3u);
}

// --- audio: zero-length and very short --------------------------------------------------------------
TEST_F(BadInputs, ZeroFrameWav) {
  expect_bad_audio("z.wav", wav_bytes(kRate, 1, 16, false, {}), {"empty audio (0 frames)"});
}
// Shorter than one segment (0.1 s, and a single sample, with 2 s segments): the track is one short
// segment and is scored, not dropped and not an internal error (README: every test track is scored).
TEST_F(BadInputs, ShorterThanOneSegmentIsScored) {
  add_test_file("short.wav", wav_bytes(kRate, 1, 16, false, interleaved(Key::parse("C major"), kRate, 1, 0.1)));
  add_test_file("one.wav", wav_bytes(kRate, 1, 16, false, {0.25}));
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 4u);
}

// --- audio: channels, rates and sample formats that must work -------------------------------------
TEST_F(BadInputs, MonoStereoAndSixChannelsRun) {
  for (int ch : {1, 2, 6})
    add_test_file(fmt::format("ch{}.wav", ch), wav_bytes(kRate, ch, 16, false, interleaved(Key::parse("C major"), kRate, ch)));
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 5u);
}
TEST_F(BadInputs, SampleRates8kTo192kRun) {
  for (int rate : {8000, 11025, 22050, 44100, 48000, 96000, 192000})
    add_test_file(fmt::format("r{}.wav", rate), wav_bytes(rate, 1, 16, false, interleaved(Key::parse("A minor"), rate, 1)),
                  "A minor");
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 9u);
}
TEST_F(BadInputs, EightBitTwentyFourBitAndFloatRun) {
  const auto x = interleaved(Key::parse("G major"), kRate, 1);
  add_test_file("b8.wav", wav_bytes(kRate, 1, 8, false, x), "G major");
  add_test_file("b24.wav", wav_bytes(kRate, 1, 24, false, x), "G major");
  add_test_file("f32.wav", wav_bytes(kRate, 1, 32, true, x), "G major");
  add_test_file("lossless.flac", encoded(AudioFormat::kFlac), "C major");
  add_test_file("vorbis.ogg", encoded(AudioFormat::kOgg), "C major");
  add_test_file("layer3.mp3", encoded(AudioFormat::kMp3), "C major");
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 8u);
}
TEST_F(BadInputs, FloatWavWithNaN) {
  auto x = interleaved(Key::parse("C major"), kRate, 1);
  x[kRate / 2] = std::numeric_limits<double>::quiet_NaN();
  expect_bad_audio("nan.wav", wav_bytes(kRate, 1, 32, true, x), {"NaN sample at 0.500000 s"});
}
TEST_F(BadInputs, FloatWavWithInf) {
  auto x = interleaved(Key::parse("C major"), kRate, 2);
  x[2 * kRate + 1] = std::numeric_limits<double>::infinity();
  expect_bad_audio("inf.wav", wav_bytes(kRate, 2, 32, true, x), {"Inf sample at 1.000000 s (channel 1)"});
}
TEST_F(BadInputs, ImplausibleSampleRateInHeader) {
  expect_bad_audio("rate.wav", wav_bytes(1, 1, 16, false, std::vector<double>(64, 0.1)), {"implausible sample rate 1 Hz"});
}

// --- audio: missing, unreadable, not a file ---------------------------------------------------------
TEST_F(BadInputs, MissingAudioFile) {
  rows.push_back("gone.wav,C major,test");
  write_manifest();
  expect_bad(run(write_suite(suite())), {(data / "gone.wav").string(), "no audio file"});
}
TEST_F(BadInputs, UnreadableAudioFile) {
  const fs::path f = add_test_file("locked.wav", encoded(AudioFormat::kWav16));
  ::chmod(f.c_str(), 0);
  if (can_read_mode_000(f)) {
    ::chmod(f.c_str(), 0644);
    GTEST_SKIP() << "running as root: a mode-000 file is still readable";
  }
  const auto r = run(write_suite(suite()));
  ::chmod(f.c_str(), 0644);
  expect_bad(r, {f.string(), "cannot read"});
}
TEST_F(BadInputs, AudioPathIsAFolder) {
  fs::create_directories(data / "dir.wav");
  rows.push_back("dir.wav,C major,test");
  write_manifest();
  expect_bad(run(write_suite(suite())), {(data / "dir.wav").string()});
}

// --- annotations: manifests -----------------------------------------------------------------------------
TEST_F(BadInputs, ManifestBadKey) {
  rows.push_back("t0.wav,H major,test");
  write_manifest();
  expect_bad(run(write_suite(suite())), {(data / "manifest.csv").string() + ":10: key: not a key: \"H major\""});
}
TEST_F(BadInputs, ManifestExtraColumn) {
  rows[2] += ",extra";
  write_manifest();
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.csv").string() + ":4: expected 3 fields (as the header), got 4"});
}
TEST_F(BadInputs, ManifestUnknownColumn) {
  write_text(data / "manifest.csv", "path,key,tempo\nt0.wav,C major,120\n");
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.csv").string() + ":1: header: unknown column \"tempo\""});
}
TEST_F(BadInputs, ManifestLatin1) {
  write_text(data / "manifest.csv", "path,key,split,artist\nt0.wav,C major,test,Beyonc\xe9\n");
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.csv").string() + ":2: not valid UTF-8 (byte 0xE9"});
}
TEST_F(BadInputs, ManifestUtf16) {
  const std::string text = "path,key\nt0.wav,C major\n";
  std::string u16 = "\xff\xfe";
  for (char c : text) u16 += std::string{c, '\0'};
  write_text(data / "manifest.csv", u16);
  expect_bad(run(write_suite(suite()), "validate"), {(data / "manifest.csv").string() + ": UTF-16 text"});
}
TEST_F(BadInputs, ManifestWithBomAndCrlfRuns) {
  std::string text = "\xEF\xBB\xBFpath,key,split\r\n";
  for (const auto& r : rows) text += r + "\r\n";
  write_text(data / "manifest.csv", text);
  expect_ok(run(write_suite(suite())));
  EXPECT_EQ(scored_tracks(), 2u);
}
TEST_F(BadInputs, ManifestDuplicateId) {
  rows.push_back(rows[6]);
  write_manifest();
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.csv").string() + ":10: id: duplicate id \"t6\" (first at line 8)"});
}
TEST_F(BadInputs, ManifestUnknownSplit) {
  rows.push_back("t0.wav,C major,holdout");
  write_manifest();
  expect_bad(run(write_suite(suite()), "validate"), {(data / "manifest.csv").string() + ":10: split: unknown split"});
}
TEST_F(BadInputs, ManifestUnclosedQuote) {
  write_text(data / "manifest.csv", "path,key\n\"t0.wav,C major\n");
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.csv").string() + ":2: quoted field is not closed"});
}
TEST_F(BadInputs, ManifestJsonWrongType) {
  fs::remove(data / "manifest.csv");
  write_text(data / "manifest.json", R"({"tracks": [{"path": "t0.wav", "key": 5}]})");
  expect_bad(run(write_suite(suite()), "validate"),
             {(data / "manifest.json").string() + ": tracks[0].key: expected string, got integer 5"});
}
TEST_F(BadInputs, ManifestJsonInvalid) {
  fs::remove(data / "manifest.csv");
  write_text(data / "manifest.json", "{\"tracks\": [\n{\"path\": \"t0.wav\",\n");
  expect_bad(run(write_suite(suite()), "validate"), {(data / "manifest.json").string() + ": invalid JSON"});
}
TEST_F(BadInputs, ManifestIsAPipe) {
  // A FIFO would block the reader forever; it is refused before it is opened.
  fs::remove(data / "manifest.csv");
  ASSERT_EQ(::mkfifo((data / "manifest.csv").c_str(), 0644), 0);
  auto j = suite();
  j["datasets"]["m"]["manifest"] = "manifest.csv";
  expect_bad(run(write_suite(j), "validate"), {(data / "manifest.csv").string() + ": not a regular file"});
}

// --- annotations: GiantSteps key files and MTG annotations (dataset-info, key-score) -----------------
TEST_F(BadInputs, KeyFileBadKey) {
  write_text(tmp / "a.key", "# estimate\nC minor / F minor\n");
  const auto r = run_cli(fmt::format("key-score '{}' 'C minor'", (tmp / "a.key").string()));
  expect_bad(r, {"reference", (tmp / "a.key").string() + ":2: not a key: \"C minor / F minor\""});
}
TEST_F(BadInputs, KeyFileTwoKeys) {
  write_text(tmp / "b.key", "C minor\nF major\n");
  const auto r = run_cli(fmt::format("key-score 'C minor' '{}'", (tmp / "b.key").string()));
  expect_bad(r, {"estimate", (tmp / "b.key").string() + ":2: a second key line \"F major\""});
}
TEST_F(BadInputs, KeyFileWithBomAndCrlfScores) {
  write_text(tmp / "c.key", "\xEF\xBB\xBF" "Eb minor\r\n");
  const auto r = run_cli(fmt::format("key-score '{}' 'D# minor'", (tmp / "c.key").string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
}
TEST_F(BadInputs, GiantStepsKeyFileWithControlBytes) {
  const fs::path root = tmp / "gs";
  write_text(root / "annotations" / "key" / "1.LOFI.key", "C\x01minor\n");
  const auto r = run_cli(fmt::format("dataset-info giantsteps-key '{}'", root.string()));
  expect_bad(r, {(root / "annotations" / "key" / "1.LOFI.key").string() + ":1: not a key: \"C\\x01minor\""});
}
TEST_F(BadInputs, MtgAnnotationsBadConfidence) {
  const fs::path root = tmp / "mtg";
  write_text(root / "annotations" / "annotations.txt", "ID\tMANUAL KEY\tC\n1\tC minor\ttwo\n");
  write_text(root / "annotations" / "beatport_metadata.txt", "ID\tARTIST\n1\tSomeone\n");
  const auto r = run_cli(fmt::format("dataset-info giantsteps-mtg-key '{}'", root.string()));
  expect_bad(r, {(root / "annotations" / "annotations.txt").string() + ":2: C: expected an integer confidence"});
}
TEST_F(BadInputs, MtgAnnotationsExtraColumn) {
  const fs::path root = tmp / "mtg";
  write_text(root / "annotations" / "annotations.txt", "ID\tMANUAL KEY\tC\n1\tC minor\t2\textra\n");
  write_text(root / "annotations" / "beatport_metadata.txt", "ID\tARTIST\n1\tSomeone\n");
  const auto r = run_cli(fmt::format("dataset-info giantsteps-mtg-key '{}'", root.string()));
  expect_bad(r, {(root / "annotations" / "annotations.txt").string() + ":2: expected 3 tab-separated columns"});
}
TEST_F(BadInputs, MtgMetadataLatin1) {
  const fs::path root = tmp / "mtg";
  write_text(root / "annotations" / "annotations.txt", "ID\tMANUAL KEY\tC\n1\tC minor\t2\n");
  write_text(root / "annotations" / "beatport_metadata.txt", "ID\tARTIST\n1\tMot\xf6rhead\n");
  const auto r = run_cli(fmt::format("dataset-info giantsteps-mtg-key '{}'", root.string()));
  expect_bad(r, {(root / "annotations" / "beatport_metadata.txt").string() + ":2: not valid UTF-8 (byte 0xF6"});
}
TEST_F(BadInputs, MtgAnnotationsWithBomAndCrlfLoad) {
  const fs::path root = tmp / "mtg";
  write_text(root / "annotations" / "annotations.txt", "\xEF\xBB\xBFID\tMANUAL KEY\tC\r\n1\tC minor\t2\r\n2\tA major\t2\r\n");
  write_text(root / "annotations" / "beatport_metadata.txt", "\xEF\xBB\xBFID\tARTIST\r\n1\tA\r\n2\tB\r\n");
  const auto r = run_cli(fmt::format("dataset-info giantsteps-mtg-key '{}' --json", root.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tracks"], 2);
}

// --- suites ----------------------------------------------------------------------------------------
TEST_F(BadInputs, SuiteNotJson) {
  const auto f = write_suite_text("{\"name\": \"x\",\n  \"seed\": 1,,\n}");
  expect_bad(run(f, "validate"), {f.string(), "not valid JSON", "line 2"});
}
TEST_F(BadInputs, SuiteEmptyFile) {
  const auto f = write_suite_text("");
  expect_bad(run(f, "validate"), {f.string(), "not valid JSON"});
}
TEST_F(BadInputs, SuiteUnknownKey) {
  auto j = suite();
  j["colour"] = "red";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.colour: unknown key"});
}
TEST_F(BadInputs, SuiteWrongType) {
  auto j = suite();
  j["seed"] = "one";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.seed:", "\"one\""});
}
TEST_F(BadInputs, SuiteMissingRequiredField) {
  auto j = suite();
  j.erase("protocol");
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.protocol"});
}
TEST_F(BadInputs, SuiteUnknownEncoder) {
  auto j = suite();
  j["encoders"][0]["type"] = "crhoma";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.encoders[0].type: unknown encoder type \"crhoma\"", "did you mean"});
}
TEST_F(BadInputs, SuiteUnknownProbe) {
  auto j = suite();
  j["probes"][0]["type"] = "svm";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.probes[0].type: unknown probe type \"svm\""});
}
TEST_F(BadInputs, SuiteUnknownDatasetType) {
  auto j = suite();
  j["datasets"]["m"]["type"] = "manifesto";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.datasets.m.type: unknown dataset type \"manifesto\""});
}
// Encoder options are checked when the encoder is built (by the runner, after Suite::load), so these
// errors name the JSON path; that they also name the suite file is the DISABLED_ test below.
TEST_F(BadInputs, SuiteNegativeSampleRate) {
  auto j = suite();
  j["encoders"] = {{{"name", "c"}, {"type", "chroma"}, {"sample_rate", -16000}}};
  expect_bad(run(write_suite(j), "validate"), {"suite.encoders[0].sample_rate: -16000 is out of range"});
}
TEST_F(BadInputs, SuiteZeroSegmentSeconds) {
  auto j = suite();
  j["encoders"][0]["segment_seconds"] = 0;
  expect_bad(run(write_suite(j), "validate"), {"suite.encoders[0].segment_seconds: 0 is out of range"});
}
// Known gap (reported to the integrator): errors raised while the runner builds encoders lack the
// "<suite file>: " prefix that Suite::load gives every other suite error. Enable when fixed.
TEST_F(BadInputs, EncoderErrorsNameTheSuiteFile) {
  auto j = suite();
  j["encoders"][0]["segment_seconds"] = 0;
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string() + ": suite.encoders[0].segment_seconds"});
}
TEST_F(BadInputs, SuiteNameThatEscapesTheOutputFolder) {
  auto j = suite();
  j.erase("output");
  j["name"] = "../../escaped";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.name"});
}
TEST_F(BadInputs, SuiteFileThatIsAFifo) {
  const auto f = tmp / "fifo.json";
  ASSERT_EQ(::mkfifo(f.c_str(), 0600), 0);
  expect_bad(run(f, "validate"), {f.string(), "not a regular file"});
}
TEST_F(BadInputs, SuiteNegativeLearningRate) {
  auto j = suite();
  j["probes"] = {{{"type", "linear"}, {"grid", {{"lr", {0.01, -1}}}}}};
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.probes[0].grid.lr"});
}
TEST_F(BadInputs, SuiteZeroSeeds) {
  auto j = suite();
  j["statistics"]["seeds"] = 0;
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.statistics.seeds"});
}
TEST_F(BadInputs, SuiteDuplicateEncoderNames) {
  auto j = suite();
  j["encoders"].push_back(j["encoders"][0]);
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.encoders[1].name: duplicate encoder name \"kp\""});
}
TEST_F(BadInputs, SuiteDuplicateProbes) {
  auto j = suite();
  j["probes"].push_back(j["probes"][0]);
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.probes[1]: duplicate probe"});
}
TEST_F(BadInputs, SuiteUnknownDatasetInProtocol) {
  auto j = suite();
  j["protocol"]["test"] = "n:test";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.protocol.test: unknown dataset \"n\""});
}
TEST_F(BadInputs, SuiteTestOverlapsTraining) {
  auto j = suite();
  j["protocol"]["test"] = "m:train";
  const auto f = write_suite(j);
  expect_bad(run(f, "validate"), {f.string(), "suite.protocol.test[0]", "overlaps"});
}
TEST_F(BadInputs, SuiteDatasetRootMissing) {
  auto j = suite();
  j["datasets"]["m"]["root"] = (tmp / "nowhere").string();
  const auto f = write_suite(j);
  expect_bad(run(f), {"suite.datasets.m", (tmp / "nowhere").string()});
}
TEST_F(BadInputs, SuiteMissingFile) {
  expect_bad(run(tmp / "absent.json"), {(tmp / "absent.json").string(), "no such suite file"});
}
TEST_F(BadInputs, SuiteUtf16) {
  const std::string text = suite().dump();
  std::string u16 = "\xff\xfe";
  for (char c : text) u16 += std::string{c, '\0'};
  const auto f = write_suite_text(u16);
  expect_bad(run(f, "validate"), {f.string(), "not valid JSON"});
}

// --- robustness block ------------------------------------------------------------------------------
// A suite with a trainable probe (the robustness analyses need one) and a given robustness block.
nlohmann::json with_robustness(nlohmann::json j, const nlohmann::json& block) {
  j["encoders"] = {{{"name", "chroma"}, {"type", "chroma"}, {"segment_seconds", 2}}};
  j["probes"] = {{{"type", "linear"}}};
  j["robustness"] = block;
  return j;
}
nlohmann::json pitch_sweep(const nlohmann::json& values) {
  return {{"sweeps", {{{"type", "pitch_shift"}, {"parameter", "semitones"}, {"values", values}}}}};
}
TEST_F(BadInputs, RobustnessSweepValueNotANumber) {
  const auto f = write_suite(with_robustness(suite(), pitch_sweep({1, "two"})));
  expect_bad(run(f), {f.string(), "suite.robustness.sweeps[0].values[1]: expected number", "\"two\""});
}
TEST_F(BadInputs, RobustnessSweepWithoutValues) {
  const auto f = write_suite(with_robustness(suite(), pitch_sweep(nlohmann::json::array())));
  expect_bad(run(f), {f.string(), "suite.robustness.sweeps[0].values: expected a non-empty array"});
}
TEST_F(BadInputs, RobustnessShiftOf1000Semitones) {
  const auto f = write_suite(with_robustness(suite(), pitch_sweep({2, 1000})));
  expect_bad(run(f), {f.string(), "suite.robustness.sweeps[0].values[1].semitones: 1000 is out of range [-24, 24]"});
}
TEST_F(BadInputs, RobustnessDecodabilityShiftOf1000Semitones) {
  auto block = pitch_sweep({2});
  block["decodability"] = {0, 1000};
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.decodability[1]: 1000 is out of range"});
}
TEST_F(BadInputs, RobustnessControlShiftOutOfRange) {
  auto block = pitch_sweep({2});
  block["control_semitones"] = -1000;
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.control_semitones: -1000 is out of range"});
}
TEST_F(BadInputs, RobustnessUnknownEncoder) {
  auto block = pitch_sweep({2});
  block["encoders"] = {"crhoma"};
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.encoders[0]: unknown encoder \"crhoma\"", "did you mean \"chroma\""});
}
TEST_F(BadInputs, RobustnessUnknownProbe) {
  auto block = pitch_sweep({2});
  block["probe"] = "svm";
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.probe: unknown trainable probe \"svm\"", "known: linear"});
}
TEST_F(BadInputs, RobustnessUnknownDeformationType) {
  auto block = pitch_sweep({2});
  block["sweeps"][0]["type"] = "pitch_shfit";
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.sweeps[0].type: unknown deformation type \"pitch_shfit\"",
                      "did you mean \"pitch_shift\""});
}
TEST_F(BadInputs, RobustnessUnknownTrainingAugmentationType) {
  auto block = pitch_sweep({2});
  block["training_augmentation"] = {{"type", "wobble"}};
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.training_augmentation.type: unknown deformation type \"wobble\""});
}
TEST_F(BadInputs, RobustnessUnknownSweepOption) {
  auto block = pitch_sweep({2});
  block["sweeps"][0]["options"] = {{"engin", "faster"}};
  const auto f = write_suite(with_robustness(suite(), block));
  expect_bad(run(f), {f.string(), "suite.robustness.sweeps[0]", "engin: unknown key"});
}

// --- model files: MCPT checkpoints (safetensors) and TorchScript modules ----------------------------
// A safetensors file: 8-byte little-endian header length, the JSON header, the tensor bytes.
std::string safetensors(const nlohmann::json& header, const std::string& data) {
  const std::string h = header.dump();
  std::string out;
  append_le(out, h.size(), 8);
  return out + h + data;
}
nlohmann::json with_mcpt(nlohmann::json j, const fs::path& checkpoint, const nlohmann::json& extra = {}) {
  nlohmann::json e = {{"name", "vit"}, {"type", "mcpt"}, {"checkpoint", checkpoint.string()}, {"segment_seconds", 2}};
  for (auto it = extra.begin(); it != extra.end(); ++it) e[it.key()] = it.value();
  j["encoders"] = {e};
  j["probes"] = {{{"type", "linear"}}};
  return j;
}
const nlohmann::json kTinyVit = {{"patch", "vertical"}, {"dim", 32}, {"depth", 2}, {"heads", 2}, {"dim_head", 16},
                                 {"mlp_dim", 64}};
TEST_F(BadInputs, McptCheckpointThatIsText) {
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, std::string(4096, 'x'));
  const auto f = write_suite(with_mcpt(suite(), ck, kTinyVit));
  expect_bad(run(f), {f.string(), "suite.encoders[0]", ck.string(), "not a safetensors checkpoint"});
}
TEST_F(BadInputs, McptCheckpointTooShort) {
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, "abc");
  const auto f = write_suite(with_mcpt(suite(), ck, kTinyVit));
  expect_bad(run(f), {f.string(), ck.string(), "too short"});
}
TEST_F(BadInputs, McptCheckpointTruncatedTensorData) {
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, safetensors({{"w", {{"dtype", "F32"}, {"shape", {4, 4}}, {"data_offsets", {0, 64}}}}},
                             std::string(20, '\0')));
  const auto f = write_suite(with_mcpt(suite(), ck, kTinyVit));
  expect_bad(run(f), {f.string(), ck.string(), "tensor 'w'"});
}
TEST_F(BadInputs, McptCheckpointOfAnotherArchitecture) {
  // A well-formed file whose tensors are not the ViT's (e.g. another model's state dict).
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, safetensors({{"__metadata__", {{"format", "mcpt-vit"}}},
                              {"classifier.weight", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}},
                             std::string(8, '\0')));
  const auto f = write_suite(with_mcpt(suite(), ck, kTinyVit));
  expect_bad(run(f), {f.string(), ck.string(), "is missing", "another architecture"});
}
TEST_F(BadInputs, McptCheckpointDisagreesWithTheSuite) {
  // The checkpoint's stored configuration says depth 2; the suite asks for depth 3.
  nlohmann::json config = kTinyVit;
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, safetensors({{"__metadata__", {{"format", "mcpt-vit"}, {"config", config.dump()}}}}, ""));
  nlohmann::json extra = kTinyVit;
  extra["depth"] = 3;
  const auto f = write_suite(with_mcpt(suite(), ck, extra));
  expect_bad(run(f), {f.string(), "suite.encoders[0].depth", "differs from the checkpoint", ck.string()});
}
TEST_F(BadInputs, McptCheckpointOfAnotherFormat) {
  const fs::path ck = tmp / "model.safetensors";
  write_text(ck, safetensors({{"__metadata__", {{"format", "pt"}, {"config", "{}"}}}}, ""));
  const auto f = write_suite(with_mcpt(suite(), ck, kTinyVit));
  expect_bad(run(f), {f.string(), ck.string(), "is not \"mcpt-vit\""});
}
nlohmann::json with_torchscript(nlohmann::json j, const fs::path& file) {
  j["encoders"] = {{{"name", "ts"}, {"type", "torchscript"}, {"file", file.string()}, {"sample_rate", 16000},
                    {"segment_seconds", 2}}};
  j["probes"] = {{{"type", "linear"}}};
  return j;
}
TEST_F(BadInputs, TorchScriptFileThatIsText) {
  const fs::path pt = tmp / "model.pt";
  write_text(pt, "def forward(x): return x\n");
  const auto f = write_suite(with_torchscript(suite(), pt));
  expect_bad(run(f), {f.string(), "suite.encoders[0].file", pt.string(), "not a TorchScript file"});
}
TEST_F(BadInputs, TorchScriptTruncatedArchive) {
  // The first bytes of a zip archive (a TorchScript file is one), cut short.
  const fs::path pt = tmp / "model.pt";
  write_text(pt, std::string("PK\x03\x04", 4) + std::string(60, '\x01'));
  const auto f = write_suite(with_torchscript(suite(), pt));
  expect_bad(run(f), {f.string(), "suite.encoders[0].file", pt.string()});
}
TEST_F(BadInputs, TorchScriptZipThatIsNoModule) {
  // A well-formed zip archive without a TorchScript module inside (wrong kind of file).
  const fs::path pt = tmp / "model.pt";
  const auto made = mcpt::testutil::run_command(fmt::format(
      "'{}' -c \"import zipfile; z = zipfile.ZipFile('{}', 'w'); z.writestr('model/data.pkl', 'not a pickle'); z.close()\"",
      mcpt::testutil::python(), pt.string()));
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const auto f = write_suite(with_torchscript(suite(), pt));
  expect_bad(run(f), {f.string(), "suite.encoders[0].file", pt.string()});
}
TEST_F(BadInputs, TorchScriptEmptyFile) {
  const fs::path pt = tmp / "model.pt";
  write_text(pt, "");
  const auto f = write_suite(with_torchscript(suite(), pt));
  expect_bad(run(f), {f.string(), "suite.encoders[0].file", "empty"});
}

// The output folder cannot be created (a file is in the way): the run must fail before it
// computes anything or at least without leaving a half-written output behind, as a bad input.
TEST_F(BadInputs, OutputPathIsAFile) {
  write_text(tmp / "taken", "a file, not a folder\n");
  auto j = suite();
  j["output"] = (tmp / "taken").string();
  const auto r = run(write_suite(j));
  expect_bad(r, {(tmp / "taken").string()});
  EXPECT_EQ(read_text(tmp / "taken"), "a file, not a folder\n");
}

// --- command line (exit 2) ------------------------------------------------------------------------
TEST_F(BadInputs, CommandLineErrors) {
  for (const char* args : {"run", "run a.json b.json", "run x.json --threads 0", "dataset-info manifest",
                           "key-score 'C major'", "table", "--no-such-flag"}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_FALSE(r.err.empty()) << args;
    EXPECT_TRUE(r.out.empty()) << args << ": " << r.out;
  }
}
