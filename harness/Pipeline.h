// The machinery shared by the runner and the robustness analyses: a worker pool loop, segmenting,
// pooling, extraction of (possibly deformed) audio through the embedding cache, feature matrices for
// the probes, and track-level aggregation of segment logits. No torch types here.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Audio.h"
#include "datasets/Dataset.h"
#include "datasets/Key.h"
#include "harness/Progress.h"
#include "harness/Suite.h"
#include "probes/Matrix.h"

namespace mcpt::augment {
class Deformation;
}

namespace mcpt::harness {

class Encoder;
class EmbeddingCache;

// Runs fn(i) for i in [0, n) on `threads` workers; the first exception stops the rest and is rethrown.
template <class Fn>
void parallel_for(size_t n, int threads, Fn fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  auto worker = [&] {
    while (!failed) {
      const size_t i = next++;
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const int k = std::max(1, std::min<int>(threads, static_cast<int>(n)));
  std::vector<std::thread> pool;
  for (int t = 1; t < k; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Segments of `seconds` without overlap; a tail of at least half a segment becomes one more segment
// (the last `seconds` of the track); a track shorter than one segment is one short segment.
std::vector<datasets::Audio> cut_segments(const datasets::Audio& a, double seconds);

// What audio an extraction sees: the clean track, or the track after a deformation. Deformations
// draw their randomness from a per-track seed derived from the suite seed, the track and the
// condition, so every condition is reproducible track by track.
struct Condition {
  std::string name = "clean";                               // e.g. "pitch_shift=+3"
  std::shared_ptr<const augment::Deformation> deformation;  // null: clean audio
  nlohmann::json spec;                                      // the deformation's spec (null when clean)
  bool clean() const { return deformation == nullptr; }
};

// One shard of the extraction work ("--shard i/N"): a (track, condition, encoder) item belongs to
// shard i when its stable hash modulo N is i.
struct Shard {
  int index = 0;
  int count = 1;
  bool active() const { return count > 1; }
};

// Seconds spent per stage, summed over worker threads (CPU-seconds, not wall time): where a run's
// time goes, for the report and docs/performance.md.
struct StageTimes {
  std::atomic<long long> decode_ns{0}, deform_ns{0}, embed_ns{0}, pool_ns{0};
  std::atomic<long long> audio_samples{0};  // samples decoded, at the encoder's rate
  nlohmann::json to_json() const;
};

struct ExtractContext {
  const Encoder* encoder = nullptr;
  const EncoderConfig* config = nullptr;
  std::vector<int> layers;  // resolved layer indices (ascending), one feature block each
  EmbeddingCache* cache = nullptr;
  int threads = 1;
  Verbosity verbosity = Verbosity::kNormal;
  std::uint64_t seed = 1;
  Shard shard;  // when active, only this shard's items are computed (into the cache) and nothing is returned
  StageTimes* times = nullptr;  // optional
};

struct Extracted {
  // [track][layer slot]: one row per segment, pooled over the encoder's frames.
  std::vector<std::vector<probes::Matrix>> per_track;
  std::vector<datasets::Key> labels;  // each track's key after the deformation (transposed by pitch shifts)
  std::vector<double> semitones;      // how far each track's pitch was moved
};

// Decodes each track at the encoder's rate, applies the condition, cuts segments, embeds and pools
// every selected layer; through the cache, in parallel. `what` names the stage in progress output.
Extracted extract(const ExtractContext& cx, const std::vector<const datasets::Track*>& tracks, const Condition& cond,
                  const std::string& what);

// The same for several conditions of the same tracks (result i is conds[i]'s): each track is decoded
// once, and only if some condition misses the cache, then deformed and embedded per condition. A
// robustness study of N conditions pays one decode and resample per track instead of N.
std::vector<Extracted> extract_conditions(const ExtractContext& cx, const std::vector<const datasets::Track*>& tracks,
                                          const std::vector<const Condition*>& conds, const std::string& what);

// The seed a condition uses for a track (stable across runs and machines).
std::uint64_t condition_seed(std::uint64_t suite_seed, const std::string& track_id, const Condition& cond);

struct Features {
  probes::Matrix x;            // one row per segment
  std::vector<int> y;          // key index per row (-1 when the label has none)
  std::vector<int> row_track;  // index into `tracks` per row
  std::vector<const datasets::Track*> tracks;
  std::vector<datasets::Key> labels;  // per track, the label the rows carry
};

// Stacks the segments of one layer slot; labels from `ex.labels` (the deformed labels).
Features build_features(const std::vector<const datasets::Track*>& tracks, const Extracted& ex, size_t slot);
// Concatenates feature sets (e.g. several augmented copies of the training split).
Features concat_features(const std::vector<const Features*>& parts);
// Mean of each track's segment rows: one row per track (for embedding similarity analyses).
probes::Matrix track_means(const Extracted& ex, size_t slot);

// Track-level predictions from segment logits: mean of logits or majority vote (ties broken by the
// mean logits). `confidence` gets the softmax probability of the chosen class under mean logits.
std::vector<int> aggregate(const probes::Matrix& logits, const std::vector<int>& row_track, size_t n_tracks,
                           Aggregation agg, std::vector<double>* confidence = nullptr);

}  // namespace mcpt::harness
