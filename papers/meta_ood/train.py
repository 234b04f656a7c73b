"""Meta-training, pre-training and meta-test loops shared by the proposed method and the baselines."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from papers.meta_ood.data import OodTask, Pools
from papers.meta_ood.models import encoder


def stack(tasks: list[OodTask], dev=None) -> tuple[torch.Tensor, ...]:
    """(xs (T, N*K, D), ys (T, N*K), xq (T, Q, D), is_ood (T, Q)) of tasks with one layout, on ``dev``."""
    return tuple(torch.as_tensor(np.stack([getattr(t, k) for t in tasks])).to(dev) for k in ("xs", "ys", "xq", "is_ood"))


def meta_train(params, loss_fn: Callable[..., torch.Tensor], draw: Callable[[], OodTask], iters: int, batch: int,
               lr: float, log=None, dev=None) -> list[float]:
    """Adam on ``loss_fn(xs, ys, xq, is_ood)`` over batches of ``batch`` meta-training tasks; the losses."""
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for it in range(iters):
        loss = loss_fn(*stack([draw() for _ in range(batch)], dev))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log is not None and (it + 1) % max(1, iters // 5) == 0:
            log.info("meta-train %d/%d: loss %.4f", it + 1, iters, float(np.mean(losses[-50:])))
    return losses


def pretrain_encoder(pools: Pools, hidden: int, latent_dim: int, epochs: int, lr: float, seed: int,
                     kind: str = "mlp", dev=None, batch: int = 256) -> torch.nn.Module:
    """The pre-trained encoder (no meta-learning): the encoder of ``models.encoder`` with a linear softmax
    head, trained by minibatch Adam to classify the rows of all meta-training classes; the head is dropped."""
    rows = np.flatnonzero(np.isin(pools.y, pools.train_classes))
    remap = {int(c): i for i, c in enumerate(pools.train_classes)}
    x = torch.as_tensor(pools.x[rows]).to(dev)
    y = torch.as_tensor(np.array([remap[int(c)] for c in pools.y[rows]], dtype=np.int64)).to(dev)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    enc = encoder(x.shape[1], hidden, latent_dim, kind)
    net = torch.nn.Sequential(enc, torch.nn.Linear(x.shape[1] if kind == "residual" else latent_dim, len(remap))).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch].to(dev)
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return enc.cpu().eval()


def mean_auroc(score: Callable[[OodTask], np.ndarray], tasks: list[OodTask]) -> tuple[float, list[float]]:
    """Mean AUROC (%) over the tasks and the per-task values (higher score = more likely OoD)."""
    aucs = [100.0 * roc_auc_score(t.is_ood, np.asarray(score(t), dtype=np.float64)) for t in tasks]
    return float(np.mean(aucs)), aucs
