"""One run = one method on the fixed test tasks of one seed (Fashion-MNIST one-class-vs-rest tasks on
classes held out from meta-training, or ADBench tasks on the meta-test rows of each table); the metric
is the mean AUROC over the test tasks.

    python -m papers.meta_occ.run --method proposed
    make reproduce-meta-occ [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from common.runtime import derive_seed, paper_logger, setup
from papers.meta_occ.baselines import METHODS
from papers.meta_occ.config import META_METHODS, Config
from papers.meta_occ.data import (
    load_pools,
    load_table_pools,
    make_table_test_tasks,
    make_test_tasks,
    table_task_sampler,
    train_task_sampler,
)
from papers.meta_occ.train import mean_auroc

SLUG = "meta_occ"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    # numpy / scikit-learn BLAS threads follow torch's (common.runtime sets torch's only): on a loaded
    # machine an unlimited BLAS pool made the ADBench PCA ~6x slower.
    with threadpool_limits(limits=torch.get_num_threads()):
        return _run(cfg)


def _run(cfg: Config) -> list[dict]:
    split_seed, test_seed, train_seed = (derive_seed(cfg.seed, s) for s in ("class_split", "test_tasks", "train_tasks"))
    if cfg.dataset == "adbench":
        tp = load_table_pools(split_seed, cfg.n_normal, cfg.n_anomaly)
        tasks = make_table_test_tasks(tp, cfg.n_test_tasks, cfg.n_normal, cfg.n_anomaly, cfg.n_query, test_seed)
        draw = table_task_sampler(tp, cfg.n_normal, cfg.n_anomaly, cfg.n_train_query, train_seed)
        d_in, held_out = tp.dim, f"{len(tp.test_tables)} tables"
    else:
        pools = load_pools(cfg.dataset, cfg.n_test_classes, split_seed)
        tasks = make_test_tasks(pools, cfg.n_test_tasks, cfg.n_normal, cfg.n_anomaly, cfg.n_query, test_seed)
        draw = train_task_sampler(pools, cfg.n_normal, cfg.n_anomaly, cfg.n_train_query, train_seed)
        d_in, held_out = pools.x.shape[1], f"classes {pools.test_classes.tolist()}"
    t0 = time.perf_counter()
    score = METHODS[cfg.method](draw, d_in, cfg, derive_seed(cfg.seed, "init"), log)
    t_fit = time.perf_counter() - t0
    auc, _ = mean_auroc(score, tasks)
    t_all = time.perf_counter() - t0
    log.info("%s on %s: test %s, %d tasks, mean AUROC %.2f%% (meta-train %.1fs, total %.1fs)", cfg.method,
             cfg.dataset, held_out, len(tasks), auc, t_fit, t_all)
    rows = [{"metric": "auroc_pct", "value": auc, "n": len(tasks)}, {"metric": "time_s", "value": t_all}]
    if cfg.method in META_METHODS:
        rows.append({"metric": "meta_train_s", "value": t_fit})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
