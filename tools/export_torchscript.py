#!/usr/bin/env python3
"""Export an audio foundation model to TorchScript for mcpt-eval's `torchscript` encoder.

The harness calls the exported module with float32 audio at the model's sample rate, shape
[batch, samples] (suite "input": "waveform"), and reads back the hidden states as a tuple of
[batch, frames, dim] tensors, one per layer (suite "output": "layers", "layout": "BTD").
This script wraps a model so it follows that convention, traces it, checks the traced module
against the eager model, stores the calling convention in the archive (extra file mcpt.json, which
the harness checks against the suite), and prints the suite entry to use.

  # Hugging Face models that return `hidden_states` (MERT, wav2vec 2.0, HuBERT, ...):
  python3 tools/export_torchscript.py --hf m-a-p/MERT-v1-95M --out models/mert-v1-95m.pt
  # MuQ (pip install muq):
  python3 tools/export_torchscript.py --muq OpenMuQ/MuQ-large-msd-iter --out models/muq-large.pt
  # A small random conv + transformer model, no downloads (used by the tests):
  python3 tools/export_torchscript.py --toy --out /tmp/toy.pt --reference /tmp/toy.json

--hf needs `pip install torch transformers` (and whatever the model's own code imports: MERT's
remote code wants `nnAudio`; pass --trust-remote-code for it); --muq needs `pip install muq`.
Debian's python3-torch is enough for --toy. Exported files are code: load only ones you trust.
See docs/torchscript.md.
"""
import argparse
import json
import math
import sys

import torch
import torch.nn as nn


class HiddenStates(nn.Module):
    """Wraps a model that returns an object with `.hidden_states` (Hugging Face style) so that it
    maps [batch, samples] -> tuple of [batch, frames, dim], the convention the harness expects."""

    def __init__(self, model: nn.Module, call: str = "hf"):
        super().__init__()
        self.model = model
        self.call = call

    def forward(self, waveform: torch.Tensor):
        if self.call == "muq":
            out = self.model(waveform, output_hidden_states=True)
        else:
            # The harness normalises the waveform itself (suite "normalize"), so no attention mask
            # or processor runs here: every item of a batch has the full segment length.
            out = self.model(input_values=waveform, output_hidden_states=True, return_dict=True)
        return tuple(out.hidden_states)


# ---------------------------------------------------------------------------------------------
# The toy model: a wav2vec 2.0-shaped encoder (strided conv front end + pre-norm transformer), with
# random weights. Written out by hand (no fused nn.Transformer fast paths) so eager and traced
# computations are the same operations.


class ToyOutput:
    def __init__(self, last_hidden_state, hidden_states):
        self.last_hidden_state = last_hidden_state
        self.hidden_states = hidden_states


class ToyBlock(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        q, k, v = [z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v)]
        a = torch.softmax(q @ k.transpose(-1, -2) * self.scale, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))


class ToyEncoder(nn.Module):
    """16 kHz audio -> 50 frames/s (25 ms windows, 20 ms hop) -> `depth` transformer blocks."""

    def __init__(self, dim: int = 32, depth: int = 2, heads: int = 4):
        super().__init__()
        self.conv = nn.Conv1d(1, dim, kernel_size=400, stride=320)
        self.norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList([ToyBlock(dim, heads) for _ in range(depth)])

    def forward(self, input_values, output_hidden_states=False, return_dict=True):
        x = self.norm(torch.nn.functional.gelu(self.conv(input_values.unsqueeze(1))).transpose(1, 2))
        hidden = [x]
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return ToyOutput(x, tuple(hidden) if output_hidden_states else None)


def test_signal(sample_rate: int, seconds: float) -> torch.Tensor:
    """The signal the --reference embedding is computed on; torchscript_test.cpp builds the same."""
    n = int(round(seconds * sample_rate))
    i = torch.arange(n, dtype=torch.float64)
    x = 0.3 * torch.sin(2 * math.pi * 440.0 * i / sample_rate) + 0.2 * torch.sin(2 * math.pi * 1234.0 * i / sample_rate)
    return x.to(torch.float32)


def zero_mean_unit_var(x: torch.Tensor) -> torch.Tensor:
    """Wav2Vec2FeatureExtractor's normalisation, per item; the harness applies the same in C++."""
    x64 = x.to(torch.float64)
    mean = x64.mean(-1, keepdim=True)
    var = ((x64 - mean) ** 2).mean(-1, keepdim=True)
    return ((x64 - mean) / torch.sqrt(var + 1e-7)).to(torch.float32)


# ---------------------------------------------------------------------------------------------


