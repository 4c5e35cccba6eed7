// What a killed process (SIGKILL, the OOM killer, a lost node) leaves behind: temporary files named
// after its pid, which the next run removes once that process is gone. Used by the embedding cache,
// `run` (the output folder) and `pretrain` (its output folder).
#pragma once
#include <filesystem>

namespace mcpt::harness {

// True when no process `pid` runs on this host: a temporary file named after it is stale.
bool process_is_gone(long pid);

// Removes what killed runs left in an output folder (not its subfolders): "<file>.tmp-<pid>"
// (reports::write_file_atomic, datasets::write_audio, checkpoints) and the plots' staging folders
// ".plots-<pid>-<n>.tmp" (reports::write_plots), of processes that are gone. A finished run leaves
// neither, so only those of a run that did not finish are taken. Returns how many were removed.
int remove_stale_outputs(const std::filesystem::path& dir);

}  // namespace mcpt::harness
