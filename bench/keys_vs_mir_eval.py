#!/usr/bin/python3
"""P1: key scoring of 10^5 (reference, estimate) pairs, mcpt-eval vs python3-mir-eval.

Same pairs (random keys in mir_eval's "tonic mode" spelling, 24 classes), same metric
(key.weighted_score, mir_eval 0.7). Checks that every score is identical, then prints the time of
each side and the ratio. Usage: bench/keys_vs_mir_eval.py BUILD_DIR [N]
"""
import random
import subprocess
import sys
import tempfile
import time

import mir_eval

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
rng = random.Random(1)
tonics = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
pairs = [(f"{rng.choice(tonics)} {rng.choice(['major', 'minor'])}",
          f"{rng.choice(tonics)} {rng.choice(['major', 'minor'])}") for _ in range(n)]

t0 = time.perf_counter()
py = [mir_eval.key.weighted_score(r, e) for r, e in pairs]
t_py = time.perf_counter() - t0

with tempfile.NamedTemporaryFile("w", suffix=".tsv") as f:
    f.write("".join(f"{r}\t{e}\n" for r, e in pairs))
    f.flush()
    p = subprocess.run([f"{build}/bench/bench_key_pairs", f.name], capture_output=True, text=True, check=True)
cpp = [float(x) for x in p.stdout.split()]
t_cpp = float(p.stderr.split()[-1])

mismatch = sum(1 for a, b in zip(py, cpp) if a != b) + abs(len(py) - len(cpp))
print(f"P1 key scoring, {n} pairs: mir_eval {t_py:.3f} s, mcpt-eval {t_cpp:.4f} s, "
      f"speed-up {t_py / t_cpp:.0f}x, mismatches {mismatch}")
sys.exit(1 if mismatch else 0)
