#!/usr/bin/python3
"""Tabular and sensor-style data sets: mliot against scikit-learn defaults.

For each data set: a stratified 75/25 train/test split written as CSV;
every scikit-learn (+ XGBoost) classifier with default settings is fitted on
the training part and scored on the test part ("best default" is the one with
the highest *test* accuracy, an oracle choice that favours the peer); then
`mliot train --budget-s B` and `mliot eval` on the same files.

Data sets: the ones Debian's scikit-learn ships (iris, wine, breast cancer,
digits as a 64-feature table) and synthetic ones from make_classification
(noisy, redundant and categorical-looking features; 2-6 classes; up to 20k
rows) standing in for sensor tables. Nothing here is tuned to a data set.

Usage: bench/tabular_suite.py [--budget-s 30] [--mliot build/mliot] [--only NAME,...] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def peers():
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.naive_bayes import GaussianNB
    import xgboost
    return {
        "logreg": lambda: LogisticRegression(max_iter=1000),
        "svc_rbf": lambda: SVC(),
        "knn": lambda: KNeighborsClassifier(),
        "random_forest": lambda: RandomForestClassifier(n_jobs=2),
        "gradient_boosting": lambda: GradientBoostingClassifier(),
        "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(),
        "xgboost": lambda: xgboost.XGBClassifier(tree_method="hist", n_jobs=2),
        "mlp": lambda: MLPClassifier(max_iter=500),
        "decision_tree": lambda: DecisionTreeClassifier(),
        "gaussian_nb": lambda: GaussianNB(),
    }


def suite():
    out = {}
    for name, loader in [("iris", datasets.load_iris), ("wine", datasets.load_wine),
                         ("breast_cancer", datasets.load_breast_cancer), ("digits", datasets.load_digits)]:
        d = loader()
        out[name] = (d.data.astype(np.float64), d.target)
    rng = 7
    x, y = datasets.make_classification(n_samples=3000, n_features=20, n_informative=8, n_redundant=6,
                                        n_classes=4, n_clusters_per_class=2, flip_y=0.03, class_sep=0.8,
                                        random_state=rng)
    out["synth_3k_4class"] = (x, y)
    x, y = datasets.make_classification(n_samples=20000, n_features=40, n_informative=12, n_redundant=10,
                                        n_classes=6, n_clusters_per_class=3, flip_y=0.02, class_sep=1.0,
                                        random_state=rng + 1)
    x[:, :5] = np.round(x[:, :5] * 2)  # a few coarse, sensor-like quantised channels
    out["synth_20k_6class"] = (x, y)
    x, y = datasets.make_classification(n_samples=800, n_features=12, n_informative=4, n_redundant=2,
                                        n_classes=2, weights=[0.8, 0.2], flip_y=0.05, random_state=rng + 2)
    x = x * np.array([1, 10, 100, 1000, 0.01, 1, 1, 5, 50, 0.1, 1, 1])  # mixed scales
    out["synth_800_imbalanced"] = (x, y)
    return out


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join(f"f{i}" for i in range(x.shape[1])) + ",label\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",c{int(label)}\n")


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-s", type=float, default=30)
    ap.add_argument("--mliot", default="build/mliot")
    ap.add_argument("--only", default="")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = []
    tmp = tempfile.mkdtemp(prefix="mliot-tabular-")
    only = set(filter(None, a.only.split(",")))
    for name, (x, y) in suite().items():
        if only and name not in only:
            continue
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
        tr, te = os.path.join(tmp, name + "_train.csv"), os.path.join(tmp, name + "_test.csv")
        write_csv(tr, xtr, ytr)
        write_csv(te, xte, yte)
        peer = {}
        for kind, make in peers().items():
            t = time.time()
            m = make().fit(xtr, ytr)
            peer[kind] = {"accuracy": float((m.predict(xte) == yte).mean()), "fit_s": time.time() - t}
        best_kind = max(peer, key=lambda k: peer[k]["accuracy"])
        bundle = os.path.join(tmp, name + "_bundle")
        t = time.time()
        train = subprocess.run([a.mliot, "train", "--data", "csv:" + tr, "--out", bundle, "--budget-s",
                                str(a.budget_s), "--json"], capture_output=True, text=True)
        train_wall = time.time() - t
        if train.returncode != 0:
            print(train.stderr, file=sys.stderr)
            sys.exit(1)
        ev = subprocess.run([a.mliot, "eval", "--bundle", bundle, "--data", "csv:" + te, "--json"],
                            capture_output=True, text=True)
        tj, ej = last_json(train.stdout), last_json(ev.stdout)
        r = {"data": name, "rows": int(x.shape[0]), "features": int(x.shape[1]),
             "classes": int(len(set(y))), "mliot_accuracy": ej["accuracy"],
             "mliot_members": [m["kind"] for m in tj["members"]], "mliot_train_s": train_wall,
             "mliot_p50_ms": ej["latency_ms"]["p50"], "peer_best_kind": best_kind,
             "peer_best_accuracy": peer[best_kind]["accuracy"], "peer": peer}
        results.append(r)
        print(f"{name:22s} rows {r['rows']:6d}  mliot {r['mliot_accuracy']:.4f} "
              f"({', '.join(r['mliot_members'])}; {train_wall:.0f}s, p50 {r['mliot_p50_ms']:.3f} ms)  "
              f"best sklearn default {best_kind} {r['peer_best_accuracy']:.4f}", file=sys.stderr, flush=True)
    if a.json:
        print(json.dumps({"budget_s": a.budget_s, "results": results}))


if __name__ == "__main__":
    main()
