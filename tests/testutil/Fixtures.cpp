// `mcpt_test_fixtures`: makes the fixtures several test programs share (TestUtil.h), once, before
// the tests that need them (ctest FIXTURES_SETUP). Each fixture is one test case, so a failure to
// make it is reported like any test failure.
#include <gtest/gtest.h>

#include "testutil/TestUtil.h"

TEST(Fixtures, TorchScriptModules) {
  const auto dir = mcpt::testutil::torchscript_modules();
  if (dir.empty()) GTEST_SKIP() << "python3-torch is not installed: the TorchScript tests skip";
  EXPECT_TRUE(std::filesystem::exists(dir / "stats.pt")) << dir;
}
