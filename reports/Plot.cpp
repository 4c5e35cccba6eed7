#include "reports/Plot.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <unistd.h>

#include "datasets/Error.h"
#include "reports/FiguresCanvas.h"
#include "reports/FiguresModel.h"
#include "reports/Report.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace mcpt::reports {
namespace {

using namespace figures;

// ---- Reading: every field the figures use, checked, with the JSON path of every error. Unknown keys
// are allowed: reports carry provenance and fields newer than this reader.

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string at(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const json& got) {
  throw Error(fmt::format("{}: expected {}, got {}", path, expected, got.type_name()));
}

const json& object(const json& j, const std::string& path) {
  if (!j.is_object()) wrong_type(path, "object", j);
  return j;
}
const json& need(const json& obj, const std::string& path, const char* key, const char* expected) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw Error(fmt::format("{}: missing, expected {}", join(path, key), expected));
  return *it;
}
// Optional fields: absent or null (what NaN becomes in JSON) both mean "not given".
const json* maybe(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}
const json& array(const json& obj, const std::string& path, const char* key) {
  const json& a = need(obj, path, key, "array");
  if (!a.is_array()) wrong_type(join(path, key), "array", a);
  return a;
}

std::string as_string(const json& j, const std::string& path) {
  if (!j.is_string()) wrong_type(path, "string", j);
  return j.get<std::string>();
}
std::string get_string(const json& obj, const std::string& path, const char* key) {
  return as_string(need(obj, path, key, "string"), join(path, key));
}
std::string opt_string(const json& obj, const std::string& path, const char* key) {
  const json* j = maybe(obj, key);
  return j ? as_string(*j, join(path, key)) : "";
}

double as_number(const json& j, const std::string& path, double lo = -INFINITY, double hi = INFINITY,
                 const char* what = "number") {
  if (!j.is_number()) wrong_type(path, "number", j);
  const double v = j.get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) throw Error(fmt::format("{}: expected {}, got {}", path, what, j.dump()));
  return v;
}
double as_fraction(const json& j, const std::string& path) { return as_number(j, path, 0.0, 1.0, "a fraction in [0, 1]"); }
double get_fraction(const json& obj, const std::string& path, const char* key) {
  return as_fraction(need(obj, path, key, "number"), join(path, key));
}
double get_number(const json& obj, const std::string& path, const char* key) {
  return as_number(need(obj, path, key, "number"), join(path, key));
}
// Similarities: cosine in [-1, 1], CKA in [0, 1], with room for rounding.
constexpr double kSlack = 1e-6;
double as_cosine(const json& j, const std::string& path) {
  return as_number(j, path, -1 - kSlack, 1 + kSlack, "a cosine similarity in [-1, 1]");
}
std::optional<double> opt_cka(const json& obj, const std::string& path, const char* key) {
  const json* j = maybe(obj, key);
  if (!j) return std::nullopt;
  return as_number(*j, join(path, key), -kSlack, 1 + kSlack, "a CKA value in [0, 1]");
}

std::int64_t as_count(const json& j, const std::string& path) {
  if (!j.is_number()) wrong_type(path, "non-negative integer", j);
  if (!j.is_number_integer() || (!j.is_number_unsigned() && j.get<std::int64_t>() < 0))
    throw Error(fmt::format("{}: expected non-negative integer, got {}", path, j.dump()));
  return j.get<std::int64_t>();
}
std::optional<std::int64_t> opt_count(const json& obj, const std::string& path, const char* key) {
  const json* j = maybe(obj, key);
  if (!j) return std::nullopt;
  return as_count(*j, join(path, key));
}

// [low, high] within [lo, hi] (fractions by default), or nothing.
std::optional<Interval> opt_interval(const json& obj, const std::string& path, const char* key, double lo = 0,
                                     double hi = 1) {
  const json* j = maybe(obj, key);
  if (!j) return std::nullopt;
  const std::string p = join(path, key);
  if (!j->is_array()) wrong_type(p, "[low, high]", *j);
  if (j->size() != 2) throw Error(fmt::format("{}: expected [low, high], got {} values", p, j->size()));
  const char* what = lo == 0 && hi == 1 ? "a fraction in [0, 1]" : "a number in range";
  const Interval ci{as_number((*j)[0], p + "[0]", lo, hi, what), as_number((*j)[1], p + "[1]", lo, hi, what)};
  if (ci.low > ci.high) throw Error(fmt::format("{}: low {} is above high {}", p, ci.low, ci.high));
  return ci;
}

std::vector<double> numbers(const json& obj, const std::string& path, const char* key) {
  const json& a = array(obj, path, key);
  std::vector<double> v;
  for (size_t i = 0; i < a.size(); ++i) v.push_back(as_number(a[i], at(join(path, key), i)));
  return v;
}

