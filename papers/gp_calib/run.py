"""One run = one (method, support size, seed) cell: split the 35 PMLB regression tables into meta-train /
val / test tables (the split and the test tasks depend on the seed only, so every method of a seed sees the
same ones), meta-train the method if it is meta-learned, then evaluate it on the fixed test tasks.

Rows: ``test_ece`` (expected calibration error of the predictive quantiles at levels 0.05..0.95 per test
task, averaged over tasks; lower is better), ``test_ece_pooled`` (the same over all query targets of all
test tasks at once), ``test_nll_nats`` (NLL per query target), ``test_mse`` (MSE of the predictive mean;
targets standardised per table).

    python -m papers.gp_calib.run --profile smoke --method dkt
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.runtime import derive_seed, paper_logger, setup
from papers.gp_calib.baselines import METHODS
from papers.gp_calib.config import Config
from papers.gp_calib.data import RegressionTaskSource, split_tables
from papers.gp_calib.train import meta_train, task_metrics, to_tensors

SLUG = "gp_calib"
log = paper_logger(SLUG)


def sources(cfg: Config) -> dict[str, RegressionTaskSource]:
    split = split_tables(derive_seed(cfg.seed, "table_split"), cfg.n_val_tables, cfg.n_test_tables)
    log.info("test tables: %s", ", ".join(split["test"]))
    return {k: RegressionTaskSource(v, cfg.n_features, cfg.n_support, cfg.n_query) for k, v in split.items()}


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    src = sources(cfg)
    dtype = getattr(torch, cfg.dtype)
    test = src["test"].sample(np.random.default_rng(derive_seed(cfg.seed, "test_tasks")), cfg.n_test_tasks)
    val = src["val"].sample(np.random.default_rng(derive_seed(cfg.seed, "val_tasks")), cfg.n_val_tasks)
    xs, ys, xq, yq = to_tensors(test, dtype)
    name, meth, t0, model, info = cfg.method, METHODS[cfg.method], time.time(), None, {}
    if meth.meta_learned:
        torch.manual_seed(derive_seed(cfg.seed, f"init_{name}"))
        model = meth.build(cfg, xs.shape[-1]).to(dtype)
        info = meta_train(cfg, model, meth.loss, src["train"], val,
                          np.random.default_rng(derive_seed(cfg.seed, f"meta_train_{name}")), name)
        model.eval()
    t1 = time.time()
    with torch.no_grad():
        pred = meth.predict(cfg, model, xs, ys, xq, derive_seed(cfg.seed, f"predict_{name}"))
    metrics = task_metrics(pred, yq)
    log.info("n_support=%d %s: %s (train %.1fs%s, predict %.1fs)", cfg.n_support, name,
             {k: round(v, 4) for k, v in metrics.items()}, t1 - t0,
             f", best iter {info['best_iter']}" if info else "", time.time() - t1)
    return [{"method": name, "metric": k, "value": v, "n": len(yq)} for k, v in metrics.items()]


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
