#include "harness/Pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "augment/Deformation.h"
#include "datasets/Error.h"
#include "datasets/Hash.h"
#include "harness/EmbeddingCache.h"
#include "harness/encoders/Encoder.h"

using mcpt::datasets::Audio;
using mcpt::datasets::Key;
using mcpt::datasets::Track;
using mcpt::probes::Matrix;

namespace mcpt::harness {

std::vector<Audio> cut_segments(const Audio& a, double seconds) {
  const size_t seg = static_cast<size_t>(std::llround(seconds * a.sample_rate));
  std::vector<Audio> out;
  if (a.samples.size() <= seg || seg == 0) {
    out.push_back(a);
    return out;
  }
  const size_t full = a.samples.size() / seg;
  for (size_t i = 0; i < full; ++i) {
    Audio s;
    s.sample_rate = a.sample_rate;
    s.samples.assign(a.samples.begin() + long(i * seg), a.samples.begin() + long((i + 1) * seg));
    out.push_back(std::move(s));
  }
  if (a.samples.size() - full * seg >= seg / 2) {
    Audio s;
    s.sample_rate = a.sample_rate;
    s.samples.assign(a.samples.end() - long(seg), a.samples.end());
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Pools one layer over frames: mean, or mean followed by standard deviation.
void pool_layer(const Embedding& e, int layer, const std::string& pooling, const std::string& what,
                std::vector<float>& out) {
  std::vector<double> mean(size_t(e.dim), 0.0), sq(size_t(e.dim), 0.0);
  for (int f = 0; f < e.frames; ++f) {
    const float* x = e.frame(layer, f);
    for (int d = 0; d < e.dim; ++d) {
      if (!std::isfinite(x[d]))
        throw Error(fmt::format("{}: the encoder produced a NaN/Inf value (layer {})", what, layer));
      mean[size_t(d)] += x[d];
      sq[size_t(d)] += double(x[d]) * x[d];
    }
  }
  for (int d = 0; d < e.dim; ++d) out.push_back(float(mean[size_t(d)] / e.frames));
  if (pooling == "mean+std")
    for (int d = 0; d < e.dim; ++d) {
      const double m = mean[size_t(d)] / e.frames;
      out.push_back(float(std::sqrt(std::max(0.0, sq[size_t(d)] / e.frames - m * m))));
    }
}

std::string layers_text(const std::vector<int>& layers) {
  std::string s;
  for (int l : layers) s += (s.empty() ? "" : ",") + std::to_string(l);
  return s;
}

// The concrete deformation a track gets under a condition (random deformations sample per track).
std::unique_ptr<augment::Deformation> concrete(const Condition& cond, std::uint64_t seed) {
  return cond.deformation->sample(seed);
}

}  // namespace

std::uint64_t condition_seed(std::uint64_t suite_seed, const std::string& track_id, const Condition& cond) {
  const std::string tag = cond.clean() ? std::string("clean") : cond.spec.dump();
  return fnv1a64(fmt::format("{}|{}|{}", suite_seed, track_id, tag));
}

Extracted extract(const ExtractContext& cx, const std::vector<const Track*>& tracks, const Condition& cond,
                  const std::string& what) {
  return std::move(extract_conditions(cx, tracks, {&cond}, what).front());
}

std::vector<Extracted> extract_conditions(const ExtractContext& cx, const std::vector<const Track*>& tracks,
                                          const std::vector<const Condition*>& conds, const std::string& what) {
  const Encoder& enc = *cx.encoder;
  const EncoderConfig& ec = *cx.config;
  const size_t n = tracks.size(), nc = conds.size();
  std::vector<Extracted> out(nc);
  if (!cx.shard.active())
    for (auto& ex : out) {
      ex.per_track.resize(n);
      ex.labels.resize(n);
      ex.semitones.assign(n, 0.0);
    }
  const std::string base_extra = fmt::format("{}|layers={}|resample={}", ec.pooling, layers_text(cx.layers),
                                             datasets::resample_quality_name(ec.resample));
  using clock = std::chrono::steady_clock;
  auto add = [&](std::atomic<long long>* slot, clock::time_point since) {
    if (cx.times) *slot += std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - since).count();
  };
  Progress progress(what, static_cast<std::int64_t>(n * nc), cx.verbosity, nc == 1 ? "tracks" : "items");
  parallel_for(n, cx.threads, [&](size_t i) {
    const Track& t = *tracks[i];
    std::optional<Audio> decoded;  // the clean track at the encoder's rate, decoded on the first miss
    for (size_t c = 0; c < nc; ++c) {
      const Condition& cond = *conds[c];
      Extracted& ex = out[c];
      const std::uint64_t seed = condition_seed(cx.seed, t.id, cond);
      std::unique_ptr<augment::Deformation> deform;
      if (!cond.clean()) deform = concrete(cond, seed);
      if (cx.shard.active()) {
        const std::uint64_t item = fnv1a64(fmt::format("{}|{}|{}", t.id, cond.name, enc.fingerprint()));
        if (static_cast<int>(item % std::uint64_t(cx.shard.count)) != cx.shard.index) {
          progress.advance();
          continue;
        }
      } else {
        ex.labels[i] = deform ? deform->label(t.key) : t.key;
        ex.semitones[i] = deform ? deform->semitones() : 0.0;
      }
      const std::string extra = cond.clean() ? base_extra : base_extra + "|deform=" + cond.spec.dump();
      // A deformation that ignores its seed gives the same audio under any suite seed: share the entry.
      const bool seeded = deform && (cond.deformation->uses_seed() || cond.deformation->is_random());
      const std::string key = EmbeddingCache::key_for(enc.fingerprint(), t.audio, t.start, t.end,
                                                      seeded ? fmt::format("{}|seed={}", extra, seed) : extra);
      std::optional<Matrix> m = cx.cache ? cx.cache->get(key) : std::nullopt;
      if (!m) {
        auto t0 = clock::now();
        if (!decoded) {
          datasets::LoadOptions lo;
          lo.sample_rate = enc.sample_rate();
          lo.quality = ec.resample;
          lo.offset = t.start;
          lo.duration = t.end > t.start ? t.end - t.start : -1.0;
          decoded = datasets::load_audio(t.audio, lo);
          if (cx.times) cx.times->audio_samples += static_cast<long long>(decoded->samples.size());
          add(cx.times ? &cx.times->decode_ns : nullptr, t0);
        }
        t0 = clock::now();
        Audio deformed;
        if (deform) {
          try {
            deformed = deform->apply(*decoded, seed);
          } catch (const Error& e) {
            throw Error(fmt::format("{}: {} ({}): {}", t.audio.string(), cond.name, what, e.what()), e.code());
          }
        }
        const Audio& audio = deform ? deformed : *decoded;
        add(cx.times ? &cx.times->deform_ns : nullptr, t0);
        t0 = clock::now();
        const auto segments = cut_segments(audio, enc.segment_seconds());
        const auto embeddings = enc.embed_batch(segments);
        add(cx.times ? &cx.times->embed_ns : nullptr, t0);
        t0 = clock::now();
        Matrix feats;
        for (const auto& e : embeddings) {
          if (e.frames <= 0 || e.dim <= 0 || e.layers <= 0)
            throw Error(fmt::format("{}: the encoder returned an empty embedding ({} layers x {} frames x {} dims)",
                                    t.audio.string(), e.layers, e.frames, e.dim));
          std::vector<float> row;
          for (int l : cx.layers) {
            if (l >= e.layers)
              throw Error(fmt::format("{}.layers: layer {} requested but the encoder returned {} layers", ec.path, l,
                                      e.layers));
            pool_layer(e, l, ec.pooling, t.audio.string(), row);
          }
          feats.append_row(row);
        }
        add(cx.times ? &cx.times->pool_ns : nullptr, t0);
        if (cx.cache) cx.cache->put(key, feats);
        m = std::move(feats);
      }
      if (!cx.shard.active()) {
        const int64_t slots = static_cast<int64_t>(cx.layers.size());
        if (slots == 0 || m->cols % slots != 0)
          throw Error(fmt::format("internal: cached features of {} have {} columns for {} layers", t.audio.string(),
                                  m->cols, slots),
                      ExitCode::kInternal);
        const int64_t width = m->cols / slots;
        auto& per = ex.per_track[i];
        per.assign(size_t(slots), Matrix(m->rows, width));
        for (int64_t r = 0; r < m->rows; ++r)
          for (int64_t s = 0; s < slots; ++s)
            std::copy(m->row(r) + s * width, m->row(r) + (s + 1) * width, per[size_t(s)].row(r));
      }
      progress.advance();
    }
  });
  return out;
}

nlohmann::json StageTimes::to_json() const {
  auto sec = [](const std::atomic<long long>& ns) { return double(ns.load()) * 1e-9; };
  return {{"decode_resample_cpu_s", sec(decode_ns)}, {"deform_cpu_s", sec(deform_ns)}, {"embed_cpu_s", sec(embed_ns)},
          {"pool_cpu_s", sec(pool_ns)}, {"audio_samples", audio_samples.load()}};
}

Features build_features(const std::vector<const Track*>& tracks, const Extracted& ex, size_t slot) {
  Features f;
  f.tracks = tracks;
  f.labels = ex.labels;
  for (size_t t = 0; t < tracks.size(); ++t) {
    const Matrix& m = ex.per_track[t][slot];
    if (f.x.rows == 0 && f.x.cols == 0) f.x.cols = m.cols;
    f.x.data.insert(f.x.data.end(), m.data.begin(), m.data.end());
    f.x.rows += m.rows;
    for (int64_t r = 0; r < m.rows; ++r) {
      f.y.push_back(ex.labels[t].has_index() ? ex.labels[t].index() : -1);
      f.row_track.push_back(static_cast<int>(t));
    }
  }
  return f;
}

Features concat_features(const std::vector<const Features*>& parts) {
  Features f;
  for (const Features* p : parts) {
    const int offset = static_cast<int>(f.tracks.size());
    if (f.x.rows == 0 && f.x.cols == 0) f.x.cols = p->x.cols;
    if (p->x.cols != f.x.cols) throw Error("internal: feature widths differ", ExitCode::kInternal);
    f.x.data.insert(f.x.data.end(), p->x.data.begin(), p->x.data.end());
    f.x.rows += p->x.rows;
    f.y.insert(f.y.end(), p->y.begin(), p->y.end());
    for (int r : p->row_track) f.row_track.push_back(r + offset);
    f.tracks.insert(f.tracks.end(), p->tracks.begin(), p->tracks.end());
    f.labels.insert(f.labels.end(), p->labels.begin(), p->labels.end());
  }
  return f;
}

Matrix track_means(const Extracted& ex, size_t slot) {
  Matrix out;
  for (const auto& per : ex.per_track) {
    const Matrix& m = per[slot];
    std::vector<float> mean(size_t(m.cols), 0.0f);
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t c = 0; c < m.cols; ++c) mean[size_t(c)] += m.at(r, c) / float(m.rows);
    out.append_row(mean);
  }
  return out;
}

