// The project's exception type and documented exit codes. Libraries throw mcpt::Error; the single
// catch lives in harness/main.cpp, which prints the one-line message and returns the exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace mcpt {

enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,    // a bug: an unexpected exception
  kUsage = 2,       // bad command line
  kInput = 3,       // bad input: a file, a suite, an annotation, audio
  kIncomplete = 4,  // a run could not score every requested item
  kInterrupted = 130,
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::kInput)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace mcpt
