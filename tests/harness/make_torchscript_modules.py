#!/usr/bin/python3
"""Writes the small TorchScript modules that tests/harness/torchscript_test.cpp loads.

Usage: make_torchscript_modules.py OUT_DIR

Each module computes something the test can check exactly (frame statistics of the waveform), or
misbehaves in one specific way (wrong rank, raises on the wrong length, NaN, batch baked in), so the
encoder's error messages can be tested. Needs python3-torch (Debian's 1.13 or later); no weights.
"""
import os
import sys
from typing import List, Tuple

import torch

FRAME = 100  # samples per output frame in every module below


def frame_stats(x: torch.Tensor) -> torch.Tensor:
    """[B, S] -> [B, S // FRAME, 4]: mean, mean square, max, min of each frame of FRAME samples."""
    f = x.unfold(1, 100, 100)  # FRAME (TorchScript cannot close over a global)
    return torch.stack([f.mean(-1), (f * f).mean(-1), f.amax(-1), f.amin(-1)], dim=-1)


class Stats(torch.nn.Module):
    """Input [B, S] -> [B, T, 4] frame statistics; declares the rate it expects."""
    sample_rate: int

    def __init__(self, sample_rate: int = 16000):
        super().__init__()
        self.sample_rate = sample_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_stats(x)


class StatsChannel(torch.nn.Module):
    """Input [B, 1, S] only (like a conv front end with one input channel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.size(1) != 1:
            raise ValueError("expected [batch, 1, samples], got " + str(x.shape))
        return frame_stats(x.squeeze(1))


class Layers(torch.nn.Module):
    """Three "hidden states" as a tuple of [B, T, 2]: layer k = (frame mean * (k + 1), frame max + k)."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s = frame_stats(x)
        mean, mx = s[:, :, 0], s[:, :, 2]
        return (torch.stack([mean, mx], -1), torch.stack([mean * 2, mx + 1], -1), torch.stack([mean * 3, mx + 2], -1))


class LayersList(torch.nn.Module):
    """The same three layers as a List[Tensor]."""

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        s = frame_stats(x)
        mean, mx = s[:, :, 0], s[:, :, 2]
        return [torch.stack([mean, mx], -1), torch.stack([mean * 2, mx + 1], -1), torch.stack([mean * 3, mx + 2], -1)]


class Stacked(torch.nn.Module):
    """The same three layers as one tensor, in the layout named by `layout`."""
    layout: str

    def __init__(self, layout: str):
        super().__init__()
        self.layout = layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = frame_stats(x)
        mean, mx = s[:, :, 0], s[:, :, 2]
        lbtd = torch.stack([torch.stack([mean, mx], -1), torch.stack([mean * 2, mx + 1], -1),
                            torch.stack([mean * 3, mx + 2], -1)], 0)
        if self.layout == "LBTD":
            return lbtd
        if self.layout == "BLTD":
            return lbtd.permute(1, 0, 2, 3)
        if self.layout == "BDT":
            return lbtd[0].permute(0, 2, 1)
        if self.layout == "BD":
            return lbtd[0].mean(1)
        if self.layout == "LBD":
            return lbtd.mean(2)
        raise ValueError("unknown layout " + self.layout)


class Ragged(torch.nn.Module):
    """Two layers of different widths: not a stack of hidden states."""

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        s = frame_stats(x)
        return s, s[:, :, :2]


class FixedLength(torch.nn.Module):
    """Raises unless given exactly one second at 16 kHz."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(1) != 16000:
            raise ValueError("expected 16000 samples, got " + str(x.size(1)))
        return frame_stats(x)


class WrongRank(torch.nn.Module):
    """Returns [B, T]: no feature axis."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_stats(x)[:, :, 0]


class NanWhenLoud(torch.nn.Module):
    """Fine for quiet input; NaN as soon as a sample exceeds 0.9 in magnitude."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = frame_stats(x)
        if bool(x.abs().max() > 0.9):
            s = s * float("nan")
        return s


class BatchReport(torch.nn.Module):
    """[B, T, 2]: frame mean, and the batch size the item was computed in. The matrix products only
    make each call take a few milliseconds, so that concurrent callers overlap and get batched."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("w", torch.randn(192, 192, generator=g) / 14.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.eye(192)
        for _ in range(10):
            h = torch.tanh(h @ self.w)
        s = frame_stats(x)
        busy = h.sum() * 0.0  # keep the products from being dropped as dead code
        b = torch.full_like(s[:, :, 0], float(x.size(0))) + busy
        return torch.stack([s[:, :, 0], b], -1)


class Reshape(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_stats(x.reshape(1, -1))


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def save(module: torch.nn.Module, name: str) -> None:
        torch.jit.script(module).save(os.path.join(out, name))

    save(Stats(), "stats.pt")
    save(Stats(24000), "stats_24k.pt")
    save(StatsChannel(), "stats_channel.pt")
    save(Layers(), "layers_tuple.pt")
    save(LayersList(), "layers_list.pt")
    for layout in ["LBTD", "BLTD", "BDT", "BD", "LBD"]:
        save(Stacked(layout), "stacked_{}.pt".format(layout.lower()))
    save(Ragged(), "ragged.pt")
    save(FixedLength(), "fixed_length.pt")
    save(WrongRank(), "wrong_rank.pt")
    save(NanWhenLoud(), "nan_when_loud.pt")
    save(BatchReport(), "batch_report.pt")
    # A traced model with the batch size baked in: it works for one item and fails for two.
    torch.jit.trace(Reshape(), torch.zeros(1, 1600)).save(os.path.join(out, "batch1_only.pt"))

    # Files that are not TorchScript modules.
    torch.save(Stats().state_dict(), os.path.join(out, "state_dict.pt"))
    torch.save({"weights": torch.zeros(3)}, os.path.join(out, "pickle.pt"))
    with open(os.path.join(out, "stats.pt"), "rb") as f:
        data = f.read()
    with open(os.path.join(out, "truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(out, "text.pt"), "w") as f:
        f.write("not a model\n")


if __name__ == "__main__":
    main()
