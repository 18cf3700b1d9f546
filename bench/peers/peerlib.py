"""Helpers every peer script of `mliot bench` shares: threads, timing, data loading, the JSON line.

Import this module before numpy: `threads(n)` must run before numpy loads its BLAS.

    import peerlib
    peerlib.threads(1)
    import numpy as np
    ...
    peerlib.emit({"logmel": {...}})
"""
import json
import os
import sys
import time
import wave


def threads(n):
    """Pins BLAS/OpenMP threads (call before importing numpy)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Timer:
    """with Timer() as t: ...; t.seconds"""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def read_wav(path):
    """(samples as float64 mono in [-1, 1), sample rate) of a PCM16 WAV file, scaled as libsndfile does."""
    import numpy as np
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is read by the peers")
        rate, channels = w.getframerate(), w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data, rate


def list_audio_folder(root):
    """[(path, class)] of ROOT/<class>/<clip> (or clips directly in ROOT, class None), sorted."""
    out = []
    for entry in sorted(os.listdir(root)):
        if entry.startswith("."):
            continue
        p = os.path.join(root, entry)
        if os.path.isdir(p):
            out.extend((os.path.join(p, c), entry) for c in sorted(os.listdir(p)) if not c.startswith("."))
        else:
            out.append((p, None))
    return out


def read_sensor_csv(path, time_column="timestamp", label_column="label"):
    """(channel names, times ms, values [readings x channels], labels or None) of a sensor CSV file."""
    import numpy as np
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f if line.strip()]
    t = header.index(time_column)
    lab = header.index(label_column) if label_column in header else None
    chans = [i for i in range(len(header)) if i not in (t, lab)]
    values = np.array([[float(r[i]) for i in chans] for r in rows])
    times = np.array([float(r[t]) for r in rows])
    labels = [r[lab] for r in rows] if lab is not None else None
    return [header[i] for i in chans], times, values, labels


def versions(*modules):
    """{module: version} of the given imported modules."""
    return {m.__name__: getattr(m, "__version__", "?") for m in modules}


def emit(obj):
    """The peer's answer: one JSON object on the last stdout line."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
