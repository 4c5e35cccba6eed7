// On-disk cache of pooled segment embeddings, keyed by content: encoder fingerprint, the audio
// file's bytes, excerpt window, and the rest of what shapes the features (pooling, layers, deformation). Entries are written atomically and
// carry a checksum; a corrupted entry is never used (it is recomputed and counted).
#pragma once
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "probes/Matrix.h"

namespace mcpt::harness {

class EmbeddingCache {
 public:
  explicit EmbeddingCache(std::filesystem::path root);  // empty root: disabled
  bool enabled() const { return !root_.empty(); }
  std::optional<probes::Matrix> get(const std::string& key);
  void put(const std::string& key, const probes::Matrix& m);

  // Key of one track's embeddings: stable across runs, changes with the audio content or the config.
  // `extra` carries pooling, layers and the deformation spec.
  static std::string key_for(const std::string& encoder_fingerprint, const std::filesystem::path& audio,
                             double start, double end, const std::string& extra);

  // Removes the temporary files left by processes of this host that are gone (a run killed while it
  // wrote an entry); those of live processes and of other hosts (a cache shared by a cluster) are
  // kept. Returns how many were removed. The runner calls it once per run.
  int remove_stale_temporaries();
  // "<entry file name>.tmp-<host>-<pid>-": the start of this process's temporary names.
  static std::string temporary_prefix(const std::string& entry_name);

  int hits() const { return hits_; }
  int misses() const { return misses_; }
  int corrupted() const { return corrupted_; }

 private:
  std::filesystem::path path_of(const std::string& key) const;
  std::filesystem::path root_;
  std::atomic<int> hits_{0}, misses_{0}, corrupted_{0};
};

}  // namespace mcpt::harness
