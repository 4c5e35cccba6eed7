// libFuzzer target: the GiantSteps MTG Key annotation files (annotations.txt and
// beatport_metadata.txt, split from the input at the first "\n===\n") and, with the same
// annotations text as one <ID>.LOFI.key file, the GiantSteps Key loader. Both go through the public
// loaders and the dataset summary that `dataset-info` prints.
#include <cstdint>
#include <string>
#include <string_view>

#include "datasets/Dataset.h"
#include "tests/fuzz/FuzzUtil.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  static const std::string_view kSep = "\n===\n";
  const size_t cut = in.find(kSep);
  const std::string_view ann = in.substr(0, cut);
  const std::string_view meta = cut == std::string_view::npos ? std::string_view() : in.substr(cut + kSep.size());

  const fs::path root = mcpt::fuzz::scratch() / "gs";
  static const bool made = [&] {
    fs::create_directories(root / "annotations" / "key");
    return true;
  }();
  (void)made;
  mcpt::fuzz::write_file(root / "annotations" / "annotations.txt", ann);
  mcpt::fuzz::write_file(root / "annotations" / "beatport_metadata.txt", meta);
  mcpt::fuzz::write_file(root / "annotations" / "key" / "1.LOFI.key", ann);
  mcpt::fuzz::expect_clean([&] {
    mcpt::datasets::MtgKeyOptions o;
    o.min_confidence = size % 3;
    const auto ds = mcpt::datasets::load_giantsteps_mtg_key(root, o);
    (void)mcpt::datasets::dataset_summary(ds);
  });
  mcpt::fuzz::expect_clean([&] {
    const auto ds = mcpt::datasets::load_giantsteps_key(root);
    (void)mcpt::datasets::dataset_summary(ds);
  });
  return 0;
}
