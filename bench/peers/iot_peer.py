#!/usr/bin/python3
"""Peers of `mliot bench iot`: scikit-learn's models with default settings and a small PyTorch CNN,
trained on the rows mliot featurized (log-mel patches or sensor_stats windows), tested on the
test rows. Python peers of an IoT developer's stack.

  --train PREFIX / --test PREFIX   PREFIX.x (float32 rows x cols), PREFIX.y (class per line),
                                   PREFIX.json ({rows, cols, shape?})
  --systems sklearn|torch          which peers
  --budget-s S                     the CNN trains until S seconds (as mliot's budget) or 300 epochs

sklearn: KNeighborsClassifier, LogisticRegression, LinearSVC, SVC, RandomForestClassifier,
MLPClassifier (and XGBClassifier when installed), each with default settings, fit on all training
rows. Latency: single-row predict, median over up to 200 test rows (the model alone; mliot's
figure also featurizes the raw window).

pytorch cnn: for 2-D rows (96x64 log-mel) three 3x3 conv blocks (16, 32, 64 channels, batch norm,
ReLU, 2x2 max pool) -> global average pool -> linear; for 1-D rows (sensor features) the same with
1-D convolutions over the standardised feature vector. Adam (lr 1e-3), batch 32, inputs
standardised with the training rows' mean and standard deviation; the last epoch's model is
tested. torch uses 2 threads (the machine's cores).

Prints {"rows": [{dataset, system, accuracy, latency_ms_p50, train_s}], "versions": {...}}.
"""
import argparse
import json
import time
import warnings

import peerlib

peerlib.threads(2)
import numpy as np  # noqa: E402


def load(prefix):
    meta = json.load(open(prefix + ".json"))
    x = np.fromfile(prefix + ".x", dtype="<f4").reshape(meta["rows"], meta["cols"])
    y = [line.rstrip("\n") for line in open(prefix + ".y")]
    return x, np.array(y), meta.get("shape")


def single_row_p50(predict, x):
    times = []
    for i in range(min(200, len(x))):
        with peerlib.Timer() as t:
            predict(x[i:i + 1])
        times.append(t.seconds * 1000)
    return float(np.median(times)) if times else 0.0


def sklearn_rows(dataset, xtr, ytr, xte, yte):
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC
    kinds = {"knn": KNeighborsClassifier(), "logreg": LogisticRegression(), "linear_svm": LinearSVC(),
             "rbf_svm": SVC(), "random_forest": RandomForestClassifier(), "mlp": MLPClassifier()}
    versions = {"sklearn": sklearn.__version__}
    try:
        import xgboost
        kinds["xgboost"] = xgboost.XGBClassifier()
        versions["xgboost"] = xgboost.__version__
    except ImportError:
        pass
    classes = sorted(set(ytr))
    index = {c: i for i, c in enumerate(classes)}
    ytr_i = np.array([index[c] for c in ytr])
    rows = []
    for name, model in kinds.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with peerlib.Timer() as t:
                model.fit(xtr, ytr_i)
        pred = model.predict(xte)
        acc = float(np.mean([classes[p] == y for p, y in zip(pred, yte)]))
        rows.append({"dataset": dataset, "system": f"sklearn {name}", "accuracy": acc,
                     "latency_ms_p50": single_row_p50(model.predict, xte), "train_s": t.seconds})
    return rows, versions


def torch_rows(dataset, xtr, ytr, xte, yte, shape, budget_s):
    import torch
    from torch import nn
    torch.set_num_threads(2)
    torch.manual_seed(0)
    classes = sorted(set(ytr))
    index = {c: i for i, c in enumerate(classes)}
    mean, std = xtr.mean(axis=0), xtr.std(axis=0) + 1e-6
    two_d = shape is not None
    view = (-1, 1, shape[0], shape[1]) if two_d else (-1, 1, xtr.shape[1])

    def prep(x):
        return torch.tensor((x - mean) / std, dtype=torch.float32).reshape(view)

    conv, bn, pool, avg = ((nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d) if two_d else
                           (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d))
    layers, cin = [], 1
    for cout in (16, 32, 64):
        layers += [conv(cin, cout, 3, padding=1), bn(cout), nn.ReLU(), pool(2)]
        cin = cout
    net = nn.Sequential(*layers, avg(1), nn.Flatten(), nn.Linear(64, len(classes)))
    xt, yt = prep(xtr), torch.tensor([index[c] for c in ytr])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    start, epochs = time.perf_counter(), 0
    while epochs < 300 and time.perf_counter() - start < budget_s:
        net.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            b = perm[i:i + 32]
            if len(b) < 2:
                continue
            opt.zero_grad()
            loss_fn(net(xt[b]), yt[b]).backward()
            opt.step()
            if time.perf_counter() - start >= budget_s:
                break
        epochs += 1
    train_s = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        pred = net(prep(xte)).argmax(dim=1).numpy()

        def predict(x):
            return net(prep(x)).argmax(dim=1)
        p50 = single_row_p50(predict, xte)
    acc = float(np.mean([classes[p] == y for p, y in zip(pred, yte)]))
    return [{"dataset": dataset, "system": "pytorch cnn", "accuracy": acc, "latency_ms_p50": p50,
             "train_s": train_s, "epochs": epochs}], {"torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--budget-s", type=float, default=60)
    ap.add_argument("--systems", default="sklearn,torch")
    a = ap.parse_args()
    xtr, ytr, shape = load(a.train)
    xte, yte, _ = load(a.test)
    rows, versions = [], peerlib.versions(np)
    for s in a.systems.split(","):
        if s == "sklearn":
            r, v = sklearn_rows(a.dataset, xtr, ytr, xte, yte)
        elif s == "torch":
            r, v = torch_rows(a.dataset, xtr, ytr, xte, yte, shape, a.budget_s)
        else:
            raise SystemExit(f"unknown system {s}")
        rows += r
        versions.update(v)
    peerlib.emit({"rows": rows, "versions": versions})


if __name__ == "__main__":
    main()
