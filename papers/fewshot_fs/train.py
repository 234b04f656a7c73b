"""Meta-training of the two meta-learned models and the evaluation of one selection on one target task.

Evaluation protocol (ours, after Abid et al. 2019's protocol for the concrete autoencoder): a method
sees only the N support instances of a target task and returns K feature indices; then

- ``test_recon_mse``: the common evaluator, a ridge regression from the K selected features to all
  D features fitted on the task's evaluation-training instances (never seen by a selector), mean
  squared error per feature on the query instances. It scores every method's selection alike.
- ``decoder_recon_mse``: the method's own reconstruction of the query instances (proposed, ablation
  and per-task concrete autoencoder only: the filter baselines have no decoder).
- ``test_acc_pct``: downstream classification of the task's classes, a 5-nearest-neighbour classifier
  on the K selected features with the evaluation-training instances as reference, accuracy on the
  query instances (labels are used here only).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from common.runtime import derive_seed, paper_logger
from papers.fewshot_fs import method as M
from papers.fewshot_fs.data import Task, TaskSource
from papers.fewshot_fs.models import FewShotSelector

log = paper_logger("fewshot_fs")


def train_meta_model(cfg, source: TaskSource, use_set_encoding: bool) -> FewShotSelector:
    """The proposed model (set encoding) or its ablation, meta-trained on the source tasks (Eq. 2)."""
    name = "proposed" if use_set_encoding else "proposed_noenc"
    torch.manual_seed(derive_seed(cfg.seed, f"init_{name}"))
    model = FewShotSelector(source.dim, cfg.n_selected, cfg.hidden, cfg.embed, use_set_encoding,
                            feature_hidden=cfg.feature_hidden)
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, f"gumbel_{name}"))
    rng = np.random.default_rng(derive_seed(cfg.seed, f"source_tasks_{name}"))
    losses = M.meta_train(model, lambda r, n: source.batch(r, cfg.meta_batch, n, cfg.train_query), cfg.meta_steps,
                          cfg.lr, cfg.temp_start, cfg.temp_end, gen, (cfg.train_support_min, cfg.train_support_max),
                          rng, log_every=max(cfg.meta_steps // 5, 1), log=log)
    log.info("%s meta-trained: final loss %.5f", name, float(np.mean(losses[-50:])))
    return model


def ridge_reconstruction_mse(x_fit: np.ndarray, x_test: np.ndarray, idx: np.ndarray, penalty: float) -> float:
    """The common evaluator: ridge from the selected columns to all columns (intercept unpenalised)."""
    a, b = np.asarray(x_fit, np.float64), np.asarray(x_test, np.float64)
    mu_s, mu = a[:, idx].mean(0), a.mean(0)
    s = a[:, idx] - mu_s
    coef = np.linalg.solve(s.T @ s + penalty * np.eye(len(idx)), s.T @ (a - mu))
    pred = (b[:, idx] - mu_s) @ coef + mu
    return float(((pred - b) ** 2).mean())


def downstream_accuracy(task: Task, idx: np.ndarray) -> float:
    clf = KNeighborsClassifier(n_neighbors=5).fit(task.eval_x[:, idx], task.eval_y)
    return float((clf.predict(task.query_x[:, idx]) == task.query_y).mean() * 100)


def evaluate(task: Task, idx: np.ndarray, cfg, recon: np.ndarray | None) -> dict[str, float]:
    if len(set(idx.tolist())) != cfg.n_selected:
        raise RuntimeError(f"a selector returned {len(set(idx.tolist()))} distinct features, not {cfg.n_selected}")
    out = {"test_recon_mse": ridge_reconstruction_mse(task.eval_x, task.query_x, idx, cfg.ridge),
           "test_acc_pct": downstream_accuracy(task, idx)}
    if recon is not None:
        out["decoder_recon_mse"] = float(((recon - task.query_x) ** 2).mean())
    return out
