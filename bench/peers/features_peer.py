#!/usr/bin/python3
"""Peer of `mliot bench features`: the numpy log-mel and sensor_stats (iot_features.py) on the
same input files, one thread.

  --audio-dir D    16 kHz PCM16 WAV clips; each is cut into windows as mliot does (a clip shorter
                   than one 0.96 s patch is one zero-padded patch; a remainder >= half a patch is one
                   more padded patch) and every window is featurized. Reading the files is not timed.
  --sensor-csv F   one recording on an exact 50 Hz clock; windows of 2 s every 1 s (sensor_stats
                   with bands=4, magnitudes of the 3-axis sensors).

Prints {"logmel": {"ms_per_s_audio", "patches"}, "sensor_stats": {"windows_per_s", "windows"},
"versions": {...}}.
"""
import argparse

import peerlib

peerlib.threads(1)
import numpy as np  # noqa: E402

import iot_features as F  # noqa: E402


def logmel_windows(n):
    """[(begin, end)] of a 16 kHz clip of n samples, as mliot cuts them."""
    hop = F.PATCH * F.HOP
    if n < F.PATCH_SAMPLES:
        return [(0, n)]
    full = 1 + (n - F.PATCH_SAMPLES) // hop
    out = [(i * hop, i * hop + F.PATCH_SAMPLES) for i in range(full)]
    if n - full * hop >= 0.5 * F.PATCH_SAMPLES:
        out.append((full * hop, n))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio-dir", required=True)
    ap.add_argument("--sensor-csv", required=True)
    ap.add_argument("--window-s", type=float, default=2.0)
    ap.add_argument("--hop-s", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--bands", type=int, default=4)
    a = ap.parse_args()

    clips = [peerlib.read_wav(p)[0] for p, _ in peerlib.list_audio_folder(a.audio_dir)]
    audio_s = sum(len(c) for c in clips) / F.SAMPLE_RATE
    patches = 0
    with peerlib.Timer() as t:
        for c in clips:
            for b, e in logmel_windows(len(c)):
                F.logmel_patch(c[b:e])
                patches += 1
    ms_per_s_audio = 1000 * t.seconds / audio_s

    names, _, values, _ = peerlib.read_sensor_csv(a.sensor_csv)
    window, hop = int(round(a.window_s * a.rate)), int(round(a.hop_s * a.rate))
    starts = range(0, len(values) - window + 1, hop)
    with peerlib.Timer() as t:
        for s in starts:
            F.sensor_stats_window(values[s:s + window], names, a.rate, a.bands)
    peerlib.emit({"logmel": {"ms_per_s_audio": ms_per_s_audio, "patches": patches},
                  "sensor_stats": {"windows_per_s": len(starts) / t.seconds, "windows": len(starts)},
                  "versions": peerlib.versions(np)})


if __name__ == "__main__":
    main()
