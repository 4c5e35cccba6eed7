#include "harness/Robustness.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "augment/Deformation.h"
#include "datasets/Error.h"
#include "harness/TorchBackend.h"

using mcpt::datasets::Key;
using mcpt::datasets::Track;
using mcpt::probes::Matrix;
using nlohmann::json;

namespace mcpt::harness {
namespace {

std::string number_text(double v) {
  if (std::floor(v) == v) return fmt::format("{:+d}", static_cast<long long>(v));
  return fmt::format("{:+g}", v);
}

Condition make_condition(const std::string& name, const json& spec, const std::string& path) {
  Condition c;
  c.name = name;
  c.deformation = std::shared_ptr<const augment::Deformation>(augment::make_deformation(spec, path));
  c.spec = c.deformation->spec();  // canonical: defaults and library versions, so caches never mix engines
  return c;
}

json interval(const reports::Interval& i) { return json::array({i.low, i.high}); }

json metrics_json(const reports::KeyMetrics& m, bool with_categories) {
  json j = {{"accuracy", m.accuracy},
            {"accuracy_ci", interval(m.accuracy_ci)},
            {"weighted_score", m.weighted_score},
            {"weighted_score_ci", interval(m.weighted_score_ci)}};
  if (with_categories) j["categories"] = m.categories;
  return j;
}

struct Scored {
  std::vector<int> pred;  // key index per track
  Features features;
};

double cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  if (aa <= 0 || bb <= 0) return aa == bb ? 1.0 : 0.0;
  return ab / std::sqrt(aa * bb);
}

}  // namespace

double linear_cka(const Matrix& x, const Matrix& y) {
  if (x.rows != y.rows || x.rows < 2) throw Error("internal: CKA needs the same items (at least 2) on both sides", ExitCode::kInternal);
  const int64_t n = x.rows;
  auto centred_gram = [n](const Matrix& m) {
    std::vector<double> mean(size_t(m.cols), 0.0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < m.cols; ++c) mean[size_t(c)] += m.at(r, c) / double(n);
    std::vector<double> g(size_t(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < m.cols; ++c) s += (m.at(i, c) - mean[size_t(c)]) * (m.at(j, c) - mean[size_t(c)]);
        g[size_t(i * n + j)] = g[size_t(j * n + i)] = s;
      }
    return g;
  };
  const auto k = centred_gram(x), l = centred_gram(y);
  double kl = 0, kk = 0, ll = 0;
  for (size_t i = 0; i < k.size(); ++i) kl += k[i] * l[i], kk += k[i] * k[i], ll += l[i] * l[i];
  if (kk <= 0 || ll <= 0) return 0.0;
  return kl / std::sqrt(kk * ll);
}

Condition RobustnessConditions::pitch(double semitones) const {
  json spec = pitch_options;
  spec["type"] = "pitch_shift";
  if (std::floor(semitones) == semitones) spec["semitones"] = static_cast<long long>(semitones);
  else spec["semitones"] = semitones;
  return make_condition(fmt::format("pitch_shift semitones={}", number_text(semitones)), spec,
                        "suite.robustness.control_options");
}

