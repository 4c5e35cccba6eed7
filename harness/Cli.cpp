#include "harness/Cli.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "datasets/Dataset.h"
#include "datasets/Error.h"
#include "datasets/Key.h"
#include "datasets/Synthetic.h"
#include "harness/Commands.h"
#include "harness/Pretrain.h"
#include "harness/Progress.h"
#include "harness/Runner.h"
#include "harness/Suite.h"
#include "harness/TorchBackend.h"
#include "reports/Report.h"

namespace fs = std::filesystem;

namespace mcpt::harness {
namespace {

const char* kExitCodes =
    "Exit codes: 0 success; 1 internal error (a bug: please report it); 2 bad command line;\n"
    "3 bad input (suite, dataset, annotation, audio or model file; the message names it);\n"
    "4 incomplete run (not every requested item could be scored); 130 interrupted.";

// A key argument is a key file (mir_eval format) when such a file exists, else the key text.
datasets::Key key_argument(const std::string& arg, const char* name) {
  std::error_code ec;
  try {
    if (fs::is_regular_file(arg, ec)) return datasets::read_key_file(arg);
    return datasets::Key::parse(arg);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", name, e.what()), e.code());
  }
}

// "i/N" with 1 <= i <= N, e.g. "2/3" (Slurm: "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT").
Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  int i = 0, n = 0;
  try {
    size_t a = 0, b = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    i = std::stoi(text.substr(0, slash), &a);
    n = std::stoi(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw Error(fmt::format("--shard: expected \"i/N\" (e.g. 2/3), got \"{}\"", text), ExitCode::kUsage);
  }
  if (n < 1 || n > 100000 || i < 1 || i > n)
    throw Error(fmt::format("--shard: \"{}\" needs 1 <= i <= N <= 100000", text), ExitCode::kUsage);
  return Shard{i - 1, n};
}

}  // namespace

int cli_main(int argc, char** argv) {
  // `mcpt-eval suite.json` is `mcpt-eval run suite.json`.
  std::vector<std::string> args(argv, argv + argc);
  std::string command_line;
  for (const auto& a : args) command_line += (command_line.empty() ? "" : " ") + a;
  if (args.size() >= 2 && args[1].size() > 5 && args[1].substr(args[1].size() - 5) == ".json")
    args.insert(args.begin() + 1, "run");

  CLI::App app{"mcpt-eval: how well do music audio representations capture key? Same protocol for every\n"
               "model, pitch shifts with labels moved correctly, uncertainty on every number.",
               "mcpt-eval"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", fmt::format("mcpt-eval {} ({})", mcpt_version(),
                                                library_versions()["git_revision"].get<std::string>()));
  bool quiet = false, verbose = false;
  app.add_flag("-q,--quiet", quiet, "Print only results and errors");
  app.add_flag("-v,--verbose", verbose, "Print more detail");
  app.require_subcommand(1);
  app.fallthrough();  // global flags (-q, -v) may follow the subcommand
  auto verbosity = [&] { return quiet ? Verbosity::kQuiet : verbose ? Verbosity::kVerbose : Verbosity::kNormal; };

  // run
  auto* run = app.add_subcommand("run", "Run a suite: extract embeddings, train probes, score, write report.json");
  std::string suite_path;
  bool dry_run = false;
  int threads = 0;
  run->add_option("suite", suite_path, "Suite file (JSON)")->required();
  run->add_flag("--dry-run", dry_run, "Print the plan (tracks per split, encoders, probes) and stop");
  std::string shard_text;
  run->add_option("--shard", shard_text,
                  "Compute only shard i of N (1-based, \"i/N\") of the embedding work into the cache and stop; "
                  "a later run without --shard finds it cached (Slurm job arrays: tools/slurm-array.sh)");
  run->add_option("--threads", threads, "Worker threads (default: the suite's, else all cores)")->check(CLI::Range(1, 1024));
  run->footer(kExitCodes);

  auto* validate = app.add_subcommand("validate", "Check a suite file without running it");
  std::string validate_path;
  validate->add_option("suite", validate_path, "Suite file (JSON)")->required();

  auto* score = app.add_subcommand("key-score", "MIREX weighted score of an estimated key against a reference");
  std::string ref, est;
  bool descending = false;
  score->add_option("reference", ref, "Key file (mir_eval format) or key text, e.g. \"C minor\"")->required();
  score->add_option("estimate", est, "Key file (mir_eval format) or key text")->required();
  score->add_flag("--allow-descending-fifths", descending, "Also give 0.5 to a fifth below (mir_eval >= 0.8)");

  auto* info = app.add_subcommand("dataset-info", "Tracks per split, mode and key; exclusions; missing audio");
  std::string info_type, info_root;
  bool info_json = false;
  info->add_option("type", info_type, "giantsteps-key, giantsteps-mtg-key, manifest or synthetic")->required();
  info->add_option("root", info_root, "Dataset folder (for manifest: the folder or the manifest file)")->required();
  info->add_flag("--json", info_json, "Print one JSON object");

