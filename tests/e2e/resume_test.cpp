// Crash-safe resume and determinism (issue 8), end to end on a tiny synthetic corpus that the runs
// themselves render: chroma (with a one-shift robustness block) and a small MCPT ViT, so both torch
// and non-torch encoders go through the cache.
//
// Determinism: two runs of the same suite from nothing (fresh corpus, cache and output) write the
// same report.json, bytes for bytes once the fields listed in kVolatileFields are removed, and the
// same tables.
//
// Resume: `mcpt-eval run` is started and SIGKILLed again and again, in rounds. Each round starts from
// nothing and kills one run in each stage, in order: corpus rendering, embedding (or the robustness
// extractions), probe training and report writing. The moment is drawn with a seeded RNG,
// uniformly within the length that stage had in the unbroken run, counted from the moment the
// killed run announces that stage on stderr (rendering: from the start of the process). Then one
// cache entry is corrupted and the suite is run to completion. The final report must equal the
// unbroken run's (volatile fields aside), the cache must serve every entry that survived (hits) and
// detect, recompute and report the corrupted one, no temporary file may be left in the corpus,
// cache or output folders, and the corpus and cache must end byte-identical to the unbroken run's.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

namespace fs = std::filesystem;
using mcpt::testutil::read_text;
using mcpt::testutil::TempDir;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Fields of report.json that record when, where, how fast or with what cache a run went. They differ
// between an unbroken and a resumed run by design; everything else must be identical.
const std::vector<std::string> kVolatileFields = {
    "/provenance/started",     "/provenance/finished",    "/provenance/wall_seconds",
    "/provenance/peak_rss_mb", "/provenance/host",        "/provenance/stages",  // CPU seconds, samples decoded
    "/provenance/cache/hits",  "/provenance/cache/misses", "/provenance/cache/corrupted_recomputed"};

// The report without kVolatileFields; every one of them must be there (a renamed field fails here
// rather than being compared by accident).
json strip_volatile(json report) {
  for (const auto& f : kVolatileFields) {
    const json::json_pointer p(f);
    EXPECT_TRUE(report.contains(p)) << "report.json has no " << f;
    if (report.contains(p)) report[p.parent_pointer()].erase(p.back());
  }
  return report;
}

// The first few differences between two JSON documents, as JSON Patch operations (for messages).
std::string differences(const json& a, const json& b) {
  const json patch = json::diff(a, b);
  std::string s;
  for (size_t i = 0; i < patch.size() && i < 8; ++i) s += patch[i].dump().substr(0, 300) + "\n";
  return fmt::format("{} difference(s), first ones:\n{}", patch.size(), s);
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// Every regular file under `dir`, relative path -> bytes.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_text(e.path());
  return out;
}

// Temporary files and folders (any name with ".tmp") and the synthetic renderer's in-progress marker.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp") != std::string::npos || name == ".render.json") found.push_back(e.path().string());
  }
  return found;
}

size_t count_entries(const fs::path& cache) {
  size_t n = 0;
  for (const auto& [name, bytes] : tree(cache)) n += fs::path(name).extension() == ".emb" ? 1 : 0;
  return n;
}

// One mcpt-eval process with its stderr read line by line (with the time each line arrived) while
// the test waits, so that a kill can be aimed at a stage the process has announced.
class Child {
 public:
  struct Line {
    std::string text;
    double at;  // seconds since the start
  };

