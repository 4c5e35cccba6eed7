// Versions of everything that can change a number in a report.
#include <fluidsynth.h>
#include <rubberband/RubberBandStretcher.h>
#include <samplerate.h>
#include <sndfile.h>
#include <torch/version.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
#include "mcpt_git_revision.h"  // generated at build time (tools/git-revision.cmake)
#include "harness/Runner.h"

namespace mcpt::harness {

std::string mcpt_version() { return MCPT_VERSION; }

nlohmann::json library_versions() {
  return {{"mcpt-eval", MCPT_VERSION},
          {"git_revision", MCPT_GIT_REV},
          {"libtorch", TORCH_VERSION},
          {"libsndfile", sf_version_string()},
          {"libsamplerate", src_get_version()},
          {"libsoxr", datasets::soxr_version_text()},
          {"rubberband", RUBBERBAND_VERSION},
          {"fluidsynth", fluid_version_str()},
          {"nlohmann_json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                                        NLOHMANN_JSON_VERSION_PATCH)},
          {"fmt", FMT_VERSION},
          {"compiler", __VERSION__}};
}

}  // namespace mcpt::harness
