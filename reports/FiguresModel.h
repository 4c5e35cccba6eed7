// The numbers the figures draw, read from a report (reports/Plot.cpp) with every error naming its JSON
// path, so that drawing (reports/Figures.cpp) never meets a missing or mistyped field. Internal header.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reports/Metrics.h"

namespace mcpt::reports::figures {

constexpr std::array<const char*, 5> kCategories = {"correct", "fifth", "relative", "parallel", "other"};
using Categories = std::array<std::int64_t, 5>;  // counts in kCategories order

struct ResultRow {
  std::string encoder, probe, dataset, split;
  std::optional<std::int64_t> n_tracks;
  double accuracy = 0, weighted = 0;
  std::optional<Interval> accuracy_ci, weighted_ci;
  std::vector<std::array<double, 2>> seeds;  // accuracy, weighted score per seed
  std::optional<Categories> categories;
};

struct Score {
  double accuracy = 0;
  std::optional<Interval> accuracy_ci;
  std::optional<double> weighted;
  std::optional<Interval> weighted_ci;
};

struct StrengthPoint {
  double strength = 0;
  std::optional<std::int64_t> n_tracks;
  Score moved;
  std::optional<Score> original;  // pitch shifts: scored against the label before the shift
};

struct StrengthCurve {
  std::string encoder, probe, test, deformation, parameter, unit;
  std::vector<StrengthPoint> points;
};

struct ValuePoint {
  double x = 0, value = 0;
  std::optional<Interval> ci;
};

struct ConsistencyCurve {
  std::string encoder, probe;
  std::vector<ValuePoint> points;  // x: semitones
};

struct InvariancePoint {
  double strength = 0, cosine = 0;
  std::optional<Interval> cosine_ci;
  std::optional<double> cka;
};

struct Control {
  std::string name, label;
  double cosine = 0;
  std::optional<Interval> cosine_ci;
  std::optional<double> cka;
};

struct InvarianceCurve {
  std::string encoder, deformation, parameter, unit;
  std::vector<InvariancePoint> points;
  std::vector<Control> controls;
};

struct Decodability {
  std::string encoder, deformation;
  std::size_t n_classes = 0;
  double accuracy = 0, chance = 0;
  std::optional<Interval> accuracy_ci;
};

struct TrainTest {
  std::string encoder, probe;
  std::vector<double> train_shifts, test_shifts;
  std::vector<std::vector<double>> accuracy;                 // [train][test]
  std::optional<std::vector<std::vector<double>>> weighted;  // same shape
};

struct AugmentationPoint {
  double semitones = 0;
  double clean = 0, augmented = 0;
  std::optional<Interval> clean_ci, augmented_ci;
};

struct AugmentationCurve {
  std::string encoder, probe;
  std::vector<AugmentationPoint> points;
};

struct Model {
  std::vector<ResultRow> results;
  bool show_split = false;  // more than one dataset:split among the results
  std::vector<StrengthCurve> accuracy;
  std::vector<ConsistencyCurve> consistency;
  std::vector<InvarianceCurve> invariance;
  std::vector<Decodability> decodability;
  std::vector<TrainTest> train_test;
  std::vector<AugmentationCurve> augmentation;
};

// One figure's drawing and its data, rendered once per format.
struct FigureSpec {
  std::string name;  // file base name
  std::string csv;   // the plotted numbers, one row per drawn value
  double height_pt = 0;
  // Draws the figure on a canvas of width kPageWidth and height height_pt (points).
  std::function<void(class Canvas&)> draw;
};

class TextMeasure;
// Every figure the model has data for, in a fixed order, with unique file names; layouts are sized with
// real text extents from `measure`.
std::vector<FigureSpec> build_figures(const Model& model, TextMeasure& measure);

}  // namespace mcpt::reports::figures