Categories categories(const json& c, const std::string& path) {
  object(c, path);
  Categories k{};
  for (size_t i = 0; i < kCategories.size(); ++i)
    if (const json* n = maybe(c, kCategories[i])) k[i] = as_count(*n, join(path, kCategories[i]));
  return k;
}

void read_results(const json& report, Model& m) {
  const json& results = array(report, "", "results");
  std::set<std::string> splits;
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string p = at("results", i);
    const json& r = object(results[i], p);
    ResultRow row;
    row.encoder = get_string(r, p, "encoder");
    row.probe = get_string(r, p, "probe");
    row.dataset = get_string(r, p, "dataset");
    row.split = opt_string(r, p, "split");
    const std::string pm = p + ".metrics";
    const json& metrics = object(need(r, p, "metrics", "object"), pm);
    row.accuracy = get_fraction(metrics, pm, "accuracy");
    row.weighted = get_fraction(metrics, pm, "weighted_score");
    row.accuracy_ci = opt_interval(metrics, pm, "accuracy_ci95");
    row.weighted_ci = opt_interval(metrics, pm, "weighted_score_ci95");
    row.n_tracks = opt_count(metrics, pm, "n_tracks");
    if (const json* c = maybe(metrics, "categories")) row.categories = categories(*c, pm + ".categories");
    if (const json* seeds = maybe(r, "per_seed")) {
      if (!seeds->is_array()) wrong_type(p + ".per_seed", "array", *seeds);
      for (size_t s = 0; s < seeds->size(); ++s) {
        const std::string ps = at(p + ".per_seed", s);
        const json& e = object((*seeds)[s], ps);
        row.seeds.push_back({get_fraction(e, ps, "accuracy"), get_fraction(e, ps, "weighted_score")});
      }
    }
    splits.insert(row.dataset + ":" + row.split);
    m.results.push_back(std::move(row));
  }
  m.show_split = splits.size() > 1;
}

Score score(const json& j, const std::string& path) {
  object(j, path);
  Score s;
  s.accuracy = get_fraction(j, path, "accuracy");
  s.accuracy_ci = opt_interval(j, path, "accuracy_ci");
  if (const json* w = maybe(j, "weighted_score")) s.weighted = as_fraction(*w, join(path, "weighted_score"));
  s.weighted_ci = opt_interval(j, path, "weighted_score_ci");
  if (const json* c = maybe(j, "categories")) categories(*c, join(path, "categories"));  // checked, not drawn
  return s;
}

// Curves are drawn in order of strength, whatever order the report lists them in.
template <class P, class F>
void sort_points(std::vector<P>& points, F key) {
  std::stable_sort(points.begin(), points.end(), [&](const P& a, const P& b) { return key(a) < key(b); });
}

