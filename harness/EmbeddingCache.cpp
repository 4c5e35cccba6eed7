#include "harness/EmbeddingCache.h"
#include "harness/StaleFiles.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>
#include <unistd.h>

#include <fmt/format.h>

#include "datasets/Error.h"
#include "datasets/Hash.h"

namespace fs = std::filesystem;

namespace mcpt::harness {
namespace {
constexpr char kMagic[8] = {'M', 'C', 'P', 'T', 'E', 'M', 'B', '1'};
}

EmbeddingCache::EmbeddingCache(fs::path root) : root_(std::move(root)) {}

namespace {
// Hash of a file's bytes, memoised per (path, size, modification time) for the life of the process:
// the cache is addressed by audio content, so a moved or re-downloaded file still hits, and an
// edited file never serves stale embeddings.
std::string content_hash(const fs::path& audio) {
  static std::mutex mu;
  static std::map<std::string, std::string> memo;
  std::error_code ec;
  const auto canonical = fs::weakly_canonical(audio, ec);
  const auto size = fs::file_size(audio, ec);
  const auto mtime = fs::last_write_time(audio, ec).time_since_epoch().count();
  const std::string id = fmt::format("{}|{}|{}", canonical.string(), size, static_cast<long long>(mtime));
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = memo.find(id);
    if (it != memo.end()) return it->second;
  }
  std::ifstream in(audio, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read audio file", audio.string()));
  std::uint64_t h = fnv1a64("");
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h = fnv1a64(std::string_view(buf.data(), size_t(in.gcount())), h);
  }
  const std::string hash = hex64(h) + fmt::format("-{}", size);
  std::lock_guard<std::mutex> lock(mu);
  memo[id] = hash;
  return hash;
}
}  // namespace

std::string EmbeddingCache::key_for(const std::string& fingerprint, const fs::path& audio, double start, double end,
                                    const std::string& extra) {
  const std::string text = fmt::format("{}|{}|{:.6f}|{:.6f}|{}", fingerprint, content_hash(audio), start, end, extra);
  return fingerprint.substr(0, 16) + "/" + hex64(fnv1a64(text));
}

fs::path EmbeddingCache::path_of(const std::string& key) const { return root_ / (key + ".emb"); }

namespace {
// This host's name as it appears in temporary file names: no '/' and no control bytes.
const std::string& host_name() {
  static const std::string name = [] {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return std::string("unknown-host");
    std::string n;
    for (const char* c = buf; *c; ++c)
      n += std::isalnum(static_cast<unsigned char>(*c)) || *c == '-' || *c == '.' || *c == '_' ? *c : '_';
    return n.empty() ? std::string("unknown-host") : n;
  }();
  return name;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

std::string EmbeddingCache::temporary_prefix(const std::string& entry_name) {
  return fmt::format("{}.tmp-{}-{}-", entry_name, host_name(), ::getpid());
}

int EmbeddingCache::remove_stale_temporaries() {
  if (!enabled()) return 0;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return 0;
  int removed = 0;
  // root/<fingerprint prefix>/<hash>.emb: two levels, so a cache folder shared with other files is
  // not walked further than ours.
  for (const auto& sub : fs::directory_iterator(root_, ec)) {
    if (!sub.is_directory(ec)) continue;
    for (const auto& e : fs::directory_iterator(sub.path(), ec)) {
      const std::string name = e.path().filename().string();
      const auto at = name.find(".emb.tmp-");
      if (at == std::string::npos) continue;
      // <host>-<pid>-<n>, or <pid>-<n> from versions before host names (taken as this host's).
      const std::string tail = name.substr(at + 9);
      const auto last = tail.rfind('-');
      if (last == std::string::npos || !all_digits(tail.substr(last + 1))) continue;
      const std::string rest = tail.substr(0, last);
      const auto dash = rest.rfind('-');
      const std::string pid_text = dash == std::string::npos ? rest : rest.substr(dash + 1);
      const std::string host = dash == std::string::npos ? host_name() : rest.substr(0, dash);
      if (!all_digits(pid_text) || pid_text.size() > 9 || host != host_name()) continue;
      if (!process_is_gone(std::stol(pid_text))) continue;
      std::error_code rm;
      if (fs::remove(e.path(), rm)) ++removed;
    }
  }
  return removed;
}

std::optional<probes::Matrix> EmbeddingCache::get(const std::string& key) {
  if (!enabled()) return std::nullopt;
  const fs::path p = path_of(key);
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    ++misses_;
    return std::nullopt;
  }
  char magic[8];
  std::int64_t rows = 0, cols = 0;
  std::uint64_t checksum = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&rows), sizeof rows);
  in.read(reinterpret_cast<char*>(&cols), sizeof cols);
  bool ok = in && std::memcmp(magic, kMagic, 8) == 0 && rows >= 0 && cols >= 0 && rows < (1 << 24) &&
            cols < (1 << 24);
  probes::Matrix m;
  if (ok) {
    m = probes::Matrix(rows, cols);
    in.read(reinterpret_cast<char*>(m.data.data()), std::streamsize(m.data.size() * sizeof(float)));
    in.read(reinterpret_cast<char*>(&checksum), sizeof checksum);
    ok = bool(in) && in.peek() == std::char_traits<char>::eof();
    if (ok) {
      const std::string_view bytes(reinterpret_cast<const char*>(m.data.data()), m.data.size() * sizeof(float));
      ok = fnv1a64(bytes, fnv1a64(fmt::format("{}x{}", rows, cols))) == checksum;
    }
  }
  if (!ok) {
    ++corrupted_;
    std::error_code ec;
    fs::remove(p, ec);
    return std::nullopt;
  }
  ++hits_;
  return m;
}

void EmbeddingCache::put(const std::string& key, const probes::Matrix& m) {
  if (!enabled()) return;
  const fs::path p = path_of(key);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) throw Error(fmt::format("{}: cannot create cache folder: {}", p.parent_path().string(), ec.message()));
  static std::atomic<unsigned> counter{0};
  const fs::path tmp = p.parent_path() / (temporary_prefix(p.filename().string()) + std::to_string(counter++));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("{}: cannot write cache entry", tmp.string()));
    const std::string_view bytes(reinterpret_cast<const char*>(m.data.data()), m.data.size() * sizeof(float));
    const std::uint64_t checksum = fnv1a64(bytes, fnv1a64(fmt::format("{}x{}", m.rows, m.cols)));
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&m.rows), sizeof m.rows);
    out.write(reinterpret_cast<const char*>(&m.cols), sizeof m.cols);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.write(reinterpret_cast<const char*>(&checksum), sizeof checksum);
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      throw Error(fmt::format("{}: cache write failed (disk full?)", tmp.string()));
    }
  }
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot store cache entry: {}", p.string(), ec.message()));
  }
}

}  // namespace mcpt::harness
