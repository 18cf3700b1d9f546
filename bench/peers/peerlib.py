"""Helpers every peer script of `mliot bench` shares: threads, timing, progress, data loading, the JSON line.

Import this module before numpy: `threads(n)` must run before numpy loads its BLAS, so every
function here that needs numpy imports it itself, when called.

    import peerlib
    peerlib.threads(1)
    import numpy as np
    ...
    peerlib.log("fitting")          # stderr: [peer    1.2s] fitting
    peerlib.emit({"logmel": {...}})
"""
import csv
import gzip
import json
import os
import struct
import sys
import time
import wave

_T0 = time.perf_counter()


def threads(n):
    """Pins BLAS/OpenMP threads (call before importing numpy)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def reset_clock():
    """Restarts the clock elapsed() and log() count from (by default: when peerlib was imported)."""
    global _T0
    _T0 = time.perf_counter()


def elapsed():
    """Seconds since peerlib was imported or reset_clock() last ran."""
    return time.perf_counter() - _T0


def log(msg):
    """A progress line on stderr, stamped with elapsed(): `[peer    1.2s] msg`."""
    print(f"[peer {elapsed():7.1f}s] {msg}", file=sys.stderr, flush=True)


_default_log = log  # what load_spec(log=None) reports through (its parameter shadows log)


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


# ---------------------------------------------------------------- tabular data (Fashion-MNIST, CSV)

# Cell values read as missing (compared lower-cased): the tokens mliot's CSV reader accepts.
MISSING = {"", "?", "na", "nan", "null", "none"}


def fashion_dir():
    """Where Fashion-MNIST's gzipped IDX files are: $MLIOT_FASHION_MNIST_DIR or Debian's path."""
    return os.environ.get("MLIOT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(path):
    """The unsigned-byte IDX file at path (gzipped if it ends in .gz) as a numpy uint8 array."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def find_file(directory, stem):
    """directory/stem.gz or directory/stem, whichever exists first."""
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{os.path.join(directory, stem)}[.gz] not found")


def load_fashion(split, n=None):
    """(x float64 [n x 784] scaled to [0,1], y int64) of the first n images of split train|test."""
    import numpy as np
    stem = "train" if split == "train" else "t10k"
    d = fashion_dir()
    images = read_idx(find_file(d, f"{stem}-images-idx3-ubyte"))
    labels = read_idx(find_file(d, f"{stem}-labels-idx1-ubyte"))
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return x, labels.astype(np.int64)


def load_csv(path, label):
    """(x float64 with NaN for MISSING cells, y object array of label strings) of a CSV file.

    Header row; the label column is named label; every other column must be numeric."""
    import numpy as np
    with open(path, newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty file")
        if label not in header:
            raise ValueError(f"{path}: no label column '{label}' in header (columns: {header})")
        li = header.index(label)
        rows, labels = [], []
        for lineno, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(f"{path}:{lineno}: expected {len(header)} fields, got {len(fields)}")
            row = []
            for i, v in enumerate(fields):
                v = v.strip()
                if i == li:
                    if not v:
                        raise ValueError(f"{path}:{lineno}: empty label")
                    labels.append(v)
                elif v.lower() in MISSING:
                    row.append(np.nan)
                else:
                    try:
                        row.append(float(v))
                    except ValueError:
                        raise ValueError(f"{path}:{lineno}: column '{header[i]}': "
                                         f"non-numeric value '{v}'")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=object)


def load_spec(spec, label, want_split, log=None):
    """(x, y) of a data spec: fashion-mnist:train[:N], fashion-mnist:test[:N] or csv:PATH.

    label names the CSV label column; want_split (train|test) is the role the data play: a
    Fashion-MNIST spec of the other split is used anyway, with a note through log (default:
    peerlib.log)."""
    if spec.startswith("csv:"):
        return load_csv(spec[4:], label)
    parts = spec.split(":")
    if parts[0] == "fashion-mnist" and len(parts) in (2, 3) and parts[1] in ("train", "test"):
        n = None
        if len(parts) == 3:
            if not parts[2].isdigit() or int(parts[2]) == 0:
                raise ValueError(f"data spec '{spec}': N must be a positive integer")
            n = int(parts[2])
        if parts[1] != want_split:
            (log or _default_log)(f"note: {spec} used as {want_split} data")
        return load_fashion(parts[1], n)
    raise ValueError(f"data spec '{spec}': expected fashion-mnist:train[:N], "
                     "fashion-mnist:test[:N] or csv:PATH")


def encode_labels(y_train, y_test):
    """(y_train, y_test as int64 0..K-1, class names): numeric order when all parse as numbers, as mliot does.

    Test labels never seen in training become -1, which no model predicts (counted wrong)."""
    import numpy as np
    names = sorted(set(y_train.tolist()))
    try:
        names = sorted(names, key=float)
    except (TypeError, ValueError):
        pass
    index = {n: i for i, n in enumerate(names)}
    ytr = np.array([index[v] for v in y_train.tolist()], dtype=np.int64)
    yte = np.array([index.get(v, -1) for v in y_test.tolist()], dtype=np.int64)
    return ytr, yte, names


def versions(*modules):
    """{module: version} of the given imported modules."""
    return {m.__name__: getattr(m, "__version__", "?") for m in modules}


def emit(obj):
    """The peer's answer: one JSON object on the last stdout line."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
