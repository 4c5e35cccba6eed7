// Paired tests over test tracks and the report-level comparison of every row with a reference row.
#include "reports/Stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "datasets/Error.h"

namespace mcpt::reports {

namespace {

void check_paired(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  if (a.size() != b.size())
    throw Error(fmt::format("{}: the two systems have {} and {} items; a paired test needs the same items", what,
                            a.size(), b.size()));
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

// Observed |statistic| compared with a tolerance, so a resample equal to the observed value up to
// rounding counts as "at least as extreme" (exact ties are common with 0/1 data).
bool at_least(double value, double observed) { return value >= observed - 1e-12 * std::max(1.0, observed); }

}  // namespace

PairedDifference paired_bootstrap(const std::vector<double>& a, const std::vector<double>& b,
                                  const BootstrapOptions& options) {
  check_paired(a, b, "paired bootstrap");
  PairedDifference r;
  r.n = static_cast<std::int64_t>(a.size());
  if (a.empty()) return r;
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  r.difference = mean_of(d);
  if (options.resamples <= 0) return r;
  SplitMix64 rng{options.seed};
  const size_t n = d.size();
  std::vector<double> means(static_cast<size_t>(options.resamples));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += d[rng.below(n)];
    m = s / double(n);
  }
  // Shift method: under H0 the resampled differences are centred on 0 instead of on the observed one.
  std::int64_t extreme = 0;
  const double observed = std::fabs(r.difference);
  for (double m : means) extreme += at_least(std::fabs(m - r.difference), observed) ? 1 : 0;
  r.p_value = observed == 0.0 ? 1.0 : double(1 + extreme) / double(options.resamples + 1);
  std::sort(means.begin(), means.end());
  const double tail = (1.0 - options.level) / 2.0;
  r.ci = {quantile_sorted(means, tail), quantile_sorted(means, 1.0 - tail)};
  return r;
}

double randomization_p_value(const std::vector<double>& a, const std::vector<double>& b, int permutations,
                             std::uint64_t seed) {
  check_paired(a, b, "randomisation test");
  if (a.empty() || permutations <= 0) return 1.0;
  std::vector<double> d(a.size());
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += d[i] = a[i] - b[i];
  const double observed = std::fabs(total);
  if (observed == 0.0) return 1.0;
  SplitMix64 rng{seed};
  std::int64_t extreme = 0;
  for (int r = 0; r < permutations; ++r) {
    double s = 0;
    std::uint64_t bits = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      if (i % 64 == 0) bits = rng.next();  // one random bit per item
      s += (bits & 1u) ? -d[i] : d[i];
      bits >>= 1;
    }
    extreme += at_least(std::fabs(s), observed) ? 1 : 0;
  }
  return double(1 + extreme) / double(permutations + 1);
}

double exact_randomization_p_value(const std::vector<double>& a, const std::vector<double>& b) {
  check_paired(a, b, "randomisation test");
  if (a.size() > 24) throw Error(fmt::format("exact randomisation test: {} items, at most 24 supported", a.size()));
  std::vector<double> d(a.size());
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += d[i] = a[i] - b[i];
  const double observed = std::fabs(total);
  if (observed == 0.0) return 1.0;
  const std::uint64_t count = 1ull << d.size();
  std::uint64_t extreme = 0;
  for (std::uint64_t mask = 0; mask < count; ++mask) {
    double s = 0;
    for (size_t i = 0; i < d.size(); ++i) s += (mask >> i & 1u) ? -d[i] : d[i];
    extreme += at_least(std::fabs(s), observed) ? 1 : 0;
  }
  return double(extreme) / double(count);
}

double chi2_1_sf(double x) { return x <= 0 ? 1.0 : std::erfc(std::sqrt(x / 2.0)); }

double binomial_two_sided_p(std::int64_t k, std::int64_t n) {
  if (n <= 0) return 1.0;
  const std::int64_t m = std::min(k, n - k);
  // P(X <= m) for X ~ Binomial(n, 1/2), terms in log space so large n does not overflow.
  double tail = 0;
  for (std::int64_t i = 0; i <= m; ++i)
    tail += std::exp(std::lgamma(double(n + 1)) - std::lgamma(double(i + 1)) - std::lgamma(double(n - i + 1)) -
                     double(n) * std::log(2.0));
  return std::min(1.0, 2.0 * tail);
}

McNemarResult mcnemar(std::int64_t only_a, std::int64_t only_b, std::int64_t exact_below) {
  if (only_a < 0 || only_b < 0) throw Error("McNemar's test: negative discordant count");
  McNemarResult r;
  r.only_a = only_a;
  r.only_b = only_b;
  const std::int64_t n = only_a + only_b;
  if (n < exact_below) {
    r.method = "exact";
    r.p_value = binomial_two_sided_p(only_a, n);
  } else {
    r.method = "chi2_cc";
    // Edwards' correction; clamped at 0 so equal counts give p = 1 rather than slightly less.
    const double num = std::max(0.0, std::fabs(double(only_a - only_b)) - 1.0);
    r.statistic = num * num / double(n);
    r.p_value = chi2_1_sf(r.statistic);
  }
  return r;
}