std::vector<int> aggregate(const Matrix& logits, const std::vector<int>& row_track, size_t n_tracks, Aggregation agg,
                           std::vector<double>* confidence) {
  const int64_t c = logits.cols;
  std::vector<std::vector<double>> sum(n_tracks, std::vector<double>(size_t(c), 0.0));
  std::vector<std::vector<int>> votes(n_tracks, std::vector<int>(size_t(c), 0));
  std::vector<int> count(n_tracks, 0);
  for (int64_t r = 0; r < logits.rows; ++r) {
    const size_t t = size_t(row_track[size_t(r)]);
    const float* l = logits.row(r);
    for (int64_t k = 0; k < c; ++k) sum[t][size_t(k)] += l[k];
    votes[t][size_t(std::max_element(l, l + c) - l)]++;
    count[t]++;
  }
  std::vector<int> pred(n_tracks, 0);
  if (confidence) confidence->assign(n_tracks, 0.0);
  for (size_t t = 0; t < n_tracks; ++t) {
    if (count[t] == 0) throw Error("internal: a track has no segments", ExitCode::kInternal);
    const auto& s = sum[t];
    int best = int(std::max_element(s.begin(), s.end()) - s.begin());
    if (agg == Aggregation::kMajorityVote) {
      int b = 0;
      for (int k = 1; k < c; ++k)
        if (votes[t][size_t(k)] > votes[t][size_t(b)] ||
            (votes[t][size_t(k)] == votes[t][size_t(b)] && s[size_t(k)] > s[size_t(b)]))
          b = k;
      best = b;
    }
    pred[t] = best;
    if (confidence) {
      double mx = *std::max_element(s.begin(), s.end()) / count[t], z = 0;
      for (double v : s) z += std::exp(v / count[t] - mx);
      (*confidence)[t] = std::exp(s[size_t(best)] / count[t] - mx) / z;
    }
  }
  return pred;
}

}  // namespace mcpt::harness
