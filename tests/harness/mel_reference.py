#!/usr/bin/python3
"""Independent NumPy reference of the mcpt mel front end, for tests/harness/mel_test.cpp.

Written from the formulas, not from our C++: Slaney's mel scale (linear below 1 kHz, logarithmic
above, 27 steps per factor 6.4), triangular filters normalised to equal area (2 / bandwidth in Hz),
centred STFT frames with numpy "reflect" padding, periodic Hann window, |rfft|^2, then the log.

usage: mel_reference.py IN.f32 OUT.f32 --sr 16000 --n-fft 2048 --hop 512 --n-mels 128 \
                        --f-min 0 --f-max 8000 --log log|log1p|none
IN.f32 holds little-endian float32 samples; OUT.f32 receives n_mels x frames float32, row-major.
"""
import argparse
import sys

import numpy as np


def slaney_hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    logstep = np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(hz, 1e-300) / min_log_hz) / logstep,
                    hz / f_sp)


def slaney_mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), mel * f_sp)


def filterbank(sr, n_fft, n_mels, f_min, f_max):
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    edges = slaney_mel_to_hz(np.linspace(slaney_hz_to_mel(f_min), slaney_hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lower) / (centre - lower)
    down = (upper - freqs[None, :]) / (upper - centre)
    tri = np.clip(np.minimum(up, down), 0.0, None)
    return tri * (2.0 / (upper - lower))


def mel_spectrogram(x, sr, n_fft, hop, n_mels, f_min, f_max, log):
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x, n_fft // 2, mode="reflect")
    frames = 1 + len(x) // hop
    window = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft))
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.abs(np.fft.rfft(padded[idx] * window[None, :], axis=1)) ** 2  # frames x bins
    mel = filterbank(sr, n_fft, n_mels, f_min, f_max) @ spec.T  # n_mels x frames
    if log == "log":
        mel = np.log(mel + 1e-6)
    elif log == "log1p":
        mel = np.log1p(mel)
    return mel


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--sr", type=int, default=16000)
    p.add_argument("--n-fft", type=int, default=2048)
    p.add_argument("--hop", type=int, default=512)
    p.add_argument("--n-mels", type=int, default=128)
    p.add_argument("--f-min", type=float, default=0.0)
    p.add_argument("--f-max", type=float, default=8000.0)
    p.add_argument("--log", choices=["log", "log1p", "none"], default="log")
    a = p.parse_args()
    x = np.fromfile(a.input, dtype="<f4")
    mel = mel_spectrogram(x, a.sr, a.n_fft, a.hop, a.n_mels, a.f_min, a.f_max, a.log)
    mel.astype("<f4").tofile(a.output)
    print(f"{mel.shape[0]} {mel.shape[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
