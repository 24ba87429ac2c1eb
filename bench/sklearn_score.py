"""scikit-learn side of bench/score.ts: a RandomForestClassifier with the daily run's parameters (trees, max depth 12,
min leaf 20, sqrt features, balanced class weights, NaN = missing) fitted on the same training rows, then
predict_proba over the same scoring rows with n_jobs threads. Text columns become codes of their sorted levels, t/f
columns 1/0. Prints one JSON object: predict_seconds (median of --repeat), predict_cpu_seconds, tree node counts.

usage: python3 bench/sklearn_score.py --train FILE --score FILE [--trees 100] [--jobs 2] [--repeat 3]
"""
import argparse
import json
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier


def encode(train, score):
    cols_tr, cols_sc = [], []
    for c in train.columns:
        if c == "label":
            continue
        tr, sc = train[c], score[c]
        if pd.api.types.is_numeric_dtype(tr) and pd.api.types.is_numeric_dtype(sc):
            cols_tr.append(tr.astype(float).to_numpy())
            cols_sc.append(sc.astype(float).to_numpy())
            continue
        levels = sorted(set(tr.dropna().astype(str)) | set(sc.dropna().astype(str)))
        if set(levels) <= {"t", "f"}:
            code = {"t": 1.0, "f": 0.0}
        else:
            code = {lv: float(i) for i, lv in enumerate(levels)}
        cols_tr.append(tr.map(lambda v: code.get(v, np.nan) if isinstance(v, str) else np.nan).to_numpy(dtype=float))
        cols_sc.append(sc.map(lambda v: code.get(v, np.nan) if isinstance(v, str) else np.nan).to_numpy(dtype=float))
    return np.column_stack(cols_tr), np.column_stack(cols_sc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--score", required=True)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    import sklearn

    train = pd.read_csv(args.train)
    score = pd.read_csv(args.score, low_memory=False)
    Xtr, Xsc = encode(train, score)
    rf = RandomForestClassifier(n_estimators=args.trees, max_depth=12, min_samples_leaf=20, max_features="sqrt", class_weight="balanced", n_jobs=args.jobs, random_state=args.seed)
    t0 = time.perf_counter()
    rf.fit(Xtr, train["label"].to_numpy())
    fit = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(args.repeat):
        t1, c1 = time.perf_counter(), time.process_time()
        p = rf.predict_proba(Xsc)[:, 1]
        cpus.append(time.process_time() - c1)
        walls.append(time.perf_counter() - t1)
    print(json.dumps({
        "sklearn": sklearn.__version__,
        "n_jobs": args.jobs,
        "rows": int(Xsc.shape[0]),
        "features": int(Xsc.shape[1]),
        "fit_seconds": fit,
        "predict_seconds": float(np.median(walls)),
        "predict_seconds_all": walls,
        "predict_cpu_seconds": float(np.median(cpus)),
        "tree_nodes_mean": float(np.mean([e.tree_.node_count for e in rf.estimators_])),
        "mean_probability": float(p.mean()),
    }))


if __name__ == "__main__":
    main()
