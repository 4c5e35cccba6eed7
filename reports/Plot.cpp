#include "reports/Plot.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iterator>
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
double as_fraction(const json& j, const std::string& path) {
  return as_number(j, path, 0.0, 1.0, "a fraction in [0, 1]");
}
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

// Each element of the array obj.key, checked to be an object, with its path ("robustness.consistency[2]").
template <class F>
void each_object(const json& obj, const std::string& path, const char* key, F read) {
  const json& list = array(obj, path, key);
  const std::string p = join(path, key);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string pi = at(p, i);
    read(object(list[i], pi), pi);
  }
}
// The same for an optional array: absent or null means no elements.
template <class F>
void each_optional_object(const json& obj, const std::string& path, const char* key, F read) {
  if (maybe(obj, key)) each_object(obj, path, key, read);
}
const json& member_object(const json& obj, const std::string& path, const char* key) {
  return object(need(obj, path, key, "object"), join(path, key));
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
  std::set<std::string> splits;
  each_object(report, "", "results", [&](const json& r, const std::string& p) {
    ResultRow row;
    row.encoder = get_string(r, p, "encoder");
    row.probe = get_string(r, p, "probe");
    row.dataset = get_string(r, p, "dataset");
    row.split = opt_string(r, p, "split");
    const std::string pm = p + ".metrics";
    const json& metrics = member_object(r, p, "metrics");
    row.accuracy = get_fraction(metrics, pm, "accuracy");
    row.weighted = get_fraction(metrics, pm, "weighted_score");
    row.accuracy_ci = opt_interval(metrics, pm, "accuracy_ci95");
    row.weighted_ci = opt_interval(metrics, pm, "weighted_score_ci95");
    row.n_tracks = opt_count(metrics, pm, "n_tracks");
    if (const json* c = maybe(metrics, "categories")) row.categories = categories(*c, pm + ".categories");
    each_optional_object(r, p, "per_seed", [&](const json& e, const std::string& ps) {
      row.seeds.push_back({get_fraction(e, ps, "accuracy"), get_fraction(e, ps, "weighted_score")});
    });
    splits.insert(row.dataset + ":" + row.split);
    m.results.push_back(std::move(row));
  });
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

// A curve's points, drawn in order of strength (`x`) whatever order the report lists them in.
template <class P, class F>
std::vector<P> points(const json& curve, const std::string& path, double P::*x, F read) {
  std::vector<P> v;
  each_object(curve, path, "points", [&](const json& q, const std::string& pq) { v.push_back(read(q, pq)); });
  std::stable_sort(v.begin(), v.end(), [&](const P& a, const P& b) { return a.*x < b.*x; });
  return v;
}

// A curve that is an encoder's (and maybe a probe's) points and nothing else: consistency, augmentation.
template <class C, class P, class F>
C probe_curve(const json& e, const std::string& p, double P::*x, F read) {
  C c;
  c.encoder = get_string(e, p, "encoder");
  c.probe = opt_string(e, p, "probe");
  c.points = points(e, p, x, read);
  return c;
}

// Which deformation a curve is about and how its strength is given (StrengthCurve, InvarianceCurve).
template <class C>
void read_deformation(const json& e, const std::string& p, C& c) {
  c.deformation = get_string(e, p, "deformation");
  c.parameter = opt_string(e, p, "parameter");
  c.unit = opt_string(e, p, "unit");
}

// How alike the embeddings stay: an invariance point, or a control measured the same way.
template <class T>
void read_similarity(const json& q, const std::string& p, T& s) {
  s.cosine = as_cosine(need(q, p, "cosine", "number"), p + ".cosine");
  s.cosine_ci = opt_interval(q, p, "cosine_ci", -1 - kSlack, 1 + kSlack);
  s.cka = opt_cka(q, p, "cka");
}

// robustness.<key>, when present: each element read into one entry of `into`.
template <class T, class F>
void read_list(const json& rob, const char* key, std::vector<T>& into, F read) {
  each_optional_object(rob, "robustness", key,
                       [&](const json& e, const std::string& p) { into.push_back(read(e, p)); });
}

AugmentationPoint augmentation_point(const json& q, const std::string& pp) {
  AugmentationPoint pt;
  pt.semitones = get_number(q, pp, "semitones");
  // Both halves are checked to be objects before either's fields are read: which error comes first is part of
  // the contract.
  const json& clean = member_object(q, pp, "clean");
  const json& aug = member_object(q, pp, "augmented");
  pt.clean = get_fraction(clean, pp + ".clean", "accuracy");
  pt.clean_ci = opt_interval(clean, pp + ".clean", "accuracy_ci");
  pt.augmented = get_fraction(aug, pp + ".augmented", "accuracy");
  pt.augmented_ci = opt_interval(aug, pp + ".augmented", "accuracy_ci");
  return pt;
}

void read_robustness(const json& report, Model& m) {
  const json* rob = maybe(report, "robustness");
  if (!rob) return;
  object(*rob, "robustness");

  read_list(*rob, "accuracy_vs_strength", m.accuracy, [](const json& e, const std::string& p) {
    StrengthCurve c;
    c.encoder = get_string(e, p, "encoder");
    c.probe = opt_string(e, p, "probe");
    c.test = opt_string(e, p, "test");
    read_deformation(e, p, c);
    c.points = points(e, p, &StrengthPoint::strength, [](const json& q, const std::string& pp) {
      StrengthPoint pt;
      pt.strength = get_number(q, pp, "strength");
      pt.n_tracks = opt_count(q, pp, "n_tracks");
      pt.moved = score(member_object(q, pp, "moved"), pp + ".moved");
      if (const json* o = maybe(q, "original")) pt.original = score(*o, pp + ".original");
      return pt;
    });
    return c;
  });
  read_list(*rob, "consistency", m.consistency, [](const json& e, const std::string& p) {
    return probe_curve<ConsistencyCurve>(e, p, &ValuePoint::x, [](const json& q, const std::string& pp) {
      return ValuePoint{get_number(q, pp, "semitones"), get_fraction(q, pp, "value"), opt_interval(q, pp, "ci")};
    });
  });
  read_list(*rob, "invariance", m.invariance, [](const json& e, const std::string& p) {
    InvarianceCurve c;
    c.encoder = get_string(e, p, "encoder");
    read_deformation(e, p, c);
    c.points = points(e, p, &InvariancePoint::strength, [](const json& q, const std::string& pp) {
      InvariancePoint pt;
      pt.strength = get_number(q, pp, "strength");
      read_similarity(q, pp, pt);
      return pt;
    });
    each_optional_object(e, p, "controls", [&](const json& q, const std::string& pc) {
      Control ctl;
      ctl.name = get_string(q, pc, "name");
      ctl.label = opt_string(q, pc, "label");
      read_similarity(q, pc, ctl);
      c.controls.push_back(ctl);
    });
    return c;
  });
  read_list(*rob, "decodability", m.decodability, [](const json& e, const std::string& p) {
    Decodability d;
    d.encoder = get_string(e, p, "encoder");
    d.deformation = get_string(e, p, "deformation");
    if (maybe(e, "classes")) d.n_classes = array(e, p, "classes").size();
    d.accuracy = get_fraction(e, p, "accuracy");
    d.accuracy_ci = opt_interval(e, p, "accuracy_ci");
    d.chance = get_fraction(e, p, "chance");
    return d;
  });
  read_list(*rob, "train_test", m.train_test, [](const json& e, const std::string& p) {
    TrainTest t;
    t.encoder = get_string(e, p, "encoder");
    t.probe = opt_string(e, p, "probe");
    t.train_shifts = numbers(e, p, "train_shifts");
    t.test_shifts = numbers(e, p, "test_shifts");
    auto matrix = [&](const char* key) {
      const std::string pm = join(p, key);
      const json& rows = array(e, p, key);
      if (rows.size() != t.train_shifts.size())
        throw Error(fmt::format("{}: expected {} rows (one per training shift), got {}", pm, t.train_shifts.size(),
                                rows.size()));
      std::vector<std::vector<double>> out;
      for (size_t r = 0; r < rows.size(); ++r) {
        const std::string pr = at(pm, r);
        if (!rows[r].is_array()) wrong_type(pr, "array", rows[r]);
        if (rows[r].size() != t.test_shifts.size())
          throw Error(fmt::format("{}: expected {} values (one per test shift), got {}", pr, t.test_shifts.size(),
                                  rows[r].size()));
        out.emplace_back();
        for (size_t k = 0; k < rows[r].size(); ++k) out.back().push_back(as_fraction(rows[r][k], at(pr, k)));
      }
      return out;
    };
    t.accuracy = matrix("accuracy");
    if (maybe(e, "weighted_score")) t.weighted = matrix("weighted_score");
    return t;
  });
  read_list(*rob, "training_augmentation", m.augmentation, [](const json& e, const std::string& p) {
    return probe_curve<AugmentationCurve>(e, p, &AugmentationPoint::semitones, augmentation_point);
  });
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

// Each format's name on the command line, which is also its file extension: one table for both.
struct FormatName {
  PlotFormat format;
  const char* name;
};
constexpr FormatName kFormatNames[] = {{PlotFormat::kPdf, "pdf"}, {PlotFormat::kSvg, "svg"}, {PlotFormat::kPng, "png"}};

std::string extension(PlotFormat f) {
  for (const auto& n : kFormatNames)
    if (n.format == f) return std::string(".") + n.name;
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
    const auto known = std::find_if(std::begin(kFormatNames), std::end(kFormatNames),
                                    [&](const FormatName& n) { return name == n.name; });
    if (known == std::end(kFormatNames))
      throw Error(fmt::format("unknown plot format \"{}\" (known: pdf, svg, png)", name), ExitCode::kUsage);
    if (std::find(out.begin(), out.end(), known->format) == out.end()) out.push_back(known->format);
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