  explicit Child(const std::vector<std::string>& args) : start_(Clock::now()) {
    // argv is built before fork: the child only calls async-signal-safe functions.
    std::vector<std::string> strings = {MCPT_EXE};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads stderr until a new line satisfies `want` (true), stderr closes (false: the process is
  // ending) or `until` passes (false).
  bool read_until(const std::function<bool(const std::string&)>& want, Clock::time_point until) {
    while (fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        return false;
      }
      const double at = std::chrono::duration<double>(Clock::now() - start_).count();
      bool found = false;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          partial_ += buf[i];
          continue;
        }
        lines_.push_back({partial_, at});
        partial_.clear();
        found = found || want(lines_.back().text);
      }
      if (found) return true;
    }
    return false;
  }
  // Reads stderr (every few milliseconds) until `cond` holds (true) or the process ends (false).
  bool wait_for(const std::function<bool()>& cond) {
    while (!cond()) {
      if (fd_ < 0) return false;
      read_until([](const std::string&) { return false; }, Clock::now() + std::chrono::milliseconds(2));
    }
    return true;
  }
  double now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void wait_reading(double seconds) {
    read_until([](const std::string&) { return false; },
               Clock::now() + std::chrono::microseconds(static_cast<long long>(seconds * 1e6)));
  }

  // SIGKILL (when still running), then reap. True when the signal ended the process; false when it
  // had already exited by itself (then exit_code() says how).
  bool kill_and_reap() {
    const bool killed = !exited_by_itself() && ::kill(pid_, SIGKILL) == 0;
    reap();
    return killed && WIFSIGNALED(status_) && WTERMSIG(status_) == SIGKILL;
  }
  // Waits for the process to end by itself; its exit code, 128 + signal.
  int wait() {
    read_until([](const std::string&) { return false; }, Clock::now() + std::chrono::minutes(10));
    reap();
    return exit_code();
  }
  int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_); }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }
  const std::vector<Line>& lines() const { return lines_; }
  std::string last_line() const { return lines_.empty() ? std::string() : lines_.back().text; }
  std::string all_text() const {
    std::string s;
    for (const auto& l : lines_) s += l.text + "\n";
    return s + partial_;
  }

 private:
  bool exited_by_itself() {
    if (reaped_) return true;
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      end_ = Clock::now();
    }
    return reaped_;
  }
  void reap() {
    if (!reaped_) {
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      end_ = Clock::now();
    }
    // Whatever the process wrote before it ended (the pipe keeps it).
    read_until([](const std::string&) { return false; }, Clock::now() + std::chrono::seconds(5));
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  Clock::time_point start_, end_;
  std::vector<Line> lines_;
  std::string partial_;
};

// The runner's progress lines on a non-terminal: "<stage>: <total> <unit>" when a stage starts,
// "<stage>: <done>/<total> <unit> (<rate>, ETA ..)" now and then, "<stage>: done <n>/<total> <unit>
// in <t> s" when it ends. Stage names start with a letter (the plan's lines are indented).
struct StageLine {
  std::string stage;  // "" for other lines
  enum { kNone, kStart, kProgress, kDone } kind = kNone;
};
StageLine parse_stage(const std::string& line) {
  static const std::regex start(R"(\d+ [a-z]+)"), progress(R"(\d+/\d+ [a-z]+ \(.*\))"),
      done(R"(done \d+/\d+ [a-z]+ in [0-9.]+ s)");
  const auto colon = line.rfind(": ");
  if (colon == std::string::npos || line.empty() || !std::isalpha(static_cast<unsigned char>(line[0]))) return {};
  const std::string name = line.substr(0, colon), tail = line.substr(colon + 2);
  if (std::regex_match(tail, start)) return {name, StageLine::kStart};
  if (std::regex_match(tail, progress)) return {name, StageLine::kProgress};
  if (std::regex_match(tail, done)) return {name, StageLine::kDone};
  return {};
}

class Resume : public ::testing::Test {
 protected:
  TempDir tmp{"resume"};
  fs::path corpus = tmp / "corpus";
  fs::path cache = tmp / "cache";
  fs::path out = tmp / "out";
  fs::path suite_file = tmp / "suite.json";

  void SetUp() override { mcpt::testutil::write_text(suite_file, suite().dump(2)); }

  json suite() const {
    return {
        {"name", "resume"},
        {"seed", 3},
        {"threads", 2},
        {"output", out.string()},
        {"cache", cache.string()},
        {"datasets",
         {{"s",
           {{"type", "synthetic"}, {"root", corpus.string()}, {"tracks", 24}, {"seconds", 4}, {"seed", 5},
            {"sample_rate", 16000}}}}},
        {"protocol", {{"train", "s:train"}, {"valid", "s:valid"}, {"test", "s:test"}}},
        {"encoders",
         {{{"name", "chroma"}, {"type", "chroma"}, {"segment_seconds", 2}, {"sample_rate", 16000}},
          {{"name", "vit"}, {"type", "mcpt"}, {"patch", "vertical"}, {"dim", 64}, {"depth", 2}, {"heads", 2},
           {"dim_head", 32}, {"mlp_dim", 128}, {"init_seed", 3}, {"segment_seconds", 2}}}},
        {"probes", {{{"type", "linear"}, {"lr", 0.01}, {"epochs", 30}}}},
        {"statistics", {{"seeds", 2}, {"bootstrap", 100}}},
        {"robustness",
         {{"encoders", {"chroma"}},
          {"sweeps",
           {{{"type", "pitch_shift"}, {"parameter", "semitones"}, {"values", {2}}, {"options", {{"engine", "faster"}}}}}},
          {"controls", false},
          {"decodability", {2}},  // one class: the analysis is skipped, its extractions too
          {"train_shifts", {0}},
          {"training_augmentation", false}}}};
  }

