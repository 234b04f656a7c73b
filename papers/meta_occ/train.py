"""Meta-training and meta-test loops shared by the proposed method and the meta-learning baselines."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from papers.meta_occ.data import AnomalyTask


def stack(tasks: list[AnomalyTask]) -> tuple[torch.Tensor, ...]:
    """(xs, ys, xq, yq) tensors of a batch of tasks with the same support / query layout."""
    return (torch.as_tensor(np.stack([t.xs for t in tasks])), torch.as_tensor(np.stack([t.ys for t in tasks])),
            torch.as_tensor(np.stack([t.xq for t in tasks])), torch.as_tensor(np.stack([t.yq for t in tasks])))


def meta_train(params, loss_fn: Callable[..., torch.Tensor], draw: Callable[[], AnomalyTask], iters: int,
               batch: int, lr: float, log=None) -> list[float]:
    """Adam on ``loss_fn(xs, ys, xq, yq)`` over batches of ``batch`` meta-training tasks; the losses."""
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for it in range(iters):
        loss = loss_fn(*stack([draw() for _ in range(batch)]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log is not None and (it + 1) % max(1, iters // 5) == 0:
            log.info("meta-train %d/%d: loss %.4f", it + 1, iters, float(np.mean(losses[-50:])))
    return losses


def mean_auroc(score: Callable[[AnomalyTask], np.ndarray], tasks: list[AnomalyTask]) -> tuple[float, list[float]]:
    """Mean AUROC (%) over the tasks, and the per-task values (higher score = more anomalous)."""
    aucs = [100.0 * roc_auc_score(t.yq, np.asarray(score(t), dtype=np.float64)) for t in tasks]
    return float(np.mean(aucs)), aucs
