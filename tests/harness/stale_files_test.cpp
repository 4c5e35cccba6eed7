// harness/StaleFiles.h: what the next run removes from an output folder after a killed one.
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "harness/StaleFiles.h"
#include "testutil/TestUtil.h"

namespace fs = std::filesystem;

// "<file>.tmp-<pid>" and ".plots-<pid>-<n>.tmp" folders of a process that is gone are removed; those
// of a live process (another run writing there), names that only look alike, and subfolders' files
// are kept.
TEST(StaleOutputs, OnlyThoseOfGoneProcessesAreRemoved) {
  mcpt::testutil::TempDir dir("stale-outputs");
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const fs::path stale_file = dir / fmt::format("report.json.tmp-{}", dead);
  const fs::path stale_plots = dir / fmt::format(".plots-{}-3.tmp", dead);
  const fs::path live_file = dir / fmt::format("results.csv.tmp-{}", ::getpid());
  const fs::path live_plots = dir / fmt::format(".plots-{}-0.tmp", ::getpid());
  const fs::path look_alike = dir / "notes.tmp-draft";
  const fs::path too_long = dir / "x.tmp-12345678901234567890";
  const fs::path nested = dir / "sub" / fmt::format("model.safetensors.tmp-{}", dead);
  for (const auto& p : {stale_file, live_file, look_alike, too_long, nested}) mcpt::testutil::write_text(p, "half");
  mcpt::testutil::write_text(stale_plots / "key.svg", "half a plot");
  mcpt::testutil::write_text(live_plots / "key.svg", "a plot being written");
  const fs::path kept = dir / "report.json";
  mcpt::testutil::write_text(kept, "{}");

  EXPECT_EQ(mcpt::harness::remove_stale_outputs(dir.path()), 2);
  EXPECT_FALSE(fs::exists(stale_file));
  EXPECT_FALSE(fs::exists(stale_plots));
  for (const auto& p : {live_file, live_plots, look_alike, too_long, nested, kept}) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_EQ(mcpt::harness::remove_stale_outputs(dir / "missing"), 0) << "a folder not made yet is not an error";
}