  std::vector<std::string> args() const { return {"run", suite_file.string()}; }

  void wipe() {
    for (const auto& d : {corpus, cache, out}) fs::remove_all(d);
  }

  void expect_no_temporaries(const std::string& when) {
    for (const auto& d : {corpus, cache, out})
      for (const auto& t : temporaries(d)) ADD_FAILURE() << when << ": temporary file left: " << t;
  }

  // An unbroken run from nothing: its report, and the child (stderr lines with their times);
  // `render_start` gets the moment the corpus folder appeared.
  json unbroken(std::unique_ptr<Child>& child, double* render_start = nullptr) {
    wipe();
    child = std::make_unique<Child>(args());
    if (child->wait_for([&] { return fs::exists(corpus); }) && render_start) *render_start = child->now();
    const int code = child->wait();
    EXPECT_EQ(code, 0) << child->all_text();
    return code == 0 ? read_json(out / "report.json") : json();
  }
};

}  // namespace

TEST_F(Resume, SameSuiteAndSeedGiveAnIdenticalReport) {
  std::unique_ptr<Child> first, second;
  const json a = unbroken(first);
  ASSERT_FALSE(a.is_null());
  const auto tables = tree(out);
  const json b = unbroken(second);
  ASSERT_FALSE(b.is_null());
  EXPECT_EQ(a["provenance"]["cache"]["hits"], 0);
  EXPECT_EQ(b["provenance"]["cache"]["hits"], 0) << "the second run started from an empty cache too";
  const json sa = strip_volatile(a), sb = strip_volatile(b);
  EXPECT_TRUE(sa == sb) << differences(sa, sb);
  ASSERT_EQ(a["results"].size(), 2u);
  ASSERT_TRUE(a.contains("robustness"));
  for (const char* f : {"results.md", "results.csv", "results.tex"})
    EXPECT_EQ(tree(out)[f], tables.at(f)) << f;
  expect_no_temporaries("after two unbroken runs");
}

