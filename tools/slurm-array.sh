#!/usr/bin/env bash
# Runs a suite on a Slurm cluster: a job array of N tasks computes the embedding work shard by shard
# into the suite's shared cache (`mcpt-eval run SUITE --shard i/N`), then one dependent job runs the
# suite whole, finds every embedding cached, trains the probes and writes the report.
#
#   tools/slurm-array.sh SUITE.json N [extra sbatch options, e.g. --partition=cpu --time=02:00:00]
#
# The cache folder (suite.cache) must be on a file system every node sees. MCPT_EVAL names the
# executable (default: build/mcpt-eval next to this script). Prints the two job ids.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 SUITE.json N [sbatch options...]" >&2
  exit 2
fi
suite=$(readlink -f "$1")
n=$2
shift 2
case "$n" in '' | *[!0-9]*) echo "$0: N must be a positive integer, got \"$n\"" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "$0: N must be >= 1" >&2; exit 2; }
[ -f "$suite" ] || { echo "$0: $suite: no such suite file" >&2; exit 2; }
exe=${MCPT_EVAL:-$(cd "$(dirname "$0")/.." && pwd)/build/mcpt-eval}
[ -x "$exe" ] || { echo "$0: $exe: not an executable (build first, or set MCPT_EVAL)" >&2; exit 2; }
"$exe" validate "$suite" >/dev/null

logdir=${MCPT_SLURM_LOGS:-$(pwd)/slurm-logs}
mkdir -p "$logdir"
array=$(sbatch --parsable --job-name=mcpt-shard --array=1-"$n" --output="$logdir/shard-%a.out" "$@" \
  --wrap="\"$exe\" -q run \"$suite\" --shard \$SLURM_ARRAY_TASK_ID/$n")
array=${array%%;*}
merge=$(sbatch --parsable --job-name=mcpt-merge --dependency=afterok:"$array" --output="$logdir/merge.out" "$@" \
  --wrap="\"$exe\" run \"$suite\"")
merge=${merge%%;*}
echo "shards: job $array (array 1-$n); report: job $merge; logs in $logdir"
