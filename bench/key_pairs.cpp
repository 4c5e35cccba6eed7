// Side-by-side helper for bench/keys_vs_mir_eval.py: scores every (reference, estimate) pair of a
// TSV file with datasets::weighted_score and prints each score, then the time spent scoring (parsing
// included, file reading excluded) on stderr as "seconds <t>".
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "datasets/Error.h"
#include "datasets/Key.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: bench_key_pairs PAIRS.tsv\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot open\n";
    return 3;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    pairs.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  std::vector<double> scores(pairs.size());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (size_t i = 0; i < pairs.size(); ++i)
      scores[i] = mcpt::datasets::weighted_score(mcpt::datasets::Key::parse(pairs[i].first),
                                                 mcpt::datasets::Key::parse(pairs[i].second));
  } catch (const mcpt::Error& e) {
    std::cerr << e.what() << "\n";
    return 3;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string out;
  char buf[32];
  for (double v : scores) {
    std::snprintf(buf, sizeof buf, "%g\n", v);
    out += buf;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fprintf(stderr, "seconds %.6f\n", s);
  return 0;
}
