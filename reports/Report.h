// The versioned report: schema version, provenance and one result per (dataset, encoder, probe);
// written atomically (temp file + rename) so a reader never sees half a report. Also the result table.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "reports/Stats.h"

namespace mcpt::reports {

constexpr const char* kReportSchemaVersion = "1.0";

// Writes `text` to `path` through a temporary file in the same folder and a rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);

// Reads and checks a report (schema_version and the fields the tables use); errors name the file.
nlohmann::json read_report(const std::filesystem::path& path);

enum class TableFormat { kText, kMarkdown, kCsv, kLatex };
TableFormat parse_table_format(const std::string& name);  // "text", "md", "csv", "tex"

struct TableOptions {
  // Reference row for the significance markers ("encoder/probe", see paired_comparisons). Empty:
  // use the report's own "comparisons" block, or compute one with the suite's statistics settings.
  std::string reference;
  bool recompute = false;        // compute comparisons even when the report has them
  ComparisonOptions comparison;  // used when comparisons are computed here
};

// One row per headline result (headline_rows: a layer sweep shows its validation-chosen layer):
// dataset, encoder, probe, [layer], n, accuracy and weighted score with 95 % CIs and mean ± sd over
// seeds, categories; † on figures that differ from the reference row at p < alpha (McNemar for
// accuracy, paired bootstrap for the weighted score); then the paired comparisons (text, md), layer
// sweeps, and, as a separate block, published figures quoted from papers (report["published"]).
// LaTeX: booktabs tabulars, ASCII only; CSV: every result plus the published rows (kind column).
std::string render_table(const nlohmann::json& report, TableFormat format, const TableOptions& options = {});

}  // namespace mcpt::reports
