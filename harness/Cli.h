// The mcpt-eval command line: a table of subcommands with one-line help (run, validate, key-score,
// dataset-info, synth, table). Throws mcpt::Error; main() turns it into a message and exit code.
#pragma once

namespace mcpt::harness {

int cli_main(int argc, char** argv);

}  // namespace mcpt::harness