McNemarResult mcnemar(const std::vector<bool>& a_correct, const std::vector<bool>& b_correct,
                      std::int64_t exact_below) {
  if (a_correct.size() != b_correct.size())
    throw Error(fmt::format("McNemar's test: the two systems have {} and {} items; a paired test needs the same items",
                            a_correct.size(), b_correct.size()));
  std::int64_t only_a = 0, only_b = 0;
  for (size_t i = 0; i < a_correct.size(); ++i) {
    only_a += a_correct[i] && !b_correct[i];
    only_b += !a_correct[i] && b_correct[i];
  }
  return mcnemar(only_a, only_b, exact_below);
}

std::string row_label(const nlohmann::json& r) {
  std::string s = r.value("encoder", "") + "/" + r.value("probe", "");
  if (r.contains("layer") && !r["layer"].is_null())
    s += "@" + (r["layer"].is_string() ? r["layer"].get<std::string>() : r["layer"].dump());
  return s;
}

namespace {

std::string split_of(const nlohmann::json& r) {
  return r.value("dataset", "") + (r.contains("split") && !r["split"].get<std::string>().empty()
                                       ? ":" + r["split"].get<std::string>()
                                       : "");
}

double valid_score_of(const nlohmann::json& r) {
  if (r.contains("selection") && r["selection"].contains("valid_score") && r["selection"]["valid_score"].is_number())
    return r["selection"]["valid_score"].get<double>();
  return -std::numeric_limits<double>::infinity();
}

struct Scores {
  std::vector<std::string> ids;
  std::vector<double> correct, weighted;
};

Scores scores_of(const nlohmann::json& results, size_t i) {
  const auto& r = results[i];
  const std::string where = fmt::format("results[{}] ({} on {})", i, row_label(r), split_of(r));
  if (!r.contains("predictions") || !r["predictions"].is_array())
    throw Error(fmt::format("{}.predictions: missing; paired comparisons need per-track predictions", where));
  Scores s;
  for (size_t t = 0; t < r["predictions"].size(); ++t) {
    const auto& p = r["predictions"][t];
    if (!p.is_object() || !p.contains("id") || !p["id"].is_string() || !p.contains("score") ||
        !p["score"].is_number() || !p.contains("relation") || !p["relation"].is_string())
      throw Error(fmt::format("{}.predictions[{}]: expected an object with id, relation and score", where, t));
    s.ids.push_back(p["id"].get<std::string>());
    s.correct.push_back(p["relation"].get<std::string>() == "correct" ? 1.0 : 0.0);
    s.weighted.push_back(p["score"].get<double>());
  }
  return s;
}

// The row's per-track values reordered to the reference's track order; every track on both sides.
Scores align(const Scores& row, const Scores& ref, const std::string& where) {
  std::map<std::string, size_t> at;
  for (size_t t = 0; t < row.ids.size(); ++t)
    if (!at.emplace(row.ids[t], t).second) throw Error(fmt::format("{}: track \"{}\" appears twice", where, row.ids[t]));
  if (row.ids.size() != ref.ids.size())
    throw Error(fmt::format("{}: {} predictions, the reference row has {}; paired tests need the same test tracks", where,
                            row.ids.size(), ref.ids.size()));
  Scores out;
  for (const auto& id : ref.ids) {
    auto it = at.find(id);
    if (it == at.end())
      throw Error(fmt::format("{}: no prediction for track \"{}\" of the reference row; paired tests need the same "
                              "test tracks",
                              where, id));
    out.ids.push_back(id);
    out.correct.push_back(row.correct[it->second]);
    out.weighted.push_back(row.weighted[it->second]);
  }
  return out;
}

nlohmann::json ci_json(const Interval& i) { return nlohmann::json::array({i.low, i.high}); }

}  // namespace

std::vector<size_t> headline_rows(const nlohmann::json& report) {
  const auto& results = report.at("results");
  // Group key: everything but the layer.
  std::map<std::string, std::vector<size_t>> groups;
  std::vector<std::string> key_of(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    key_of[i] = split_of(r) + "\n" + r.value("encoder", "") + "\n" + r.value("probe", "");
    groups[key_of[i]].push_back(i);
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& g = groups[key_of[i]];
    if (g.size() == 1) {
      out.push_back(i);
      continue;
    }
    size_t pick = g.front();
    bool marked = false;
    for (size_t k : g)
      if (results[k].value("layer_selected", false)) pick = k, marked = true;
    if (!marked)
      for (size_t k : g)  // ties keep the earlier (lower) layer
        if (valid_score_of(results[k]) > valid_score_of(results[pick])) pick = k;
    if (pick == i) out.push_back(i);
  }
  return out;
}

