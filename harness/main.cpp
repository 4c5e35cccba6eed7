// mcpt-eval's entry point: the single catch that turns an error into one line and an exit code.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "harness/Allocator.h"
#include "harness/Cli.h"

int main(int argc, char** argv) {
  mcpt::harness::use_steady_heap();
  try {
    return mcpt::harness::cli_main(argc, argv);
  } catch (const mcpt::Error& e) {
    fmt::print(stderr, "mcpt-eval: error: {}\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    fmt::print(stderr, "mcpt-eval: internal error: {}\n", e.what());
    return static_cast<int>(mcpt::ExitCode::kInternal);
  }
}
