"""One run = one method on the fixed few-shot OoD test tasks of one dataset and seed (held-out classes);
the metric is the mean AUROC over the test tasks (ID queries vs OoD queries of unseen classes).

    python -m papers.meta_ood.run --profile quick --dataset digits --method proposed
    make reproduce-meta-ood [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from common.runtime import derive_seed, paper_logger, setup
from papers.meta_ood.baselines import METHODS
from papers.meta_ood.config import META_METHODS, Config
from papers.meta_ood.data import load_pools, make_test_tasks, train_task_sampler
from papers.meta_ood.train import mean_auroc

SLUG = "meta_ood"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    dev = setup(cfg)
    # numpy / scikit-learn BLAS threads follow torch's (common.runtime sets torch's only)
    with threadpool_limits(limits=torch.get_num_threads()):
        return _run(cfg, dev)


def _run(cfg: Config, dev) -> list[dict]:
    split_seed, test_seed, train_seed = (derive_seed(cfg.seed, s) for s in ("class_split", "test_tasks", "train_tasks"))
    pools = load_pools(cfg.dataset, cfg.test_frac, cfg.pca_dim, split_seed)
    tasks = make_test_tasks(pools, cfg.n_way, cfg.k_shot, cfg.n_query, cfg.n_test_tasks, test_seed)
    draw = train_task_sampler(pools, cfg.n_way, cfg.k_shot, cfg.n_train_query, train_seed)
    t0 = time.perf_counter()
    score = METHODS[cfg.method](pools, draw, cfg, derive_seed(cfg.seed, "init"), log, dev)
    t_fit = time.perf_counter() - t0
    auc, _ = mean_auroc(score, tasks)
    t_all = time.perf_counter() - t0
    log.info("%s on %s (%s): %d meta-training / %d held-out classes, %d tasks, mean AUROC %.2f%% "
             "(fit %.1fs, total %.1fs)", cfg.method, cfg.dataset, pools.name, len(pools.train_classes),
             len(pools.test_classes), len(tasks), auc, t_fit, t_all)
    rows = [{"metric": "auroc_pct", "value": auc, "n": len(tasks)}, {"metric": "time_s", "value": t_all}]
    if cfg.method in META_METHODS:
        rows.append({"metric": "meta_train_s", "value": t_fit})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
