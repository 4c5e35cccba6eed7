#!/usr/bin/python3
"""Python reference of the mcpt masked contrastive ViT (Myna's SimpleViT over mel patches).

The same architecture, front end and parameter names as harness/encoders/McptModel.cpp, in plain
PyTorch (Debian's python3-torch 1.13 is enough; no other packages). It writes and reads our
checkpoint format (safetensors layout, see docs/mcpt.md) without the safetensors package.

  mcpt_reference.py init    --out CKPT [--patch vertical --dim 384 --depth 12 --heads 6 --dim-head 64
                                        --mlp-dim 1536 --crop-samples 50000 --log log --seed 0]
                                       [--wav AUDIO.wav --embed-out OUT.safetensors]  (init, then embed)
  mcpt_reference.py convert --myna MYNA.pth --patch base|vertical|hybrid --out CKPT [--heads 6 --dim-head 64
                                        --log none --crop-samples 50000]
  mcpt_reference.py embed   --checkpoint CKPT --wav AUDIO.wav --out OUT.safetensors [--offset 0]
  mcpt_reference.py selftest-myna       (conversion check against a Myna-structured model)

`embed` writes the tensor "layers" [depth + 1, tokens, out_dim] for one crop starting at `offset`
samples (zero-padded at the end when the file is shorter), and "mel" [n_mels, frames].
"""
import argparse
import json
import math
import struct
import sys
import wave

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 2048
HOP = 512
N_MELS = 128
F_MIN = 0.0
F_MAX = 8000.0
LOG_EPS = 1e-6
FORMAT = "mcpt-vit"


# ---------------------------------------------------------------- front end

def slaney_filterbank(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, f_min=F_MIN, f_max=F_MAX):
    """Slaney-scale triangles with Slaney (equal area) normalisation, float64 [n_mels, bins]."""
    f_sp, min_log_hz = 200.0 / 3.0, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0

    def to_mel(f):
        return f / f_sp if f < min_log_hz else min_log_mel + math.log(f / min_log_hz) / logstep

    def to_hz(m):
        return m * f_sp if m < min_log_mel else min_log_hz * math.exp(logstep * (m - min_log_mel))

    lo, hi = to_mel(f_min), to_mel(f_max)
    edges = np.array([to_hz(lo + (hi - lo) * i / (n_mels + 1)) for i in range(n_mels + 2)])
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    fb = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        rise = (freqs - left) / (centre - left)
        fall = (right - freqs) / (right - centre)
        fb[m] = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (right - left))
    return fb


