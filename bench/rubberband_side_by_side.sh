#!/usr/bin/env bash
# Side by side: `mcpt-eval augment` against the `rubberband` command-line tool (same Rubber Band
# Library, same engine and options, same files), for a +3 semitone shift of 44.1 kHz mono music.
#   1. time per file (best of REPS) for R3 ("finer"; rubberband -3) and R2 ("faster"; rubberband -2,
#      with --bl-transients = our default transients "mixed", and with the CLI's default "crisp");
#   2. N files on all cores: rubberband one after another (how the tool is used in a shell loop),
#      rubberband under `xargs -P CORES`, and `mcpt-eval augment --list` (our thread pool).
# Also prints how far our output is from the tool's (SNR of the difference), to show the settings match.
# Usage: bench/rubberband_side_by_side.sh [BUILD_DIR=build] [N_FILES=8] [SECONDS=30] [REPS=3]
# (MCPT_EVAL=path overrides BUILD_DIR/mcpt-eval; RUBBERBAND=path the tool.)
set -euo pipefail
BUILD=${1:-build}
N=${2:-8}
SECS=${3:-30}
REPS=${4:-3}
EXE=${MCPT_EVAL:-$BUILD/mcpt-eval}
RB=${RUBBERBAND:-rubberband}
PY=/usr/bin/python3
CORES=$(nproc)
[[ -x "$EXE" ]] || { echo "no $EXE (build it first: ninja -C $BUILD mcpt-eval)" >&2; exit 2; }
command -v "$RB" >/dev/null || { echo "no rubberband CLI (apt-get install rubberband-cli)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rb-side.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Inputs: tracks of the synthetic corpus (FluidSynth: bass, chords, melody, drums) at 44.1 kHz,
# converted to 16-bit mono WAV so both tools read the same bytes through libsndfile.
"$EXE" synth --out "$WORK/synth" --tracks 24 --seconds "$SECS" --sample-rate 44100 --seed 7 -q >/dev/null
mapfile -t SRC < <(find "$WORK/synth" -type f \( -name '*.flac' -o -name '*.wav' -o -name '*.ogg' \) | sort | head -n "$N")
mkdir -p "$WORK/in" "$WORK/ours" "$WORK/rb"
: >"$WORK/list.tsv"
for i in "${!SRC[@]}"; do
  "$EXE" augment "${SRC[$i]}" "$WORK/in/$i.wav" '{"type": "identity"}' --format wav -q
  printf '%s\t%s\n' "$WORK/in/$i.wav" "$WORK/ours/$i.wav" >>"$WORK/list.tsv"
done
NF=${#SRC[@]}

# best_of CMD...: the smallest wall time of REPS runs, in seconds; CPU (user + sys, children
# included) of that run goes to $CPU. CPU time is the fairer figure on a shared, loaded machine.
CPU=0
best_of() {
  local best="" t w u s
  for _ in $(seq "$REPS"); do
    t=$( { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
    read -r w u s <<<"$t"
    if [[ -z "$best" ]] || (($(echo "$w < $best" | bc -l))); then best=$w; CPU=$(echo "$u + $s" | bc -l); fi
  done
  printf '%.3f' "$best"
}
xrt() { printf '%.1f' "$(echo "$1 / $2" | bc -l)"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
snr() {
  "$PY" - "$1" "$2" <<'EOF'
import sys, warnings
import numpy as np
from scipy.io import wavfile
warnings.filterwarnings("ignore")
def read(path):  # 16-bit PCM as [-1, 1), float as it is
    x = wavfile.read(path)[1]
    return x.astype(float) / 32768 if x.dtype == np.int16 else x.astype(float)
a = read(sys.argv[1]); b = read(sys.argv[2])
a = a if a.ndim == 1 else a.mean(axis=1); b = b if b.ndim == 1 else b.mean(axis=1)
n = min(len(a), len(b)); a, b = a[:n], b[:n]
d = np.sum((a - b) ** 2)
print("identical" if d == 0 else f"{10 * np.log10(np.sum(a ** 2) / d):.1f} dB", f"(lengths {len(a)}, {len(b)})")
EOF
}

IN0="$WORK/in/0.wav"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rubberband CLI $("$RB" --version 2>&1 | tail -1); mcpt-eval $("$EXE" --version)"
echo "files: $NF x ${SECS} s, 44.1 kHz mono 16-bit WAV; +3 semitones; best of $REPS"
echo
echo "1. one file (${SECS} s of audio)"
printf '%-34s %10s %8s %9s %8s   %s\n' "engine / options" "wall s" "xRT" "CPU s" "xRT/CPU" "tool"
declare -A OURS=(
  [R3]='{"type": "pitch_shift", "semitones": 3}'
  [R2-mixed]='{"type": "pitch_shift", "semitones": 3, "engine": "faster"}'
  [R2-crisp]='{"type": "pitch_shift", "semitones": 3, "engine": "faster", "transients": "crisp"}'
)
per_file=""
declare -A TOOL=([R3]="-3" [R2-mixed]="-2 --bl-transients" [R2-crisp]="-2")
for e in R3 R2-mixed R2-crisp; do
  # shellcheck disable=SC2086
  best_of "$RB" -q ${TOOL[$e]} -p 3 "$IN0" "$WORK/rb/0-$e.wav" >"$WORK/t" && t_rb=$(cat "$WORK/t") c_rb=$CPU
  best_of "$EXE" augment "$IN0" "$WORK/ours/0-$e.wav" "${OURS[$e]}" --format wav -q >"$WORK/t" && t_us=$(cat "$WORK/t") c_us=$CPU
  printf '%-34s %10s %8s %9.3f %8s   %s\n' "$e (${TOOL[$e]} -p 3)" "$t_rb" "$(xrt "$SECS" "$t_rb")" "$c_rb" "$(xrt "$SECS" "$c_rb")" "rubberband"
  printf '%-34s %10s %8s %9.3f %8s   %s\n' "$e" "$t_us" "$(xrt "$SECS" "$t_us")" "$c_us" "$(xrt "$SECS" "$c_us")" "mcpt-eval augment"
  echo "   output difference (SNR of ours vs the tool's): $(snr "$WORK/rb/0-$e.wav" "$WORK/ours/0-$e.wav")"
  per_file+="$e $(ratio "$t_us" "$t_rb")x, "
done

echo
echo "2. $NF files ($((NF * SECS)) s of audio), R3 +3 semitones, $CORES cores"
seq_rb() { for i in $(seq 0 $((NF - 1))); do "$RB" -q -3 -p 3 "$WORK/in/$i.wav" "$WORK/rb/$i.wav"; done; }
par_rb() { seq 0 $((NF - 1)) | xargs -P "$CORES" -I{} "$RB" -q -3 -p 3 "$WORK/in/{}.wav" "$WORK/rb/{}.wav"; }
ours() { "$EXE" augment --list "$WORK/list.tsv" --threads "$CORES" '{"type": "pitch_shift", "semitones": 3}' -q; }
ours1() { "$EXE" augment --list "$WORK/list.tsv" --threads 1 '{"type": "pitch_shift", "semitones": 3}' -q; }
REPS_SAVED=$REPS
REPS=1
best_of seq_rb >"$WORK/t"; t_seq=$(cat "$WORK/t")
best_of par_rb >"$WORK/t"; t_par=$(cat "$WORK/t")
best_of ours1 >"$WORK/t"; t_one=$(cat "$WORK/t")
best_of ours >"$WORK/t"; t_us=$(cat "$WORK/t")
REPS=$REPS_SAVED
total=$((NF * SECS))
printf '%-44s %10s %8s %9s\n' "" "seconds" "xRT" "speed-up"
printf '%-44s %10s %8s %9s\n' "rubberband, one file after another" "$t_seq" "$(xrt "$total" "$t_seq")" "1.00"
printf '%-44s %10s %8s %9s\n' "rubberband under xargs -P $CORES" "$t_par" "$(xrt "$total" "$t_par")" "$(xrt "$t_seq" "$t_par")"
printf '%-44s %10s %8s %9s\n' "mcpt-eval augment --list, 1 thread" "$t_one" "$(xrt "$total" "$t_one")" "$(xrt "$t_seq" "$t_one")"
printf '%-44s %10s %8s %9s\n' "mcpt-eval augment --list, $CORES threads" "$t_us" "$(xrt "$total" "$t_us")" "$(xrt "$t_seq" "$t_us")"
echo "P2 pitch shift vs rubberband: per file ours/tool ${per_file%, } (goal <= 1.1x); $NF files on $CORES cores $(xrt "$t_seq" "$t_us")x the tool one after another (goal >= 1.8x)"