  auto* synth = app.add_subcommand("synth", "Render the synthetic corpus (FluidSynth, exact keys)");
  std::string synth_out, soundfont;
  int tracks = 96, sample_rate = 22050;
  std::uint64_t seed = 1;
  double seconds = 20.0;
  synth->add_option("--out", synth_out, "Output folder")->required();
  synth->add_option("--tracks", tracks, "Number of tracks (balanced over the 24 keys)")->check(CLI::Range(24, 100000));
  synth->add_option("--seed", seed, "Random seed");
  synth->add_option("--seconds", seconds, "Seconds per track")->check(CLI::Range(2.0, 600.0));
  synth->add_option("--sample-rate", sample_rate, "Sample rate in Hz")->check(CLI::Range(8000, 96000));
  synth->add_option("--soundfont", soundfont, "General MIDI SoundFont (.sf2); default: timgm6mb");

  auto* table = app.add_subcommand("table", "Print the result table of a report");
  std::string table_report, table_format = "text";
  table->add_option("report", table_report, "report.json")->required();
  table->add_option("--format", table_format, "text, md, csv or tex");
  reports::TableOptions table_options;
  table->add_option("--reference", table_options.reference,
                    "Row for the significance markers, \"encoder/probe\" (default: the report's own comparisons)");
  table->add_option("--alpha", table_options.comparison.alpha, "Significance level for the markers (recomputes)")
      ->check(CLI::Range(1e-9, 0.5));
  table->add_option("--resamples", table_options.comparison.resamples,
                    "Paired bootstrap and randomisation resamples when recomputing (default 10000)")
      ->check(CLI::Range(0, 10000000));

  auto* augment = app.add_subcommand("augment", "Deform audio: IN OUT '{\"type\": \"pitch_shift\", \"semitones\": 3}' (or --list)");
  std::vector<std::string> augment_args;
  std::string augment_list;
  AugmentOptions augment_options;
  augment->add_option("args", augment_args, "IN OUT DEFORMATION (JSON text or file); DEFORMATION alone with --list")->required();
  augment->add_option("--list", augment_list, "File of IN<tab>OUT lines, processed side by side");
  augment->add_option("--seed", augment_options.seed, "Seed for noise and random draws (default 1)");
  augment->add_option("--format", augment_options.format, "wav, wav-float, flac, ogg or mp3 (default: from OUT)");
  augment->add_option("--threads", augment_options.threads, "Files at once with --list (default: all cores)")->check(CLI::Range(1, 1024));
  augment->add_option("--sample-rate", augment_options.sample_rate, "Resample the input first (Hz)")->check(CLI::Range(1000, 768000));

  auto* plot = app.add_subcommand("plot", "Figures of a report: PDF, SVG and PNG (PLplot) with their data as CSV");
  std::string plot_report, plot_out, plot_formats = "pdf,svg,png";
  plot->add_option("report", plot_report, "report.json")->required();
  plot->add_option("--out", plot_out, "Output folder (created if missing)")->required();
  plot->add_option("--formats", plot_formats, "Comma-separated subset of pdf,svg,png (CSV always)");

  auto* pre = app.add_subcommand("pretrain", "Masked contrastive pre-training of the MCPT ViT: a checkpoint for a suite's \"mcpt\" encoder");
  std::string pre_path;
  PretrainOptions pre_options;
  pre->add_option("config", pre_path, "Pre-training config (JSON; docs/pretrain.md)")->required();
  pre->add_flag("--resume", pre_options.resume,
                "Continue the run in the config's output folder from its last checkpoint (same trajectory as an "
                "unbroken run)");
  pre->add_option("--until", pre_options.until,
                  "Stop after this step, checkpointed (e.g. to fit a job's time limit); --resume continues")
      ->check(CLI::Range(std::int64_t(0), std::int64_t(1000000000)));
  pre->footer(kExitCodes);

