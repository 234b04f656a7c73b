"""One run = one method fitted on one stratified training subset of digits, scored on a test set.

    python -m papers._template.run --method softmax --train-frac 0.05
    make reproduce-template [PROFILE=smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from common.runtime import derive_seed, paper_logger, setup
from papers._template.baselines import METHODS
from papers._template.config import Config
from papers._template.data import load_split

SLUG = "_template"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    x_tr, y_tr, x_te, y_te = load_split(cfg.train_frac, cfg.test_frac, derive_seed(cfg.seed, "split"))
    predict = METHODS[cfg.method](x_tr, y_tr, cfg)
    acc = float(np.mean(predict(x_te) == y_te) * 100)
    log.info("%s: %d train, %d test, accuracy %.2f%%", cfg.method, len(y_tr), len(y_te), acc)
    return [{"metric": "test_acc_pct", "value": acc, "n": len(y_te)},
            {"metric": "n_train", "value": len(y_tr)}]


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
