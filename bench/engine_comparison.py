#!/usr/bin/python3
"""Rubber Band R2 ("faster") vs R3 ("finer"): does the cheaper engine change the robustness analyses?

Builds two suites from configs/demo.json that differ only in the pitch-shift engine (the sweep, the
controls, decodability, the train-shift matrix and training-time augmentation all follow it): the
demo's robustness encoders (chroma and the pre-trained MCPT ViT), the linear probe, one seed, the
demo's pitch-shift grid. Each runs cold with its own cache, so the deformation CPU time of each
engine is measured on the same work. Prints, per encoder, every analysis side by side with the
difference R3 - R2, and the cost of each engine; exits 0.

Usage: bench/engine_comparison.py [BUILD_DIR=build] [OUT_DIR=runs/engines]
"""
import json
import os
import shutil
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build"))
out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "runs", "engines"))
exe = os.path.join(build, "mcpt-eval")
demo = json.load(open(os.path.join(root, "configs", "demo.json")))

reports = {}
for engine in ("faster", "finer"):
    s = json.loads(json.dumps(demo))
    s["name"] = f"engines-{engine}"
    s["description"] = f"Rubber Band engine {engine!r} for every pitch shift of the demo's robustness study"
    s["output"] = os.path.join(out, engine)
    s["cache"] = os.path.join(out, f"cache-{engine}")
    s["datasets"]["synth"]["root"] = os.path.join(root, "data", "synth")
    keep = set(s["robustness"]["encoders"])
    s["encoders"] = [e for e in s["encoders"] if e["name"] in keep]
    for e in s["encoders"]:
        if "checkpoint" in e:
            e["checkpoint"] = os.path.join(root, "models", os.path.basename(e["checkpoint"]))
    s["probes"] = [p for p in s["probes"] if p["type"] == "linear"]
    s["statistics"] = {"seeds": 1, "bootstrap": 1000}
    r = s["robustness"]
    r["sweeps"] = [w for w in r["sweeps"] if w["type"] == "pitch_shift"]
    for w in r["sweeps"]:
        w["options"] = {"engine": engine}
    r["training_augmentation"]["engine"] = engine
    shutil.rmtree(s["cache"], ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"suite-{engine}.json")
    json.dump(s, open(path, "w"), indent=1)
    subprocess.run([exe, "-q", "run", path], check=True)
    reports[engine] = json.load(open(os.path.join(s["output"], "report.json")))

r2, r3 = reports["faster"], reports["finer"]


def by_encoder(rep, field):
    return {e["encoder"]: e for e in rep["robustness"].get(field, [])}


def pct(x):
    return f"{100 * x:5.1f}"


def ci(c):
    return f"[{100 * c[0]:.1f}, {100 * c[1]:.1f}]"


print(f"# Rubber Band R2 vs R3 on the demo's robustness study ({r2['provenance']['threads']} threads)")
for rep, name in ((r2, "R2 faster"), (r3, "R3 finer")):
    st = rep["provenance"]["stages"]
    print(f"{name}: deform {st['deform_cpu_s']:.1f} CPU-s, embed {st['embed_cpu_s']:.1f} CPU-s, "
          f"wall {rep['provenance']['wall_seconds']:.1f} s")
print()
for enc in by_encoder(r2, "accuracy_vs_strength"):
    print(f"## {enc}")
    a2 = by_encoder(r2, "accuracy_vs_strength")[enc]
    a3 = by_encoder(r3, "accuracy_vs_strength")[enc]
    c2 = {p["semitones"]: p for p in by_encoder(r2, "consistency")[enc]["points"]}
    c3 = {p["semitones"]: p for p in by_encoder(r3, "consistency")[enc]["points"]}
    i2 = {p["strength"]: p for p in by_encoder(r2, "invariance")[enc]["points"]}
    i3 = {p["strength"]: p for p in by_encoder(r3, "invariance")[enc]["points"]}
    print("| shift | acc R2 (95% CI) | acc R3 (95% CI) | R3-R2 | consistency R2 | R3 | cosine R2 | R3 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p2, p3 in zip(a2["points"], a3["points"]):
        k = p2["strength"]
        m2, m3 = p2["moved"], p3["moved"]
        print(f"| {k:+.0f} | {pct(m2['accuracy'])} {ci(m2['accuracy_ci'])} | {pct(m3['accuracy'])} {ci(m3['accuracy_ci'])} "
              f"| {100 * (m3['accuracy'] - m2['accuracy']):+.1f} | {pct(c2[k]['value'])} | {pct(c3[k]['value'])} "
              f"| {i2[k]['cosine']:.4f} | {i3[k]['cosine']:.4f} |")
    k2 = {c["name"]: c for c in by_encoder(r2, "controls")[enc]["controls"]}
    k3 = {c["name"]: c for c in by_encoder(r3, "controls")[enc]["controls"]}
    print()
    print("| control | acc R2 | acc R3 | cosine R2 | cosine R3 |")
    print("|---|---:|---:|---:|---:|")
    for n in k2:
        print(f"| {k2[n]['label']} | {pct(k2[n]['accuracy'])} | {pct(k3[n]['accuracy'])} | {k2[n]['cosine']:.4f} | {k3[n]['cosine']:.4f} |")
    d2, d3 = by_encoder(r2, "decodability")[enc], by_encoder(r3, "decodability")[enc]
    print()
    print(f"decodability of the shift (chance {pct(d2['chance'])}): R2 {pct(d2['accuracy'])} {ci(d2['accuracy_ci'])}, "
          f"R3 {pct(d3['accuracy'])} {ci(d3['accuracy_ci'])}")
    t2, t3 = by_encoder(r2, "train_test")[enc], by_encoder(r3, "train_test")[enc]
    diffs = [abs(b - a) for ra, rb in zip(t2["accuracy"], t3["accuracy"]) for a, b in zip(ra, rb)]
    print(f"train x test matrix: largest |R3 - R2| over {len(diffs)} cells {100 * max(diffs):.1f} points, "
          f"mean {100 * sum(diffs) / len(diffs):.1f}")
    g2, g3 = by_encoder(r2, "training_augmentation")[enc], by_encoder(r3, "training_augmentation")[enc]
    print(f"training-time augmentation, clean test accuracy: R2 {pct(g2['clean_test']['augmented']['accuracy'])}, "
          f"R3 {pct(g3['clean_test']['augmented']['accuracy'])}")
    print()
