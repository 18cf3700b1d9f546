"""numpy implementations of mliot's featurizers, written from the published formulas.

This module is the independent reference for two things:
  * the golden files the C++ featurizers are tested against
    (src/features/testdata/make_golden.py), and
  * the numpy peer of `mliot bench features` (bench/peers/features_peer.py).

logmel follows the VGGish front end (github.com/tensorflow/models, research/audioset/vggish,
mel_features.py and vggish_params.py): 16 kHz mono, 25 ms periodic-Hann frames with a 10 ms
hop, |rfft| of size 512, 64 HTK mel bands over 125-7500 Hz with triangular filters of peak 1
(the DC bin gets no weight), log(mel + 0.01), 96-frame patches.

sensor_stats follows docs/FEATURES.md: per window and channel the Mites statistical set (min,
max, range, mean, sum, standard deviation, centroid) and spectral features of the window's
|rfft| (band energies, dominant frequency, spectral centroid, spectral entropy), also on the
magnitude of every 3-axis sensor.
"""
import numpy as np

SAMPLE_RATE = 16000
WINDOW = 400      # 25 ms
HOP = 160         # 10 ms
FFT = 512
MEL_BANDS = 64
MEL_LOW_HZ = 125.0
MEL_HIGH_HZ = 7500.0
PATCH = 96
LOG_OFFSET = 0.01


def periodic_hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi / n * np.arange(n))


def hertz_to_mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_matrix(bands=MEL_BANDS, bins=FFT // 2 + 1, rate=SAMPLE_RATE, low=MEL_LOW_HZ, high=MEL_HIGH_HZ):
    """(bins, bands) weights: spectrogram @ W gives the mel spectrogram."""
    bins_mel = hertz_to_mel(np.linspace(0.0, rate / 2.0, bins))
    edges = np.linspace(hertz_to_mel(low), hertz_to_mel(high), bands + 2)
    w = np.empty((bins, bands))
    for i in range(bands):
        lo, center, hi = edges[i:i + 3]
        w[:, i] = np.maximum(0.0, np.minimum((bins_mel - lo) / (center - lo), (hi - bins_mel) / (hi - center)))
    w[0, :] = 0.0
    return w


_MEL = mel_matrix()
_HANN = periodic_hann(WINDOW)


def frames(x, length, hop):
    n = 1 + (len(x) - length) // hop
    strides = (x.strides[0] * hop, x.strides[0])
    return np.lib.stride_tricks.as_strided(x, shape=(n, length), strides=strides)


PATCH_SAMPLES = (PATCH - 1) * HOP + WINDOW   # 15600: the samples one patch needs


def logmel_patch(x16k):
    """One 96x64 patch of a 16 kHz mono window (zero-padded to 15600 samples, first 96 frames)."""
    x = np.asarray(x16k, dtype=np.float64)
    if len(x) < PATCH_SAMPLES:
        x = np.concatenate([x, np.zeros(PATCH_SAMPLES - len(x))])
    f = frames(x[:PATCH_SAMPLES], WINDOW, HOP)
    spec = np.abs(np.fft.rfft(f * _HANN, FFT))
    return np.log(spec @ _MEL + LOG_OFFSET)


def logmel(x16k):
    """Every full 96-frame patch of a 16 kHz mono signal, (patches, 96, 64)."""
    x = np.asarray(x16k, dtype=np.float64)
    f = frames(x, WINDOW, HOP)
    spec = np.abs(np.fft.rfft(f * _HANN, FFT))
    mel = np.log(spec @ _MEL + LOG_OFFSET)
    n = mel.shape[0] // PATCH
    return mel[:n * PATCH].reshape(n, PATCH, MEL_BANDS)


# ---- sensor_stats
STATS = ["min", "max", "range", "mean", "sum", "std", "centroid"]


def sensor_feature_names(channels, bands):
    return STATS + [f"band{b}" for b in range(bands)] + ["dominant_hz", "spectral_centroid_hz", "spectral_entropy"]


def magnitude_channels(names):
    """[(name, (i, j, k))] for every x_/y_/z_ triple of channel names (x_acc, y_acc, z_acc -> mag_acc;
    a "device." prefix is kept: sp.x_acc ... -> sp.mag_acc)."""
    out = []
    for i, n in enumerate(names):
        prefix, _, base = n.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if base.startswith("x_"):
            rest = base[2:]
            y, z = prefix + "y_" + rest, prefix + "z_" + rest
            if y in names and z in names:
                out.append((prefix + "mag_" + rest, (i, names.index(y), names.index(z))))
    return out


def channel_features(x, rate, bands):
    """Features of one channel's window x (1-D)."""
    n = len(x)
    lo, hi = x.min(), x.max()
    a = np.abs(x)
    total = a.sum()
    centroid = (np.arange(n) * a).sum() / total / (n - 1) if total > 0 else 0.5
    stats = [lo, hi, hi - lo, x.mean(), x.sum(), x.std(), centroid]
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freqs = np.arange(len(power)) * rate / n
    p = power[1:]   # without DC
    f = freqs[1:]
    edges = [(b * len(p)) // bands for b in range(bands + 1)]   # equal-width bands of the non-DC bins
    band_e = [np.log1p(p[edges[b]:edges[b + 1]].sum()) for b in range(bands)]
    s = p.sum()
    if s > 0:
        dominant = f[np.argmax(p)]
        spectral_centroid = (f * p).sum() / s
        q = p / s
        nz = q[q > 0]
        entropy = -(nz * np.log(nz)).sum() / np.log(len(p)) if len(p) > 1 else 0.0
    else:
        dominant = spectral_centroid = entropy = 0.0
    return stats + band_e + [dominant, spectral_centroid, entropy]


def sensor_stats_window(window, names, rate, bands):
    """window: (frames, channels). Features of every channel, then of every 3-axis magnitude."""
    cols = [window[:, c] for c in range(window.shape[1])]
    for _, (i, j, k) in magnitude_channels(names):
        cols.append(np.sqrt(window[:, i] ** 2 + window[:, j] ** 2 + window[:, k] ** 2))
    out = []
    for c in cols:
        out.extend(channel_features(np.asarray(c, dtype=np.float64), rate, bands))
    return np.array(out)
