// Fits one probe on features from files and prints time and test accuracy as JSON: the C++ side of
// bench/probe_vs_sklearn.py, which gives scikit-learn the very same arrays.
//
// usage: bench_probe_fit DIR ['{"type": "linear"}'] [threads] [repeats]
// With repeats > 1 the probe is fitted that many times in this process and fit_seconds is the
// median (the first fit, which also pays for first-use set-up, is reported as first_fit_seconds),
// as the Python side times repeated fits in one interpreter.
// DIR holds meta.json {"dim", "classes", "train", "valid", "test"} (row counts) and raw little-endian
// files x_{train,valid,test}.f32 (rows x dim float32) and y_{train,valid,test}.i32 (int32 labels).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/Error.h"
#include "probes/Probe.h"

using mcpt::probes::Matrix;

namespace {

template <class T>
std::vector<T> read_raw(const std::string& path, size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw mcpt::Error(path + ": cannot open");
  std::vector<T> v(count);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(T)));
  if (size_t(in.gcount()) != count * sizeof(T))
    throw mcpt::Error(path + ": expected " + std::to_string(count * sizeof(T)) + " bytes");
  return v;
}

void load(const std::string& dir, const std::string& split, std::int64_t rows, std::int64_t dim, Matrix& x,
          std::vector<int>& y) {
  x = Matrix(rows, dim);
  x.data = read_raw<float>(dir + "/x_" + split + ".f32", size_t(rows * dim));
  const auto labels = read_raw<std::int32_t>(dir + "/y_" + split + ".i32", size_t(rows));
  y.assign(labels.begin(), labels.end());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR ['{\"type\": \"linear\"}'] [threads]\n", argv[0]);
    return 2;
  }
  try {
    const std::string dir = argv[1];
    std::ifstream meta_in(dir + "/meta.json");
    if (!meta_in) throw mcpt::Error(dir + "/meta.json: cannot open");
    const auto meta = nlohmann::json::parse(meta_in);
    const auto config =
        mcpt::probes::ProbeConfig::from_json(nlohmann::json::parse(argc > 2 ? argv[2] : "{\"type\": \"linear\"}"), "probe");
    if (argc > 3) mcpt::probes::set_compute_threads(std::stoi(argv[3]));
    const std::int64_t dim = meta.at("dim");
    const int classes = meta.at("classes");
    Matrix xt, xv, xs;
    std::vector<int> yt, yv, ys;
    load(dir, "train", meta.at("train"), dim, xt, yt);
    load(dir, "valid", meta.at("valid"), dim, xv, yv);
    load(dir, "test", meta.at("test"), dim, xs, ys);

    const int repeats = argc > 4 ? std::max(1, std::stoi(argv[4])) : 1;
    std::vector<double> times;
    std::unique_ptr<mcpt::probes::Probe> probe;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      probe = mcpt::probes::make_probe(config);
      probe->fit(xt, yt, xv, yv, classes, 1);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double first_s = times.front();
    std::sort(times.begin(), times.end());
    const double fit_s = times[times.size() / 2];
    const Matrix logits = probe->predict(xs);
    int correct = 0;
    for (std::int64_t r = 0; r < logits.rows; ++r) {
      const float* l = logits.row(r);
      correct += int(std::max_element(l, l + logits.cols) - l) == ys[size_t(r)];
    }
    const auto log = probe->training_log();
    nlohmann::json out = {{"fit_seconds", fit_s},
                          {"first_fit_seconds", first_s},
                          {"repeats", repeats},
                          {"test_accuracy", double(correct) / double(ys.size())},
                          {"epochs_run", log.value("epochs_run", 0)},
                          {"best_epoch", log.value("best_epoch", -1)},
                          {"training_log", [&] {
                             auto l = log;
                             l.erase("train_loss");
                             l.erase("valid_loss");
                             return l;
                           }()},
                          {"threads", mcpt::probes::compute_threads()},
                          {"config", config.to_json()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_probe_fit: %s\n", e.what());
    return 3;
  }
}
