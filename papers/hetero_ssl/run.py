"""One run = one (problem type, seed) cell: split the PMLB tables of the problem type by table into
meta-training / validation / test, meta-train the proposed network, its ablation without unlabelled data and
the meta-learning baselines on tasks of the training tables, then let every method of ``cfg.methods``
estimate the labels of the unlabelled instances of the same test tasks, for every number of labelled
instances of ``n_labelled``.

Rows (setting ``n_labelled=N``, per class for classification; value = mean over the test tasks, n = their
number): ``test_acc_pct`` (classification) or ``test_mse`` (regression, standardised target) on the
unlabelled instances; ``train_time_s`` (meta-training CPU seconds) and ``best_val_loss`` per meta-learner.

    python -m papers.hetero_ssl.run --profile smoke
    make reproduce-hetero-ssl [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.runtime import derive_seed, paper_logger, setup
from papers.hetero_ssl import baselines as B
from papers.hetero_ssl.config import Config
from papers.hetero_ssl.data import TaskSource, split_tables
from papers.hetero_ssl.method import HeteroSSLNet
from papers.hetero_ssl.train import meta_train, predict

SLUG = "hetero_ssl"
log = paper_logger(SLUG)


def build_meta_model(name: str, cfg: Config) -> torch.nn.Module:
    """A freshly initialised meta-learner of ``baselines.METHODS``."""
    p = cfg.problem
    if name in ("proposed", "proposed_nounlab"):
        return HeteroSSLNet(p, cfg.n_way if p == "classification" else 1, cfg.dim, cfg.heads, cfg.layers,
                            cfg.embed, cfg.head_steps, unlabelled=name == "proposed", raw_skip=cfg.raw_skip)
    if name == "hetero2020":
        return B.Hetero2020Net(p, cfg.n_way if p == "classification" else 1, cfg.hidden_2020)
    if name == "protonet":
        return B.PaddedProtoNet(p, cfg.d_max, cfg.hidden_padded, cfg.embed)
    if name == "maml":
        return B.PaddedMAML(p, cfg.d_max, cfg.n_way if p == "classification" else 1, cfg.hidden_padded,
                            cfg.maml_steps, cfg.maml_lr)
    raise ValueError(f"{name} is not a meta-learner")


def score(pred: np.ndarray, truth: np.ndarray, problem: str) -> float:
    return float(np.mean(pred == truth) * 100) if problem == "classification" else float(np.mean((pred - truth) ** 2))


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    setup(cfg)
    p, labs = cfg.problem, cfg.labelled_list()
    split = split_tables(p, derive_seed(cfg.seed, "table_split"), cfg.n_val_tables, cfg.n_test_tables,
                         cfg.table_list())
    sources = {k: TaskSource(p, v, cfg.n_way, cfg.n_unlabelled, labs[-1]) for k, v in split.items()}
    d_range = (cfg.d_min, cfg.d_max)
    tests = sources["test"].fixed_tasks(np.random.default_rng(derive_seed(cfg.seed, "test_tasks")),
                                        cfg.test_tasks_per_table, d_range)
    way = cfg.n_way if p == "classification" else 0
    vals = [t.with_labelled(labs[len(labs) // 2], way) for t in sources["val"].fixed_tasks(
        np.random.default_rng(derive_seed(cfg.seed, "val_tasks")), cfg.val_tasks_per_table, d_range)]
    log.info("%s: %d training, %d validation, %d test tables (%d test tasks); test tables %s", p,
             len(sources["train"].tables), len(sources["val"].tables), len(sources["test"].tables), len(tests),
             sorted(sources["test"].tables))
    metric = "test_acc_pct" if p == "classification" else "test_mse"
    rows: list[dict] = []
    for m in cfg.method_list():
        kind = B.METHODS[p][m]
        model = None
        if kind == "meta":
            torch.manual_seed(derive_seed(cfg.seed, f"init_{m}"))
            t0 = time.process_time()
            model, info = meta_train(build_meta_model(m, cfg), sources["train"], vals, cfg,
                                     derive_seed(cfg.seed, f"meta_tasks_{m}"), (labs[0], labs[-1]))
            rows += [{"method": m, "setting": "", "metric": "train_time_s", "value": time.process_time() - t0, "n": 1},
                     {"method": m, "setting": "", "metric": "best_val_loss", "value": info["best_val_loss"],
                      "n": len(vals)}]
            log.info("%s meta-trained: val loss history %s", m, [(s, round(v, 4)) for s, v in info["history"]])
        for n in labs:
            vals_n = []
            for i, task in enumerate(tests):
                t = task.with_labelled(n, way)
                if model is not None:
                    pred = predict(model, t, p, cfg.n_way)
                else:
                    pred = B.per_task_predict(m, p, t.x_l, t.y_l, t.x_u, derive_seed(cfg.seed, f"{m}_{i}"),
                                              cfg.rf_trees)
                vals_n.append(score(pred, t.y_u, p))
            rows.append({"method": m, "setting": f"n_labelled={n}", "metric": metric, "value": float(np.mean(vals_n)),
                         "n": len(vals_n)})
            log.info("%s n_labelled=%d: %s %.4f", m, n, metric, np.mean(vals_n))
    return [{"dataset": f"pmlb_{p}", **r} for r in rows]


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
