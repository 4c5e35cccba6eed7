// End-to-end tests of the mcpt-eval executable: subcommands, exit codes, a real run on a small
// synthetic corpus (report contents, determinism, cache), and JSON Schema validation.
#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::run_cli;
using mcpt::testutil::TempDir;

namespace {

// A small synthetic suite, rendered once per test binary into the build tree and reused.
fs::path small_corpus() {
  static const fs::path dir = mcpt::testutil::synth_corpus("synth-small", "--tracks 72 --seconds 6 --seed 3 --sample-rate 16000");
  return dir;
}

nlohmann::json small_suite(const fs::path& root, const fs::path& out) {
  return {{"name", "small"},
          {"seed", 5},
          {"output", out.string()},
          {"cache", (out / "cache").string()},
          {"datasets", {{"s", {{"type", "synthetic"}, {"root", root.string()}, {"tracks", 72}, {"seconds", 6},
                               {"seed", 3}, {"sample_rate", 16000}}}}},
          {"protocol", {{"train", "s:train"}, {"valid", "s:valid"}, {"test", "s:test"}}},
          {"encoders", {{{"name", "chroma"}, {"type", "chroma"}, {"segment_seconds", 3}},
                        {{"name", "kp"}, {"type", "key-profile"}}}},
          {"probes", {{{"type", "linear"}, {"grid", {{"lr", {0.01, 0.001}}}}}, {{"type", "none"}}}},
          {"statistics", {{"seeds", 2}, {"bootstrap", 200}}}};
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(Cli, KeyScorePrintsTheScoreAlone) {
  auto r = run_cli("key-score 'C major' 'G major'");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "0.5\n");
  EXPECT_EQ(run_cli("key-score 'A minor' 'C major'").out, "0.3\n");
  EXPECT_EQ(run_cli("key-score 'C major' 'F major'").out, "0\n");
  EXPECT_EQ(run_cli("key-score 'C major' 'F major' --allow-descending-fifths").out, "0.5\n");
  TempDir dir("ks");
  mcpt::testutil::write_text(dir / "ref.key", "# reference\nEb minor\n");
  r = run_cli(fmt::format("key-score '{}' 'D# minor'", (dir / "ref.key").string()));
  EXPECT_EQ(r.out, "1\n");
  const auto gs = mcpt::testutil::test_data() / "giantsteps-key" / "annotations" / "key";
  if (fs::exists(gs / "10089.LOFI.key")) {
    r = run_cli(fmt::format("key-score '{}' '{}'", (gs / "10089.LOFI.key").string(), (gs / "10089.LOFI.key").string()));
    EXPECT_EQ(r.out, "1\n");
  }
}

TEST(Cli, KeyScoreBadInputNamesTheArgument) {
  auto r = run_cli("key-score 'H major' 'C major'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("reference"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("H major"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  r = run_cli("key-score 'C major' 'C minor / F minor'");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("estimate"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli("key-score 'C major'").exit_code, 2);
}

TEST(Cli, HelpVersionAndUsageErrors) {
  for (const char* sub : {"", "run", "validate", "key-score", "dataset-info", "synth", "table"}) {
    const auto r = run_cli(fmt::format("{} --help", sub));
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  auto r = run_cli("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("mcpt-eval"), std::string::npos);
  EXPECT_EQ(run_cli("frobnicate").exit_code, 2);
  EXPECT_EQ(run_cli("").exit_code, 2);
  r = run_cli("/nonexistent/suite.json");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("/nonexistent/suite.json: no such suite file"), std::string::npos) << r.err;
}

// The revision in --version (and in every report's provenance) is the commit that was built: it is
// looked up at build time, not when the build tree was configured (a build tree configured at an
// older commit used to report that one).
TEST(Cli, VersionNamesTheCommitThatWasBuilt) {
  const auto git = mcpt::testutil::run_command(fmt::format("git -C '{}' rev-parse --short=12 HEAD", MCPT_SOURCE_DIR));
  const auto r = run_cli("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (git.exit_code != 0) {  // a source tree outside git (a release tarball)
    EXPECT_NE(r.out.find("(unknown)"), std::string::npos) << r.out;
    return;
  }
  const std::string rev = git.out.substr(0, git.out.find_first_of("\n"));
  ASSERT_EQ(rev.size(), 12u) << git.out;
  EXPECT_NE(r.out.find("(" + rev), std::string::npos) << r.out << " is not HEAD " << rev << ": rebuild";
}

TEST(Cli, DatasetInfoOnRealAnnotations) {
  const auto root = mcpt::testutil::test_data() / "giantsteps-key";
  auto r = run_cli(fmt::format("dataset-info giantsteps-key '{}' --json", root.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tracks"], 604);
  EXPECT_EQ(j["by_mode"]["minor"], 511);
  EXPECT_EQ(j["by_mode"]["major"], 93);
  EXPECT_EQ(j["missing_audio"], 604);
  r = run_cli(fmt::format("dataset-info giantsteps-key '{}'", root.string()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("tracks: 604"), std::string::npos) << r.out;
  r = run_cli("dataset-info giantsteps-key /nonexistent/gs");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("/nonexistent/gs"), std::string::npos);
  r = run_cli("dataset-info giantstep-key /tmp");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("did you mean"), std::string::npos) << r.err;
}

TEST(Cli, RunScoresEveryTestTrackAndIsDeterministic) {
  const fs::path corpus = small_corpus();
  TempDir dir("run");
  const fs::path out = dir / "out";
  mcpt::testutil::write_text(dir / "suite.json", small_suite(corpus, out).dump(2));

  auto plan = run_cli(fmt::format("run '{}' --dry-run", (dir / "suite.json").string()));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("test   s:test: 18 tracks"), std::string::npos) << plan.out;
  EXPECT_FALSE(fs::exists(out / "report.json"));

  auto r = run_cli(fmt::format("'{}' -q", (dir / "suite.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("report: " + (out / "report.json").string()), std::string::npos) << r.out;
  const auto report = read_json(out / "report.json");
  EXPECT_EQ(report["schema_version"], "1.0");
  EXPECT_EQ(report["provenance"]["seed"], 5);
  EXPECT_FALSE(report["provenance"]["suite_hash"].get<std::string>().empty());
  EXPECT_TRUE(report["provenance"]["versions"].contains("libtorch"));
  // chroma x {linear, none: skipped} + kp x {linear, none}
  ASSERT_EQ(report["results"].size(), 3u);
  EXPECT_EQ(report["skipped"].size(), 1u);
  for (const auto& res : report["results"]) {
    const auto& m = res["metrics"];
    EXPECT_EQ(m["n_tracks"], 18);
    EXPECT_EQ(res["predictions"].size(), 18u);
    int sum = 0;
    for (auto it = m["categories"].begin(); it != m["categories"].end(); ++it) sum += it.value().get<int>();
    EXPECT_EQ(sum, 18);
    EXPECT_LE(m["accuracy_ci95"][0].get<double>(), m["accuracy"].get<double>());
    EXPECT_GE(m["accuracy_ci95"][1].get<double>(), m["accuracy"].get<double>());
    EXPECT_EQ(res["per_seed"].size(), res["probe"] == "none" ? 2u : 2u);
    // Far above chance (1/24) on exact-key synthetic music.
    EXPECT_GT(m["accuracy"].get<double>(), 0.3) << res["encoder"] << " " << res["probe"];
  }
  for (const char* f : {"results.md", "results.csv", "results.tex", "scores.svg", "categories.svg"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_EQ(report["provenance"]["cache"]["hits"], 0);

  // Second run: all embeddings from the cache, identical results.
  r = run_cli(fmt::format("run '{}' -q", (dir / "suite.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto again = read_json(out / "report.json");
  EXPECT_GT(again["provenance"]["cache"]["hits"].get<int>(), 0);
  EXPECT_EQ(again["provenance"]["cache"]["misses"], 0);
  EXPECT_EQ(again["results"], report["results"]);

  // One thread (seeds trained one after another) gives the same numbers as several side by side.
  r = run_cli(fmt::format("run '{}' -q --threads 1", (dir / "suite.json").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(out / "report.json")["results"], report["results"]);

  // table subcommand reads the report back.
  r = run_cli(fmt::format("table '{}' --format csv", (out / "report.json").string()));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("s:test,chroma,linear,18,"), std::string::npos) << r.out;

  // The report and the suite validate against the JSON Schemas.
  const auto py = mcpt::testutil::python();
  r = mcpt::testutil::run_command(fmt::format("'{}' '{}' report '{}'", py,
                                              (mcpt::testutil::source_dir() / "tests/e2e/check_schema.py").string(),
                                              (out / "report.json").string()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(Cli, ValidateAndBadSuites) {
  const fs::path corpus = small_corpus();
  TempDir dir("validate");
  auto j = small_suite(corpus, dir / "out");
  mcpt::testutil::write_text(dir / "good.json", j.dump());
  auto r = run_cli(fmt::format("validate '{}'", (dir / "good.json").string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  j["encoders"][0]["n_fft"] = 1000;
  mcpt::testutil::write_text(dir / "bad.json", j.dump());
  r = run_cli(fmt::format("validate '{}'", (dir / "bad.json").string()));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("suite.encoders[0].n_fft: 1000 is not a power of two"), std::string::npos) << r.err;
  j = small_suite(corpus, dir / "out2");
  j["encoders"][0]["colour"] = "red";
  mcpt::testutil::write_text(dir / "bad2.json", j.dump());
  r = run_cli(fmt::format("'{}'", (dir / "bad2.json").string()));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("suite.encoders[0].colour: unknown key"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out2" / "report.json"));
}

// Commands that need no LibTorch do not load it (harness/TorchBackend.h): the dynamic loader's own
// trace (LD_DEBUG=libs) shows whether libtorch_cpu was looked up. A run that trains a probe loads
// it; a run that cannot load it says which file it tried, keeps the embeddings it computed and
// writes no report.
TEST(Cli, LibTorchIsLoadedOnlyByCommandsThatNeedIt) {
  const fs::path corpus = small_corpus();
  TempDir dir("lazy-torch");
  const fs::path out = dir / "out";
  mcpt::testutil::write_text(dir / "suite.json", small_suite(corpus, out).dump(2));
  fs::path wav;
  for (const auto& e : fs::recursive_directory_iterator(corpus))
    if (e.path().extension() == ".wav") {
      wav = e.path();
      break;
    }
  ASSERT_FALSE(wav.empty());
  auto loads_torch = [](const mcpt::testutil::CommandResult& r) {
    return r.err.find("libtorch_cpu") != std::string::npos;
  };
  const std::string trace = "env LD_DEBUG=libs ";
  const std::string exe = fmt::format("'{}' ", MCPT_EXE);
  const std::string suite = fmt::format("'{}'", (dir / "suite.json").string());
  for (const std::string& args :
       {std::string("key-score 'C major' 'G major'"), "validate " + suite, "run " + suite + " --dry-run",
        fmt::format("augment '{}' '{}' '{{\"type\": \"pitch_shift\", \"semitones\": 2}}'", wav.string(),
                    (dir / "up2.wav").string()),
        "run '" + (dir / "missing.json").string() + "'"}) {
    const auto r = mcpt::testutil::run_command(trace + exe + args);
    EXPECT_FALSE(loads_torch(r)) << args;
    EXPECT_NE(r.err.find("find library="), std::string::npos) << "no loader trace: " << r.err;
  }
  EXPECT_TRUE(fs::exists(dir / "up2.wav"));

  // An executable copied away from its module finds the build tree's copy (the last place looked):
  // `pretrain` loads LibTorch before it reads its config, so a missing config is the error it gives.
  fs::create_directories(dir / "bin");
  fs::copy_file(MCPT_EXE, dir / "bin" / "mcpt-eval");
  fs::permissions(dir / "bin" / "mcpt-eval", fs::perms::owner_all, fs::perm_options::add);
  auto copied = mcpt::testutil::run_command(trace + "'" + (dir / "bin" / "mcpt-eval").string() + "' pretrain '" +
                                            (dir / "no-config.json").string() + "'");
  EXPECT_EQ(copied.exit_code, 3) << copied.err.substr(copied.err.size() > 2000 ? copied.err.size() - 2000 : 0);
  EXPECT_TRUE(loads_torch(copied));
  EXPECT_NE(copied.err.find("no-config.json"), std::string::npos);

  // A run that cannot load it: exit code 1, the path it tried, no report, the cache kept.
  auto r = mcpt::testutil::run_command("env MCPT_TORCH_MODULE='" + (dir / "nowhere" / "libmcpt-torch.so").string() +
                                       "' " + exe + suite + " -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find((dir / "nowhere" / "libmcpt-torch.so").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MCPT_TORCH_MODULE"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out / "report.json"));
  EXPECT_FALSE(fs::is_empty(out / "cache"));
  // A library that is not mcpt-eval's module is named as such, and nothing is written either.
  r = mcpt::testutil::run_command("env MCPT_TORCH_MODULE=/lib/x86_64-linux-gnu/libm.so.6 " + exe + suite + " -q");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("libm.so.6: no symbol mcpt_torch_backend (not mcpt-eval's LibTorch module)"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out / "report.json"));

  r = mcpt::testutil::run_command(trace + exe + suite + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0);
  EXPECT_TRUE(loads_torch(r));
  EXPECT_TRUE(fs::exists(out / "report.json"));
  // The failed run's embeddings were kept: the first encoder's 72 tracks come from the cache; the
  // second encoder, never reached, is computed now.
  const auto cache = read_json(out / "report.json")["provenance"]["cache"];
  EXPECT_EQ(cache["hits"], 72) << cache;
  EXPECT_EQ(cache["misses"], 72) << cache;
}

TEST(Cli, ShippedSuitesMatchTheSchema) {
  const auto py = mcpt::testutil::python();
  for (const auto& e : fs::directory_iterator(mcpt::testutil::source_dir() / "configs")) {
    if (e.path().extension() != ".json") continue;
    const auto r = mcpt::testutil::run_command(fmt::format(
        "'{}' '{}' suite '{}'", py, (mcpt::testutil::source_dir() / "tests/e2e/check_schema.py").string(),
        e.path().string()));
    EXPECT_EQ(r.exit_code, 0) << e.path() << r.out << r.err;
  }
}

// FluidSynth's shared sample cache is not safe for concurrent loads: with a compressed (.sf3) font
// the render threads logged "Trying to free sample data not found in cache" and, now and then, a
// load failed mid-corpus ("FluidSynth cannot load it"). Loads and unloads are serialised now.
TEST(Cli, SynthWithACompressedSoundFontRendersCleanlyOnSeveralThreads) {
  const fs::path sf3 = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3";
  if (!fs::exists(sf3)) GTEST_SKIP() << sf3 << " is not installed (Debian's fluidr3mono-gm-soundfont)";
  mcpt::testutil::TempDir dir("sf3");
  const auto r = run_cli(fmt::format("-q synth --out '{}' --tracks 24 --seconds 2 --sample-rate 16000 --soundfont '{}'",
                                     (dir / "c").string(), sf3.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "FluidSynth complained while rendering";
  EXPECT_TRUE(fs::exists(dir / "c" / "manifest.csv"));
}
