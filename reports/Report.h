// The versioned report: schema version, provenance and one result per (dataset, encoder, probe);
// written atomically (temp file + rename) so a reader never sees half a report. Also the result table.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mcpt::reports {

constexpr const char* kReportSchemaVersion = "1.0";

// Writes `text` to `path` through a temporary file in the same folder and a rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);
void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);

// Reads and checks a report (schema_version and the fields the tables use); errors name the file.
nlohmann::json read_report(const std::filesystem::path& path);

enum class TableFormat { kText, kMarkdown, kCsv, kLatex };
TableFormat parse_table_format(const std::string& name);  // "text", "md", "csv", "tex"
// One row per result: dataset, encoder, probe, n, accuracy [CI], weighted score [CI], categories.
std::string render_table(const nlohmann::json& report, TableFormat format);

}  // namespace mcpt::reports
