// Loaders for the two GiantSteps key datasets (Knees et al. 2015; Korzeniowski & Widmer 2017).
// Layouts and counts for the published annotation files: docs/datasets.md.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/TextTable.h"

namespace fs = std::filesystem;

namespace mcpt::datasets {

using detail::Row;

namespace {

constexpr const char* kLofiKey = ".LOFI.key";
constexpr const char* kLofiMp3 = ".LOFI.mp3";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_folder(const fs::path& p, const char* type, const char* what, const std::string& layout) {
  std::error_code ec;
  if (!fs::is_directory(p, ec))
    throw Error(fmt::format("{}: {} not found: {} (expected {})", type, what, p.string(), layout));
}

// FNV-1a: a stable string hash (std::hash differs between standard libraries).
std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Column index by header name (case-insensitive, trimmed); throws naming the file and the header.
size_t column(const Row& header, const std::string& name, const fs::path& file) {
  for (size_t i = 0; i < header.fields.size(); ++i)
    if (detail::lower(detail::trim(header.fields[i])) == detail::lower(name)) return i;
  std::vector<std::string> got;
  for (const auto& f : header.fields) got.push_back(detail::quoted(f));
  throw Error(fmt::format("{}:{}: header has no {} column (got {})", file.string(), header.line,
                          detail::quoted(name), detail::join(got, ", ")));
}

void check_columns(const Row& row, size_t expected, const fs::path& file) {
  if (row.fields.size() != expected)
    throw Error(fmt::format("{}:{}: expected {} tab-separated columns (as the header), got {}", file.string(),
                            row.line, expected, row.fields.size()));
}

// Why a MANUAL KEY label cannot be used as one key, or "" when it can.
std::string label_problem(const std::string& label) {
  const std::string t = detail::trim(label);
  if (t.empty()) return "empty key";
  if (t == "-") return "no key";
  if (t.find('/') != std::string::npos) return "multiple keys";  // "C minor / F# minor", "G minor/major"
  if (t.find('-') != std::string::npos) return "ambiguous key";  // "A-A# minor": a range of tonics
  return "";
}

}  // namespace

Dataset load_giantsteps_key(const fs::path& root) {
  const std::string layout = fmt::format("{}/annotations/key/<ID>{} and audio in {}/audio/<ID>{}", root.string(),
                                         kLofiKey, root.string(), kLofiMp3);
  require_folder(root, "giantsteps-key", "root folder", layout);
  const fs::path key_dir = root / "annotations" / "key";
  require_folder(key_dir, "giantsteps-key", "annotations folder", layout);

  Dataset ds;
  ds.type = "giantsteps-key";
  ds.root = root;
  std::map<std::string, fs::path> files;  // id -> key file
  for (const auto& entry : fs::directory_iterator(key_dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (!ends_with(name, ".key")) continue;
    const std::string id = name.substr(0, name.size() - (ends_with(name, kLofiKey) ? 9 : 4));
    auto [it, fresh] = files.emplace(id, entry.path());
    if (!fresh)
      throw Error(fmt::format("{}: duplicate track id {} (also {})", entry.path().string(), detail::quoted(id),
                              it->second.string()));
  }
  if (files.empty())
    throw Error(fmt::format("giantsteps-key: no *.key files in {} (expected {})", key_dir.string(), layout));

  for (const auto& [id, file] : files) {
    Key key = read_key_file(file);  // names the file and line on a bad key
    if (key.is_none()) {
      ds.excluded.push_back({id, "no key", "X"});
      continue;
    }
    Track t;
    t.id = id;
    t.audio = root / "audio" / (id + kLofiMp3);
    t.key = key;
    t.split = "test";
    ds.tracks.push_back(std::move(t));
  }
  detail::sort_by_id(ds.tracks);
  detail::sort_by_id(ds.excluded);
  detail::check_audio(ds);
  return ds;
}

Dataset load_giantsteps_mtg_key(const fs::path& root, const MtgKeyOptions& options) {
  const std::string layout =
      fmt::format("{0}/annotations/annotations.txt, {0}/annotations/beatport_metadata.txt and audio in "
                  "{0}/audio/<ID>{1}",
                  root.string(), kLofiMp3);
  require_folder(root, "giantsteps-mtg-key", "root folder", layout);
  require_folder(root / "annotations", "giantsteps-mtg-key", "annotations folder", layout);
  if (options.min_confidence < 0 || options.min_confidence > 2)
    throw Error(fmt::format("giantsteps-mtg-key: min_confidence must be 0, 1 or 2, got {}", options.min_confidence));
  if (!(options.valid_fraction >= 0.0 && options.valid_fraction < 1.0))
    throw Error(fmt::format("giantsteps-mtg-key: valid_fraction must be in [0, 1), got {}", options.valid_fraction));

  // Artists, for the grouped split. The ARTIST field may list several artists ("A, B"); the whole
  // field is the group, so a track shared by two artists does not tie their other tracks together.
  const fs::path meta_file = root / "annotations" / "beatport_metadata.txt";
  std::map<std::string, std::string> artist_of;
  {
    const auto rows = detail::parse_table(detail::read_text_file(meta_file), meta_file, {'\t', false});
    if (rows.empty()) throw Error(fmt::format("{}: empty file (expected a header ID<TAB>ARTIST...)", meta_file.string()));
    const size_t c_id = column(rows[0], "ID", meta_file), c_artist = column(rows[0], "ARTIST", meta_file);
    std::map<std::string, int> line_of;
    for (size_t r = 1; r < rows.size(); ++r) {
      check_columns(rows[r], rows[0].fields.size(), meta_file);
      const std::string id = detail::trim(rows[r].fields[c_id]);
      if (id.empty()) throw Error(fmt::format("{}:{}: ID: empty", meta_file.string(), rows[r].line));
      auto [it, fresh] = line_of.emplace(id, rows[r].line);
      if (!fresh)
        throw Error(fmt::format("{}:{}: ID: duplicate id {} (first on line {})", meta_file.string(),
                                rows[r].line, detail::quoted(id), it->second));
      artist_of[id] = detail::trim(rows[r].fields[c_artist]);
    }
  }

  const fs::path ann_file = root / "annotations" / "annotations.txt";
  const auto rows = detail::parse_table(detail::read_text_file(ann_file), ann_file, {'\t', false});
  if (rows.empty())
    throw Error(fmt::format("{}: empty file (expected a header ID<TAB>MANUAL KEY<TAB>C)", ann_file.string()));
  const size_t c_id = column(rows[0], "ID", ann_file), c_key = column(rows[0], "MANUAL KEY", ann_file),
               c_conf = column(rows[0], "C", ann_file);

  Dataset ds;
  ds.type = "giantsteps-mtg-key";
  ds.root = root;
  std::map<std::string, int> line_of;
  for (size_t r = 1; r < rows.size(); ++r) {
    const Row& row = rows[r];
    check_columns(row, rows[0].fields.size(), ann_file);
    const std::string id = detail::trim(row.fields[c_id]);
    if (id.empty()) throw Error(fmt::format("{}:{}: ID: empty", ann_file.string(), row.line));
    auto [it, fresh] = line_of.emplace(id, row.line);
    if (!fresh)
      throw Error(fmt::format("{}:{}: ID: duplicate id {} (first on line {})", ann_file.string(), row.line, detail::quoted(id),
                              it->second));
    const auto conf = detail::parse_integer(row.fields[c_conf]);
    if (!conf)
      throw Error(fmt::format("{}:{}: C: expected an integer confidence, got {}", ann_file.string(), row.line,
                              detail::quoted(row.fields[c_conf])));
    const std::string& label = row.fields[c_key];

    // Order of checks: the label first, then the confidence, so each unusable label is counted under
    // its own reason whatever min_confidence is; "low confidence" counts only single-key labels.
    if (std::string why = label_problem(label); !why.empty()) {
      ds.excluded.push_back({id, why, label});
      continue;
    }
    Key key;
    try {
      key = Key::parse(detail::trim(label));
    } catch (const Error& e) {
      throw Error(fmt::format("{}:{}: MANUAL KEY: {}", ann_file.string(), row.line, e.what()));
    }
    if (key.is_none()) {
      ds.excluded.push_back({id, "no key", label});
      continue;
    }
    if (*conf < options.min_confidence) {
      ds.excluded.push_back({id, "low confidence", fmt::format("C={} < {}", *conf, options.min_confidence)});
      continue;
    }
    Track t;
    t.id = id;
    t.audio = root / "audio" / (id + kLofiMp3);
    t.key = key;
    t.confidence = double(*conf);
    if (auto a = artist_of.find(id); a != artist_of.end()) t.artist = a->second;
    ds.tracks.push_back(std::move(t));
  }

  // Grouped split: groups in a seeded pseudo-random order (splitmix64 of FNV-1a, stable everywhere),
  // each group joins "valid" if it still fits the target count, else "train". Tracks without a
  // known artist are their own group.
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < ds.tracks.size(); ++i) {
    const Track& t = ds.tracks[i];
    groups[t.artist.empty() ? "id:" + t.id : "artist:" + t.artist].push_back(i);
  }
  std::vector<std::pair<std::uint64_t, const std::string*>> order;
  const std::uint64_t seed_mix = splitmix64(options.split_seed);
  for (const auto& g : groups) order.emplace_back(splitmix64(fnv1a64(g.first) ^ seed_mix), &g.first);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : *a.second < *b.second;
  });
  const size_t target = size_t(std::llround(options.valid_fraction * double(ds.tracks.size())));
  size_t n_valid = 0;
  for (const auto& [h, name] : order) {
    const auto& members = groups[*name];
    const bool valid = n_valid + members.size() <= target;
    if (valid) n_valid += members.size();
    for (size_t i : members) ds.tracks[i].split = valid ? "valid" : "train";
  }

  detail::sort_by_id(ds.tracks);
  detail::sort_by_id(ds.excluded);
  detail::check_audio(ds);
  return ds;
}

}  // namespace mcpt::datasets
