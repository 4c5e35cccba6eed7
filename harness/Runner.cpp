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
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/JsonConfig.h"
#include "datasets/TextTable.h"
#include "harness/EmbeddingCache.h"
#include "harness/StaleFiles.h"
#include "harness/Pipeline.h"
#include "harness/TorchBackend.h"
#include "harness/Robustness.h"
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

// The tracks of `part` taken out of an extraction over `all` (index: track -> position in all).
Extracted subset(const Extracted& ex, const std::vector<const Track*>& part, const std::map<const Track*, size_t>& index) {
  Extracted s;
  for (const auto* t : part) {
    const size_t i = index.at(t);
    s.per_track.push_back(ex.per_track[i]);
    s.labels.push_back(ex.labels[i]);
    s.semitones.push_back(ex.semitones[i]);
  }
  return s;
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
    loaded[name] = datasets::load_dataset(dc.type, dc.root, dc.options, "suite.datasets." + datasets::detail::escaped(name));
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
    cfg.ignore({"name", "type", "pooling", "layer", "resample"});  // read by the harness (Suite.cpp)
    if (ec.type != "torchscript") cfg.ignore({"layers"});  // torchscript reads its own "layers"
    EncoderContext ctx{suite.file.parent_path()};
    try {
      encoders.push_back(make_encoder(ec.type, cfg, ctx));
      cfg.finish();
    } catch (const Error& e) {  // name the suite file, as errors found while parsing it do, and the entry
      const std::string what = e.what();
      const bool has_path = what.rfind(ec.path, 0) == 0;  // e.g. a checkpoint's error names only its file
      throw Error(fmt::format("{}: {}{}", suite.file.string(), has_path ? "" : ec.path + ": ", what), e.code());
    }
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
    if (train.tracks.empty()) throw Error(fmt::format("suite.protocol.train: {} has no usable tracks", datasets::detail::quoted(train.ref.text())));
    if (valid.tracks.empty()) throw Error(fmt::format("suite.protocol.valid: {} has no usable tracks", datasets::detail::quoted(valid.ref.text())));
    for (size_t i = 0; i < tests.size(); ++i)
      if (tests[i].tracks.empty())
        throw Error(fmt::format("suite.protocol.test[{}]: {} has no tracks", i, datasets::detail::quoted(tests[i].ref.text())));
  }

  EmbeddingCache cache(suite.cache);
  // A run killed earlier (SIGKILL, OOM killer, a node lost) left temporaries; its finished work is in
  // the cache and is used below.
  if (const int n = cache.remove_stale_temporaries(); n > 0)
    log_line(v, fmt::format("cache: removed {} temporary file{} left by a killed run", n, n == 1 ? "" : "s"));
  if (!options.shard.active())
    if (const int n = remove_stale_outputs(suite.output); n > 0)
      log_line(v, fmt::format("output: removed {} temporary file{} left by a killed run", n, n == 1 ? "" : "s"));
  nlohmann::json results = nlohmann::json::array();
  nlohmann::json encoders_json = nlohmann::json::array();
  reports::BootstrapOptions boot;
  boot.resamples = suite.statistics.bootstrap;
  boot.seed = suite.seed;

  const RobustnessConditions robust_conds =
      suite.robustness.enabled ? RobustnessConditions::build(suite.robustness) : RobustnessConditions{};
  nlohmann::json robustness = nlohmann::json::object();
  size_t expected_rows = 0;
  StageTimes times;
  double probe_seconds = 0, robustness_seconds = 0;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };

  for (size_t ei = 0; ei < encoders.size(); ++ei) {
    const Encoder& enc = *encoders[ei];
    const auto& ec = suite.encoders[ei];

    // --- Layers: indices into the encoder's layers, negative from the end.
    const int n_layers = enc.num_layers();
    std::vector<int> layers;
    if (ec.all_layers) {
      for (int l = 0; l < n_layers; ++l) layers.push_back(l);
    } else {
      for (int l : ec.layers) {
        const int r = l < 0 ? n_layers + l : l;
        if (r < 0 || r >= n_layers)
          throw Error(fmt::format("{}.layer{}: layer {} does not exist (the encoder has {} layer{}: 0..{} or -1..-{})",
                                  ec.path, ec.layers.size() > 1 ? "s" : "", l, n_layers, n_layers == 1 ? "" : "s",
                                  n_layers - 1, n_layers));
        if (std::find(layers.begin(), layers.end(), r) == layers.end()) layers.push_back(r);
      }
      std::sort(layers.begin(), layers.end());
    }
    encoders_json.push_back({{"name", ec.name}, {"type", enc.type()}, {"fingerprint", enc.fingerprint()},
                             {"pooling", ec.pooling}, {"resample", datasets::resample_quality_name(ec.resample)}, {"layers", layers}, {"num_layers", n_layers}, {"spec", enc.spec()}});

    ExtractContext cx;
    cx.encoder = &enc;
    cx.config = &ec;
    cx.layers = layers;
    cx.cache = &cache;
    cx.threads = threads;
    cx.verbosity = v;
    cx.seed = suite.seed;
    cx.shard = options.shard;
    cx.times = &times;

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
    const bool robust = suite.robustness.enabled &&
                        (suite.robustness.encoders.empty() ||
                         std::find(suite.robustness.encoders.begin(), suite.robustness.encoders.end(), ec.name) !=
                             suite.robustness.encoders.end());
    ExtractContext rcx = cx;  // robustness analyses use one layer: the last one selected
    rcx.layers = {layers.back()};
    if (options.shard.active()) {
      // A shard computes its share of every extraction the full run needs, into the cache, and stops.
      extract(cx, all, Condition{}, fmt::format("embedding [{}] shard {}/{}", ec.name, options.shard.index + 1, options.shard.count));
      if (robust) {
        // Per split, all its conditions in one pass (one decode per track), as run_robustness does.
        const RobustnessPasses passes = robustness_passes(suite.robustness, robust_conds);
        for (Role role : {Role::kTrain, Role::kValid, Role::kTest}) {
          std::vector<const Condition*> conds;
          for (const auto& c : passes[role]) conds.push_back(&c);
          if (conds.empty()) continue;
          const auto& tr = role == Role::kTrain ? train.tracks : role == Role::kValid ? valid.tracks : tests.front().tracks;
          extract_conditions(rcx, tr, conds, fmt::format("robustness [{}] shard {}/{}, {} conditions", ec.name,
                                                         options.shard.index + 1, options.shard.count, conds.size()));
        }
      }
      continue;
    }
    const Extracted ex_all = extract(cx, all, Condition{}, fmt::format("embedding [{}]", ec.name));
    if (cache.corrupted() > 0)
      log_line(v, fmt::format("cache: {} corrupted entries were recomputed", cache.corrupted()));
    const Extracted ex_train = subset(ex_all, train.tracks, index), ex_valid = subset(ex_all, valid.tracks, index);
    std::vector<Extracted> ex_tests;
    for (const auto& s : tests) ex_tests.push_back(subset(ex_all, s.tracks, index));

    for (size_t slot = 0; slot < layers.size(); ++slot) {
      const int layer = layers[slot];
      const Features ftrain = build_features(train.tracks, ex_train, slot);
      const Features fvalid = build_features(valid.tracks, ex_valid, slot);
      std::vector<Features> ftests;
      for (size_t ti = 0; ti < tests.size(); ++ti) ftests.push_back(build_features(tests[ti].tracks, ex_tests[ti], slot));
      const std::string layer_text = layers.size() > 1 ? fmt::format(" layer {}", layer) : "";

      // --- Probe: selection on validation only; the test split is scored once per selected probe.
      for (const auto& pc : suite.probes) {
        if (pc.type == "none" && enc.type() != "key-profile") {
          if (slot == 0)
            skipped.push_back({{"encoder", ec.name}, {"probe", pc.label()},
                               {"reason", "probe \"none\" needs key scores as features (key-profile encoders only)"}});
          continue;
        }
        expected_rows += tests.size();
        struct SeedRun {
          std::uint64_t seed;
          probes::Selection sel;
        };
        std::vector<SeedRun> runs(static_cast<size_t>(suite.statistics.seeds));
        const auto probe_start = std::chrono::steady_clock::now();
        {
          Progress progress(fmt::format("probe [{}{} / {}]", ec.name, layer_text, pc.label()),
                            suite.statistics.seeds * static_cast<std::int64_t>(pc.grid_points().size()), v, "fits");
          // Seeds train side by side, one compute thread each: small probes gain more from this than
          // from splitting each matrix product. Each fit is deterministic for its seed (probes/Probe.cpp).
          const bool parallel_seeds = suite.statistics.seeds > 1 && threads > 1 && pc.device == "cpu";
          const int torch_threads = torch().compute_threads();
          if (parallel_seeds) torch().set_compute_threads(1);
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
            runs[si] = {seed, torch().select_on_validation(pc, ftrain.x, ftrain.y, fvalid.x, fvalid.y,
                                                           Key::kNumClasses, seed, valid_score)};
          });
          if (parallel_seeds) torch().set_compute_threads(torch_threads);
        }
        probe_seconds += since(probe_start);
        for (size_t ti = 0; ti < tests.size(); ++ti) {
          const Features& ft = ftests[ti];
          nlohmann::json per_seed = nlohmann::json::array();
          std::vector<double> accs, wss;
          nlohmann::json first;
          for (auto& run : runs) {
            const Matrix logits = run.sel.probe->predict(ft.x);
            std::vector<double> conf;
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
                       {"layer", layer},
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

        // --- Robustness: the first seed's clean-trained probe, on the first test split.
        if (robust && pc.label() == suite.robustness.probe && layer == layers.back()) {
          RobustnessInput in;
          in.suite = &suite;
          in.cx = rcx;
          in.train = train.tracks;
          in.valid = valid.tracks;
          in.test = tests.front().tracks;
          in.test_name = tests.front().ref.text();
          in.ftrain = ftrain;
          in.fvalid = fvalid;
          in.clean_test = ex_tests.front();
          for (auto& per : in.clean_test.per_track) per = {per[slot]};
          in.chosen = &runs.front().sel.chosen;
          in.probe = runs.front().sel.probe.get();
          in.seed = runs.front().seed;
          in.encoder = ec.name;
          in.probe_label = pc.label();
          in.layer = layer;
          in.boot = boot;
          const auto robust_start = std::chrono::steady_clock::now();
          run_robustness(in, robust_conds, robustness);
          robustness_seconds += since(robust_start);
        }
      }
    }
  }
  if (options.shard.active()) {
    log_line(v, fmt::format("shard {}/{}: cache hits {}, computed {}; run the suite without --shard to train probes "
                            "and write the report",
                            options.shard.index + 1, options.shard.count, cache.hits(), cache.misses()));
    outcome.shard_computed = cache.misses();
    return outcome;
  }
  // Completeness: every (encoder, layer, probe, test split) that was asked for has its row.
  if (results.size() != expected_rows)
    throw Error(fmt::format("incomplete run: {} result rows written, {} expected", results.size(), expected_rows),
                ExitCode::kIncomplete);


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
        {"peak_rss_mb", [] {
           struct rusage u {};
           ::getrusage(RUSAGE_SELF, &u);
           return double(u.ru_maxrss) / 1024.0;  // Linux reports KiB
         }()},
        {"stages", [&] {
           auto j = times.to_json();
           j["probe_wall_s"] = probe_seconds;
           j["robustness_wall_s"] = robustness_seconds;
           return j;
         }()},
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
  if (suite.robustness.enabled) {
    nlohmann::json grids = nlohmann::json::object();
    for (const auto& w : suite.robustness.sweeps) grids[w.type] = w.values;
    robustness["grids"] = grids;
    report["robustness"] = robustness;
  }
  // Published figures (quoted, kept apart) and paired tests of every row against the reference row.
  report["published"] = nlohmann::json::array();
  for (const auto& f : suite.published) report["published"].push_back(f.to_json());
  report["comparisons"] = reports::paired_comparisons(
      report, suite.statistics.reference,
      {suite.statistics.alpha, suite.statistics.bootstrap, suite.statistics.bootstrap, 0.95, suite.seed});
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
