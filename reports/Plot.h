// Publication figures of a report, rendered by PLplot's cairo drivers as PDF, SVG and PNG, each with its
// plotted data as CSV (for restyling in pgfplots or matplotlib). Single-column size, Okabe–Ito colours.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mcpt::reports {

enum class PlotFormat { kPdf, kSvg, kPng };

struct PlotOptions {
  std::vector<PlotFormat> formats = {PlotFormat::kPdf, PlotFormat::kSvg, PlotFormat::kPng};
  int png_dpi = 300;  // the page is 240 pt (3.33 in) wide, so 1000 px at 300 dpi
};

// "pdf,svg,png" (any subset, any order) → formats; an unknown name is a usage error listing the known ones.
std::vector<PlotFormat> parse_plot_formats(const std::string& list);

// Base names (no extension) of the figures `report` has data for, in drawing order: always "scores" and
// "categories"; with a `robustness` block also, where present, accuracy_vs_<deformation>,
// consistency_vs_pitch_shift, invariance_vs_<deformation>, train_test_shift_<encoder>[_<probe>],
// augmentation_vs_pitch_shift, decodability. Throws mcpt::Error naming the JSON path of a missing or
// mistyped field (`robustness.invariance[1].points[0].cosine: expected number, got string`).
std::vector<std::string> figure_names(const nlohmann::json& report);

// Checks the whole report, renders every figure into a private folder inside `dir`, then moves each
// file into `dir` (`<name>.pdf|.svg|.png` per format, and `<name>.csv` always). A bad report or a
// rendering failure throws mcpt::Error and leaves no new file behind. Returns the files written,
// sorted. Thread-safe (PLplot is not: calls are serialised).
std::vector<std::filesystem::path> write_plots(const nlohmann::json& report, const std::filesystem::path& dir,
                                               const PlotOptions& options = {});

}  // namespace mcpt::reports
