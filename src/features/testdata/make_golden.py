#!/usr/bin/python3
"""Writes the golden files the featurizer tests compare against, from the numpy reference
(bench/peers/iot_features.py, written from the published VGGish / Mites formulas, not from the
C++ code). Run from anywhere: /usr/bin/python3 src/features/testdata/make_golden.py

  tone.wav            16 kHz mono PCM16, 1.0 s: 1 kHz sine + a 300->3000 Hz chirp + LCG noise
  logmel_tone.txt     the 96x64 log-mel patch of tone.wav (zero-padded to 15600 samples)
  mel_matrix.txt      non-zero entries of the 257x64 mel matrix: "bin band weight"
  hann400.txt         the 400-point periodic Hann window
  sensor_window.txt   a 100-frame, 4-channel window at 50 Hz (header: channel names)
  sensor_stats.txt    its sensor_stats features (bands=4), one per line
"""
import os
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "bench", "peers"))
import iot_features as F  # noqa: E402


def lcg_noise(n, seed=12345):
    out = np.empty(n)
    s = seed
    for i in range(n):
        s = (1103515245 * s + 12345) % (1 << 31)
        out[i] = s / float(1 << 31) - 0.5
    return out


def main():
    rate = 16000
    t = np.arange(rate) / rate
    x = 0.4 * np.sin(2 * np.pi * 1000 * t) + 0.2 * np.sin(2 * np.pi * (300 * t + 1350 * t * t)) + 0.05 * lcg_noise(rate)
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(os.path.join(HERE, "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    samples = pcm.astype(np.float64) / 32768.0   # libsndfile's scaling of PCM16
    patch = F.logmel_patch(samples)
    np.savetxt(os.path.join(HERE, "logmel_tone.txt"), patch.reshape(-1), fmt="%.6f")
    mel = F.mel_matrix()
    with open(os.path.join(HERE, "mel_matrix.txt"), "w") as f:
        for k, b in zip(*np.nonzero(mel)):
            f.write(f"{k} {b} {mel[k, b]:.8f}\n")
    np.savetxt(os.path.join(HERE, "hann400.txt"), F.periodic_hann(400), fmt="%.8f")

    names = ["x_acc", "y_acc", "z_acc", "temp"]
    n, srate = 100, 50.0
    tt = np.arange(n) / srate
    noise = lcg_noise(4 * n, seed=7).reshape(n, 4)
    win = np.stack([np.sin(2 * np.pi * 3 * tt), 0.5 * np.cos(2 * np.pi * 7 * tt), 9.8 + 0.1 * tt,
                    21.5 + 0 * tt], axis=1) + 0.1 * noise
    win = win.astype(np.float32)
    with open(os.path.join(HERE, "sensor_window.txt"), "w") as f:
        f.write(",".join(names) + "\n")
        for row in win:
            f.write(",".join(f"{v:.7g}" for v in row) + "\n")
    feats = F.sensor_stats_window(win.astype(np.float64), names, srate, 4)
    np.savetxt(os.path.join(HERE, "sensor_stats.txt"), feats, fmt="%.8g")


if __name__ == "__main__":
    main()
