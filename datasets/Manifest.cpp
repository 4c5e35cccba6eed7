// Manifests: one row (CSV/TSV) or object (JSON) per track, naming its audio file and key. Every error
// names the manifest, the line (or JSON index) and the field: `data/m.csv:14: key: ...`.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "datasets/TextTable.h"

namespace fs = std::filesystem;

namespace mcpt::datasets {

namespace {

const std::vector<std::string> kFields = {"path", "key", "split", "start", "end", "id", "confidence", "artist"};

struct Entry {
  std::string path, key, split, artist;
  std::optional<std::string> id;
  std::optional<double> start, end, confidence;
};

// Location of a field in the manifest, for messages: "m.csv:14: key" or "m.json: tracks[3].key".
using Where = std::function<std::string(const std::string& field)>;

std::string normalise_split(const std::string& raw, const Where& where) {
  const std::string s = detail::lower(detail::trim(raw));
  if (s.empty()) return "";
  if (s == "train" || s == "training") return "train";
  if (s == "valid" || s == "validation" || s == "val" || s == "dev") return "valid";
  if (s == "test" || s == "testing") return "test";
  throw Error(fmt::format("{}: unknown split {} (known: train, valid, test; validation and val mean valid)",
                          where("split"), detail::quoted(raw)));
}

Track make_track(const Entry& e, const fs::path& folder, const Where& where) {
  Track t;
  const std::string path = detail::trim(e.path);
  if (path.empty()) throw Error(fmt::format("{}: empty", where("path")));
  const fs::path rel = fs::path(path);
  t.audio = (rel.is_absolute() ? rel : folder / rel).lexically_normal();
  if (e.id) {
    t.id = detail::trim(*e.id);
    if (t.id.empty()) throw Error(fmt::format("{}: empty", where("id")));
  } else {
    t.id = fs::path(rel).replace_extension().generic_string();
  }
  const std::string key = detail::trim(e.key);
  if (key.empty()) throw Error(fmt::format("{}: empty (write X for a track without a key)", where("key")));
  try {
    t.key = Key::parse(key);
  } catch (const Error& err) {
    throw Error(fmt::format("{}: {}", where("key"), err.what()));
  }
  t.split = normalise_split(e.split, where);
  if (e.start) {
    if (*e.start < 0) throw Error(fmt::format("{}: must be >= 0, got {}", where("start"), *e.start));
    t.start = *e.start;
  }
  if (e.end) {
    if (*e.end <= t.start)
      throw Error(fmt::format("{}: must be greater than start ({}), got {}", where("end"), t.start, *e.end));
    t.end = *e.end;
  }
  if (e.confidence) t.confidence = *e.confidence;
  t.artist = detail::trim(e.artist);
  return t;
}

enum class Format { kCsv, kTsv, kJson };

Format sniff(const fs::path& file, const std::string& text) {
  const std::string ext = detail::lower(file.extension().string());
  if (ext == ".csv") return Format::kCsv;
  if (ext == ".tsv" || ext == ".tab") return Format::kTsv;
  if (ext == ".json") return Format::kJson;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) return Format::kJson;
  const std::string header = text.substr(0, text.find('\n'));
  return header.find('\t') != std::string::npos ? Format::kTsv : Format::kCsv;
}

void add_track(Dataset& ds, Track t, std::map<std::string, std::string>& first_seen, const std::string& here,
               const Where& where) {
  auto [it, fresh] = first_seen.emplace(t.id, here);
  if (!fresh)
    throw Error(fmt::format("{}: duplicate id {} (first at {})", where("id"), detail::quoted(t.id), it->second));
  ds.tracks.push_back(std::move(t));
}

void load_table(Dataset& ds, const fs::path& file, const std::string& text, char delimiter) {
  const auto rows = detail::parse_table(text, file, {delimiter, true});
  const std::string name = file.string();
  if (rows.empty()) throw Error(fmt::format("{}: empty manifest (expected a header line: path,key[,split,...])", name));
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < rows[0].fields.size(); ++i) {
    const std::string h = detail::lower(detail::trim(rows[0].fields[i]));
    if (std::find(kFields.begin(), kFields.end(), h) == kFields.end())
      throw Error(fmt::format("{}:{}: header: {}", name, rows[0].line, unknown_name_message("column", h, kFields)));
    if (!col.emplace(h, i).second)
      throw Error(fmt::format("{}:{}: header: column {} appears twice", name, rows[0].line, detail::quoted(h)));
  }
  for (const char* required : {"path", "key"})
    if (!col.count(required))
      throw Error(fmt::format("{}:{}: header: missing column \"{}\" (a manifest needs path and key)", name,
                              rows[0].line, required));

