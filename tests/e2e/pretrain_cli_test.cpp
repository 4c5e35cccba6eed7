// End-to-end tests of `mcpt-eval pretrain`: a run killed with SIGKILL and resumed ends with the
// unbroken run's weights; the output is never overwritten without --resume; config errors exit 3
// naming the file; and the checkpoint is evaluated by `mcpt-eval run` beside its random-init control.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
#include "datasets/Key.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using namespace mcpt;
using mcpt::testutil::TempDir;

namespace {

void write_corpus(const fs::path& dir, int tracks) {
  fs::create_directories(dir);
  std::ofstream m(dir / "manifest.csv");
  m << "path,key,split\n";
  for (int i = 0; i < tracks; ++i) {
    const auto key = datasets::Key::from_index((i * 7) % 24);
    const auto name = fmt::format("t{:02d}.wav", i);
    datasets::write_audio(dir / name, testutil::key_chords(key, 3.0, 22050, unsigned(i)));
    m << name << "," << key.name() << "," << (i % 4 == 0 ? "test" : i % 4 == 1 ? "valid" : "train") << "\n";
  }
}

nlohmann::json config(const fs::path& corpus, const fs::path& out) {
  return {{"name", "toy"},
          {"seed", 4},
          {"output", out.string()},
          {"cache", (out.parent_path() / "cache").string()},
          {"datasets", {{"toy", {{"type", "manifest"}, {"root", corpus.string()}}}}},
          {"use", {"toy:train", "toy:valid"}},
          {"model", {{"patch", "vertical"}, {"dim", 32}, {"depth", 2}, {"heads", 2}, {"dim_head", 16}, {"mlp_dim", 64},
                     {"crop_samples", 16000}}},
          {"batch_size", 8},
          {"steps", 60},
          {"checkpoint_every", 5},
          {"log_every", 5},
          {"threads", 1},
          {"loader_threads", 1}};
}

fs::path write_config(const fs::path& file, const nlohmann::json& j) {
  testutil::write_text(file, j.dump(2));
  return file;
}

// Starts `mcpt-eval -q pretrain CONFIG --resume` with its output discarded.
pid_t start(const fs::path& config) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(MCPT_EXE, "mcpt-eval", "-q", "pretrain", config.c_str(), "--resume", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

fs::file_time_type mtime(const fs::path& p) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  return ec ? fs::file_time_type::min() : t;
}

TEST(PretrainCli, KilledAndResumedRunEndsWithTheUnbrokenWeights) {
  TempDir dir("pretrain-cli");
  write_corpus(dir / "corpus", 24);
  const auto a = write_config(dir / "a.json", config(dir / "corpus", dir / "a"));
  auto r = testutil::run_cli(fmt::format("-q pretrain {}", a.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.out, "step 60/60");

  const auto b = write_config(dir / "b.json", config(dir / "corpus", dir / "b"));
  const auto state = dir / "b" / "state.safetensors";
  std::mt19937 rng(17);
  int kills = 0;
  for (int attempt = 0; attempt < 6; ++attempt) {
    const auto before = mtime(state);
    const pid_t pid = start(b);
    ASSERT_GT(pid, 0);
    // Wait for the run to write a new checkpoint (or to finish), then kill it a moment later:
    // somewhere in the steps after it, or while it writes the next one.
    int status = 0;
    bool exited = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (mtime(state) == before && std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (exited) break;
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 40000)(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) ++kills;
  }
  r = testutil::run_cli(fmt::format("-q pretrain {} --resume", b.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(kills, 3) << "the run finished before it could be killed often enough; make it longer";
  EXPECT_TRUE(testutil::read_text(dir / "a" / "model.safetensors") == testutil::read_text(dir / "b" / "model.safetensors"))
      << "after " << kills << " kills the resumed run's weights differ from the unbroken run's";
  for (const auto& e : fs::directory_iterator(dir / "b"))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
  const auto rec = nlohmann::json::parse(testutil::read_text(dir / "b" / "pretrain.json"));
  EXPECT_EQ(rec["step"], 60);
  EXPECT_EQ(rec["data"]["tracks"], 18);

  // Without --resume an existing run is never overwritten.
  r = testutil::run_cli(fmt::format("-q pretrain {}", b.string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_HAS(r.err, "--resume");

  // The checkpoint evaluated beside its random-init control, on the held-out test tracks.
  const nlohmann::json suite = {
      {"name", "pretrained-vs-control"},
      {"output", (dir / "run").string()},
      {"cache", (dir / "cache").string()},
      {"datasets", {{"toy", {{"type", "manifest"}, {"root", (dir / "corpus").string()}}}}},
      {"protocol", {{"train", "toy:train"}, {"valid", "toy:valid"}, {"test", {"toy:test"}}}},
      {"encoders", {{{"name", "pretrained"}, {"type", "mcpt"}, {"checkpoint", (dir / "b" / "model.safetensors").string()}},
                    {{"name", "control"}, {"type", "random-init"},
                     {"architecture_from", (dir / "b" / "model.safetensors").string()}}}},
      {"probes", {{{"type", "linear"}}}},
      {"statistics", {{"seeds", 1}, {"bootstrap", 50}}}};
  r = testutil::run_cli(fmt::format("-q run {}", write_config(dir / "suite.json", suite).string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto report = nlohmann::json::parse(testutil::read_text(dir / "run" / "report.json"));
  std::set<std::string> encoders;
  for (const auto& res : report["results"]) encoders.insert(res["encoder"].get<std::string>());
  EXPECT_EQ(encoders, (std::set<std::string>{"pretrained", "control"}));
}

// SIGKILL while a checkpoint, the log or the record is written leaves "<file>.tmp-<pid>" (the rename
// never happened). The next --resume removes those of processes that are gone, keeps those of a live
// process (another run writing there) and files that only look alike, and resumes from the renamed,
// whole files.
TEST(PretrainCli, ResumeRemovesTheTemporariesOfAKilledRun) {
  TempDir dir("pretrain-stale");
  write_corpus(dir / "corpus", 8);
  auto cfg = config(dir / "corpus", dir / "out");
  cfg["steps"] = 5;
  cfg["batch_size"] = 4;
  auto r = testutil::run_cli(fmt::format("-q pretrain {}", write_config(dir / "c.json", cfg).string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const fs::path out = dir / "out";
  const fs::path stale_model = out / fmt::format("model.safetensors.tmp-{}", dead);
  const fs::path stale_state = out / fmt::format("state.safetensors.tmp-{}", dead);
  const fs::path live = out / fmt::format("log.csv.tmp-{}", ::getpid());
  const fs::path look_alike = out / "notes.tmp-draft";
  for (const auto& p : {stale_model, stale_state, live, look_alike}) testutil::write_text(p, "half a file");

  cfg["steps"] = 10;
  r = testutil::run_cli(fmt::format("pretrain {} --resume", write_config(dir / "c.json", cfg).string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_HAS(r.err, "removed 2 temporary files left by a killed run");
  EXPECT_FALSE(fs::exists(stale_model));
  EXPECT_FALSE(fs::exists(stale_state));
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary was taken";
  EXPECT_TRUE(fs::exists(look_alike));
  EXPECT_EQ(nlohmann::json::parse(testutil::read_text(out / "pretrain.json"))["step"], 10);
}

TEST(PretrainCli, BadConfigExitsThreeNamingTheFile) {
  TempDir dir("pretrain-cli-bad");
  write_corpus(dir / "corpus", 8);
  auto j = config(dir / "corpus", dir / "out");
  j["steps"] = "many";
  const auto f = write_config(dir / "bad.json", j);
  const auto r = testutil::run_cli(fmt::format("pretrain {}", f.string()));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_HAS(r.err, "bad.json: pretrain.steps");
  EXPECT_FALSE(fs::exists(dir / "out"));
  testutil::write_text(dir / "broken.json", "{\"steps\": ");
  const auto r2 = testutil::run_cli(fmt::format("pretrain {}", (dir / "broken.json").string()));
  EXPECT_EQ(r2.exit_code, 3);
  EXPECT_HAS(r2.err, "broken.json: not valid JSON");
}

}  // namespace