def load_hf(name: str, trust_remote_code: bool):
    from transformers import AutoFeatureExtractor, AutoModel  # pip install transformers

    model = AutoModel.from_pretrained(name, trust_remote_code=trust_remote_code)
    fe = AutoFeatureExtractor.from_pretrained(name, trust_remote_code=trust_remote_code)
    normalize = "zero_mean_unit_var" if getattr(fe, "do_normalize", False) else "none"
    return HiddenStates(model, "hf"), int(fe.sampling_rate), normalize


def load_muq(name: str):
    from muq import MuQ  # pip install muq

    model = MuQ.from_pretrained(name)
    return HiddenStates(model, "muq"), 24000, "none"  # MuQ takes raw 24 kHz audio


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--hf", metavar="NAME", help="Hugging Face model id or folder (MERT, wav2vec 2.0, HuBERT ...)")
    src.add_argument("--muq", metavar="NAME", help="MuQ model id, e.g. OpenMuQ/MuQ-large-msd-iter")
    src.add_argument("--toy", action="store_true", help="a small random conv+transformer model (no download)")
    p.add_argument("--out", required=True, help="the .pt file to write")
    p.add_argument("--segment-seconds", type=float, default=5.0, help="segment length to trace with (default 5)")
    p.add_argument("--trust-remote-code", action="store_true", help="let --hf run the model's own code (MERT needs it)")
    p.add_argument("--seed", type=int, default=0, help="--toy: weight seed")
    p.add_argument("--reference", metavar="JSON",
                   help="also write the eager model's hidden states on test_signal(2 s) for checking the C++ side")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    if a.toy:
        wrapped, sample_rate, normalize, name = HiddenStates(ToyEncoder(), "hf"), 16000, "zero_mean_unit_var", "toy"
    elif a.hf:
        (wrapped, sample_rate, normalize), name = load_hf(a.hf, a.trust_remote_code), a.hf
    else:
        (wrapped, sample_rate, normalize), name = load_muq(a.muq), a.muq
    wrapped.eval()

    n = int(round(a.segment_seconds * sample_rate))
    g = torch.Generator().manual_seed(1)
    # Trace with a batch of two, so no batch size of one gets baked into reshapes.
    example = zero_mean_unit_var(0.1 * torch.randn(2, n, generator=g))
    with torch.no_grad():
        traced = torch.jit.trace(wrapped, example, strict=False, check_trace=False)
        # The traced graph must generalise: compare with eager on another batch size and length
        # (the harness passes shorter segments for tracks shorter than one segment).
        for b, length in [(1, n), (3, n // 2 + 123)]:
            x = zero_mean_unit_var(0.1 * torch.randn(b, length, generator=g))
            eager, tr = wrapped(x), traced(x)
            if len(eager) != len(tr):
                sys.exit("traced module returns {} layers, eager {}".format(len(tr), len(eager)))
            err = max(float((e - t).abs().max()) for e, t in zip(eager, tr))
            scale = max(float(e.abs().max()) for e in eager)
            if err > 1e-4 * max(1.0, scale):
                sys.exit("traced module differs from eager by {:.3g} at batch {}, {} samples: the model has "
                         "shape-dependent Python control flow; script it or trace at the length you will use"
                         .format(err, b, length))
        hidden = wrapped(example[:1])
    layers, frames, dim = len(hidden), hidden[0].shape[1], hidden[0].shape[2]

    meta = {"sample_rate": sample_rate, "input": "waveform", "output": "layers", "layout": "BTD",
            "normalize": normalize, "model": name, "layers": layers, "dim": dim,
            "exported_with": "torch " + torch.__version__}
    torch.jit.save(traced, a.out, _extra_files={"mcpt.json": json.dumps(meta)})

    if a.reference:
        x = zero_mean_unit_var(test_signal(sample_rate, 2.0).unsqueeze(0))
        with torch.no_grad():
            h = wrapped(x)
        ref = {"sample_rate": sample_rate, "seconds": 2.0, "normalize": normalize, "layers": len(h),
               "frames": h[0].shape[1], "dim": h[0].shape[2],
               "data": torch.stack([t[0] for t in h]).flatten().tolist()}
        with open(a.reference, "w") as f:
            json.dump(ref, f)

    entry = {"name": name.split("/")[-1].lower(), "type": "torchscript", "file": a.out, "sample_rate": sample_rate,
             "segment_seconds": a.segment_seconds, "input": "waveform", "output": "layers", "layout": "BTD",
             "layers": "all", "normalize": normalize}
    print("wrote {}: {} layers x {} frames x {} dims per {} s segment".format(a.out, layers, frames, dim,
                                                                           a.segment_seconds))
    print("suite entry:\n" + json.dumps(entry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
