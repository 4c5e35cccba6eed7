// harness/Allocator.h: with mcpt-eval's heap policy, a loop that allocates and frees a few MB per
// step (a probe's or the ViT's training step) reuses the same pages instead of faulting them in
// afresh at every step.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "harness/Allocator.h"

namespace {

// Minor page faults of 40 steady steps (after 5 warm-up steps), each allocating, touching and
// freeing six 1 MiB blocks and a 3 MiB one, in a child process (a fresh heap); -1 on failure.
long faults_of_training_like_steps(bool steady_heap) {
  int fd[2];
  if (::pipe(fd) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fd[0]);
    if (steady_heap) mcpt::harness::use_steady_heap();
    long faults = 0;
    for (int step = 0; step < 45; ++step) {
      rusage before{};
      ::getrusage(RUSAGE_SELF, &before);
      std::vector<char*> blocks;
      for (int b = 0; b < 7; ++b) {
        const std::size_t size = b == 6 ? (3u << 20) : (1u << 20);
        char* p = static_cast<char*>(std::malloc(size));
        if (!p) ::_exit(1);
        std::memset(p, step + b, size);
        blocks.push_back(p);
      }
      for (char* p : blocks) std::free(p);
      rusage after{};
      ::getrusage(RUSAGE_SELF, &after);
      if (step >= 5) faults += after.ru_minflt - before.ru_minflt;
    }
    const ssize_t w = ::write(fd[1], &faults, sizeof faults);
    ::_exit(w == sizeof faults ? 0 : 1);
  }
  ::close(fd[1]);
  long faults = -1;
  if (::read(fd[0], &faults, sizeof faults) != sizeof faults) faults = -1;
  ::close(fd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? faults : -1;
}

}  // namespace

TEST(SteadyHeap, TrainingLikeStepsReuseTheirPages) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's, whose policy this sets";
#elif !defined(__GLIBC__)
  GTEST_SKIP() << "the policy is glibc's";
#endif
  const long with = faults_of_training_like_steps(true);
  const long without = faults_of_training_like_steps(false);
  ASSERT_GE(with, 0);
  ASSERT_GE(without, 0);
  // 40 steps touch 9 MiB each: 92,160 pages if every step faulted them all in again.
  EXPECT_LT(with, 400) << "with the policy: " << with << " faults; glibc's default: " << without;
  RecordProperty("faults_default_policy", int(without));
}
