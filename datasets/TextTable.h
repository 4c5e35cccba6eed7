// Internal to the dataset loaders: reading annotation text files (UTF-8 BOM, CRLF, blank lines,
// RFC 4180 quoting) into rows that remember their line numbers, so every error names file:line.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/Dataset.h"

namespace mcpt::datasets::detail {

// The whole file as UTF-8 text, a leading BOM removed. Throws mcpt::Error naming the file (and the
// line) when it is missing, not a regular file (a FIFO would block), UTF-16, holds a NUL byte, or is
// not valid UTF-8 (Latin-1): annotation text ends up in JSON reports, which must be UTF-8.
std::string read_text_file(const std::filesystem::path& file);

struct Row {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

struct TableFormat {
  char delimiter = '\t';
  // Quoted fields ("a, b", "say ""hi""", line breaks inside quotes) as in RFC 4180. Off for the
  // GiantSteps files, whose fields are never quoted and may begin with a quote character.
  bool quotes = false;
};

// Splits `text` into records. CRLF and LF both end a record; blank (all-whitespace) lines are
// skipped. Throws mcpt::Error "<file>:<line>: ..." for an unterminated quoted field.
std::vector<Row> parse_table(const std::string& text, const std::filesystem::path& file, const TableFormat& format);

std::string trim(std::string_view s);
std::string lower(std::string_view s);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
// `text` in double quotes with quotes and control characters escaped, for error messages.
std::string quoted(std::string_view text);
// The same escapes without the quotes: for JSON keys inside a path ("suite.datasets.a\nb").
std::string escaped(std::string_view text);

std::optional<double> parse_number(std::string_view s);  // whole (trimmed) string, finite
std::optional<long long> parse_integer(std::string_view s);

// Deterministic id order: all-digit ids numerically (shorter first), before other ids, which
// compare as strings.
bool id_less(const std::string& a, const std::string& b);
void sort_by_id(std::vector<Track>& tracks);
void sort_by_id(std::vector<Exclusion>& excluded);

// Fills `dataset.missing_audio` with the ids of tracks whose audio file does not exist.
void check_audio(Dataset& dataset);

}  // namespace mcpt::datasets::detail