RobustnessConditions RobustnessConditions::build(const Robustness& r) {
  RobustnessConditions c;
  c.pitch_options = r.control_options;
  for (size_t i = 0; i < r.sweeps.size(); ++i) {
    SweepConditions sc{r.sweeps[i], {}};
    for (size_t k = 0; k < sc.sweep.values.size(); ++k) {
      const double v = sc.sweep.values[k];
      sc.points.push_back(make_condition(fmt::format("{} {}={}", sc.sweep.type, sc.sweep.parameter, number_text(v)),
                                         sc.sweep.spec_at(v), fmt::format("suite.robustness.sweeps[{}].values[{}]", i, k)));
    }
    c.sweeps.push_back(std::move(sc));
  }
  if (r.controls) {
    const double k = r.control_semitones;
    Condition zero = c.pitch(0);
    zero.name = "rubberband_0";
    c.controls.push_back(zero);
    json up = c.pitch(k).spec, down = c.pitch(-k).spec;
    c.controls.push_back(make_condition("round_trip", {{"type", "chain"}, {"stages", json::array({up, down})}},
                                        "suite.robustness.control_options"));
    c.controls.push_back(make_condition("resample_shift",
                                        {{"type", "resample_shift"}, {"semitones", up["semitones"]}},
                                        "suite.robustness.control_semitones"));
  }
  for (double k : r.decodability) c.decodability.push_back(c.pitch(k));
  for (double a : r.train_shifts)
    if (a != 0) c.train_shifts.push_back(c.pitch(a));
  if (!r.training_augmentation.is_null())
    for (int copy = 0; copy < r.augmentation_copies; ++copy) {
      Condition a = make_condition(fmt::format("augmentation copy {}", copy), r.training_augmentation,
                                   "suite.robustness.training_augmentation");
      a.spec = {{"augmentation", r.training_augmentation}, {"copy", copy}};  // distinct seeds per copy
      c.augmentation.push_back(a);
    }
  return c;
}

RobustnessPasses robustness_passes(const Robustness& r, const RobustnessConditions& c) {
  RobustnessPasses passes;
  if (!r.enabled) return passes;
  std::set<std::string> seen[3];
  auto add = [&](const Condition& cond, Role role) {
    const int ri = static_cast<int>(role);
    if (seen[ri].insert(cond.spec.dump()).second) passes.by_role[ri].push_back(cond);
  };
  for (const auto& s : c.sweeps)
    for (const auto& p : s.points) add(p, Role::kTest);
  for (const auto& p : c.controls) add(p, Role::kTest);
  // Only what run_robustness uses: the decodability probe needs two classes, and the train x test
  // matrix needs a pitch_shift sweep for its columns.
  if (c.decodability.size() >= 2)
    for (const auto& p : c.decodability)
      for (Role role : {Role::kTrain, Role::kValid, Role::kTest}) add(p, role);
  const bool pitch_sweep = std::any_of(c.sweeps.begin(), c.sweeps.end(),
                                       [](const RobustnessConditions::SweepConditions& s) { return s.sweep.type == "pitch_shift"; });
  if (pitch_sweep)
    for (const auto& p : c.train_shifts)
      for (Role role : {Role::kTrain, Role::kValid}) add(p, role);
  for (const auto& p : c.augmentation) add(p, Role::kTrain);
  return passes;
}

