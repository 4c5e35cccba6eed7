// Stable 64-bit hashing (FNV-1a) for fingerprints, cache keys and seeded choices: unlike std::hash,
// the same input gives the same value on every platform and standard library.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace mcpt {

inline std::uint64_t fnv1a64(std::string_view data, std::uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

inline std::string hex64(std::uint64_t x) { return fmt::format("{:016x}", x); }

// hex64 of the FNV-1a of a file's bytes (a checkpoint's or a written model's identity in a
// fingerprint or report). Throws mcpt::Error "<file>: cannot read <what>" when it cannot be read.
std::string file_fnv1a64(const std::filesystem::path& file, const std::string& what);

}  // namespace mcpt
