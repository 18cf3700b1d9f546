#!/usr/bin/python3
"""Peer of `mliot bench serving`: what a user would otherwise write - a Flask server wrapping one
scikit-learn model, answering the Open Inference Protocol v2 over REST (JSON) as mliot's v2 REST does.

  --train-x X.idx --train-y Y.idx   IDX files (gzipped if they end in .gz): X [rows x ...] as
                                    unsigned bytes (scaled to [0,1]) or float32 (used as is),
                                    flattened to [rows x F]; Y one class per row (any IDX type,
                                    read as integers)
  --kind KIND                       logistic_regression: LogisticRegression(max_iter=200)
                                    random_forest:       RandomForestClassifier(n_estimators=50)
                                    knn:                 KNeighborsClassifier()
  --port PORT                       listens on 127.0.0.1:PORT
  --rows N                          train on the first N rows only (default: all)
  --threads N                       pin BLAS/OpenMP threads to N (default: the libraries' own)
  --access-log                      keep werkzeug's one stderr line per request (off by default)

Serves
  POST /v2/models/<name>/infer   {"inputs": [{"name": any, "datatype": "FP32", "shape": [N, F],
                                 "data": [N*F floats, flat or nested]}], "id"?: ...}
                              -> {"model_name", "model_version": "1", "id"?, "outputs":
                                 [{"name": "probabilities", "datatype": "FP32", "shape": [N, C], "data"},
                                  {"name": "label", "datatype": "BYTES", "shape": [N], "data": ["3", ...]}]}
                                 (label: the class value of Y as a string); any <name> is accepted.
                                 A bad request is answered 400 {"error": "..."}.
  GET  /v2/health/ready          200 {"ready": true}

Once the port accepts connections, prints {"ready": true, "port": PORT, "train_s": ...} as the one
stdout line (Flask's startup banner is kept off stdout), then serves until killed (SIGTERM/SIGINT).
Progress goes to stderr (peerlib.log).

The server is Flask's threaded development server, `app.run(host='127.0.0.1', port=PORT,
threaded=True)`: a thread per connection, HTTP/1.0 (each request on its own connection, answered
with `Connection: close`). gunicorn is not used on purpose: this is what a quick user setup looks
like (Debian's gunicorn would do as well, but it is not what the peer stands for).
"""
import argparse
import gzip
import logging
import socket
import struct
import sys
import threading
import time

import peerlib

KINDS = ("logistic_regression", "random_forest", "knn")

# IDX type byte -> numpy dtype (big-endian, as IDX stores them).
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Flask + scikit-learn peer of `mliot bench serving`.")
    p.add_argument("--train-x", required=True, help="IDX file of training rows (ubyte or float32)")
    p.add_argument("--train-y", required=True, help="IDX file of training labels")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--rows", type=int, default=0, help="train on the first N rows (default: all)")
    p.add_argument("--threads", type=int, default=0, help="BLAS/OpenMP threads (default: unpinned)")
    p.add_argument("--access-log", action="store_true", help="log every request on stderr")
    a = p.parse_args(argv)
    if a.rows < 0:
        p.error("--rows must not be negative")
    if not 0 < a.port < 65536:
        p.error("--port must be in 1..65535")
    return a


ARGS = parse_args(sys.argv[1:])
if ARGS.threads > 0:
    peerlib.threads(ARGS.threads)  # before numpy loads its BLAS
import numpy as np  # noqa: E402


