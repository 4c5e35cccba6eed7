// libFuzzer target: manifests (CSV, TSV, JSON and sniffed) through the public loader, from a file.
// The first byte picks the file name, so one corpus exercises every format and the sniffing.
#include <cstdint>
#include <string_view>

#include "datasets/Dataset.h"
#include "tests/fuzz/FuzzUtil.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* const kNames[] = {"manifest.csv", "manifest.tsv", "manifest.json", "manifest.txt"};
  const auto file = mcpt::fuzz::scratch() / kNames[data[0] % 4];
  mcpt::fuzz::write_file(file, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  mcpt::fuzz::expect_clean([&] {
    const auto ds = mcpt::datasets::load_manifest(file);
    (void)mcpt::datasets::dataset_summary(ds);
  });
  return 0;
}