  std::map<std::string, std::string> first_seen;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const Where where = [&](const std::string& field) { return fmt::format("{}:{}: {}", name, row.line, field); };
    if (row.fields.size() != rows[0].fields.size())
      throw Error(fmt::format("{}:{}: expected {} fields (as the header), got {}", name, row.line,
                              rows[0].fields.size(), row.fields.size()));
    auto text_of = [&](const char* f) -> std::optional<std::string> {
      auto it = col.find(f);
      if (it == col.end()) return std::nullopt;
      return row.fields[it->second];
    };
    auto number_of = [&](const char* f) -> std::optional<double> {
      auto s = text_of(f);
      if (!s || detail::trim(*s).empty()) return std::nullopt;
      auto d = detail::parse_number(*s);
      if (!d) throw Error(fmt::format("{}: expected a number, got {}", where(f), detail::quoted(*s)));
      return d;
    };
    Entry e;
    e.path = *text_of("path");
    e.key = *text_of("key");
    e.split = text_of("split").value_or("");
    e.artist = text_of("artist").value_or("");
    if (auto id = text_of("id"); id && !detail::trim(*id).empty()) e.id = id;
    e.start = number_of("start");
    e.end = number_of("end");
    e.confidence = number_of("confidence");
    add_track(ds, make_track(e, file.parent_path(), where), first_seen, fmt::format("line {}", row.line), where);
  }
}

void load_json(Dataset& ds, const fs::path& file, const std::string& text) {
  const std::string name = file.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // The parser quotes the bytes it last read, raw: escaped so the message stays one line.
    throw Error(fmt::format("{}: invalid JSON: {}", name, detail::escaped(e.what())));
  }
  std::string prefix;  // "tracks" or "" (a top-level array)
  const nlohmann::json* list = &j;
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.key() != "tracks")
        throw Error(fmt::format("{}: {}", name, unknown_name_message("key", it.key(), {"tracks"})));
    if (!j.contains("tracks"))
      throw Error(fmt::format("{}: expected an array of tracks or an object {{\"tracks\": [...]}}", name));
    list = &j.at("tracks");
    prefix = "tracks";
  }
  if (!list->is_array())
    throw Error(fmt::format("{}: {}expected an array of track objects, got {}", name, prefix.empty() ? "" : prefix + ": ",
                            json_type_name(*list)));

  std::map<std::string, std::string> first_seen;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string at = fmt::format("{}[{}]", prefix, i);
    const Where where = [&](const std::string& field) { return fmt::format("{}: {}.{}", name, at, field); };
    const auto& o = (*list)[i];
    if (!o.is_object())
      throw Error(fmt::format("{}: {}: expected an object, got {} {}", name, at, json_type_name(o), json_brief(o)));
    Entry e;
    auto str = [&](const std::string& f, bool required) -> std::optional<std::string> {
      if (!o.contains(f)) {
        if (required) throw Error(fmt::format("{}: missing (a track needs path and key)", where(f)));
        return std::nullopt;
      }
      const auto& v = o.at(f);
      if (!v.is_string())
        throw Error(fmt::format("{}: expected string, got {} {}", where(f), json_type_name(v), json_brief(v)));
      return v.get<std::string>();
    };
    auto num = [&](const std::string& f) -> std::optional<double> {
      if (!o.contains(f) || o.at(f).is_null()) return std::nullopt;
      const auto& v = o.at(f);
      if (!v.is_number())
        throw Error(fmt::format("{}: expected number, got {} {}", where(f), json_type_name(v), json_brief(v)));
      return v.get<double>();
    };
    for (auto it = o.begin(); it != o.end(); ++it)
      if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end())
        throw Error(fmt::format("{}: {}", where(detail::escaped(it.key())), unknown_name_message("field", it.key(), kFields)));
    e.path = *str("path", true);
    e.key = *str("key", true);
    e.split = str("split", false).value_or("");
    e.artist = str("artist", false).value_or("");
    e.id = str("id", false);
    e.start = num("start");
    e.end = num("end");
    e.confidence = num("confidence");
    add_track(ds, make_track(e, file.parent_path(), where), first_seen, at, where);
  }
}

}  // namespace

Dataset load_manifest(const fs::path& manifest_file) {
  const std::string text = detail::read_text_file(manifest_file);
  Dataset ds;
  ds.type = "manifest";
  ds.root = manifest_file.parent_path();
  switch (sniff(manifest_file, text)) {
    case Format::kCsv: load_table(ds, manifest_file, text, ','); break;
    case Format::kTsv: load_table(ds, manifest_file, text, '\t'); break;
    case Format::kJson: load_json(ds, manifest_file, text); break;
  }
  // Manifest order is the user's; keep it (ids need not be numeric).
  detail::check_audio(ds);
  return ds;
}

}  // namespace mcpt::datasets
