// Regression tests for what fuzzing (tests/fuzz, docs/reliability.md "Findings") and the bad-input
// catalogue found in the datasets layer: errors that were not one line, annotation text in other
// encodings than UTF-8, a FIFO as annotation file, and the truncated Ogg file that leaks inside
// libsndfile. Each test feeds the input that exposed the problem.
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/JsonConfig.h"
#include "datasets/Key.h"
#include "datasets/Synthetic.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::datasets::Key;
using mcpt::testutil::error_of;
using mcpt::testutil::TempDir;
using mcpt::testutil::write_text;

namespace {

// What main prints must stay one line: no line breaks or other raw control bytes (tab aside).
bool one_line(const std::string& msg) {
  return !msg.empty() && std::none_of(msg.begin(), msg.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f';
  });
}

}  // namespace

// fuzz_key, first input: "D dorian\n" (also any CSV field with an embedded line break).
TEST(FuzzRegressions, KeyParseErrorIsOneLine) {
  const std::string msg = error_of([] { Key::parse("D dorian\n"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "not a key: \"D dorian\\x0a\"");
  const std::string amb = error_of([] { Key::parse("A\x01M"); });
  EXPECT_TRUE(one_line(amb)) << amb;
}

TEST(FuzzRegressions, KeyFileSecondLineIsEscaped) {
  TempDir dir("fz");
  write_text(dir / "a.key", "C minor\nF\rmajor\n");
  const std::string msg = error_of([&] { mcpt::datasets::read_key_file(dir / "a.key"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, ":2: a second key line \"F\\x0dmajor\"");
}

// fuzz_manifest: a header cell with control bytes ("confide\x03\xEF\xBB\xBFpatnce").
TEST(FuzzRegressions, ManifestUnknownColumnIsEscaped) {
  TempDir dir("fz");
  write_text(dir / "m.csv", "path,key,confide\x03pat\n");
  const std::string msg = error_of([&] { mcpt::datasets::load_manifest(dir / "m.csv"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "unknown column \"confide\\x03pat\"");
}

// fuzz_manifest: nlohmann's parse error quotes the last bytes read, raw.
TEST(FuzzRegressions, ManifestInvalidJsonIsOneLine) {
  TempDir dir("fz");
  write_text(dir / "m.json", "[{\"path\": \"a.wav\", \"key\": \"C\"}, \x01\n]");
  const std::string msg = error_of([&] { mcpt::datasets::load_manifest(dir / "m.json"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "invalid JSON");
}

// fuzz_manifest, long run of 2026-12-01 (after 44,583 executions): a JSON manifest ["3<DEL x13>3th"]
// whose entry is a string; JSON's dump() escapes control bytes below 0x20 but not DEL, so the
// message "expected an object, got string ..." carried 13 raw DEL bytes.
TEST(FuzzRegressions, ManifestJsonValueWithDelIsEscaped) {
  TempDir dir("fz");
  write_text(dir / "m.json", "[\"3\x7f\x7f\x7f" "3th\"]");
  const std::string msg = error_of([&] { mcpt::datasets::load_manifest(dir / "m.json"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "[0]: expected an object, got string \"3\\u007f\\u007f\\u007f3th\"");
  // Shortened values are cut between UTF-8 sequences, not inside one.
  const std::string brief = mcpt::json_brief(nlohmann::json(std::string(55, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9"));
  EXPECT_EQ(brief, "\"" + std::string(55, 'a') + "...");
}

TEST(FuzzRegressions, ManifestJsonUnknownFieldWithLineBreak) {
  TempDir dir("fz");
  write_text(dir / "m.json", R"([{"path": "a.wav", "key": "C", "te\nmpo": 1}])");
  const std::string msg = error_of([&] { mcpt::datasets::load_manifest(dir / "m.json"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "[0].te\\nmpo: unknown field \"te\\nmpo\"");
}

TEST(FuzzRegressions, JsonObjectUnknownKeyWithLineBreak) {
  const nlohmann::json j = {{"a\nb", 1}};
  const std::string msg = error_of([&] {
    mcpt::JsonObject o(j, "suite");
    o.finish();
  });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "suite.a\\nb: unknown key \"a\\nb\"");
  EXPECT_TRUE(one_line(mcpt::unknown_name_message("encoder type", "x\r\ny", {"chroma"})));
}

TEST(FuzzRegressions, SynthOptionKeyWithLineBreak) {
  const nlohmann::json j = {{"trac\nks", 48}};
  const std::string msg = error_of([&] { mcpt::datasets::SynthOptions::from_json(j, "suite.datasets.s"); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, "suite.datasets.s.trac\\nks");
}

// fuzz_giantsteps: a duplicate id holding a vertical tab.
TEST(FuzzRegressions, GiantStepsDuplicateIdIsEscaped) {
  TempDir dir("fz");
  write_text(dir / "annotations" / "annotations.txt", "ID\tMANUAL KEY\tC\n8\v1\tC minor\t2\n8\v1\tA major\t2\n");
  write_text(dir / "annotations" / "beatport_metadata.txt", "ID\tARTIST\n");
  const std::string msg = error_of([&] { mcpt::datasets::load_giantsteps_mtg_key(dir.path()); });
  EXPECT_TRUE(one_line(msg)) << msg;
  EXPECT_HAS(msg, ":3: ID: duplicate id \"8\\x0b1\" (first on line 2)");
}

// Catalogue: annotation text must be UTF-8 (it ends up in report.json); other encodings are named.
TEST(FuzzRegressions, AnnotationEncodings) {
  TempDir dir("fz");
  write_text(dir / "latin1.csv", "path,key,artist\na.wav,C major,Beyonc\xe9\n");
  EXPECT_HAS(error_of([&] { mcpt::datasets::load_manifest(dir / "latin1.csv"); }),
             (dir / "latin1.csv").string() + ":2: not valid UTF-8 (byte 0xE9");
  write_text(dir / "u16.csv", std::string("\xff\xfep\0a\0", 6));
  EXPECT_HAS(error_of([&] { mcpt::datasets::load_manifest(dir / "u16.csv"); }),
             (dir / "u16.csv").string() + ": UTF-16 text (byte-order mark FF FE)");
  write_text(dir / "nul.csv", std::string("path,key\na.wav,C\0", 17));
  EXPECT_HAS(error_of([&] { mcpt::datasets::load_manifest(dir / "nul.csv"); }), ":2: NUL byte");
  // Overlong "/", a UTF-16 surrogate, a code point above U+10FFFF, a lone continuation byte.
  for (const char* bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xE2\x99"}) {
    write_text(dir / "bad.csv", std::string("path,key,artist\na.wav,C major,") + bad + "\n");
    EXPECT_HAS(error_of([&] { mcpt::datasets::load_manifest(dir / "bad.csv"); }), ":2: not valid UTF-8");
  }
  // Valid UTF-8 of every length passes: 2, 3 and 4 bytes, and the Unicode sharp sign in a key.
  write_text(dir / "ok.csv", "\xEF\xBB\xBFpath,key,artist\r\na.wav,C\xE2\x99\xAF minor,Beyonc\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x8E\xB5\r\n");
  const auto ds = mcpt::datasets::load_manifest(dir / "ok.csv");
  ASSERT_EQ(ds.tracks.size(), 1u);
  EXPECT_EQ(ds.tracks[0].key, Key::parse("C# minor"));
  EXPECT_EQ(ds.tracks[0].artist, "Beyonc\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x8E\xB5");
}

// Catalogue: a FIFO would block the reader forever.
TEST(FuzzRegressions, AnnotationFifoIsRefused) {
  TempDir dir("fz");
  ASSERT_EQ(::mkfifo((dir / "m.csv").c_str(), 0644), 0);
  EXPECT_HAS(error_of([&] { mcpt::datasets::load_manifest(dir / "m.csv"); }),
             (dir / "m.csv").string() + ": not a regular file");
}

// fuzz_audio: Ogg Vorbis with truncated headers. A clean bad-input error; the 5784 bytes libsndfile
// leaks on this path are suppressed in tests/lsan.supp (the ASan build runs this test with LSan on).
TEST(FuzzRegressions, TruncatedOggHeadersAreBadInput) {
  const fs::path seed = mcpt::testutil::source_dir() / "tests" / "fuzz" / "corpus" / "audio" / "ogg_truncated_leak";
  const std::string bytes = mcpt::testutil::read_text(seed).substr(1);  // first byte: the fuzzer's options
  TempDir dir("fz");
  write_text(dir / "t.ogg", bytes);
  try {
    mcpt::datasets::load_audio(dir / "t.ogg");
    ADD_FAILURE() << "expected mcpt::Error";
  } catch (const mcpt::Error& e) {
    EXPECT_EQ(e.code(), mcpt::ExitCode::kInput);
    EXPECT_HAS(std::string(e.what()), (dir / "t.ogg").string());
    EXPECT_TRUE(one_line(e.what())) << e.what();
  }
}

// fuzz_audio (speed): short files are read in blocks of their own size; many channels still
// downmix to the mean, and a window still has the exact length.
TEST(FuzzRegressions, ShortMultichannelFilesReadExactly) {
  TempDir dir("fz");
  mcpt::datasets::Audio a = mcpt::testutil::sine(440, 0.01, 8000);  // 80 frames
  mcpt::datasets::write_audio(dir / "a.wav", a, mcpt::datasets::AudioFormat::kWavFloat);
  const auto b = mcpt::datasets::load_audio(dir / "a.wav");
  ASSERT_EQ(b.samples.size(), 80u);
  EXPECT_EQ(b.samples, a.samples);
  const auto c = mcpt::datasets::load_audio(dir / "a.wav", 16000, 0.0025, 0.005);
  EXPECT_EQ(c.samples.size(), 80u);
}

// fuzz_audio (2026-12-01 long run): a 43-byte FLAC file whose STREAMINFO claims about 4e11 frames.
// load_audio reserved room for the frames the header promised (1.5 TB when resampled to 44.1 kHz):
// std::bad_alloc, an internal error instead of a bad-input one (ASan: allocation-size-too-big). The
// reservation is now only a hint, bounded; the decoder's real output decides the length.
TEST(FuzzRegressions, FlacHeaderClaimingHugeLengthIsNotAllocated) {
  const fs::path seed = mcpt::testutil::source_dir() / "tests" / "fuzz" / "corpus" / "audio" / "flac_huge_frame_count";
  const std::string bytes = mcpt::testutil::read_text(seed).substr(1);  // first byte: the fuzzer's options
  TempDir dir("fz");
  write_text(dir / "t.flac", bytes);
  for (int rate : {44100, 0}) {
    try {
      const auto a = mcpt::datasets::load_audio(dir / "t.flac", rate);
      EXPECT_LT(a.samples.size(), 1u << 20) << "decoded more than the file holds";
    } catch (const mcpt::Error& e) {
      EXPECT_EQ(e.code(), mcpt::ExitCode::kInput) << e.what();
      EXPECT_HAS(std::string(e.what()), (dir / "t.flac").string());
      EXPECT_TRUE(one_line(e.what())) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "rate " << rate << ": " << typeid(e).name() << ": " << e.what();
    }
  }
}

// fuzz_audio (2026-12-01 long run, after the fix above): a WAV of 2 frames at 532,288 Hz, loaded at
// 44.1 kHz, resampled to 0 samples and was returned as empty audio instead of an error.
TEST(FuzzRegressions, AudioShorterThanOneResampledSampleIsBadInput) {
  const fs::path seed =
      mcpt::testutil::source_dir() / "tests" / "fuzz" / "corpus" / "audio" / "wav_shorter_than_one_resampled_sample";
  const std::string bytes = mcpt::testutil::read_text(seed).substr(1);
  TempDir dir("fz");
  write_text(dir / "t.wav", bytes);
  EXPECT_EQ(mcpt::datasets::load_audio(dir / "t.wav").samples.size(), 2u) << "at its own rate it has 2 frames";
  const std::string msg = error_of([&] { mcpt::datasets::load_audio(dir / "t.wav", 44100); });
  EXPECT_HAS(msg, (dir / "t.wav").string());
  EXPECT_HAS(msg, "shorter than one sample at 44100 Hz");
  EXPECT_TRUE(one_line(msg)) << msg;
}
