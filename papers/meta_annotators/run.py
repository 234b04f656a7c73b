"""One run = one method on one dataset and seed: meta-training (meta-learned methods), then the fixed test
tasks of every test setting; per setting the mean query accuracy of the adapted classifier and, for
methods that estimate confusion matrices, their mean total-variation error.

    python -m papers.meta_annotators.run --profile quick --dataset labelme --method proposed
    make reproduce-meta-annotators [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from common.runtime import derive_seed, paper_logger, setup
from papers.meta_annotators.baselines import METHODS
from papers.meta_annotators.config import META_METHODS, REAL, Config
from papers.meta_annotators.data import RealCrowdTaskSampler, SimulatedTaskSampler, crowd_features, synthetic_pools
from papers.meta_annotators.method import confusion_tv_error

SLUG = "meta_annotators"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    dev = setup(cfg)
    with threadpool_limits(limits=torch.get_num_threads()):
        return _run(cfg, dev)


def synthetic_settings(cfg: Config) -> list[tuple[int, int]]:
    """(K, J) pairs of the synthetic test settings: test_shots x {n_annotators}, then {k_shot} x test_annotators."""
    out = [(k, cfg.n_annotators) for k in cfg.test_shots] + [(cfg.k_shot, j) for j in cfg.test_annotators]
    return list(dict.fromkeys(out))


def build_tasks(cfg: Config):
    """(input dimension, meta-training batch drawer, {setting label: fixed test tasks})."""
    split_seed, test_seed, train_seed = (derive_seed(cfg.seed, s) for s in ("class_split", "test_tasks", "train_tasks"))
    rng_train = np.random.default_rng(train_seed)
    if cfg.dataset in REAL:
        data = crowd_features(cfg.dataset, cfg.pca_dim, split_seed)
        # ours: meta-training tasks as large as the gold-only pool allows (Music: 300 songs, 24+ per genre)
        half = int(np.bincount(data.ys).min()) // 2
        train = SimulatedTaskSampler(data.xs, data.ys, np.unique(data.ys), cfg.n_way, min(cfg.n_query, half),
                                     cfg.acc_low, cfg.acc_high, cfg.labels_per_item, f"{cfg.dataset} (gold-only items)")
        test = RealCrowdTaskSampler(data, cfg.n_way, cfg.k_shot, cfg.n_query)
        rng = np.random.default_rng(test_seed)
        tasks = {f"K={cfg.k_shot};N={cfg.n_way}": [test.sample(rng) for _ in range(cfg.n_test_tasks)]}
        shapes = [(min(cfg.k_shot, half), cfg.n_annotators)]
        d_in = data.x.shape[1]
    else:
        pools = synthetic_pools(cfg.dataset, cfg.test_frac, cfg.pca_dim, split_seed)
        sampler = lambda classes, name: SimulatedTaskSampler(  # noqa: E731
            pools.x, pools.y, classes, cfg.n_way, cfg.n_query, cfg.acc_low, cfg.acc_high, cfg.labels_per_item, name)
        train, test = sampler(pools.train_classes, f"{pools.name} (meta-training classes)"), \
            sampler(pools.test_classes, f"{pools.name} (held-out classes)")
        tasks = {}
        for k, j in synthetic_settings(cfg):
            rng = np.random.default_rng(derive_seed(test_seed, f"K={k};J={j}"))
            tasks[f"K={k};J={j}"] = [test.sample(rng, k, j) for _ in range(cfg.n_test_tasks)]
        shapes = synthetic_settings(cfg)   # ours: meta-training covers the test settings' shapes
        d_in = pools.x.shape[1]

    def draw():
        k, j = shapes[rng_train.integers(len(shapes))]
        return [train.sample(rng_train, k, j) for _ in range(cfg.meta_batch)]
    return d_in, draw, tasks


def _run(cfg: Config, dev) -> list[dict]:
    d_in, draw, tasks = build_tasks(cfg)
    t0 = time.perf_counter()
    predict = METHODS[cfg.method](d_in, draw, cfg, derive_seed(cfg.seed, "init"), log, dev)
    t_fit = time.perf_counter() - t0
    rows = []
    for setting, ts in tasks.items():
        accs, errs = [], []
        for t in ts:
            pred, theta = predict(t)
            accs.append(100.0 * float(np.mean(np.asarray(pred) == t.yq)))
            if theta is not None:
                errs.append(float(confusion_tv_error(torch.as_tensor(theta), torch.as_tensor(t.theta),
                                                     torch.as_tensor(t.theta_mask))))
        log.info("%s on %s, %s: accuracy %.2f%% over %d tasks%s", cfg.method, cfg.dataset, setting, np.mean(accs),
                 len(ts), f", confusion TV error {np.mean(errs):.3f}" if errs else "")
        rows.append({"setting": setting, "metric": "test_acc_pct", "value": float(np.mean(accs)), "n": len(ts)})
        if errs:
            rows.append({"setting": setting, "metric": "conf_err_tv", "value": float(np.mean(errs)), "n": len(ts)})
    t_all = time.perf_counter() - t0
    rows.append({"setting": "all", "metric": "time_s", "value": t_all})
    if cfg.method in META_METHODS:
        rows.append({"setting": "all", "metric": "meta_train_s", "value": t_fit})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
