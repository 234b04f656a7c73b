"""One run = one method on the fixed one-class-vs-rest test tasks of one seed (Fashion-MNIST classes
held out from meta-training); the metric is the mean AUROC over the test tasks.

    python -m papers.meta_occ.run --method proposed
    make reproduce-meta-occ [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common.runtime import derive_seed, paper_logger, setup
from papers.meta_occ.baselines import METHODS
from papers.meta_occ.config import META_METHODS, Config
from papers.meta_occ.data import load_pools, make_test_tasks, train_task_sampler
from papers.meta_occ.train import mean_auroc

SLUG = "meta_occ"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    pools = load_pools(cfg.dataset, cfg.n_test_classes, derive_seed(cfg.seed, "class_split"))
    tasks = make_test_tasks(pools, cfg.n_test_tasks, cfg.n_normal, cfg.n_anomaly, cfg.n_query,
                            derive_seed(cfg.seed, "test_tasks"))
    draw = train_task_sampler(pools, cfg.n_normal, cfg.n_anomaly, cfg.n_train_query, derive_seed(cfg.seed, "train_tasks"))
    t0 = time.perf_counter()
    score = METHODS[cfg.method](draw, pools.x.shape[1], cfg, derive_seed(cfg.seed, "init"), log)
    t_fit = time.perf_counter() - t0
    auc, _ = mean_auroc(score, tasks)
    t_all = time.perf_counter() - t0
    log.info("%s: test classes %s, %d tasks, mean AUROC %.2f%% (meta-train %.1fs, total %.1fs)", cfg.method,
             pools.test_classes.tolist(), len(tasks), auc, t_fit, t_all)
    rows = [{"metric": "auroc_pct", "value": auc, "n": len(tasks)}, {"metric": "time_s", "value": t_all}]
    if cfg.method in META_METHODS:
        rows.append({"metric": "meta_train_s", "value": t_fit})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
