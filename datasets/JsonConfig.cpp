#include "datasets/JsonConfig.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/TextTable.h"

namespace mcpt {

nlohmann::json read_json_file(const std::filesystem::path& file, const std::string& noun, const std::string& expected) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(file, ec)) throw Error(fmt::format("{}: no such {}", file.string(), noun));
  if (fs::is_directory(file, ec)) throw Error(fmt::format("{}: is a folder, expected {}", file.string(), expected));
  if (!fs::is_regular_file(file, ec))
    throw Error(fmt::format("{}: not a regular file (a FIFO or device?), expected {}", file.string(), expected));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open {}", file.string(), noun));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
}

std::string json_type_name(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::object: return "object";
    default: return "value";
  }
}

std::string json_brief(const nlohmann::json& j) {
  // replace: a string built from non-JSON input may hold invalid UTF-8, which dump() would throw on.
  // dump() escapes the control bytes below 0x20 but not DEL (0x7f), which would reach the terminal
  // raw (found by fuzz_manifest: a manifest entry that is the string "3\x7f...3th").
  std::string s;
  for (char c : j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    if (c == '\x7f') s += "\\u007f";
    else s += c;
  }
  if (s.size() > 60) {
    size_t cut = 57;  // never inside a UTF-8 sequence: back up over continuation bytes
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "...";
  }
  return s;
}

JsonObject::JsonObject(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j_.is_object())
    throw Error(fmt::format("{}: expected object, got {} {}", path_, json_type_name(j_), json_brief(j_)));
}

bool JsonObject::has(const std::string& key) const { return j_.contains(key); }

const nlohmann::json& JsonObject::raw(const std::string& key) {
  if (!j_.contains(key)) throw Error(fmt::format("{}: missing required key", path_of(key)));
  known_.push_back(key);
  return j_.at(key);
}

static Error type_error(const std::string& path, const char* expected, const nlohmann::json& v) {
  return Error(fmt::format("{}: expected {}, got {} {}", path, expected, json_type_name(v), json_brief(v)));
}

std::string JsonObject::get_string(const std::string& key, const std::string& fallback) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_string()) throw type_error(path_of(key), "string", v);
  return v.get<std::string>();
}

std::string JsonObject::require_string(const std::string& key) {
  const auto& v = raw(key);
  if (!v.is_string()) throw type_error(path_of(key), "string", v);
  auto s = v.get<std::string>();
  if (s.empty()) throw Error(fmt::format("{}: expected a non-empty string", path_of(key)));
  return s;
}

static std::int64_t as_int(const nlohmann::json& v, const std::string& path) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max())) throw type_error(path, "integer in range", v);
    return static_cast<std::int64_t>(u);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<std::int64_t>(d);
  }
  throw type_error(path, "integer", v);
}

std::int64_t JsonObject::get_int(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  auto x = as_int(j_.at(key), path_of(key));
  if (x < lo || x > hi) throw Error(fmt::format("{}: {} is out of range [{}, {}]", path_of(key), x, lo, hi));
  return x;
}

std::uint64_t JsonObject::get_uint(const std::string& key, std::uint64_t fallback) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  const auto& v = j_.at(key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  auto x = as_int(v, path_of(key));
  if (x < 0) throw Error(fmt::format("{}: expected a non-negative integer, got {}", path_of(key), x));
  return static_cast<std::uint64_t>(x);
}

static double as_number(const nlohmann::json& v, const std::string& path) {
  if (!v.is_number()) throw type_error(path, "number", v);
  double d = v.get<double>();
  if (!std::isfinite(d)) throw type_error(path, "finite number", v);
  return d;
}

double JsonObject::get_number(const std::string& key, double fallback, double lo, double hi) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  double d = as_number(j_.at(key), path_of(key));
  if (d < lo || d > hi) throw Error(fmt::format("{}: {} is out of range [{}, {}]", path_of(key), d, lo, hi));
  return d;
}

bool JsonObject::get_bool(const std::string& key, bool fallback) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_boolean()) throw type_error(path_of(key), "boolean", v);
  return v.get<bool>();
}

std::vector<double> JsonObject::get_numbers(const std::string& key, const std::vector<double>& fallback, double lo,
                                            double hi) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_array()) throw type_error(path_of(key), "array of numbers", v);
  if (v.empty()) throw Error(fmt::format("{}: expected a non-empty array", path_of(key)));
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path_of(key), i);
    double d = as_number(v[i], p);
    if (d < lo || d > hi) throw Error(fmt::format("{}: {} is out of range [{}, {}]", p, d, lo, hi));
    out.push_back(d);
  }
  return out;
}

std::vector<std::int64_t> JsonObject::get_ints(const std::string& key, const std::vector<std::int64_t>& fallback,
                                               std::int64_t lo, std::int64_t hi) {
  known_.push_back(key);
  if (!j_.contains(key)) return fallback;
  const auto& v = j_.at(key);
  if (!v.is_array()) throw type_error(path_of(key), "array of integers", v);
  std::vector<std::int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path_of(key), i);
    auto x = as_int(v[i], p);
    if (x < lo || x > hi) throw Error(fmt::format("{}: {} is out of range [{}, {}]", p, x, lo, hi));
    out.push_back(x);
  }
  return out;
}

void JsonObject::ignore(std::initializer_list<const char*> keys) {
  for (auto* k : keys) known_.emplace_back(k);
}

void JsonObject::finish() const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    if (std::find(known_.begin(), known_.end(), it.key()) != known_.end()) continue;
    std::vector<std::string> known = known_;
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    // The key comes from the user's file: escaped, so the message stays one line.
    throw Error(unknown_name_message("key", it.key(), known).insert(0, path_of(datasets::detail::escaped(it.key())) + ": "));
  }
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& k : known) {
    size_t d = edit_distance(name, k);
    if (d < best_d) best_d = d, best = k;
  }
  if (best.empty() || best_d > std::max<size_t>(2, name.size() / 3)) return "";
  return best;
}

std::string unknown_name_message(const std::string& what, const std::string& name,
                                 const std::vector<std::string>& known) {
  // Known names can come from the user's file too (dataset, encoder and probe names): escaped.
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + datasets::detail::escaped(k);
  const std::string close = closest_name(name, known);
  // quoted(): names come from user files and may hold line breaks; an error stays one line.
  if (!close.empty())
    return fmt::format("unknown {} {} (did you mean {}? known: {})", what, datasets::detail::quoted(name),
                       datasets::detail::quoted(close), list);
  return fmt::format("unknown {} {} (known: {})", what, datasets::detail::quoted(name), list);
}

}  // namespace mcpt
