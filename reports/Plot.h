// Figures of a report as self-contained SVG (no scripts, no external files; Okabe–Ito colours, which
// stay distinct under the common colour-vision deficiencies). Hand-written SVG: no plotting dependency.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mcpt::reports {

// Horizontal grouped bars, one group per result ("encoder / probe", with "dataset:split" when the report
// has more than one test split): accuracy and weighted score in %, 95% intervals as error bars when the
// report has them, one dot per seed when there are several, a dashed line at chance accuracy (1/24).
// Throws mcpt::Error naming the JSON path of a missing or mistyped field (`results[2].metrics.accuracy`).
std::string plot_scores_svg(const nlohmann::json& report);

// One 100 % stacked bar per result: the share of tracks that are correct / fifth / relative / parallel /
// other. Also needs `metrics.categories`.
std::string plot_categories_svg(const nlohmann::json& report);

// Renders both figures, then writes `dir`/scores.svg and `dir`/categories.svg, each atomically; a bad
// report throws before either file is touched.
void write_plots(const nlohmann::json& report, const std::filesystem::path& dir);

}  // namespace mcpt::reports
