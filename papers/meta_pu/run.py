"""One run = one (dataset, n_pos, n_unl, prior, prior known?, seed) cell: meta-train (or load from the
cache) the meta-learned methods, tune every method on the validation tasks (validation classes) with
the same budget, and evaluate it on the same fixed test tasks (test classes).

Rows per method: ``test_acc_pct`` (mean query accuracy over test tasks), ``test_auc_pct``,
``val_acc_pct`` and the chosen candidate; with an unknown prior, ``prior_abs_err`` of the proposed
estimate and of the baselines' shared estimate; on synthetic tasks, the Bayes rule's accuracy
(method ``bayes``).

    python -m papers.meta_pu.run --profile smoke --dataset synthetic
    make reproduce-meta-pu [PROFILE=smoke]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.runtime import derive_seed, paper_logger, setup
from papers.meta_pu import baselines as B
from papers.meta_pu import train as T
from papers.meta_pu.config import Config
from papers.meta_pu.data import bayes_accuracy, task_sources

SLUG = "meta_pu"
log = paper_logger(SLUG)


def sources(cfg: Config) -> dict:
    """Task sources of the meta-training, validation and test splits (disjoint classes)."""
    prior_range = tuple(cfg.train_prior_range)
    cell_range = (cfg.prior, cfg.prior)
    sizes = {"train": (cfg.train_pos_range[1], cfg.train_unl_range[1], cfg.n_query, prior_range),
             "val": (cfg.n_pos, cfg.n_unl, cfg.n_query, cell_range),
             "test": (cfg.n_pos, cfg.n_unl, cfg.n_query, cell_range)}
    fr = dict(zip(("train", "val", "test"), cfg.class_fractions))
    return task_sources(cfg.dataset, fr, derive_seed(cfg.seed, "class_split"), sizes, cfg.synthetic_dim)


def fixed_tasks(src, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [src.sample(rng) for _ in range(n)]


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    setup(cfg)
    src = sources(cfg)
    dtype = getattr(torch, cfg.dtype)
    val_tasks = fixed_tasks(src["val"], cfg.n_val_tasks, derive_seed(cfg.seed, "val_tasks"))
    test_tasks = fixed_tasks(src["test"], cfg.n_test_tasks, derive_seed(cfg.seed, "test_tasks"))
    val, test = T.stack(val_tasks, dtype), T.stack(test_tasks, dtype)
    in_dim = test["x_pos"].shape[-1]
    est = {}
    if not cfg.prior_known:  # the baselines' shared per-task estimate (kernel uLSIF, 1 / max r)
        est = {"val": B.ulsif_prior_estimate(val, cfg, derive_seed(cfg.seed, "prior_est/val")),
               "test": B.ulsif_prior_estimate(test, cfg, derive_seed(cfg.seed, "prior_est/test"))}
    true = {"val": val["prior"], "test": test["prior"]}
    rows = []

    def add(method: str, metrics: dict, n: int = len(test_tasks)) -> None:
        rows.extend({"method": method, "metric": k, "value": v, "n": n} for k, v in metrics.items())

    for name in cfg.method_list():
        spec = B.METHODS[name]
        t0 = time.time()
        candidates = T.checkpoints(cfg, name, src["train"], in_dim) if spec.meta_learned else list(spec.grid(cfg))
        t1 = time.time()
        if cfg.prior_known or not spec.needs_prior:
            priors = true
        else:
            priors = {"val": None, "test": None} if name == "proposed" else est
        metrics = T.tune_and_test(cfg, name, candidates, val, test, priors)
        if name == "proposed" and not cfg.prior_known:
            with torch.no_grad():
                m = candidates[int(metrics["chosen_checkpoint"])]
                _, pi_hat = m.scores(test["x_pos"], test["x_unl"], test["x_query"], None, cfg.prior_min, cfg.prior_max)
            metrics["prior_abs_err"] = float((pi_hat - test["prior"]).abs().mean())
        log.info("%s n_pos=%d n_unl=%d prior=%g known=%s %s: acc %.2f (train %.1fs, tune+test %.1fs)", cfg.dataset,
                 cfg.n_pos, cfg.n_unl, cfg.prior, cfg.prior_known, name, metrics["test_acc_pct"], t1 - t0,
                 time.time() - t1)
        add(name, metrics)
    if est:
        add("baseline_prior_estimate", {"prior_abs_err": float((est["test"] - test["prior"]).abs().mean())})
    if cfg.dataset == "synthetic":
        add("bayes", {"test_acc_pct": float(100 * np.mean([bayes_accuracy(t) for t in test_tasks]))})
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
