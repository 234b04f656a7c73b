import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestCentroid

from common.data import DataMissingError, load_digits
from common.runtime import seed_everything


def run(cfg, workdir=None):
    if cfg.method == "noop":  # for measuring the sweep's own overhead per cell
        return [{"metric": "noop", "value": 0.0}]
    if cfg.dataset != "digits":  # bad input: the sweep stops with one error line
        raise DataMissingError(f"dataset {cfg.dataset!r} not found (the fixture paper knows only 'digits')")
    seed_everything(cfg.seed)
    if cfg.sleep_s:
        time.sleep(cfg.sleep_s)
    ds = load_digits()
    x = ds.x.reshape(len(ds.x), -1) / 16.0
    xtr, xte, ytr, yte = train_test_split(x, ds.y, train_size=cfg.train_frac, stratify=ds.y,
                                          random_state=cfg.seed)
    if cfg.method == "crash":  # an ordinary failure: the cell fails, the sweep goes on
        raise RuntimeError(f"injected failure (seed {cfg.seed})")
    if cfg.method == "logreg":
        model = LogisticRegression(C=cfg.C, max_iter=500)
    else:
        model = NearestCentroid()
    model.fit(xtr, ytr)
    acc = float(np.mean(model.predict(xte) == yte) * 100)
    return [{"metric": "test_acc_pct", "value": acc, "n": len(yte)},
            {"metric": "train_size", "value": len(ytr)}]


if __name__ == "__main__":
    import sys

    from common.cli import paper_main

    sys.exit(paper_main("digits_logreg"))