void read_robustness(const json& report, Model& m) {
  const json* rob = maybe(report, "robustness");
  if (!rob) return;
  const std::string base = "robustness";
  object(*rob, base);

  if (maybe(*rob, "accuracy_vs_strength")) {
    const json& list = array(*rob, base, "accuracy_vs_strength");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".accuracy_vs_strength", i);
      const json& e = object(list[i], p);
      StrengthCurve c;
      c.encoder = get_string(e, p, "encoder");
      c.probe = opt_string(e, p, "probe");
      c.test = opt_string(e, p, "test");
      c.deformation = get_string(e, p, "deformation");
      c.parameter = opt_string(e, p, "parameter");
      c.unit = opt_string(e, p, "unit");
      const json& points = array(e, p, "points");
      for (size_t k = 0; k < points.size(); ++k) {
        const std::string pp = at(p + ".points", k);
        const json& q = object(points[k], pp);
        StrengthPoint pt;
        pt.strength = get_number(q, pp, "strength");
        pt.n_tracks = opt_count(q, pp, "n_tracks");
        pt.moved = score(need(q, pp, "moved", "object"), pp + ".moved");
        if (const json* o = maybe(q, "original")) pt.original = score(*o, pp + ".original");
        c.points.push_back(pt);
      }
      sort_points(c.points, [](const StrengthPoint& q) { return q.strength; });
      m.accuracy.push_back(std::move(c));
    }
  }
  if (maybe(*rob, "consistency")) {
    const json& list = array(*rob, base, "consistency");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".consistency", i);
      const json& e = object(list[i], p);
      ConsistencyCurve c;
      c.encoder = get_string(e, p, "encoder");
      c.probe = opt_string(e, p, "probe");
      const json& points = array(e, p, "points");
      for (size_t k = 0; k < points.size(); ++k) {
        const std::string pp = at(p + ".points", k);
        const json& q = object(points[k], pp);
        c.points.push_back({get_number(q, pp, "semitones"), get_fraction(q, pp, "value"), opt_interval(q, pp, "ci")});
      }
      sort_points(c.points, [](const ValuePoint& q) { return q.x; });
      m.consistency.push_back(std::move(c));
    }
  }
  if (maybe(*rob, "invariance")) {
    const json& list = array(*rob, base, "invariance");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".invariance", i);
      const json& e = object(list[i], p);
      InvarianceCurve c;
      c.encoder = get_string(e, p, "encoder");
      c.deformation = get_string(e, p, "deformation");
      c.parameter = opt_string(e, p, "parameter");
      c.unit = opt_string(e, p, "unit");
      const json& points = array(e, p, "points");
      for (size_t k = 0; k < points.size(); ++k) {
        const std::string pp = at(p + ".points", k);
        const json& q = object(points[k], pp);
        InvariancePoint pt;
        pt.strength = get_number(q, pp, "strength");
        pt.cosine = as_cosine(need(q, pp, "cosine", "number"), pp + ".cosine");
        pt.cosine_ci = opt_interval(q, pp, "cosine_ci", -1 - kSlack, 1 + kSlack);
        pt.cka = opt_cka(q, pp, "cka");
        c.points.push_back(pt);
      }
      sort_points(c.points, [](const InvariancePoint& q) { return q.strength; });
      if (maybe(e, "controls")) {
        const json& controls = array(e, p, "controls");
        for (size_t k = 0; k < controls.size(); ++k) {
          const std::string pc = at(p + ".controls", k);
          const json& q = object(controls[k], pc);
          Control ctl;
          ctl.name = get_string(q, pc, "name");
          ctl.label = opt_string(q, pc, "label");
          ctl.cosine = as_cosine(need(q, pc, "cosine", "number"), pc + ".cosine");
          ctl.cosine_ci = opt_interval(q, pc, "cosine_ci", -1 - kSlack, 1 + kSlack);
          ctl.cka = opt_cka(q, pc, "cka");
          c.controls.push_back(ctl);
        }
      }
      m.invariance.push_back(std::move(c));
    }
  }
  if (maybe(*rob, "decodability")) {
    const json& list = array(*rob, base, "decodability");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".decodability", i);
      const json& e = object(list[i], p);
      Decodability d;
      d.encoder = get_string(e, p, "encoder");
      d.deformation = get_string(e, p, "deformation");
      if (maybe(e, "classes")) d.n_classes = array(e, p, "classes").size();
      d.accuracy = get_fraction(e, p, "accuracy");
      d.accuracy_ci = opt_interval(e, p, "accuracy_ci");
      d.chance = get_fraction(e, p, "chance");
      m.decodability.push_back(d);
    }
  }
  if (maybe(*rob, "train_test")) {
    const json& list = array(*rob, base, "train_test");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".train_test", i);
      const json& e = object(list[i], p);
      TrainTest t;
      t.encoder = get_string(e, p, "encoder");
      t.probe = opt_string(e, p, "probe");
      t.train_shifts = numbers(e, p, "train_shifts");
      t.test_shifts = numbers(e, p, "test_shifts");
      auto matrix = [&](const char* key) {
        const std::string pm = join(p, key);
        const json& rows = array(e, p, key);
        if (rows.size() != t.train_shifts.size())
          throw Error(fmt::format("{}: expected {} rows (one per training shift), got {}", pm, t.train_shifts.size(), rows.size()));
        std::vector<std::vector<double>> out;
        for (size_t r = 0; r < rows.size(); ++r) {
          const std::string pr = at(pm, r);
          if (!rows[r].is_array()) wrong_type(pr, "array", rows[r]);
          if (rows[r].size() != t.test_shifts.size())
            throw Error(fmt::format("{}: expected {} values (one per test shift), got {}", pr, t.test_shifts.size(), rows[r].size()));
          out.emplace_back();
          for (size_t k = 0; k < rows[r].size(); ++k) out.back().push_back(as_fraction(rows[r][k], at(pr, k)));
        }
        return out;
      };
      t.accuracy = matrix("accuracy");
      if (maybe(e, "weighted_score")) t.weighted = matrix("weighted_score");
      m.train_test.push_back(std::move(t));
    }
  }
  if (maybe(*rob, "training_augmentation")) {
    const json& list = array(*rob, base, "training_augmentation");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = at(base + ".training_augmentation", i);
      const json& e = object(list[i], p);
      AugmentationCurve c;
      c.encoder = get_string(e, p, "encoder");
      c.probe = opt_string(e, p, "probe");
      const json& points = array(e, p, "points");
      for (size_t k = 0; k < points.size(); ++k) {
        const std::string pp = at(p + ".points", k);
        const json& q = object(points[k], pp);
        AugmentationPoint pt;
        pt.semitones = get_number(q, pp, "semitones");
        const json& clean = object(need(q, pp, "clean", "object"), pp + ".clean");
        const json& aug = object(need(q, pp, "augmented", "object"), pp + ".augmented");
        pt.clean = get_fraction(clean, pp + ".clean", "accuracy");
        pt.clean_ci = opt_interval(clean, pp + ".clean", "accuracy_ci");
        pt.augmented = get_fraction(aug, pp + ".augmented", "accuracy");
        pt.augmented_ci = opt_interval(aug, pp + ".augmented", "accuracy_ci");
        c.points.push_back(pt);
      }
      sort_points(c.points, [](const AugmentationPoint& q) { return q.semitones; });
      m.augmentation.push_back(std::move(c));
    }
  }
}