nlohmann::json paired_comparisons(const nlohmann::json& report, const std::string& reference,
                                  const ComparisonOptions& options) {
  if (!(options.alpha > 0.0 && options.alpha < 1.0))
    throw Error(fmt::format("statistics.alpha: expected a number in (0, 1), got {}", options.alpha));
  if (!(options.level > 0.0 && options.level < 1.0))
    throw Error(fmt::format("comparison level: expected a number in (0, 1), got {}", options.level));
  const auto& results = report.at("results");
  const auto rows = headline_rows(report);
  std::vector<std::string> splits;
  std::map<std::string, std::vector<size_t>> by_split;
  for (size_t i : rows) {
    const auto s = split_of(results[i]);
    if (!by_split.count(s)) splits.push_back(s);
    by_split[s].push_back(i);
  }

  auto find_reference = [&](const std::string& split) -> size_t {
    const auto& candidates = by_split[split];
    if (reference.empty()) return candidates.front();
    std::vector<size_t> hits;
    std::vector<std::string> names;
    if (reference.find('@') != std::string::npos) {
      for (size_t i = 0; i < results.size(); ++i)
        if (split_of(results[i]) == split && row_label(results[i]) == reference) hits.push_back(i);
    } else {
      const bool with_probe = reference.find('/') != std::string::npos;
      for (size_t i : candidates) {
        const auto& r = results[i];
        const std::string name = with_probe ? r.value("encoder", "") + "/" + r.value("probe", "") : r.value("encoder", "");
        if (name == reference) hits.push_back(i);
      }
    }
    for (size_t i : candidates) names.push_back(row_label(results[i]));
    if (hits.empty())
      throw Error(fmt::format("reference row \"{}\": no such result on {} (rows: {})", reference, split,
                              fmt::join(names, ", ")));
    if (hits.size() > 1)
      throw Error(fmt::format("reference row \"{}\": {} results match on {}; name one as encoder/probe (rows: {})",
                              reference, hits.size(), split, fmt::join(names, ", ")));
    return hits.front();
  };

  nlohmann::json out = {{"reference", reference.empty() ? "(first row of each test split)" : reference},
                        {"alpha", options.alpha},
                        {"level", options.level},
                        {"resamples", options.resamples},
                        {"permutations", options.permutations},
                        {"seed", options.seed},
                        {"basis", "per-track predictions of each result (first seed), paired by track id"},
                        {"rows", nlohmann::json::array()}};
  BootstrapOptions boot{options.resamples, options.level, options.seed};
  for (const auto& split : splits) {
    const size_t ref = find_reference(split);
    const Scores ref_scores = scores_of(results, ref);
    for (size_t i : by_split[split]) {
      if (i == ref) continue;
      const auto& r = results[i];
      const std::string where = fmt::format("results[{}] ({} on {})", i, row_label(r), split);
      const Scores s = align(scores_of(results, i), ref_scores, where + ".predictions");
      nlohmann::json row = {{"dataset", r.value("dataset", "")},
                            {"split", r.value("split", "")},
                            {"encoder", r.value("encoder", "")},
                            {"probe", r.value("probe", "")},
                            {"result_index", i},
                            {"reference",
                             {{"encoder", results[ref].value("encoder", "")},
                              {"probe", results[ref].value("probe", "")},
                              {"result_index", ref}}},
                            {"n", s.ids.size()}};
      if (r.contains("layer")) row["layer"] = r["layer"];
      if (results[ref].contains("layer")) row["reference"]["layer"] = results[ref]["layer"];
      bool significant_acc = false, significant_w = false;
      for (const char* metric : {"accuracy", "weighted_score"}) {
        const bool acc = std::string(metric) == "accuracy";
        const auto& a = acc ? s.correct : s.weighted;
        const auto& b = acc ? ref_scores.correct : ref_scores.weighted;
        // Same seed for both metrics: the same resampled track sets.
        const auto d = paired_bootstrap(a, b, boot);
        nlohmann::json m = {{"difference", d.difference}};
        if (options.resamples > 0) {
          m["ci"] = ci_json(d.ci);
          m["p_bootstrap"] = d.p_value;
        }
        if (options.permutations > 0)
          m["p_randomization"] = randomization_p_value(a, b, options.permutations, options.seed);
        if (!acc) significant_w = options.resamples > 0 && d.p_value < options.alpha;
        row[metric] = m;
      }
      std::vector<bool> ca, cb;
      for (size_t t = 0; t < s.ids.size(); ++t) {
        ca.push_back(s.correct[t] == 1.0);
        cb.push_back(ref_scores.correct[t] == 1.0);
      }
      const auto mc = mcnemar(ca, cb);
      significant_acc = mc.p_value < options.alpha;
      row["mcnemar"] = {{"only_row_correct", mc.only_a},
                        {"only_reference_correct", mc.only_b},
                        {"statistic", mc.statistic},
                        {"p_value", mc.p_value},
                        {"method", mc.method}};
      row["significant"] = {{"accuracy", significant_acc}, {"weighted_score", significant_w}};
      out["rows"].push_back(row);
    }
  }
  return out;
}

}  // namespace mcpt::reports
