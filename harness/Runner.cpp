#include "harness/Runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "harness/EmbeddingCache.h"
#include "harness/encoders/Encoder.h"
#include "probes/Probe.h"
#include "reports/Metrics.h"
#include "reports/Plot.h"
#include "reports/Report.h"

namespace fs = std::filesystem;
using mcpt::datasets::Audio;
using mcpt::datasets::Dataset;
using mcpt::datasets::Key;
using mcpt::datasets::Track;
using mcpt::probes::Matrix;

namespace mcpt::harness {
namespace {

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

struct SplitTracks {
  SplitRef ref;
  std::vector<const Track*> tracks;
};

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

std::vector<float> pool_embedding(const Embedding& e, const std::string& pooling, const std::string& what) {
  if (e.frames <= 0 || e.dim <= 0 || e.layers <= 0)
    throw Error(fmt::format("{}: the encoder returned an empty embedding ({} layers x {} frames x {} dims)", what,
                            e.layers, e.frames, e.dim));
  const int layer = e.layers - 1;
  std::vector<double> mean(size_t(e.dim), 0.0), sq(size_t(e.dim), 0.0);
  for (int f = 0; f < e.frames; ++f) {
    const float* x = e.frame(layer, f);
    for (int d = 0; d < e.dim; ++d) {
      if (!std::isfinite(x[d])) throw Error(fmt::format("{}: the encoder produced a NaN/Inf value", what));
      mean[size_t(d)] += x[d];
      sq[size_t(d)] += double(x[d]) * x[d];
    }
  }
  std::vector<float> out;
  for (int d = 0; d < e.dim; ++d) out.push_back(float(mean[size_t(d)] / e.frames));
  if (pooling == "mean+std")
    for (int d = 0; d < e.dim; ++d) {
      const double m = mean[size_t(d)] / e.frames;
      out.push_back(float(std::sqrt(std::max(0.0, sq[size_t(d)] / e.frames - m * m))));
    }
  return out;
}

struct Features {
  Matrix x;                  // one row per segment
  std::vector<int> y;        // key index per row (-1 when the track has none)
  std::vector<int> row_track;  // index into `tracks` per row
  std::vector<const Track*> tracks;
};

std::vector<int> aggregate(const Matrix& logits, const std::vector<int>& row_track, size_t n_tracks, Aggregation agg,
                           std::vector<double>* confidence = nullptr) {
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
      // Most votes; ties broken by the mean logits.
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

std::vector<reports::TrackPrediction> to_predictions(const Features& f, const std::vector<int>& pred,
                                                     const std::vector<double>& conf) {
  std::vector<reports::TrackPrediction> out;
  for (size_t t = 0; t < f.tracks.size(); ++t)
    out.push_back({f.tracks[t]->id, f.tracks[t]->key, Key::from_index(pred[t]), conf.empty() ? 0.0 : conf[t]});
  return out;
}

}  // namespace

RunOutcome run_suite(const Suite& suite, const RunOptions& options) {
  const auto v = options.verbosity;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string started = iso_now();
  const int threads = options.threads > 0 ? options.threads
                      : suite.threads > 0 ? suite.threads
                                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  RunOutcome outcome;

  // --- Plan: datasets, splits, encoders, probes.
  std::set<std::string> used;
  used.insert(suite.protocol.train.dataset);
  used.insert(suite.protocol.valid.dataset);
  for (const auto& t : suite.protocol.test) used.insert(t.dataset);
  std::map<std::string, Dataset> loaded;
  for (const auto& name : used) {
    const auto& dc = suite.datasets.at(name);
    if (options.dry_run && dc.type == "synthetic" && !fs::exists(dc.root / "manifest.csv")) continue;
    log_detail(v, fmt::format("loading dataset {} ({}) from {}", name, dc.type, dc.root.string()));
    loaded[name] = datasets::load_dataset(dc.type, dc.root, dc.options, "suite.datasets." + name);
  }
  auto tracks_of = [&](const SplitRef& r) {
    SplitTracks s{r, {}};
    if (loaded.count(r.dataset)) s.tracks = loaded.at(r.dataset).split(r.split);
    return s;
  };
  SplitTracks train = tracks_of(suite.protocol.train), valid = tracks_of(suite.protocol.valid);
  std::vector<SplitTracks> tests;
  for (const auto& r : suite.protocol.test) tests.push_back(tracks_of(r));

  nlohmann::json skipped = nlohmann::json::array();
  // Training and validation need a major/minor key; others are left out and listed.
  for (auto* s : {&train, &valid}) {
    std::vector<const Track*> keep;
    for (const auto* t : s->tracks) {
      if (t->key.has_index()) keep.push_back(t);
      else
        skipped.push_back({{"dataset", s->ref.dataset}, {"track", t->id}, {"split", s->ref.split},
                           {"reason", fmt::format("key \"{}\" is not one of the 24 classes", t->key.name())}});
    }
    s->tracks = keep;
  }

  // Encoders are built now, so configuration errors surface before any work.
  std::vector<std::unique_ptr<Encoder>> encoders;
  for (const auto& ec : suite.encoders) {
    JsonObject cfg(ec.options, ec.path);
    cfg.ignore({"name", "type", "pooling"});
    EncoderContext ctx{suite.file.parent_path()};
    encoders.push_back(make_encoder(ec.type, cfg, ctx));
    cfg.finish();
  }

  std::ostringstream plan;
  plan << fmt::format("suite {} (seed {}, {} thread{})\n", suite.name, suite.seed, threads, threads == 1 ? "" : "s");
  auto split_line = [&](const char* role, const SplitTracks& s) {
    if (!loaded.count(s.ref.dataset)) {
      plan << fmt::format("  {:<6} {} (synthetic corpus not rendered yet; rendered on first run)\n", role, s.ref.text());
      return;
    }
    size_t missing = 0;
    for (const auto* t : s.tracks) missing += fs::exists(t->audio) ? 0 : 1;
    plan << fmt::format("  {:<6} {}: {} tracks{}\n", role, s.ref.text(), s.tracks.size(),
                        missing ? fmt::format(" ({} without audio)", missing) : "");
  };
  split_line("train", train);
  split_line("valid", valid);
  for (const auto& t : tests) split_line("test", t);
  for (size_t i = 0; i < encoders.size(); ++i)
    plan << fmt::format("  encoder {} ({}, {} Hz, {} s segments, pooling {})\n", suite.encoders[i].name,
                        encoders[i]->type(), encoders[i]->sample_rate(), encoders[i]->segment_seconds(),
                        suite.encoders[i].pooling);
  for (const auto& p : suite.probes)
    plan << fmt::format("  probe {} ({} grid point{}, {} seed{})\n", p.label(), p.grid_points().size(),
                        p.grid_points().size() == 1 ? "" : "s", suite.statistics.seeds,
                        suite.statistics.seeds == 1 ? "" : "s");
  plan << fmt::format("  aggregation {}, metric {}, bootstrap {}\n", aggregation_name(suite.protocol.aggregation),
                      suite.metric.allow_descending_fifths ? "weighted score (descending fifths allowed)"
                                                           : "weighted score (mir_eval 0.7)",
                      suite.statistics.bootstrap);
  plan << fmt::format("  output {}\n", suite.output.string());
  outcome.plan = plan.str();
  if (options.dry_run) return outcome;
  log_line(v, outcome.plan);

  // --- Every track we will need must have audio; say so before computing anything.
  {
    std::vector<std::string> missing;
    size_t total = 0;
    for (const auto* s : std::vector<const SplitTracks*>{&train, &valid})
      for (const auto* t : s->tracks) total++, fs::exists(t->audio) ? void() : missing.push_back(t->audio.string());
    for (const auto& s : tests)
      for (const auto* t : s.tracks) total++, fs::exists(t->audio) ? void() : missing.push_back(t->audio.string());
    if (!missing.empty())
      throw Error(fmt::format("{} of {} tracks have no audio file (first: {}); download the audio or fix the "
                              "dataset root",
                              missing.size(), total, missing.front()));
    if (train.tracks.empty()) throw Error(fmt::format("suite.protocol.train: \"{}\" has no usable tracks", train.ref.text()));
    if (valid.tracks.empty()) throw Error(fmt::format("suite.protocol.valid: \"{}\" has no usable tracks", valid.ref.text()));
    for (size_t i = 0; i < tests.size(); ++i)
      if (tests[i].tracks.empty())
        throw Error(fmt::format("suite.protocol.test[{}]: \"{}\" has no tracks", i, tests[i].ref.text()));
  }

  EmbeddingCache cache(suite.cache);
  nlohmann::json results = nlohmann::json::array();
  nlohmann::json encoders_json = nlohmann::json::array();
  reports::BootstrapOptions boot;
  boot.resamples = suite.statistics.bootstrap;
  boot.seed = suite.seed;

  for (size_t ei = 0; ei < encoders.size(); ++ei) {
    const Encoder& enc = *encoders[ei];
    const auto& ec = suite.encoders[ei];
    encoders_json.push_back({{"name", ec.name}, {"type", enc.type()}, {"fingerprint", enc.fingerprint()},
                             {"pooling", ec.pooling}, {"spec", enc.spec()}});

    // --- Extract: each distinct track once, in parallel, through the cache.
    std::vector<const Track*> all;
    std::map<const Track*, size_t> index;
    auto add = [&](const SplitTracks& s) {
      for (const auto* t : s.tracks)
        if (index.emplace(t, all.size()).second) all.push_back(t);
    };
    add(train);
    add(valid);
    for (const auto& s : tests) add(s);
    std::vector<Matrix> feats(all.size());
    {
      Progress progress(fmt::format("embedding [{}]", ec.name), static_cast<std::int64_t>(all.size()), v, "tracks");
      parallel_for(all.size(), threads, [&](size_t i) {
        const Track& t = *all[i];
        const std::string key = EmbeddingCache::key_for(enc.fingerprint(), t.audio, t.start, t.end, ec.pooling);
        if (auto cached = cache.get(key)) {
          feats[i] = std::move(*cached);
        } else {
          datasets::LoadOptions lo;
          lo.sample_rate = enc.sample_rate();
          lo.offset = t.start;
          lo.duration = t.end > t.start ? t.end - t.start : -1.0;
          const Audio audio = datasets::load_audio(t.audio, lo);
          Matrix m;
          for (const auto& seg : cut_segments(audio, enc.segment_seconds()))
            m.append_row(pool_embedding(enc.embed(seg), ec.pooling, t.audio.string()));
          cache.put(key, m);
          feats[i] = std::move(m);
        }
        progress.advance();
      });
    }
    if (cache.corrupted() > 0)
      log_line(v, fmt::format("cache: {} corrupted entries were recomputed", cache.corrupted()));

    auto build = [&](const SplitTracks& s) {
      Features f;
      f.tracks = s.tracks;
      for (size_t t = 0; t < s.tracks.size(); ++t) {
        const Matrix& m = feats[index.at(s.tracks[t])];
        for (int64_t r = 0; r < m.rows; ++r) {
          f.x.append_row(std::vector<float>(m.row(r), m.row(r) + m.cols));
          f.y.push_back(s.tracks[t]->key.index());
          f.row_track.push_back(static_cast<int>(t));
        }
      }
      return f;
    };
    const Features ftrain = build(train), fvalid = build(valid);
    std::vector<Features> ftests;
    for (const auto& s : tests) ftests.push_back(build(s));

    // --- Probe: selection on validation only; the test split is scored once per selected probe.
    for (const auto& pc : suite.probes) {
      if (pc.type == "none" && enc.type() != "key-profile") {
        skipped.push_back({{"encoder", ec.name}, {"probe", pc.label()},
                           {"reason", "probe \"none\" needs key scores as features (key-profile encoders only)"}});
        continue;
      }
      struct SeedRun {
        std::uint64_t seed;
        probes::Selection sel;
      };
      std::vector<SeedRun> runs(static_cast<size_t>(suite.statistics.seeds));
      {
        Progress progress(fmt::format("probe [{} / {}]", ec.name, pc.label()),
                          suite.statistics.seeds * static_cast<std::int64_t>(pc.grid_points().size()), v, "fits");
        // Seeds train side by side, one compute thread each: small probes gain more from this than
        // from splitting each matrix product. Each fit is deterministic for its seed (probes/Probe.cpp).
        const bool parallel_seeds = suite.statistics.seeds > 1 && threads > 1 && pc.device == "cpu";
        const int torch_threads = probes::compute_threads();
        if (parallel_seeds) probes::set_compute_threads(1);
        parallel_for(runs.size(), parallel_seeds ? threads : 1, [&](size_t si) {
          const std::uint64_t seed = suite.seed + static_cast<std::uint64_t>(si);
          auto valid_score = [&](const Matrix& logits) {
            progress.advance();
            const auto pred = aggregate(logits, fvalid.row_track, fvalid.tracks.size(), suite.protocol.aggregation);
            double s = 0;
            for (size_t t = 0; t < pred.size(); ++t)
              s += datasets::weighted_score(fvalid.tracks[t]->key, Key::from_index(pred[t]), suite.metric);
            return s / double(pred.size());
          };
          runs[si] = {seed, probes::select_on_validation(pc, ftrain.x, ftrain.y, fvalid.x, fvalid.y,
                                                         Key::kNumClasses, seed, valid_score)};
        });
        if (parallel_seeds) probes::set_compute_threads(torch_threads);
      }
      for (size_t ti = 0; ti < tests.size(); ++ti) {
        const Features& ft = ftests[ti];
        nlohmann::json per_seed = nlohmann::json::array();
        std::vector<double> accs, wss;
        nlohmann::json first;
        for (auto& run : runs) {
          const Matrix logits = run.sel.probe->predict(ft.x);
          std::vector<double> conf, conf_vote;
          const auto pred = aggregate(logits, ft.row_track, ft.tracks.size(), suite.protocol.aggregation, &conf);
          const Aggregation other = suite.protocol.aggregation == Aggregation::kMeanLogits
                                        ? Aggregation::kMajorityVote
                                        : Aggregation::kMeanLogits;
          const auto pred_other = aggregate(logits, ft.row_track, ft.tracks.size(), other);
          auto preds = to_predictions(ft, pred, conf);
          const auto m = reports::score_tracks(preds, suite.metric, boot);
          const auto m_other = reports::score_tracks(to_predictions(ft, pred_other, {}), suite.metric, {0, 0.95, 1});
          if (static_cast<size_t>(m.n_tracks) != ft.tracks.size())
            throw Error(fmt::format("internal: scored {} of {} test tracks", m.n_tracks, ft.tracks.size()),
                        ExitCode::kIncomplete);
          accs.push_back(m.accuracy);
          wss.push_back(m.weighted_score);
          per_seed.push_back({{"seed", run.seed},
                              {"accuracy", m.accuracy},
                              {"weighted_score", m.weighted_score},
                              {"chosen", run.sel.chosen.to_json()},
                              {"valid_score", run.sel.valid_score}});
          if (first.is_null()) {
            nlohmann::json pj = nlohmann::json::array();
            for (size_t t = 0; t < preds.size(); ++t) {
              const auto rel = datasets::key_relation(preds[t].reference, preds[t].estimate, suite.metric);
              pj.push_back({{"id", preds[t].track_id},
                            {"reference", preds[t].reference.name()},
                            {"estimate", preds[t].estimate.name()},
                            {"relation", datasets::relation_name(rel)},
                            {"score", datasets::relation_score(rel)},
                            {"confidence", preds[t].confidence},
                            {aggregation_name(other), Key::from_index(pred_other[t]).name()}});
            }
            first = {{"dataset", tests[ti].ref.dataset},
                     {"split", tests[ti].ref.split},
                     {"encoder", ec.name},
                     {"encoder_type", enc.type()},
                     {"encoder_fingerprint", enc.fingerprint()},
                     {"probe", pc.label()},
                     {"probe_config", pc.to_json()},
                     {"seed", run.seed},
                     {"aggregation", aggregation_name(suite.protocol.aggregation)},
                     {"metrics", m.to_json()},
                     {"metrics_" + aggregation_name(other), m_other.to_json()},
                     {"selection",
                      {{"criterion", "validation weighted score, track level"},
                       {"valid_split", valid.ref.text()},
                       {"chosen", run.sel.chosen.to_json()},
                       {"valid_score", run.sel.valid_score},
                       {"candidates", run.sel.candidates}}},
                     {"training", run.sel.probe->training_log()},
                     {"n_segments", ft.x.rows},
                     {"predictions", pj}};
          }
        }
        const auto a = reports::mean_std(accs), w = reports::mean_std(wss);
        first["per_seed"] = per_seed;
        first["across_seeds"] = {{"n", runs.size()},
                                 {"accuracy", {{"mean", a.mean}, {"std", a.std}}},
                                 {"weighted_score", {{"mean", w.mean}, {"std", w.std}}}};
        results.push_back(first);
      }
    }
  }

  // --- Report.
  nlohmann::json datasets_json = nlohmann::json::object();
  for (const auto& [name, ds] : loaded) datasets_json[name] = datasets::dataset_summary(ds);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json report = {
      {"schema_version", reports::kReportSchemaVersion},
      {"suite", suite.raw},
      {"provenance",
       {{"suite_file", suite.file.string()},
        {"suite_hash", suite.hash},
        {"seed", suite.seed},
        {"versions", library_versions()},
        {"command_line", options.command_line},
        {"host", host},
        {"threads", threads},
        {"started", started},
        {"finished", iso_now()},
        {"wall_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
        {"cache", {{"dir", suite.cache.string()}, {"hits", cache.hits()}, {"misses", cache.misses()},
                   {"corrupted_recomputed", cache.corrupted()}}}}},
      {"metric",
       {{"name", "mirex_weighted_score"},
        {"allow_descending_fifths", suite.metric.allow_descending_fifths},
        {"reference", suite.metric.allow_descending_fifths ? "mir_eval >= 0.8 key.weighted_score(allow_descending_fifths=True)"
                                                           : "mir_eval 0.7 key.weighted_score"}}},
      {"protocol",
       {{"train", train.ref.text()}, {"valid", valid.ref.text()}, {"aggregation", aggregation_name(suite.protocol.aggregation)},
        {"test", [&] {
           nlohmann::json t = nlohmann::json::array();
           for (const auto& s : tests) t.push_back(s.ref.text());
           return t;
         }()},
        {"n_train", train.tracks.size()},
        {"n_valid", valid.tracks.size()}}},
      {"datasets", datasets_json},
      {"encoders", encoders_json},
      {"skipped", skipped},
      {"results", results}};
  outcome.report_path = suite.output / "report.json";
  reports::write_json_atomic(outcome.report_path, report);
  outcome.table = reports::render_table(report, reports::TableFormat::kText);
  reports::write_file_atomic(suite.output / "results.md", reports::render_table(report, reports::TableFormat::kMarkdown));
  reports::write_file_atomic(suite.output / "results.csv", reports::render_table(report, reports::TableFormat::kCsv));
  reports::write_file_atomic(suite.output / "results.tex", reports::render_table(report, reports::TableFormat::kLatex));
  reports::write_plots(report, suite.output);
  outcome.report = std::move(report);
  return outcome;
}

}  // namespace mcpt::harness