def read_idx(path):
    """(array, type byte) of the IDX file at path: magic 0x0000, type, number of dims, big-endian dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX file")
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind not in IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: not an IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    dtype = np.dtype(IDX_TYPES[kind])
    count = int(np.prod(dims))
    offset = 4 + 4 * ndim
    if len(data) - offset < count * dtype.itemsize:
        raise ValueError(f"{path}: dims {dims} need {count * dtype.itemsize} bytes, "
                         f"the file has {len(data) - offset}")
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(dims), kind


def load(a):
    x, kind = read_idx(a.train_x)
    y, _ = read_idx(a.train_y)
    x = x.reshape(len(x), -1)
    x = x.astype(np.float32) / 255.0 if kind == 0x08 else x.astype(np.float32)
    y = y.reshape(len(y)).astype(np.int64)
    if len(x) != len(y):
        raise ValueError(f"{a.train_x} has {len(x)} rows, {a.train_y} {len(y)}")
    if a.rows:
        x, y = x[:a.rows], y[:a.rows]
    return x, y


def make_model(kind):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    return {"logistic_regression": lambda: LogisticRegression(max_iter=200),
            "random_forest": lambda: RandomForestClassifier(n_estimators=50),
            "knn": lambda: KNeighborsClassifier()}[kind]()


def make_app(model, num_features):
    from flask import Flask, jsonify, request

    app = Flask(__name__)
    classes = [str(c) for c in model.classes_]

    def bad(msg):
        return jsonify({"error": msg}), 400

    @app.get("/v2/health/ready")
    def ready():
        return jsonify({"ready": True})

    @app.post("/v2/models/<name>/infer")
    def infer(name):
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or len(body["inputs"]) != 1:
            return bad("expected a JSON object with one input in 'inputs'")
        inp = body["inputs"][0]
        if inp.get("datatype") != "FP32":
            return bad("input datatype must be FP32")
        shape = inp.get("shape")
        if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == num_features and shape[0] >= 1):
            return bad(f"input shape must be [N, {num_features}], got {shape}")
        try:
            x = np.asarray(inp.get("data"), dtype=np.float32).reshape(shape[0], num_features)
        except (TypeError, ValueError):
            return bad(f"input data must hold {shape[0]} x {num_features} numbers")
        proba = model.predict_proba(x)
        best = proba.argmax(axis=1)
        out = {"model_name": name, "model_version": "1",
               "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": list(proba.shape),
                            "data": proba.astype(np.float32).ravel().tolist()},
                           {"name": "label", "datatype": "BYTES", "shape": [len(best)],
                            "data": [classes[i] for i in best]}]}
        if "id" in body:
            out["id"] = body["id"]
        return jsonify(out)

    return app


def check_port_free(port):
    """Exits with a message when 127.0.0.1:port is taken (else the ready line could greet another server)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server binds
    try:
        s.bind(("127.0.0.1", port))
    except OSError as e:
        sys.exit(f"serving_peer: 127.0.0.1:{port}: {e.strerror}")
    finally:
        s.close()


def announce_when_listening(port, train_s):
    """Prints the ready line once 127.0.0.1:port accepts a connection (app.run blocks, so a thread waits)."""
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    peerlib.log(f"listening on 127.0.0.1:{port}")
    peerlib.emit({"ready": True, "port": port, "train_s": train_s})


def main():
    check_port_free(ARGS.port)
    x, y = load(ARGS)
    peerlib.log(f"training {ARGS.kind} on {x.shape[0]} rows x {x.shape[1]} features")
    model = make_model(ARGS.kind)
    with peerlib.Timer() as t:
        model.fit(x, y)
    peerlib.log(f"trained in {t.seconds:.2f}s, {len(model.classes_)} classes")
    app = make_app(model, x.shape[1])

    if not ARGS.access_log:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Flask prints " * Serving Flask app ..." on stdout; stdout is for the ready line alone.
    import flask.cli
    flask.cli.show_server_banner = lambda *args, **kwargs: None

    check_port_free(ARGS.port)  # again: training may have taken a while
    threading.Thread(target=announce_when_listening, args=(ARGS.port, t.seconds), daemon=True).start()
    # Flask's threaded dev server, as a user would start it (see the docstring: no gunicorn on purpose).
    app.run(host="127.0.0.1", port=ARGS.port, threaded=True)


if __name__ == "__main__":
    main()
