#!/usr/bin/python3
"""C++ (LibTorch) vs python3-torch eager: the mcpt ViT forward on the same weights, batch and threads.

Writes one random checkpoint with tools/mcpt_reference.py, times Python's forward_layers on it,
runs build/bench_mcpt on the same file (Google Benchmark, JSON), and measures a plain float32
matmul in the same process as the GEMM peak both sides could reach with these threads.

usage: bench/mcpt_python_side_by_side.py [--bench build/bench_mcpt] [--batch 32] [--threads 2]
                                         [--patch vertical] [--dim 384 --depth 12 ...] [--iters 5]
Prints a Markdown table row set for docs/performance.md.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import mcpt_reference as ref  # noqa: E402
import torch  # noqa: E402


def flops_per_segment(c, tokens):
    n, d, inner, m = tokens, c["dim"], c["heads"] * c["dim_head"], c["mlp_dim"]
    pd = 256
    per_layer = 2 * n * d * 3 * inner + 2 * 2 * n * n * inner + 2 * n * inner * d + 2 * 2 * n * d * m
    kinds = 2 if c["patch"] == "hybrid" else 1
    return kinds * (2 * n * pd * d + c["depth"] * per_layer)


def time_it(fn, iters):
    fn()  # warm-up (allocations, thread pool start)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench_mcpt"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--patch", default="vertical", choices=["base", "vertical", "hybrid"])
    for name, default in (("dim", 384), ("depth", 12), ("heads", 6), ("dim-head", 64), ("mlp-dim", 1536)):
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    config = ref.full_config(a.patch, a.dim, a.depth, a.heads, a.dim_head, a.mlp_dim, 50000, "log")
    torch.manual_seed(0)
    model = ref.build(config).eval()
    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "bench.safetensors")
        ref.save_checkpoint(ck, model, config)

        x = torch.randn(a.batch, ref.N_MELS, config["frames"])
        g = torch.randn(2048, 2048)
        h = torch.randn(2048, 2048)
        with torch.no_grad():
            tokens = model.forward_layers(x[:1]).shape[2]
            model.forward_layers(x)  # warm-up
        # mcpt-eval gives a pthread OpenBLAS the threads and LibTorch's own OpenMP team one
        # (probes/Probe.cpp: the two pools at full size slow each other down); Python is timed both
        # as a user runs it (torch.set_num_threads(n)) and with that same split.
        try:
            blas = ctypes.CDLL("libopenblas.so.0")
            split = blas.openblas_get_parallel() == 1
        except (OSError, AttributeError):
            split = False

        def python_threads(same_split):
            torch.set_num_threads(1 if same_split and split else a.threads)
            if split:
                blas.openblas_set_num_threads(a.threads)

        # Rounds alternate Python, C++ and the GEMM, so a busy machine slows all three alike;
        # medians over rounds.
        py, py_split, cpp, gemm = [], [], [], []
        for _ in range(a.iters):
            for same_split, out in ((False, py), (True, py_split)):
                python_threads(same_split)
                with torch.no_grad():
                    t = time.perf_counter()
                    model.forward_layers(x)
                    out.append(time.perf_counter() - t)
            python_threads(False)
            r = subprocess.run([a.bench, "--checkpoint", ck, "--batch", str(a.batch), "--threads", str(a.threads),
                                "--benchmark_filter=mcpt_forward_layers", "--benchmark_format=json",
                                "--benchmark_min_time=0.01"], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"{a.bench} failed: {r.stderr}")
            runs = [b for b in json.loads(r.stdout)["benchmarks"] if b.get("run_type") == "iteration"]
            cpp.append(runs[0]["real_time"] / 1e3)  # ms -> s
            gemm.append(time_it(lambda: torch.mm(g, h), 3))
        py, py_split, cpp = statistics.median(py), statistics.median(py_split), statistics.median(cpp)
        # GEMM peak: square float32 matmuls, as large as the model's largest, with the same threads.
        gemm_gflops = 2 * 2048 ** 3 / statistics.median(gemm) * 1e-9

    flops = flops_per_segment(config, tokens) * a.batch
    print(f"model: {a.patch}, dim {a.dim}, depth {a.depth}, heads {a.heads} x {a.dim_head}, mlp {a.mlp_dim}; "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; {tokens} tokens; "
          f"batch {a.batch}; {a.threads} threads; torch {torch.__version__}")
    print(f"GEMM peak (2048^3 float32 matmul): {gemm_gflops:.1f} GFLOP/s")
    print("| side | forward (s / batch) | segments / s | GFLOP/s | % of GEMM peak |")
    print("|---|---|---|---|---|")
    rows = [("C++ LibTorch (bench_mcpt)", cpp), (f"python3-torch eager, torch.set_num_threads({a.threads})", py)]
    if split:
        rows.append((f"python3-torch eager, mcpt-eval's split (torch 1, OpenBLAS {a.threads})", py_split))
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {a.batch / t:.1f} | {flops / t * 1e-9:.1f} | {100 * flops / t * 1e-9 / gemm_gflops:.0f} % |")
    print(f"C++ time / Python time: {cpp / py:.3f}" + (f"; against Python with the same split: {cpp / py_split:.3f}" if split else "")
          + f" (medians of {a.iters} alternating rounds)")
    print(f"P3 MCPT ViT forward: C++/Python time {cpp / py:.2f} (goal <= 1.0), "
          f"{100 * flops / cpp * 1e-9 / gemm_gflops:.0f} % of the GEMM peak (goal >= 50 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
