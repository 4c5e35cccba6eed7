// Typed reading of JSON configuration with errors that name the JSON path:
// `suite.encoders[2].layer: expected integer, got "last"`. Used by every from_json in the project.
#pragma once
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Error.h"

namespace mcpt {

// A view of one JSON object at a path. Reading a key marks it known; finish() rejects unknown keys.
class JsonObject {
 public:
  JsonObject(const nlohmann::json& j, std::string path);

  bool has(const std::string& key) const;
  const nlohmann::json& raw(const std::string& key);  // marks known; throws if absent
  std::string path_of(const std::string& key) const { return path_ + "." + key; }
  const std::string& path() const { return path_; }

  std::string get_string(const std::string& key, const std::string& fallback);
  std::string require_string(const std::string& key);
  std::int64_t get_int(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi);
  std::uint64_t get_uint(const std::string& key, std::uint64_t fallback);
  double get_number(const std::string& key, double fallback, double lo, double hi);
  bool get_bool(const std::string& key, bool fallback);
  std::vector<double> get_numbers(const std::string& key, const std::vector<double>& fallback, double lo, double hi);
  std::vector<std::int64_t> get_ints(const std::string& key, const std::vector<std::int64_t>& fallback,
                                     std::int64_t lo, std::int64_t hi);
  void ignore(std::initializer_list<const char*> keys);  // accepted but not read here
  // Throws for the first key never read: "<path>.<key>: unknown key (known: a, b, c)".
  void finish() const;

 private:
  const nlohmann::json& j_;
  std::string path_;
  std::vector<std::string> known_;
};

// Reads a JSON file given on the command line. Errors name the file and say what it should be:
// "<file>: no such <noun>", "<file>: is a folder, expected <expected>", "... not a regular file (a
// FIFO or device?) ...", "<file>: cannot open <noun>", "<file>: not valid JSON: <where>". E.g. noun
// "suite file", expected "a suite .json file".
nlohmann::json read_json_file(const std::filesystem::path& file, const std::string& noun, const std::string& expected);
// read_json_file, then parse(json, the file's absolute path); the parser's errors are prefixed with
// the file as given ("<file>: suite.encoders[1].type: ...").
template <class Parse>
auto parse_json_file(const std::filesystem::path& file, const std::string& noun, const std::string& expected,
                     Parse&& parse) {
  const nlohmann::json j = read_json_file(file, noun, expected);
  try {
    return parse(j, std::filesystem::absolute(file).lexically_normal());
  } catch (const Error& e) {
    throw Error(file.string() + ": " + e.what(), e.code());
  }
}

std::string json_type_name(const nlohmann::json& j);  // "integer", "string", "object" ...
std::string json_brief(const nlohmann::json& j);      // the value, shortened for messages
// The known name closest to `name` by edit distance, or "" when none is close.
std::string closest_name(const std::string& name, const std::vector<std::string>& known);
// "unknown encoder type \"crhoma\" (did you mean \"chroma\"? known: chroma, key-profile)"
std::string unknown_name_message(const std::string& what, const std::string& name,
                                 const std::vector<std::string>& known);

}  // namespace mcpt
