"""scikit-learn side of bench/model.ts: same files, same split (data row index % 5 == 0 -> test), same
hyperparameters, same categorical encoding as the histogram forest's default (every string column -> one ordinal code
ordered by smoothed target rate on the training rows; --one-hot-max K one-hot encodes columns with <= K levels).
--uci-one-hot-max K adds a second UCI run with that one-hot setting ("uci_onehot"), for reference. Prints one JSON
object (fit_seconds: median over --uci-repeat fits on UCI, fit_seconds_first: the first); fit_cpu_seconds is the process CPU time of the fit (all threads), less sensitive to other load than wall time.

usage: python3 bench/sklearn_forest.py --synth FILE --uci FILE [--trees 100] [--min-leaf 5] [--max-depth N] [--jobs 2]
       [--seed 42] [--one-hot-max 0] [--uci-one-hot-max K]
"""
import argparse
import json
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score


def encode(train, test, label_col, positive, exclude, one_hot_max, smoothing=10.0):
    y_tr = (train[label_col].astype(str).str.strip() == positive).astype(int).to_numpy()
    y_te = (test[label_col].astype(str).str.strip() == positive).astype(int).to_numpy()
    prior = y_tr.mean()
    cols_tr, cols_te = [], []
    for c in train.columns:
        if c == label_col or c in exclude:
            continue
        if not pd.api.types.is_numeric_dtype(train[c]):
            s_tr, s_te = train[c].astype(str), test[c].astype(str)
            levels = sorted(s_tr.unique())
            if len(levels) <= one_hot_max:
                for lv in levels:
                    cols_tr.append((s_tr == lv).astype(float).to_numpy())
                    cols_te.append((s_te == lv).astype(float).to_numpy())
            else:
                g = pd.DataFrame({"v": s_tr, "y": y_tr}).groupby("v")["y"].agg(["sum", "count"])
                rate = (g["sum"] + prior * smoothing) / (g["count"] + smoothing)
                order = sorted(levels, key=lambda lv: (rate[lv], lv))
                code = {lv: i for i, lv in enumerate(order)}
                cols_tr.append(s_tr.map(code).astype(float).to_numpy())
                cols_te.append(s_te.map(code).astype(float).to_numpy())
        else:
            cols_tr.append(train[c].astype(float).to_numpy())
            cols_te.append(test[c].astype(float).to_numpy())
    return np.column_stack(cols_tr), y_tr, np.column_stack(cols_te), y_te


def run(name, file, sep, label_col, positive, exclude, args, one_hot_max, repeat=1):
    df = pd.read_csv(file, sep=sep)
    test_mask = (np.arange(len(df)) % 5) == 0
    Xtr, ytr, Xte, yte = encode(df[~test_mask].reset_index(drop=True), df[test_mask].reset_index(drop=True), label_col, positive, exclude, one_hot_max)
    rf = RandomForestClassifier(
        n_estimators=args.trees,
        max_features="sqrt",
        min_samples_leaf=args.min_leaf,
        max_depth=args.max_depth,
        n_jobs=args.jobs,
        random_state=args.seed,
    )
    walls, cpus = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        c0 = time.process_time()
        rf.fit(Xtr, ytr)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - t0)
    t1 = time.perf_counter()
    p = rf.predict_proba(Xte)[:, 1]
    t2 = time.perf_counter()
    return {
        "dataset": name,
        "train_rows": int(len(ytr)),
        "test_rows": int(len(yte)),
        "encoded_features": int(Xtr.shape[1]),
        "one_hot_max": one_hot_max,
        "fit_seconds": float(np.median(walls)),
        "fit_cpu_seconds": float(np.median(cpus)),
        "fit_seconds_first": walls[0],
        "fit_seconds_all": walls,
        "score_seconds": t2 - t1,
        "auc": float(roc_auc_score(yte, p)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synth")
    ap.add_argument("--uci")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--min-leaf", type=int, default=5)
    ap.add_argument("--max-depth", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--one-hot-max", type=int, default=0)
    ap.add_argument("--uci-one-hot-max", type=int, default=None)
    ap.add_argument("--uci-repeat", type=int, default=1, help="fits on UCI; fit_seconds is their median")
    args = ap.parse_args()
    import sklearn

    out = {"sklearn": sklearn.__version__, "n_jobs": args.jobs}
    if args.synth:
        out["synthetic"] = run("synthetic", args.synth, ",", "y", "1", [], args, args.one_hot_max)
    if args.uci:
        out["uci"] = run("uci", args.uci, ";", "y", "yes", ["duration"], args, args.one_hot_max, args.uci_repeat)
        if args.uci_one_hot_max is not None:
            out["uci_onehot"] = run("uci", args.uci, ";", "y", "yes", ["duration"], args, args.uci_one_hot_max)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