  std::vector<const char*> cargv;
  for (const auto& a : args) cargv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargv.size()), const_cast<char**>(cargv.data()));
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }

  if (*run) {
    const Suite suite = Suite::load(suite_path);
    RunOptions o;
    o.verbosity = verbosity();
    o.dry_run = dry_run;
    o.threads = threads;
    o.command_line = command_line;
    if (!shard_text.empty()) o.shard = parse_shard(shard_text);
    if (o.shard.active() && suite.cache.empty())
      throw Error(fmt::format("{}: --shard needs an embedding cache (suite.cache is empty)", suite_path), ExitCode::kUsage);
    const RunOutcome r = run_suite(suite, o);
    if (o.shard.active()) {
      fmt::print("shard {}/{}: {} embeddings computed into {}\n", o.shard.index + 1, o.shard.count, r.shard_computed,
                 suite.cache.string());
      return 0;
    }
    if (dry_run) {
      fmt::print("{}", r.plan);
      return 0;
    }
    fmt::print("{}\nreport: {}\n", r.table, r.report_path.string());
    return 0;
  }
  if (*validate) {
    const Suite suite = Suite::load(validate_path);
    RunOptions o;
    o.dry_run = true;
    o.verbosity = Verbosity::kQuiet;
    run_suite(suite, o);  // builds encoders and loads annotations: catches what parsing alone cannot
    if (!quiet) fmt::print("{}: valid suite \"{}\"\n", validate_path, suite.name);
    return 0;
  }
  if (*score) {
    datasets::ScoreOptions so;
    so.allow_descending_fifths = descending;
    const auto r = key_argument(ref, "reference");
    const auto e = key_argument(est, "estimate");
    fmt::print("{}\n", datasets::weighted_score(r, e, so));
    return 0;
  }
  if (*info) {
    fs::path root = info_root;
    nlohmann::json options = nlohmann::json::object();
    if (info_type == "manifest" && fs::is_regular_file(root)) {
      options["manifest"] = root.filename().string();
      root = root.parent_path().empty() ? fs::path(".") : root.parent_path();
    }
    if (info_type == "synthetic" && !fs::exists(root / "manifest.csv"))
      throw Error(fmt::format("{}: no synthetic corpus here (render one with `mcpt-eval synth --out {}`)", root.string(),
                              root.string()));
    datasets::Dataset ds;
    if (info_type == "synthetic")
      ds = datasets::load_manifest(root / "manifest.csv"), ds.type = "synthetic", ds.root = root;
    else
      ds = datasets::load_dataset(info_type, root, options, "dataset");
    const auto s = datasets::dataset_summary(ds);
    if (info_json) {
      fmt::print("{}\n", s.dump(2));
      return 0;
    }
    fmt::print("{} at {}\n", info_type, root.string());
    fmt::print("  tracks: {}\n", s.value("tracks", 0));
    for (const char* k : {"by_split", "by_mode", "excluded"}) {
      if (!s.contains(k)) continue;
      std::string line;
      for (auto it = s[k].begin(); it != s[k].end(); ++it)
        line += fmt::format("{}{} {}", line.empty() ? "" : ", ", it.key(), it.value().dump());
      fmt::print("  {}: {}\n", k, line.empty() ? "none" : line);
    }
    if (s.contains("by_key")) {
      std::string line;
      for (auto it = s["by_key"].begin(); it != s["by_key"].end(); ++it)
        line += fmt::format("{}{} {}", line.empty() ? "" : ", ", it.key(), it.value().dump());
      fmt::print("  by_key: {}\n", line);
    }
    fmt::print("  missing audio: {}\n", s.value("missing_audio", 0));
    return 0;
  }
  if (*synth) {
    datasets::SynthOptions so;
    so.tracks = tracks;
    so.seed = seed;
    so.seconds = seconds;
    so.sample_rate = sample_rate;
    if (!soundfont.empty()) so.soundfont = soundfont;
    Progress progress("rendering synthetic corpus", tracks, verbosity(), "tracks");
    int last = 0;
    datasets::render_synthetic_corpus(synth_out, so, [&](int done, int) {
      progress.advance(done - last);
      last = done;
    });
    progress.finish();
    fmt::print("{}\n", (fs::path(synth_out) / "manifest.csv").string());
    return 0;
  }
  if (*augment) {
    augment_options.verbosity = verbosity();
    return augment_main(augment_args, augment_list, augment_options);
  }
  if (*pre) {
    const auto config = torch().load_pretrain_config(pre_path);
    pre_options.verbosity = verbosity();
    const auto r = torch().pretrain(config, pre_options);
    fmt::print("pretrain {}: step {}/{} ({} this run, {:.1f} pairs/s), {} tracks, loss {:.4f}\nmodel: {}\nstate: {}\nlog: {}\n",
               config.name, r.step, config.steps, r.steps_this_run, r.examples_per_second, r.tracks, r.last_loss,
               r.model.string(), r.state.string(), r.log.string());
    return 0;
  }
  if (*plot) return plot_command(plot_report, plot_out, plot_formats, verbosity());
  if (*table) {
    const auto report = reports::read_report(table_report);
    table_options.comparison.permutations = table_options.comparison.resamples;
    table_options.recompute = table->count("--alpha") > 0 || table->count("--resamples") > 0;
    if (report.contains("provenance") && report["provenance"].contains("seed") &&
        report["provenance"]["seed"].is_number_unsigned())
      table_options.comparison.seed = report["provenance"]["seed"].get<std::uint64_t>();
    fmt::print("{}", reports::render_table(report, reports::parse_table_format(table_format), table_options));
    return 0;
  }
  return static_cast<int>(ExitCode::kUsage);
}

}  // namespace mcpt::harness
