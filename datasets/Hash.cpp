#include "datasets/Hash.h"

#include <fstream>
#include <vector>

#include "datasets/Error.h"

namespace mcpt {

std::string file_fnv1a64(const std::filesystem::path& file, const std::string& what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read {}", file.string(), what));
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h = fnv1a64(std::string_view(buf.data(), size_t(in.gcount())), h);
  }
  if (in.bad()) throw Error(fmt::format("{}: cannot read {}", file.string(), what));
  return hex64(h);
}

}  // namespace mcpt
