#!/usr/bin/env bash
# Installs everything mcpt-eval needs to build, run and test on Debian 12 (as root, or with sudo).
# Idempotent: a second run only checks. Packages and why each one is here: README.md, "Dependencies".
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev                       # ViT encoders, probes (LibTorch 1.13 in Debian 12)
  libopenblas0-pthread               # fast BLAS for LibTorch (the default libblas.so.3 is the slow reference BLAS)
  librubberband-dev                  # pitch shift / time stretch
  rubberband-cli                     # the `rubberband` tool, for the side-by-side benchmark and reference checks
  libplplot-dev plplot-driver-cairo  # publication plots (PDF, SVG, PNG through cairo)
  libsndfile1-dev                    # WAV/FLAC/OGG/MP3 decoding
  libsoxr-dev                        # resampling at load time (fast, very high quality)
  libsamplerate0-dev                 # resampling: the sinc_* resamplers and the resample_shift deformation
  libfluidsynth-dev timgm6mb-soundfont  # synthetic corpus: real General MIDI synthesis
  fluidr3mono-gm-soundfont           # a second, compressed (.sf3) GM font: pre-training data, sf3 rendering test
  nlohmann-json3-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-mir-eval python3-jsonschema python3-numpy  # reference checks in tests
  python3-torch                      # Python reference of the MCPT ViT; TorchScript test modules
  python3-sklearn                    # side-by-side probe benchmark (LogisticRegression)
  clang libclang-rt-14-dev           # libFuzzer targets (tools/fuzz.sh, tests/fuzz)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} packages"
