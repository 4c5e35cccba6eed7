// libFuzzer target: the suite schema. Arbitrary text is parsed as JSON (text that is not JSON is
// skipped: nlohmann's parser is not ours to fuzz) and handed to harness::Suite::parse, which reads
// every block through mcpt::JsonObject, the probe configs and the encoder registry's names. Also
// checks that the dataset-option layer (load_dataset's JsonObject checks, SynthOptions::from_json)
// rejects bad options with a one-line error before touching a file.
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "datasets/Dataset.h"
#include "datasets/Synthetic.h"
#include "harness/Suite.h"
#include "tests/fuzz/FuzzUtil.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  const auto file = mcpt::fuzz::scratch() / "suite.json";
  mcpt::fuzz::expect_clean([&] { (void)mcpt::harness::Suite::parse(j, file); });
  // Dataset blocks on their own: the loader validates options first; the root does not exist, so a
  // valid block ends in "root folder not found" (still a bad-input error), never in a render.
  if (j.is_object() && j.contains("type") && j["type"].is_string()) {
    const std::string type = j["type"].get<std::string>();
    if (type == "synthetic") {
      mcpt::fuzz::expect_clean([&] { (void)mcpt::datasets::SynthOptions::from_json(j, "fuzz"); });
    } else {
      mcpt::fuzz::expect_clean(
          [&] { (void)mcpt::datasets::load_dataset(type, mcpt::fuzz::scratch() / "no-such-root", j, "fuzz"); });
    }
  }
  return 0;
}
