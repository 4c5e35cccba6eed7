// A dense row-major float matrix: the value type that carries features and logits between the
// harness and the probes without exposing torch types.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace mcpt::probes {

struct Matrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> data;

  Matrix() = default;
  Matrix(std::int64_t r, std::int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c), 0.0f) {}
  float* row(std::int64_t i) { return data.data() + i * cols; }
  const float* row(std::int64_t i) const { return data.data() + i * cols; }
  float& at(std::int64_t i, std::int64_t j) { return data[static_cast<size_t>(i * cols + j)]; }
  float at(std::int64_t i, std::int64_t j) const { return data[static_cast<size_t>(i * cols + j)]; }
  void append_row(const std::vector<float>& v) {
    if (rows == 0 && cols == 0) cols = static_cast<std::int64_t>(v.size());
    if (static_cast<std::int64_t>(v.size()) != cols) throw std::invalid_argument("Matrix::append_row: width mismatch");
    data.insert(data.end(), v.begin(), v.end());
    ++rows;
  }
};

}  // namespace mcpt::probes
