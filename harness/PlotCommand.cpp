// `mcpt-eval plot REPORT.json --out DIR [--formats pdf,svg,png]`: every figure the report has data for,
// through reports::write_plots, with errors that name the report file and the JSON path.
#include <fmt/format.h>

#include "datasets/Error.h"
#include "harness/Commands.h"
#include "reports/Plot.h"
#include "reports/Report.h"

namespace mcpt::harness {

int plot_command(const std::string& report_path, const std::string& out_dir, const std::string& formats,
                 Verbosity verbosity) {
  reports::PlotOptions options;
  options.formats = reports::parse_plot_formats(formats);  // a usage error before any reading
  const auto report = reports::read_report(report_path);
  std::vector<std::filesystem::path> written;
  try {
    written = reports::write_plots(report, out_dir, options);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", report_path, e.what()), e.code());
  }
  if (verbosity != Verbosity::kQuiet)
    for (const auto& p : written) fmt::print("{}\n", p.string());
  return 0;
}

}  // namespace mcpt::harness