TEST_F(Resume, SigkillAtRandomMomentsThenResumeGivesTheUnbrokenReport) {
  // --- The unbroken run: reference report, cache and corpus, and how long each stage took.
  std::unique_ptr<Child> ref_child;
  double render_start = 0;
  const json ref = unbroken(ref_child, &render_start);
  ASSERT_FALSE(ref.is_null());
  const json ref_stripped = strip_volatile(ref);
  const double total = ref_child->seconds();
  struct Window {
    double start = -1, end = -1;
  };
  std::map<std::string, Window> windows;
  std::vector<std::string> stage_order;
  double first_line = total, last_done = 0;
  std::string last_stage;
  for (const auto& l : ref_child->lines()) {
    first_line = std::min(first_line, l.at);
    const StageLine sl = parse_stage(l.text);
    const std::string& s = sl.stage;
    if (s.empty()) continue;
    if (sl.kind == StageLine::kDone) {
      windows[s].end = l.at;
      last_done = l.at, last_stage = s;
    } else if (sl.kind == StageLine::kStart && windows[s].start < 0) {
      windows[s].start = l.at;
      stage_order.push_back(s);
    }
  }
  std::vector<std::string> extraction_stages, probe_stages;
  for (const auto& s : stage_order) {
    ASSERT_GE(windows[s].end, windows[s].start) << s << " never finished:\n" << ref_child->all_text();
    if (s.rfind("embedding [", 0) == 0 || s.rfind("robustness [", 0) == 0) extraction_stages.push_back(s);
    if (s.rfind("probe [", 0) == 0) probe_stages.push_back(s);
  }
  ASSERT_GE(extraction_stages.size(), 3u) << ref_child->all_text();
  ASSERT_EQ(probe_stages.size(), 2u) << ref_child->all_text();
  const size_t ref_entries = count_entries(cache);
  ASSERT_GT(ref_entries, 0u);
  EXPECT_EQ(ref["provenance"]["cache"]["misses"].get<size_t>(), ref_entries);
  const int ref_lookups = ref["provenance"]["cache"]["hits"].get<int>() + ref["provenance"]["cache"]["misses"].get<int>();
  const auto ref_corpus = tree(corpus), ref_cache = tree(cache), ref_out = tree(out);
  expect_no_temporaries("after the unbroken run");
  RecordProperty("unbroken_seconds", fmt::format("{:.2f}", total));

  // --- Rounds of kills, each from nothing: rendering, extraction, probe training, report writing.
  std::mt19937_64 rng(20261201);
  auto uniform = [&](double hi) { return std::uniform_real_distribution<double>(0.0, std::max(hi, 1e-3))(rng); };
  std::map<std::string, int> killed_in;  // stage actually hit -> kills
  int kills = 0, completed = 0, rounds = 0;
  const auto test_start = Clock::now();
  while (kills < 20) {
    ASSERT_LT(rounds, 12) << "too many runs ended before their kill";
    ++rounds;
    wipe();
    for (int target = 0; target < 4; ++target) {
      Child c(args());
      std::string aimed;
      bool reached = true;
      if (target == 0) {  // rendering: from the corpus folder's creation to the plan's first line
        aimed = "rendering";
        reached = c.wait_for([&] { return fs::exists(corpus); });
        if (reached) c.wait_reading(uniform(first_line - render_start));
      } else {
        std::string stage;
        double length = 0;
        if (target == 1) {
          stage = extraction_stages[rng() % extraction_stages.size()];
          length = windows[stage].end - windows[stage].start;
        } else if (target == 2) {
          stage = probe_stages[rng() % probe_stages.size()];
          length = windows[stage].end - windows[stage].start;
        } else {  // report writing: after the last stage is done, until the process ends
          stage = last_stage;
          length = total - last_done;
        }
        aimed = target == 3 ? "report" : stage;
        const bool done_line = target == 3;
        reached = c.read_until(
            [&](const std::string& l) {
              const StageLine sl = parse_stage(l);
              return sl.stage == stage && sl.kind == (done_line ? StageLine::kDone : StageLine::kStart);
            },
            Clock::now() + std::chrono::seconds(120));
        if (reached) c.wait_reading(uniform(length));
      }
      const bool killed = c.kill_and_reap();
      if (!killed) {
        EXPECT_EQ(c.exit_code(), 0) << "aimed at " << aimed << ":\n" << c.all_text();
        ++completed;
        const json j = read_json(out / "report.json");
        const json sj = strip_volatile(j);
        EXPECT_TRUE(sj == ref_stripped) << "a resumed run that finished by itself: " << differences(ref_stripped, sj);
        continue;
      }
      ++kills;
      // Where it was: the last stage announced (started, or done: then between stages).
      std::string where = "start-up";
      for (const auto& l : c.lines()) {
        const StageLine sl = parse_stage(l.text);
        if (!sl.stage.empty()) where = sl.kind == StageLine::kDone ? "after " + sl.stage : sl.stage;
      }
      // Before the plan: process start-up, then the corpus render (which prints nothing).
      if (where == "start-up" && fs::exists(corpus) && !fs::exists(corpus / "synth.json")) where = "rendering";
      if (where == "after " + last_stage) where = "report";
      const std::string kind = where.rfind("embedding", 0) == 0 || where.rfind("robustness", 0) == 0 ? "extraction"
                               : where.rfind("probe", 0) == 0                                       ? "probe training"
                                                                                                    : where;
      killed_in[kind.rfind("after ", 0) == 0 ? "between stages" : kind]++;
    }
  }

  // --- Corrupt one surviving cache entry (a flipped byte in its data), then run to completion.
  std::vector<fs::path> entries;
  for (const auto& e : fs::recursive_directory_iterator(cache))
    if (e.path().extension() == ".emb") entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  ASSERT_GE(entries.size(), 2u) << "the last round's kills left fewer than two cache entries";
  const fs::path victim = entries[rng() % entries.size()];
  {
    std::string bytes = read_text(victim);
    ASSERT_GT(bytes.size(), 40u);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
    mcpt::testutil::write_text(victim, bytes);
  }
  const size_t before = entries.size();
  // What a kill at the worst moment leaves, whether or not a kill above happened to: half-written
  // temporaries of a process that is gone, in the cache (entry.emb.tmp-<host>-<pid>-<n>) and the
  // output folder (report.json.tmp-<pid>, the plots' staging folder .plots-<pid>-<n>.tmp).
  {
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ASSERT_GT(dead, 0);
    ::waitpid(dead, nullptr, 0);
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    const std::string half = read_text(entries.front()).substr(0, 20);
    mcpt::testutil::write_text(entries.front().string() + fmt::format(".tmp-{}-{}-0", host, dead), half);
    mcpt::testutil::write_text(out / fmt::format("report.json.tmp-{}", dead), "{\"schema_version\"");
    mcpt::testutil::write_text(out / fmt::format(".plots-{}-0.tmp", dead) / "scores.svg", "<svg");
    ASSERT_GE(temporaries(cache).size(), 1u);
    ASSERT_GE(temporaries(out).size(), 2u);
  }
  Child last(args());
  ASSERT_EQ(last.wait(), 0) << last.all_text();
  const json final_report = read_json(out / "report.json");
  const json final_stripped = strip_volatile(final_report);
  EXPECT_TRUE(final_stripped == ref_stripped) << differences(ref_stripped, final_stripped);

  // Cached work was not recomputed: every entry present was served, but the corrupted one, which
  // was detected, recomputed and reported (in the report and on stderr).
  const json& stats = final_report["provenance"]["cache"];
  EXPECT_GT(stats["hits"].get<int>(), 0);
  EXPECT_EQ(stats["hits"].get<size_t>(), before - 1) << stats.dump();
  EXPECT_EQ(stats["corrupted_recomputed"], 1) << stats.dump();
  EXPECT_EQ(stats["misses"].get<size_t>(), ref_entries - before) << stats.dump();
  EXPECT_EQ(stats["hits"].get<int>() + stats["misses"].get<int>() + stats["corrupted_recomputed"].get<int>(), ref_lookups);
  EXPECT_HAS(last.all_text(), "1 corrupted entries were recomputed");

  // Nothing torn, nothing stale: corpus and cache end as the unbroken run left them, the tables too.
  expect_no_temporaries("after the resumed run");
  EXPECT_TRUE(tree(corpus) == ref_corpus) << "the corpus differs from the unbroken run's";
  const auto final_cache = tree(cache);
  EXPECT_EQ(final_cache.size(), ref_cache.size());
  for (const auto& [name, bytes] : ref_cache) {
    auto it = final_cache.find(name);
    EXPECT_TRUE(it != final_cache.end() && it->second == bytes) << "cache entry " << name << " differs or is missing";
  }
  const auto final_out = tree(out);
  for (const char* f : {"results.md", "results.csv", "results.tex"}) EXPECT_EQ(final_out.at(f), ref_out.at(f)) << f;
  std::set<std::string> ref_names, final_names;
  for (const auto& [name, bytes] : ref_out) ref_names.insert(name);
  for (const auto& [name, bytes] : final_out) final_names.insert(name);
  EXPECT_EQ(final_names, ref_names) << "the output folder holds other files than the unbroken run's";

  // Every stage was hit by at least one kill.
  std::string hist;
  for (const auto& [k, n] : killed_in) hist += fmt::format("{}: {}; ", k, n);
  const double seconds = std::chrono::duration<double>(Clock::now() - test_start).count();
  std::printf("resume: %d kills survived (%s), %d runs finished before their kill, %d rounds, unbroken run %.1f s, "
              "kill rounds %.1f s\n",
              kills, hist.c_str(), completed, rounds, total, seconds);
  RecordProperty("kills", kills);
  RecordProperty("stages", hist);
  EXPECT_GE(kills, 20);
  for (const char* k : {"rendering", "extraction", "probe training", "report"})
    EXPECT_GE(killed_in[k], 1) << "no kill landed in " << k << " (" << hist << ")";
}
