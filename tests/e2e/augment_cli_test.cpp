// `mcpt-eval augment` end to end: a file in, a deformed file out (pitch measured), deformation
// from a file, seeds, batch lists on several threads equal to one-by-one runs, and exit codes.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../augment/Measure.h"
#include "datasets/Audio.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;

namespace {

fs::path tone_file(const TempDir& dir, const std::string& name, double hz, double seconds = 0.6) {
  const fs::path p = dir / name;
  mcpt::datasets::write_audio(p, mcpt::testutil::sine(hz, seconds, 22050), mcpt::datasets::AudioFormat::kWavFloat);
  return p;
}

TEST(AugmentCli, PitchShiftsAFile) {
  TempDir dir("aug");
  const auto in = tone_file(dir, "in.wav", 440.0);
  const auto out = dir / "out.wav";
  const auto r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": \"pitch_shift\", \"semitones\": 3}}' --format wav-float",
                                     in.string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out.string() + "\n");
  const auto a = mcpt::datasets::load_audio(out);
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_EQ(a.samples.size(), std::size_t(0.6 * 22050));
  const double f = mcpt::testutil::peak_frequency(mcpt::testutil::middle(a), 22050);
  EXPECT_NEAR(mcpt::testutil::cents(f, 440.0 * std::pow(2.0, 3 / 12.0)), 0.0, 1.0) << f;
}

TEST(AugmentCli, DeformationFromAFileAndSeeds) {
  TempDir dir("aug");
  const auto in = tone_file(dir, "in.wav", 330.0);
  mcpt::testutil::write_text(dir / "noise.json", R"({"type": "noise", "color": "pink", "snr_db": 10})");
  auto run = [&](const std::string& out, int seed) {
    const auto r = run_cli(fmt::format("augment '{}' '{}' '{}' --seed {} --format wav-float -q", in.string(),
                                       (dir / out).string(), (dir / "noise.json").string(), seed));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");  // -q
    return mcpt::datasets::load_audio(dir / out).samples;
  };
  const auto a = run("a.wav", 4), b = run("b.wav", 4), c = run("c.wav", 5);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(AugmentCli, BatchListOnTwoThreadsEqualsOneByOne) {
  TempDir dir("aug");
  std::string list = "# in\tout\n";
  const std::string spec = R"('{"type": "chain", "stages": [{"type": "pitch_shift", "semitones": -2, "engine": "faster"}, {"type": "noise", "snr_db": 30}]}')";
  for (int i = 0; i < 4; ++i) {
    const auto in = tone_file(dir, fmt::format("in{}.wav", i), 300.0 + 50 * i, 0.4);
    list += fmt::format("{}\t{}\n", in.string(), (dir / fmt::format("batch{}.flac", i)).string());
    const auto r = run_cli(fmt::format("augment '{}' '{}' {} -q", in.string(), (dir / fmt::format("one{}.flac", i)).string(), spec));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  mcpt::testutil::write_text(dir / "list.tsv", list);
  const auto r = run_cli(fmt::format("augment --list '{}' --threads 2 {}", (dir / "list.tsv").string(), spec));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 4; ++i) {
    EXPECT_HAS(r.out, fmt::format("batch{}.flac", i));
    EXPECT_EQ(mcpt::datasets::load_audio(dir / fmt::format("batch{}.flac", i)).samples,
              mcpt::datasets::load_audio(dir / fmt::format("one{}.flac", i)).samples)
        << i;
  }
  // A missing input fails that file only: the others are written and the exit code says "incomplete".
  mcpt::testutil::write_text(dir / "list2.tsv", fmt::format("{}\t{}\n{}\t{}\n", (dir / "missing.wav").string(),
                                                            (dir / "x.wav").string(), (dir / "in0.wav").string(),
                                                            (dir / "y.wav").string()));
  const auto bad = run_cli(fmt::format("augment --list '{}' '{{\"type\": \"gain\", \"db\": -3}}'", (dir / "list2.tsv").string()));
  EXPECT_EQ(bad.exit_code, 4) << bad.err;
  EXPECT_HAS(bad.err, "missing.wav");
  EXPECT_TRUE(fs::exists(dir / "y.wav"));
  EXPECT_FALSE(fs::exists(dir / "x.wav"));
}

TEST(AugmentCli, ErrorsAndExitCodes) {
  TempDir dir("aug");
  const auto in = tone_file(dir, "in.wav", 440.0, 0.2);
  const auto out = (dir / "out.wav").string();
  auto r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": \"pitch_shift\", \"semitones\": 1000}}'", in.string(), out));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "deformation.semitones: 1000 is out of range [-24, 24]");
  r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": \"pitch_shfit\"}}'", in.string(), out));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "did you mean \"pitch_shift\"");
  r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": '", in.string(), out));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "deformation: not valid JSON");
  r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": \"gain\", \"db\": 1}}'", (dir / "nope.wav").string(), out));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "nope.wav");
  r = run_cli(fmt::format("augment '{}' '{}' '{{\"type\": \"gain\", \"db\": 1}}'", in.string(), (dir / "out.xyz").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_HAS(r.err, "cannot tell the format");
  r = run_cli(fmt::format("augment '{}' '{{\"type\": \"gain\", \"db\": 1}}'", in.string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_HAS(r.err, "expected IN OUT DEFORMATION");
  r = run_cli(fmt::format("augment '{}' '{}' no-such-spec.json", in.string(), out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_HAS(r.err, "neither JSON text");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
