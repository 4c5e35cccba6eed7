// libFuzzer target: Key::parse on arbitrary text, and read_key_file on the same bytes as a file.
// Beyond "no crash": a parsed key must print as a name that parses back to the same key, and index()
// must agree with from_index(); a rejected key must be a one-line bad-input error.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "datasets/Key.h"
#include "tests/fuzz/FuzzUtil.h"

using mcpt::datasets::Key;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  mcpt::fuzz::expect_clean([&] {
    const Key k = Key::parse(text);
    if (Key::parse(k.name()) != k) std::abort();
    if (k.has_index() && Key::from_index(k.index()) != k) std::abort();
    if (k.transposed(12) != k || k.transposed(-1).transposed(1) != k) std::abort();
  });
  const auto file = mcpt::fuzz::scratch() / "track.key";
  mcpt::fuzz::write_file(file, text);
  mcpt::fuzz::expect_clean([&] { (void)mcpt::datasets::read_key_file(file); });
  return 0;
}
