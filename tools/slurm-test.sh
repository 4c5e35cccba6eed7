#!/usr/bin/env bash
# Runs tools/slurm-array.sh against a real Slurm: a single-node cluster on localhost (Debian's
# slurm-wlm and munge, installed if missing), started in a temporary folder and stopped at the end.
# A tiny synthetic suite (chroma, a small robustness sweep) goes through the job array with N = 3 and
# the dependent report job; the report must equal an unsharded run of the same suite, timing and
# paths aside, and the report job must find every embedding in the cache the shards filled.
#
#   tools/slurm-test.sh [MCPT_EVAL]     (default: $MCPT_EVAL, else build/mcpt-eval)
#
# Needs root (apt-get, daemons running as root). ctest runs it as the test labelled `slurm`, which
# tools/test.sh leaves out (`ctest -LE slurm`). MCPT_KEEP_SLURM_TEST=1 keeps the temporary folder.
# Exit status: 0 pass, 1 fail, 2 cannot run here (not root, packages cannot be installed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe=$(readlink -f "${1:-${MCPT_EVAL:-$root/build/mcpt-eval}}")
n=3
[ -x "$exe" ] || { echo "slurm-test: $exe: not an executable (build first)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm-test: needs root (apt-get, munged, slurmctld, slurmd)" >&2; exit 2; }

missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Without systemd the packages' start scripts are refused (policy-rc.d); the daemons start below.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "slurm-test: cannot install ${missing[*]}" >&2; exit 2; }
fi