def frames_for_crop(crop_samples, patch):
    """Myna's get_n_frames: centred frames, cut to a multiple of the primary patch width."""
    width = 2 if patch == "vertical" else 16
    return (1 + crop_samples // HOP) // width * width


def mel_spectrogram(x, log, frames):
    """x: 1-D float array of one crop. Returns float32 [N_MELS, frames]."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
    spec = torch.stft(t, N_FFT, hop_length=HOP, window=window, center=True, pad_mode="reflect",
                      return_complex=True).abs() ** 2
    mel = torch.as_tensor(slaney_filterbank()) @ spec
    if log == "log":
        mel = torch.log(mel + LOG_EPS)
    elif log == "log1p":
        mel = torch.log1p(mel)
    return mel[:, :frames].to(torch.float32)


# ---------------------------------------------------------------- model

def posemb_sincos_2d(h, w, dim, temperature=10000):
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    omega = torch.arange(dim // 4) / (dim // 4 - 1)
    omega = 1.0 / (temperature ** omega)
    y = y.flatten()[:, None] * omega[None, :]
    x = x.flatten()[:, None] * omega[None, :]
    return torch.cat((x.sin(), x.cos(), y.sin(), y.cos()), dim=1).to(torch.float32)


class PatchEmbed(nn.Module):
    def __init__(self, n_mels, frames, ph, pw, dim):
        super().__init__()
        self.ph, self.pw, self.gh, self.gw = ph, pw, n_mels // ph, frames // pw
        self.norm_in = nn.LayerNorm(ph * pw)
        self.proj = nn.Linear(ph * pw, dim)
        self.norm_out = nn.LayerNorm(dim)
        self.register_buffer("pos", posemb_sincos_2d(self.gh, self.gw, dim), persistent=False)

    def forward(self, mel):  # [B, n_mels, frames]
        b = mel.shape[0]
        x = mel.reshape(b, self.gh, self.ph, self.gw, self.pw).permute(0, 1, 3, 2, 4)
        x = x.reshape(b, self.gh * self.gw, self.ph * self.pw)
        return self.norm_out(self.proj(self.norm_in(x))) + self.pos


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.to_qkv(self.norm(x)).chunk(3, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, self.dim_head).transpose(1, 2) for t in (q, k, v))
        attn = (q @ k.transpose(-1, -2) * self.dim_head ** -0.5).softmax(dim=-1)
        return self.to_out((attn @ v).transpose(1, 2).reshape(b, n, self.heads * self.dim_head))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))


class Block(nn.Module):
    def __init__(self, dim, heads, dim_head, mlp_dim):
        super().__init__()
        self.attn = Attention(dim, heads, dim_head)
        self.ff = FeedForward(dim, mlp_dim)

    def forward(self, x):
        x = self.attn(x) + x
        return self.ff(x) + x


class McptViT(nn.Module):
    def __init__(self, patch="vertical", dim=384, depth=12, heads=6, dim_head=64, mlp_dim=1536, n_mels=N_MELS,
                 frames=98):
        super().__init__()
        self.patch = patch
        if patch in ("base", "hybrid"):
            self.embed_base = PatchEmbed(n_mels, frames, 16, 16, dim)
        if patch in ("vertical", "hybrid"):
            self.embed_vertical = PatchEmbed(n_mels, frames, n_mels, 2, dim)
        self.blocks = nn.ModuleList([Block(dim, heads, dim_head, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def kinds(self):
        return {"base": ["base"], "vertical": ["vertical"], "hybrid": ["base", "vertical"]}[self.patch]

    def encode(self, x, layers=None):
        if layers is not None:
            layers.append(x)
        for i, blk in enumerate(self.blocks):
            x = blk(x)
            if layers is not None and i + 1 < len(self.blocks):
                layers.append(x)
        x = self.norm(x)
        if layers is not None:
            layers.append(x)
        return x

    def forward(self, mel):
        """Pooled [B, out_dim] (what Myna's SimpleViT returns before its head)."""
        return torch.cat([self.encode(getattr(self, "embed_" + k)(mel)).mean(1) for k in self.kinds()], -1)

    def forward_layers(self, mel):
        """[B, depth + 1, tokens, out_dim]."""
        out = []
        for k in self.kinds():
            layers = []
            self.encode(getattr(self, "embed_" + k)(mel), layers)
            out.append(torch.stack(layers, 1))
        return torch.cat(out, -1)


ARCH_KEYS = ("patch", "dim", "depth", "heads", "dim_head", "mlp_dim")


def build(config):
    frames = frames_for_crop(config["crop_samples"], config["patch"])
    return McptViT(**{k: config[k] for k in ARCH_KEYS}, n_mels=N_MELS, frames=frames)


# ---------------------------------------------------------------- checkpoint files (safetensors layout)

def write_tensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        a = t.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name}: dtype {e['dtype']} not supported")
        b, end = e["data_offsets"]
        a = np.frombuffer(data[base + b:base + end], dtype="<f4").reshape(e["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta


def save_checkpoint(path, model, config):
    meta = {"format": FORMAT, "format_version": "1", "config": json.dumps(config)}
    write_tensors(path, dict(model.named_parameters()), meta)


def load_checkpoint(path):
    tensors, meta = read_tensors(path)
    config = json.loads(meta["config"])
    model = build(config)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise SystemExit(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.eval(), config


def full_config(patch, dim, depth, heads, dim_head, mlp_dim, crop_samples, log):
    return {"patch": patch, "dim": dim, "depth": depth, "heads": heads, "dim_head": dim_head, "mlp_dim": mlp_dim,
            "n_mels": N_MELS, "frames": frames_for_crop(crop_samples, patch), "crop_samples": crop_samples,
            "log": log, "sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop": HOP, "f_min": F_MIN, "f_max": F_MAX}


# ---------------------------------------------------------------- Myna state dicts

def convert_myna_state(state, patch):
    """Renames a Myna SimpleViT state dict (vit.py) to ours; drops linear_head and training extras."""
    primary = "embed_vertical" if patch == "vertical" else "embed_base"
    sub = {"1": "norm_in", "2": "proj", "3": "norm_out"}
    ff = {"0": "norm", "1": "fc1", "3": "fc2"}
    out, dropped = {}, []
    for key, value in state.items():
        k = key[len("module."):] if key.startswith("module.") else key
        p = k.split(".")
        if p[0] in ("to_patch_embedding", "to_patch_embedding_b") and len(p) == 3 and p[1] in sub:
            target = primary if p[0] == "to_patch_embedding" else "embed_vertical"
            out[f"{target}.{sub[p[1]]}.{p[2]}"] = value
        elif p[:2] == ["transformer", "norm"]:
            out["norm." + p[2]] = value
        elif p[:2] == ["transformer", "layers"] and p[3] == "0":
            out[f"blocks.{p[2]}.attn.{'.'.join(p[4:])}"] = value
        elif p[:2] == ["transformer", "layers"] and p[3] == "1" and p[4] == "net" and p[5] in ff:
            out[f"blocks.{p[2]}.ff.{ff[p[5]]}.{p[6]}"] = value
        else:
            dropped.append(key)
    return out, dropped


class MynaStyleViT(nn.Module):
    """Myna's SimpleViT structure and parameter names (vit.py, MIT), rewritten here for the
    converter self-test: Sequential patch embeddings, transformer.layers[i] = [Attention, FeedForward]."""

    class _Rearrange(nn.Module):
        def __init__(self, ph, pw):
            super().__init__()
            self.ph, self.pw = ph, pw

        def forward(self, img):  # b 1 (h p1) (w p2) -> b (h w) (p1 p2)
            b, _, hh, ww = img.shape
            x = img.reshape(b, hh // self.ph, self.ph, ww // self.pw, self.pw).permute(0, 1, 3, 2, 4)
            return x.reshape(b, -1, self.ph * self.pw)

    class _FF(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

        def forward(self, x):
            return self.net(x)

    def __init__(self, frames, patch, additional, dim, depth, heads, dim_head, mlp_dim):
        super().__init__()

        def embedding(ph, pw):
            return nn.Sequential(self._Rearrange(ph, pw), nn.LayerNorm(ph * pw), nn.Linear(ph * pw, dim),
                                 nn.LayerNorm(dim)), posemb_sincos_2d(N_MELS // ph, frames // pw, dim)

        self.to_patch_embedding, self.pos_embedding = embedding(*patch)
        self.additional = additional
        if additional:
            self.to_patch_embedding_b, self.pos_embedding_b = embedding(*additional)
        self.transformer = nn.Module()
        self.transformer.norm = nn.LayerNorm(dim)
        self.transformer.layers = nn.ModuleList(
            [nn.ModuleList([Attention(dim, heads, dim_head), self._FF(dim, mlp_dim)]) for _ in range(depth)])
        self.linear_head = nn.Linear(dim, 50)

    def _one(self, img, emb, pos):
        x = emb(img) + pos
        for attn, ff in self.transformer.layers:
            x = attn(x) + x
            x = ff(x) + x
        return self.transformer.norm(x).mean(1)

    def forward(self, img):  # hybrid mode: both passes, concatenated; no head
        out = [self._one(img, self.to_patch_embedding, self.pos_embedding)]
        if self.additional:
            out.append(self._one(img, self.to_patch_embedding_b, self.pos_embedding_b))
        return torch.cat(out, -1)


# ---------------------------------------------------------------- commands

def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit PCM WAV is read here")
        if w.getframerate() != SAMPLE_RATE:
            raise SystemExit(f"{path}: {w.getframerate()} Hz, expected {SAMPLE_RATE} Hz")
        a = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        return a.reshape(-1, w.getnchannels()).mean(axis=1)


def cmd_init(a):
    torch.manual_seed(a.seed)
    config = full_config(a.patch, a.dim, a.depth, a.heads, a.dim_head, a.mlp_dim, a.crop_samples, a.log)
    model = build(config)
    save_checkpoint(a.out, model, config)
    print(f"{a.out}: {sum(p.numel() for p in model.parameters())} parameters, {json.dumps(config)}")
    if a.wav:  # the equality test saves a second interpreter start this way
        if not a.embed_out:
            raise SystemExit("init --wav needs --embed-out")
        a.checkpoint = a.out
        cmd_embed(a)


def cmd_convert(a):
    state = torch.load(a.myna, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    tensors, dropped = convert_myna_state(state, a.patch)
    primary = "embed_vertical" if a.patch == "vertical" else "embed_base"
    dim = tensors[f"{primary}.proj.weight"].shape[0]
    depth = len({k.split(".")[1] for k in tensors if k.startswith("blocks.")})
    mlp_dim = tensors["blocks.0.ff.fc1.weight"].shape[0]
    if tensors["blocks.0.attn.to_qkv.weight"].shape[0] != 3 * a.heads * a.dim_head:
        raise SystemExit(f"{a.myna}: to_qkv has {tensors['blocks.0.attn.to_qkv.weight'].shape[0]} rows, "
                         f"not 3 x heads {a.heads} x dim_head {a.dim_head}")
    config = full_config(a.patch, dim, depth, a.heads, a.dim_head, mlp_dim, a.crop_samples, a.log)
    model = build(config)
    model.load_state_dict(tensors, strict=True)
    save_checkpoint(a.out, model, config)
    print(f"{a.out}: converted {len(tensors)} tensors; dropped {', '.join(dropped) or 'none'}")


def cmd_embed(a):
    model, config = load_checkpoint(a.checkpoint)
    x = read_wav(a.wav)[a.offset:a.offset + config["crop_samples"]]
    x = np.pad(x, (0, config["crop_samples"] - len(x)))
    mel = mel_spectrogram(x, config["log"], frames_for_crop(config["crop_samples"], config["patch"]))
    with torch.no_grad():
        layers = model.forward_layers(mel[None])[0]
    out = getattr(a, "embed_out", None) or a.out
    write_tensors(out, {"layers": layers, "mel": mel})
    print(f"{out}: layers {list(layers.shape)}")


def cmd_selftest_myna(_):
    torch.manual_seed(0)
    worst = 0.0
    for patch in ("base", "vertical", "hybrid"):
        frames = frames_for_crop(50000, patch)
        primary = (N_MELS, 2) if patch == "vertical" else (16, 16)
        myna = MynaStyleViT(frames, primary, (N_MELS, 2) if patch == "hybrid" else None, 64, 2, 2, 32, 128).eval()
        tensors, dropped = convert_myna_state(myna.state_dict(), patch)
        assert dropped == ["linear_head.weight", "linear_head.bias"], dropped
        ours = McptViT(patch, 64, 2, 2, 32, 128, N_MELS, frames).eval()
        ours.load_state_dict(tensors, strict=True)
        mel = torch.randn(3, N_MELS, frames)
        with torch.no_grad():
            diff = (myna(mel[:, None]) - ours(mel)).abs().max().item()
        worst = max(worst, diff)
        print(f"{patch}: max |Myna-structured - ours| = {diff:.2e}")
    if worst > 1e-5:
        raise SystemExit("converted model differs from the Myna-structured one")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("init", help="random weights in our checkpoint format")
    i.add_argument("--out", required=True)
    i.add_argument("--patch", choices=["base", "vertical", "hybrid"], default="vertical")
    for name, default in (("dim", 384), ("depth", 12), ("heads", 6), ("dim-head", 64), ("mlp-dim", 1536),
                          ("crop-samples", 50000), ("seed", 0)):
        i.add_argument("--" + name, type=int, default=default)
    i.add_argument("--log", choices=["log", "log1p", "none"], default="log")
    i.add_argument("--wav", help="also run `embed` on this WAV, writing --embed-out")
    i.add_argument("--embed-out", dest="embed_out")
    i.add_argument("--offset", type=int, default=0)
    c = sub.add_parser("convert", help="a Myna state dict (.pth) to our checkpoint format")
    c.add_argument("--myna", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--patch", choices=["base", "vertical", "hybrid"], required=True)
    c.add_argument("--heads", type=int, default=6)
    c.add_argument("--dim-head", type=int, default=64)
    c.add_argument("--crop-samples", type=int, default=50000)
    # Myna's example.py feeds the mel power without a log; its training flag --log_mel uses log1p.
    c.add_argument("--log", choices=["log", "log1p", "none"], default="none")
    e = sub.add_parser("embed", help="per-layer embeddings of one crop of a 16 kHz WAV")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--wav", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--offset", type=int, default=0)
    sub.add_parser("selftest-myna", help="check the Myna converter against a Myna-structured model")
    a = p.parse_args()
    torch.set_num_threads(1)
    return {"init": cmd_init, "convert": cmd_convert, "embed": cmd_embed, "selftest-myna": cmd_selftest_myna}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
