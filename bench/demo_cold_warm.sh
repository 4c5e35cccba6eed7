#!/usr/bin/env bash
# P5: the demo suite, cold (empty embedding cache) vs warm (everything cached), and P6: peak memory
# (RSS) of a chroma suite at 1x and 4x the tracks. The synthetic corpora are rendered first and not
# timed (rendering is dataset creation, done once). Prints one line per figure.
#   bench/demo_cold_warm.sh BUILD_DIR
set -euo pipefail
build=$(readlink -f "${1:-build}")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mcpt-p5.XXXXXX")
trap 'rm -rf "$work"' EXIT
exe="$build/mcpt-eval"
field() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['provenance'][sys.argv[2]])" "$@"; }

# P5: the demo suite as shipped, with its output and cache moved into the temporary folder.
/usr/bin/python3 - "$root/configs/demo.json" "$work/demo.json" "$root/data/synth" "$work" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
# Model files are named relative to configs/: make them absolute, the suite now lives elsewhere.
for e in s["encoders"]:
    for k in ("checkpoint", "architecture_from", "file"):
        if k in e and not os.path.isabs(e[k]):
            e[k] = os.path.normpath(os.path.join(os.path.dirname(sys.argv[1]), e[k]))
s["output"] = sys.argv[4] + "/demo-out"
s["cache"] = sys.argv[4] + "/demo-cache"
s["datasets"]["synth"]["root"] = sys.argv[3]
json.dump(s, open(sys.argv[2], "w"), indent=1)
PY
"$exe" -q synth --out "$root/data/synth" --tracks 144 --seconds 15 --seed 1 >/dev/null
# Milliseconds of one run; a failing run stops the script (its time would mean nothing).
seconds() {
  local s
  s=$(date +%s%N)
  "$@" >/dev/null || { echo "demo_cold_warm.sh: failed: $*" >&2; return 1; }
  echo $(( ($(date +%s%N) - s) / 1000000 ))
}
cold=$(seconds "$exe" -q run "$work/demo.json")
warm=$(seconds "$exe" -q run "$work/demo.json")
/usr/bin/python3 -c "import sys; c, w = int(sys.argv[1]) / 1e3, int(sys.argv[2]) / 1e3; \
print(f'P5 demo suite on {sys.argv[3]} cores: cold {c:.1f} s, warm {w:.1f} s, warm/cold {100 * w / c:.1f} %')" "$cold" "$warm" "$(nproc)"

# P6: peak RSS at 1x and 4x the tracks (chroma, linear probe; streaming means it should stay flat).
for n in 48 192; do
  "$exe" -q synth --out "$work/synth-$n" --tracks $n --seconds 30 --seed 2 >/dev/null
  cat > "$work/mem-$n.json" <<JSON
{"name": "mem-$n", "output": "$work/mem-$n-out", "cache": "",
 "datasets": {"s": {"type": "synthetic", "root": "$work/synth-$n", "tracks": $n, "seconds": 30, "seed": 2}},
 "protocol": {"train": "s:train", "valid": "s:valid", "test": "s:test"},
 "encoders": [{"type": "chroma", "segment_seconds": 5}], "probes": [{"type": "linear"}],
 "statistics": {"seeds": 1, "bootstrap": 100}}
JSON
  "$exe" -q run "$work/mem-$n.json" >/dev/null
  printf 'P6 peak RSS, %d tracks x 30 s: %.0f MB\n' $n "$(field "$work/mem-$n-out/report.json" peak_rss_mb)"
  # The same with a robustness block: its analyses hold every condition of a split at once
  # (harness/Robustness.cpp), so this shows whether that grows with the tracks. Cheap deformations
  # (EQ, noise), so the run stays short.
  /usr/bin/python3 - "$work/mem-$n.json" "$work/rob-$n.json" "$work/rob-$n-out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["name"], s["output"] = "rob", sys.argv[3]
s["robustness"] = {"encoders": ["chroma"], "probe": "linear", "sweeps": [
    {"type": "eq", "parameter": "db_per_octave", "unit": "dB/octave", "values": [-6, -3, 3, 6], "options": {"filter": "tilt"}},
    {"type": "noise", "parameter": "snr_db", "unit": "dB SNR", "values": [30, 20, 10, 0], "options": {"color": "pink"}}]}
json.dump(s, open(sys.argv[2], "w"))
PY
  "$exe" -q run "$work/rob-$n.json" >/dev/null
  printf 'P6 peak RSS with a robustness block (8 conditions), %d tracks x 30 s: %.0f MB\n' $n \
    "$(field "$work/rob-$n-out/report.json" peak_rss_mb)"
done