Model read_model(const json& report) {
  object(report, "report");
  if (const json* suite = maybe(report, "suite")) {
    object(*suite, "suite");
    if (const json* name = maybe(*suite, "name")) as_string(*name, "suite.name");
  }
  Model m;
  read_results(report, m);
  read_robustness(report, m);
  return m;
}

const char* extension(PlotFormat f) {
  switch (f) {
    case PlotFormat::kPdf: return ".pdf";
    case PlotFormat::kSvg: return ".svg";
    case PlotFormat::kPng: return ".png";
  }
  return "";
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(fmt::format("{}: cannot write", p.string()));
}

// A private folder next to the outputs (same file system, so the renames are atomic), removed on exit.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& dir) {
    static std::atomic<unsigned> counter{0};
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(fmt::format("{}: cannot create folder ({})", dir.string(), ec.message()));
    for (int attempt = 0; attempt < 100; ++attempt) {
      const fs::path p = dir / fmt::format(".plots-{}-{}.tmp", ::getpid(), counter++);
      if (fs::create_directory(p, ec)) {
        path_ = p;
        return;
      }
    }
    throw Error(fmt::format("{}: cannot create a temporary folder ({})", dir.string(), ec.message()));
  }
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

std::vector<PlotFormat> parse_plot_formats(const std::string& list) {
  std::vector<PlotFormat> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    PlotFormat f;
    if (name == "pdf")
      f = PlotFormat::kPdf;
    else if (name == "svg")
      f = PlotFormat::kSvg;
    else if (name == "png")
      f = PlotFormat::kPng;
    else
      throw Error(fmt::format("unknown plot format \"{}\" (known: pdf, svg, png)", name), ExitCode::kUsage);
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    start = end + 1;
  }
  return out;
}

std::vector<std::string> figure_names(const json& report) {
  const Model model = read_model(report);
  auto lock = lock_plplot();
  TextMeasure measure;
  std::vector<std::string> names;
  for (const auto& f : build_figures(model, measure)) names.push_back(f.name);
  return names;
}

std::vector<fs::path> write_plots(const json& report, const fs::path& dir, const PlotOptions& options) {
  const Model model = read_model(report);  // every input error before any file is touched
  if (options.png_dpi < 36 || options.png_dpi > 1200)
    throw Error(fmt::format("png_dpi: expected 36 to 1200, got {}", options.png_dpi), ExitCode::kUsage);
  StagingDir staging(dir);
  std::vector<std::string> names;
  {
    auto lock = lock_plplot();
    TextMeasure measure;
    const auto specs = build_figures(model, measure);
    for (const auto& f : specs) {
      for (PlotFormat format : options.formats) {
        Canvas canvas(format, staging.path() / (f.name + extension(format)), f.height_pt, options.png_dpi);
        f.draw(canvas);
        canvas.finish();
        names.push_back(f.name + extension(format));
      }
      write_text(staging.path() / (f.name + ".csv"), f.csv);
      names.push_back(f.name + ".csv");
    }
  }
  // Every file is complete before the first one is moved into place.
  for (const auto& n : names) {
    std::error_code ec;
    if (!fs::is_regular_file(staging.path() / n, ec) || fs::file_size(staging.path() / n, ec) == 0)
      throw Error(fmt::format("{}: PLplot wrote no output", (dir / n).string()), ExitCode::kInternal);
  }
  std::vector<fs::path> written;
  for (const auto& n : names) {
    std::error_code ec;
    fs::rename(staging.path() / n, dir / n, ec);
    if (ec) throw Error(fmt::format("{}: cannot write ({})", (dir / n).string(), ec.message()));
    written.push_back(dir / n);
  }
  std::sort(written.begin(), written.end());
  return written;
}

}  // namespace mcpt::reports