void run_robustness(const RobustnessInput& in, const RobustnessConditions& conds, json& out) {
  const Suite& suite = *in.suite;
  const Robustness& r = suite.robustness;
  const auto agg = suite.protocol.aggregation;
  const size_t nt = in.test.size();
  auto push = [&](const char* field, json entry) {
    if (!out.contains(field)) out[field] = json::array();
    out[field].push_back(std::move(entry));
  };
  auto score = [&](const std::vector<int>& pred, const std::vector<Key>& refs, const reports::BootstrapOptions& b) {
    std::vector<reports::TrackPrediction> p;
    for (size_t t = 0; t < nt; ++t) p.push_back({in.test[t]->id, refs[t], Key::from_index(pred[t]), 0.0});
    return reports::score_tracks(p, suite.metric, b);
  };
  std::vector<Key> original;
  for (const auto* t : in.test) original.push_back(t->key);

  // Every deformed extraction the analyses use, computed up front per split: each track is decoded
  // once for all its conditions (extract_conditions), and a condition two analyses share (a +2 shift
  // in the decodability probe and in the train-shift matrix) is computed once. By condition spec.
  std::map<std::string, Extracted> role_ex[3];
  {
    const char* role_name[3] = {"train", "valid", "test"};
    const std::vector<const Track*>* role_tracks[3] = {&in.train, &in.valid, &in.test};
    const RobustnessPasses passes = robustness_passes(r, conds);
    for (int ri = 0; ri < 3; ++ri) {
      const auto& pass = passes.by_role[ri];
      if (pass.empty()) continue;
      std::vector<const Condition*> wanted;
      for (const auto& c : pass) wanted.push_back(&c);
      auto got = extract_conditions(in.cx, *role_tracks[ri], wanted,
                                    fmt::format("robustness [{}] {}, {} condition{}", in.encoder, role_name[ri],
                                                wanted.size(), wanted.size() == 1 ? "" : "s"));
      for (size_t i = 0; i < got.size(); ++i) role_ex[ri][pass[i].spec.dump()] = std::move(got[i]);
    }
  }
  auto extracted = [&](Role role, const Condition& c) -> const Extracted& {
    const auto& m = role_ex[static_cast<int>(role)];
    const auto it = m.find(c.spec.dump());
    if (it == m.end())
      throw Error(fmt::format("internal: robustness condition {} was not extracted", c.name), ExitCode::kInternal);
    return it->second;
  };
  auto test_extract = [&](const Condition& c) -> const Extracted& { return extracted(Role::kTest, c); };
  auto predict = [&](const probes::Probe& probe, const Features& f) {
    return aggregate(probe.predict(f.x), f.row_track, f.tracks.size(), agg);
  };

  const Features clean_test = build_features(in.test, in.clean_test, 0);
  const std::vector<int> clean_pred = predict(*in.probe, clean_test);
  const auto clean_metrics = score(clean_pred, original, in.boot);
  const Matrix clean_means = track_means(in.clean_test, 0);
  const json base = {{"encoder", in.encoder}, {"probe", in.probe_label}, {"layer", in.layer}, {"test", in.test_name}};

  struct Similarity {
    double cosine = 0;
    reports::Interval cosine_ci;
    double cka = 0;
  };
  auto similarity = [&](const Extracted& ex) {
    const Matrix m = track_means(ex, 0);
    std::vector<double> cos;
    for (int64_t t = 0; t < m.rows; ++t) cos.push_back(cosine(clean_means.row(t), m.row(t), m.cols));
    Similarity s;
    s.cosine = reports::mean_std(cos).mean;
    s.cosine_ci = reports::bootstrap_mean_ci(cos, in.boot);
    s.cka = nt >= 2 ? linear_cka(clean_means, m) : 1.0;
    return s;
  };

  // Controls: what processing alone costs (Rubber Band at 0 st, a +k/-k round trip), and a shift free
  // of phase-vocoder artefacts (resampling moves pitch and tempo together).
  json controls = json::array();
  for (const auto& c : conds.controls) {
    const Extracted& ex = test_extract(c);
    const Features f = build_features(in.test, ex, 0);
    const auto m = score(predict(*in.probe, f), ex.labels, in.boot);
    const Similarity s = similarity(ex);
    static const std::map<std::string, std::string> labels = {
        {"rubberband_0", "Rubber Band, 0 st"}, {"round_trip", "round trip"}, {"resample_shift", "resampling shift"}};
    json cj = {{"name", c.name},
               {"label", labels.count(c.name) ? labels.at(c.name) : c.name},
               {"spec", c.spec},
               {"cosine", s.cosine},
               {"cosine_ci", interval(s.cosine_ci)},
               {"cka", s.cka}};
    cj.update(metrics_json(m, true));
    controls.push_back(cj);
  }
  if (!conds.controls.empty()) {
    json e = base;
    e["controls"] = controls;
    e["clean"] = metrics_json(clean_metrics, true);
    push("controls", e);
  }

  // 1-3. Accuracy vs strength, key-shift consistency, embedding invariance.
  std::map<double, std::vector<int>> pitch_pred;     // test predictions per pitch shift
  std::map<double, std::vector<Key>> pitch_labels;   // moved labels per pitch shift
  std::map<double, const Extracted*> pitch_extract;
  for (const auto& sc : conds.sweeps) {
    const bool is_pitch = sc.sweep.type == "pitch_shift" || sc.sweep.type == "resample_shift";
    json acc = base, inv = base, cons = base;
    acc["deformation"] = inv["deformation"] = sc.sweep.type;
    acc["parameter"] = inv["parameter"] = sc.sweep.parameter;
    acc["unit"] = inv["unit"] = sc.sweep.unit;
    acc["clean"] = metrics_json(clean_metrics, true);
    acc["points"] = inv["points"] = cons["points"] = json::array();
    for (size_t k = 0; k < sc.points.size(); ++k) {
      const Condition& c = sc.points[k];
      const double v = sc.sweep.values[k];
      const Extracted& ex = test_extract(c);
      const Features f = build_features(in.test, ex, 0);
      const auto pred = predict(*in.probe, f);
      json point = {{"strength", v}, {"n_tracks", nt}, {"spec", c.spec}, {"moved", metrics_json(score(pred, ex.labels, in.boot), true)}};
      if (is_pitch) point["original"] = metrics_json(score(pred, original, in.boot), true);
      acc["points"].push_back(point);
      if (r.invariance) {
        const Similarity s = similarity(ex);
        inv["points"].push_back({{"strength", v}, {"cosine", s.cosine}, {"cosine_ci", interval(s.cosine_ci)}, {"cka", s.cka}});
      }
      if (sc.sweep.type == "pitch_shift") {
        std::vector<double> same;
        for (size_t t = 0; t < nt; ++t)
          same.push_back(Key::from_index(pred[t]) == Key::from_index(clean_pred[t]).transposed(int(std::lround(ex.semitones[t]))) ? 1.0 : 0.0);
        const auto ci = reports::bootstrap_mean_ci(same, in.boot);
        cons["points"].push_back({{"semitones", v}, {"value", reports::mean_std(same).mean}, {"ci", interval(ci)}});
        pitch_pred[v] = pred;
        pitch_labels[v] = ex.labels;
        pitch_extract[v] = &ex;
      }
    }
    push("accuracy_vs_strength", acc);
    if (r.invariance) {
      inv["controls"] = controls;
      push("invariance", inv);
    }
    if (r.consistency && sc.sweep.type == "pitch_shift") push("consistency", cons);
  }

  // 4. Decodability: can a linear probe tell which shift was applied, from the deformed embedding alone?
  if (conds.decodability.size() >= 2) {
    const auto linear = probes::ProbeConfig::from_json({{"type", "linear"}}, "suite.robustness.decodability");
    Features tr, va, te;
    std::vector<Features> trs, vas, tes;
    for (size_t i = 0; i < conds.decodability.size(); ++i) {
      const Condition& c = conds.decodability[i];
      auto relabel = [&](Features f) {
        std::fill(f.y.begin(), f.y.end(), static_cast<int>(i));
        return f;
      };
      trs.push_back(relabel(build_features(in.train, extracted(Role::kTrain, c), 0)));
      vas.push_back(relabel(build_features(in.valid, extracted(Role::kValid, c), 0)));
      tes.push_back(relabel(build_features(in.test, test_extract(c), 0)));
    }
    auto join = [](const std::vector<Features>& v) {
      std::vector<const Features*> p;
      for (const auto& f : v) p.push_back(&f);
      return concat_features(p);
    };
    tr = join(trs), va = join(vas), te = join(tes);
    auto probe = torch().make_probe(linear);
    const int classes = static_cast<int>(conds.decodability.size());
    probe->fit(tr.x, tr.y, va.x, va.y, classes, in.seed);
    const auto pred = aggregate(probe->predict(te.x), te.row_track, te.tracks.size(), Aggregation::kMeanLogits);
    std::vector<double> hit;
    for (size_t t = 0; t < pred.size(); ++t) hit.push_back(pred[t] == static_cast<int>(t / nt) ? 1.0 : 0.0);
    json classes_json = json::array();
    for (double k : r.decodability) classes_json.push_back(k);
    json e = base;
    e["probe"] = "linear (shift classifier)";
    e["deformation"] = "pitch_shift";
    e["classes"] = classes_json;
    e["accuracy"] = reports::mean_std(hit).mean;
    e["accuracy_ci"] = interval(reports::bootstrap_mean_ci(hit, in.boot));
    e["chance"] = 1.0 / classes;
    e["n_items"] = hit.size();
    push("decodability", e);
  }

  // Clean-trained probe vs another probe on every pitch-shifted test condition.
  auto shifted_scores = [&](const probes::Probe& probe) {
    std::map<double, reports::KeyMetrics> m;
    for (const auto& [v, ex] : pitch_extract) m[v] = score(predict(probe, build_features(in.test, *ex, 0)), pitch_labels[v], in.boot);
    return m;
  };

  // 5. Train-shift x test-shift matrix.
  if (!r.train_shifts.empty() && !pitch_extract.empty()) {
    json e = base;
    std::vector<double> rows = r.train_shifts;
    std::sort(rows.begin(), rows.end());
    json acc = json::array(), ws = json::array(), cols = json::array();
    for (const auto& [v, ex] : pitch_extract) cols.push_back(v);
    for (double a : rows) {
      std::unique_ptr<probes::Probe> own;
      const probes::Probe* p = in.probe;
      if (a != 0) {
        const Condition c = conds.pitch(a);
        const Features tr = build_features(in.train, extracted(Role::kTrain, c), 0);
        const Features va = build_features(in.valid, extracted(Role::kValid, c), 0);
        own = torch().make_probe(*in.chosen);
        own->fit(tr.x, tr.y, va.x, va.y, Key::kNumClasses, in.seed);
        p = own.get();
      }
      json ra = json::array(), rw = json::array();
      for (const auto& [b, m] : shifted_scores(*p)) ra.push_back(m.accuracy), rw.push_back(m.weighted_score);
      acc.push_back(ra);
      ws.push_back(rw);
    }
    e["train_shifts"] = rows;
    e["test_shifts"] = cols;
    e["accuracy"] = acc;
    e["weighted_score"] = ws;
    e["note"] = "row 0 is the clean-trained probe; column 0 is Rubber Band at 0 semitones; labels moved with the shift";
    push("train_test", e);
  }

  // 6. Training-time augmentation: random pitch shifts of the training audio (labels moved).
  if (!conds.augmentation.empty()) {
    std::vector<Features> parts;
    for (const auto& c : conds.augmentation)
      parts.push_back(build_features(in.train, extracted(Role::kTrain, c), 0));
    std::vector<const Features*> ptrs;
    for (const auto& f : parts) ptrs.push_back(&f);
    const Features tr = concat_features(ptrs);
    auto probe = torch().make_probe(*in.chosen);
    probe->fit(tr.x, tr.y, in.fvalid.x, in.fvalid.y, Key::kNumClasses, in.seed);
    const auto clean_scores = shifted_scores(*in.probe), aug_scores = shifted_scores(*probe);
    json e = base;
    e["augmentation"] = r.training_augmentation;
    e["copies"] = conds.augmentation.size();
    e["clean_test"] = {{"clean", metrics_json(clean_metrics, false)},
                       {"augmented", metrics_json(score(predict(*probe, clean_test), original, in.boot), false)}};
    e["points"] = json::array();
    for (const auto& [v, m] : clean_scores)
      e["points"].push_back({{"semitones", v}, {"clean", metrics_json(m, false)}, {"augmented", metrics_json(aug_scores.at(v), false)}});
    push("training_augmentation", e);
  }
}

}  // namespace mcpt::harness
