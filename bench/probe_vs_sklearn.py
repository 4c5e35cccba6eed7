#!/usr/bin/python3
"""Linear probe vs scikit-learn's LogisticRegression on identical features: training time and accuracy.

Generates a planted 24-class problem of a realistic size for key probing (default 1000 training rows x
512 dims, like one pooled embedding per track), writes it as raw arrays, fits mcpt-eval's linear probe
through build/bench/bench_probe_fit and sklearn's multinomial logistic regression on the same arrays,
and prints a Markdown table (the numbers in docs/performance.md, section P4).

usage: /usr/bin/python3 bench/probe_vs_sklearn.py [--exe build/bench/bench_probe_fit] [--train 1000]
       [--dim 512] [--repeats 3] [--threads 2] [--seed 1]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np


def planted(n, dim, classes, rng, means, mixing):
    """Class means in a 48-dim subspace, anisotropic noise mixed over every dimension (about 70 % accuracy)."""
    y = rng.integers(0, classes, size=n)
    latent = rng.standard_normal((n, dim)).astype(np.float32)
    x = means[y] + latent @ mixing
    return x.astype(np.float32), y.astype(np.int32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = pathlib.Path(__file__).resolve().parents[1]
    ap.add_argument("--exe", default=str(root / "build" / "bench" / "bench_probe_fit"))
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--valid", type=int, default=250)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    a = ap.parse_args()
    if not os.access(a.exe, os.X_OK):
        sys.exit(f"{a.exe}: not built (ninja -C build bench_probe_fit)")
    # Same thread count on both sides (OpenBLAS for numpy/sklearn, LibTorch + OpenBLAS for ours).
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(a.seed)
    sub = 48
    basis = np.linalg.qr(rng.standard_normal((a.dim, sub)))[0].T  # sub x dim, orthonormal rows
    means = (rng.standard_normal((a.classes, sub)) * 0.12) @ basis * np.sqrt(a.dim / sub)
    mixing = (rng.standard_normal((a.dim, a.dim)) / np.sqrt(a.dim)) * rng.uniform(0.3, 1.7, size=a.dim)
    data = {s: planted(n, a.dim, a.classes, rng, means, mixing)
            for s, n in (("train", a.train), ("valid", a.valid), ("test", a.test))}

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for s, (x, y) in data.items():
            x.astype("<f4").tofile(f"{tmp}/x_{s}.f32")
            y.astype("<i4").tofile(f"{tmp}/y_{s}.i32")
        json.dump({"dim": a.dim, "classes": a.classes, "train": a.train, "valid": a.valid, "test": a.test},
                  open(f"{tmp}/meta.json", "w"))
        def ours(config, system):
            # bench_probe_fit fits 3 times in one process and reports the median, as scikit-learn's
            # fits below run one after another in one interpreter (the first fit of a process also
            # pays for first-use set-up: it is in the JSON as first_fit_seconds).
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                out = subprocess.run([a.exe, tmp, json.dumps(config), str(a.threads), "3"], check=True,
                                     capture_output=True, text=True).stdout
                wall = time.perf_counter() - t0
                r = json.loads(out)
                results.append({"system": system, "fit_s": r["fit_seconds"], "wall_s": wall,
                                "accuracy": r["test_accuracy"], "epochs": r["epochs_run"]})

        ours({"type": "linear"}, "mcpt-eval linear probe (AdamW, lr 1e-2, wd 1e-4, batch 256, early stopping "
                                 "on validation, patience 20)")
        # The same objective as sklearn's LogisticRegression(C=1): weight_decay = 1 / (C * n_train).
        ours({"type": "linear", "solver": "lbfgs", "weight_decay": 1.0 / a.train},
             "mcpt-eval linear probe, solver lbfgs, weight_decay 1/n (= sklearn C=1)")

    (xt, yt), (xv, yv), (xs, ys) = data["train"], data["valid"], data["test"]

    def sk_fit(c):
        t0 = time.perf_counter()
        scaler = StandardScaler().fit(xt)  # training split only, as ours
        clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(xt), yt)
        return time.perf_counter() - t0, scaler, clf

    for _ in range(a.repeats):
        fit_s, scaler, clf = sk_fit(1.0)
        results.append({"system": "sklearn LogisticRegression (lbfgs, C=1, default)", "fit_s": fit_s, "wall_s": fit_s,
                        "accuracy": float((clf.predict(scaler.transform(xs)) == ys).mean()), "epochs": int(clf.n_iter_[0])})
    for _ in range(a.repeats):
        # C chosen on validation from a grid: the time is the whole search, like a grid in a suite.
        t0 = time.perf_counter()
        best = None
        for c in (0.001, 0.01, 0.1, 1.0):
            _, scaler, clf = sk_fit(c)
            v = float((clf.predict(scaler.transform(xv)) == yv).mean())
            if best is None or v > best[0]:
                best = (v, c, scaler, clf)
        fit_s = time.perf_counter() - t0
        _, c, scaler, clf = best
        results.append({"system": f"sklearn LogisticRegression, C from {{0.001, 0.01, 0.1, 1}} on validation (C={c})",
                        "fit_s": fit_s, "wall_s": fit_s,
                        "accuracy": float((clf.predict(scaler.transform(xs)) == ys).mean()), "epochs": int(clf.n_iter_[0])})

    print(f"planted {a.classes}-class problem: {a.train} train / {a.valid} valid / {a.test} test rows x {a.dim} dims, "
          f"{a.threads} threads, median of {a.repeats} runs\n")
    print("| system | fit time (s) | test accuracy % | epochs / iterations |")
    print("|---|---:|---:|---:|")
    for name in dict.fromkeys(r["system"] for r in results):
        rs = [r for r in results if r["system"] == name]
        t = float(np.median([r["fit_s"] for r in rs]))
        print(f"| {name} | {t:.3f} | {100 * np.median([r['accuracy'] for r in rs]):.1f} | {rs[0]['epochs']} |")
    med = {name: float(np.median([r["fit_s"] for r in results if r["system"] == name]))
           for name in dict.fromkeys(r["system"] for r in results)}
    acc = {name: float(np.median([r["accuracy"] for r in results if r["system"] == name])) for name in med}
    ours_l, sk = "mcpt-eval linear probe, solver lbfgs, weight_decay 1/n (= sklearn C=1)", "sklearn LogisticRegression (lbfgs, C=1, default)"
    if ours_l in med and sk in med:
        print(f"P4 linear probe vs sklearn, {a.threads} threads: {med[sk] / med[ours_l]:.1f}x faster (goal >= 5x), "
              f"accuracy {100 * acc[ours_l]:.1f} vs {100 * acc[sk]:.1f} % (goal within 0.5 points)")
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