work=$(mktemp -d -t mcpt-slurm.XXXXXX)
export SLURM_CONF=$work/slurm.conf
munge_sock=$work/run/munge.sock
started_ctld=0 started_munge=0
cleanup() {
  local rc=$?
  if [ "$started_ctld" = 1 ]; then
    scontrol shutdown >/dev/null 2>&1 || true   # stops slurmctld and every slurmd
    for _ in $(seq 50); do
      [ -e "$work/slurmctld.pid" ] || [ -e "$work/slurmd.pid" ] || break
      sleep 0.2
    done
    for f in "$work/slurmd.pid" "$work/slurmctld.pid"; do
      [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
  fi
  [ "$started_munge" = 1 ] && munged --socket="$munge_sock" --stop >/dev/null 2>&1 || true
  if [ "$rc" != 0 ]; then
    echo "slurm-test: FAILED (exit $rc); daemon logs:" >&2
    for f in "$work"/log/*.log "$work"/logs/*.out; do
      [ -e "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
  fi
  if [ "${MCPT_KEEP_SLURM_TEST:-0}" = 1 ]; then echo "slurm-test: kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

mkdir -p "$work/key" "$work/run" "$work/log" "$work/state" "$work/spool"
chmod 700 "$work/key"
chmod 755 "$work" "$work/run"   # munged wants its socket folder open to everyone
mungekey --create --keyfile="$work/key/munge.key" >/dev/null 2>&1 ||
  dd if=/dev/urandom of="$work/key/munge.key" bs=1 count=1024 status=none
chmod 400 "$work/key/munge.key"
munged --force --key-file="$work/key/munge.key" --socket="$munge_sock" --pid-file="$work/run/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/run/munged.seed"
started_munge=1

# Ports out of the way of a real Slurm on this machine.
port=$((20000 + RANDOM % 20000))
host=$(hostname -s)
cat > "$SLURM_CONF" <<EOF
ClusterName=mcpttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_sock
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
started_ctld=1
slurmd -f "$SLURM_CONF"
state=""
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { echo "slurm-test: the node did not come up (state \"$state\")" >&2; exit 1; }
echo "slurm-test: single-node Slurm up ($(sinfo -V), node $host, $(nproc) CPUs)"

# The suite: a tiny synthetic corpus, chroma, a small robustness block (pitch shifts of every split for
# decodability, noise on the test split), so the shards split (track x condition) work, not only
# clean embeddings.
"$exe" -q synth --out "$work/data" --tracks 24 --seconds 4 --seed 2 --sample-rate 16000 >/dev/null
suite() {  # suite OUT_DIR CACHE_DIR
  cat <<EOF
{"name": "slurm-test", "seed": 3, "output": "$1", "cache": "$2",
 "datasets": {"s": {"type": "synthetic", "root": "$work/data", "tracks": 24, "seconds": 4, "seed": 2, "sample_rate": 16000}},
 "protocol": {"train": "s:train", "valid": "s:valid", "test": "s:test"},
 "encoders": [{"name": "chroma", "type": "chroma", "segment_seconds": 2, "sample_rate": 16000}],
 "probes": [{"type": "linear", "lr": 0.01}],
 "statistics": {"seeds": 1, "bootstrap": 100},
 "robustness": {"sweeps": [{"type": "pitch_shift", "parameter": "semitones", "values": [-2, 2], "options": {"engine": "faster"}},
                           {"type": "noise", "parameter": "snr_db", "values": [10]}],
                "controls": false, "decodability": [-2, 2], "train_shifts": [0], "training_augmentation": false}}
EOF
}
mkdir -p "$work/whole" "$work/sharded"
suite "$work/whole/out" "$work/whole/cache" > "$work/whole/suite.json"
suite "$work/sharded/out" "$work/sharded/cache" > "$work/sharded/suite.json"

"$exe" -q run "$work/whole/suite.json" >/dev/null
submitted=$(cd "$work" && MCPT_EVAL=$exe MCPT_SLURM_LOGS=$work/logs bash "$root/tools/slurm-array.sh" "$work/sharded/suite.json" "$n")
echo "slurm-test: $submitted"
array=$(sed -n 's/^shards: job \([0-9]*\).*/\1/p' <<< "$submitted")
merge=$(sed -n 's/.*report: job \([0-9]*\).*/\1/p' <<< "$submitted")
[ -n "$array" ] && [ -n "$merge" ] || { echo "slurm-test: cannot read the job ids from: $submitted" >&2; exit 1; }

# Wait for the report job (it runs only after every shard ended with exit 0).
deadline=$((SECONDS + ${MCPT_SLURM_TEST_TIMEOUT:-900}))
merge_state=""
while :; do
  info=$(scontrol show job "$merge" 2>/dev/null || true)
  merge_state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<< "$info" | head -1)
  case "$merge_state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) break ;;
  esac
  if grep -q "Reason=DependencyNeverSatisfied" <<< "$info"; then
    echo "slurm-test: a shard failed, the report job can never run" >&2
    scontrol show job "$array" >&2 || true
    exit 1
  fi
  [ "$SECONDS" -lt "$deadline" ] || { echo "slurm-test: timed out waiting for job $merge ($merge_state)" >&2; exit 1; }
  sleep 2
done
shards=$(scontrol show job "$array" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort | uniq -c | tr -s ' ' | sed 's/^ //')
echo "slurm-test: shard tasks: $shards; report job: $merge_state"
[ "$merge_state" = COMPLETED ] || exit 1
[ "$(scontrol show job "$array" | grep -c 'JobState=COMPLETED')" = "$n" ] || { echo "slurm-test: not every shard completed" >&2; exit 1; }

# Shards computed disjoint parts that add up to the unsharded work; the report job computed nothing.
computed=0
for i in $(seq "$n"); do
  k=$(sed -n 's/^shard [0-9]*\/[0-9]*: \([0-9]*\).*/\1/p' "$work/logs/shard-$i.out" | head -1)
  [ -n "$k" ] || { echo "slurm-test: shard $i printed no count:" >&2; cat "$work/logs/shard-$i.out" >&2; exit 1; }
  echo "slurm-test: shard $i/$n computed $k"
  computed=$((computed + k))
done
/usr/bin/python3 - "$work/whole/out/report.json" "$work/sharded/out/report.json" "$computed" <<'EOF'
import json, sys
whole, sharded = (json.load(open(p)) for p in sys.argv[1:3])
computed = int(sys.argv[3])
work = whole["provenance"]["cache"]["misses"]
problems = []
if sharded["provenance"]["cache"]["misses"] != 0:
    problems.append(f"the report job computed {sharded['provenance']['cache']['misses']} embeddings itself")
if computed != work:
    problems.append(f"the shards computed {computed} embeddings, the unsharded run {work}")
# Everything but provenance (times, host, cache counters) and the suite's output/cache paths.
for r in (whole, sharded):
    r.pop("provenance", None)
    for k in ("output", "cache"):
        r.get("suite", {}).pop(k, None)
for k in sorted(set(whole) | set(sharded)):
    if whole.get(k) != sharded.get(k):
        problems.append(f"report field {k!r} differs from the unsharded run")
if "robustness" not in sharded or not sharded.get("results"):
    problems.append("the report has no results or no robustness block")
for p in problems:
    print("slurm-test:", p, file=sys.stderr)
print(f"slurm-test: unsharded work {work} embeddings; report fields compared: {len(whole)}")
sys.exit(1 if problems else 0)
EOF
echo "slurm-test: PASS (job array of $n shards + report job equals the unsharded run)"
