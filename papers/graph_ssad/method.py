"""The proposed method of Kumagai, Iwata & Fujiwara (IJCNN 2021, arXiv 2002.12011).

Source: the paper's method and protocol as transcribed in the project brief (BRIEFS §21,
items marked [paper]) and its abstract; its full text could not be read here, so no section or
equation numbers are cited.

* Node embeddings ``h_v`` by a GCN (``models.GCN``: 3 layers, 32 hidden units, ReLU, 32-d output).
* Anomaly score of node v: ``a(v) = || h_v - c ||^2`` (distance to the hypersphere centre c).
* Centre ``c``: the mean embedding of the labelled normal nodes (computed with the initial
  network and then kept fixed, as in Deep SVDD, Ruff et al. 2018).
* Loss (the paper's objective): ``L = 1/|N| sum_{n in N} a(v_n)
  - lambda * 1/(|A||N|) sum_{a in A} sum_{n in N} sigmoid(a(v_a) - a(v_n))``,
  N / A the labelled normal / anomalous nodes. The second term is a smooth AUC over the
  labelled pairs; ``lambda = 0`` gives the normal-only variant (Deep SVDD on a GCN).
* ``lambda`` in {1, 10, 100, 1000, 10000} chosen by validation AUC; Adam, lr 1e-3; up to 500
  epochs with early stopping on validation AUC.

Choices the paper does not fix, taken here and listed in the README: the layers have no bias
(Deep SVDD's guard against the trivial constant embedding), ``c`` is fixed at initialisation,
early stopping keeps the parameters of the epoch with the best validation AUC and stops after
``patience`` epochs without improvement. Pure functions of tensors and arrays: no file I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from papers.graph_ssad.models import device_of
from papers.graph_ssad.models import encoder as make_encoder


def anomaly_score(h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The paper's anomaly score ``a(v) = ||h_v - c||^2`` for every row of ``h``."""
    return ((h - c) ** 2).sum(-1)


def hypersphere_center(h: torch.Tensor, center_eps: float = 0.0) -> torch.Tensor:
    """Mean embedding; with ``center_eps > 0`` coordinates closer to 0 than that are moved to
    +-center_eps (the guard in Ruff et al.'s Deep SVDD / Deep SAD code; not in this paper)."""
    c = h.mean(0)
    if center_eps > 0:
        small = c.abs() < center_eps
        c = torch.where(small & (c < 0), torch.full_like(c, -center_eps), c)
        c = torch.where(small & (c >= 0), torch.full_like(c, center_eps), c)
    return c


def smooth_auc(score_anomalous: torch.Tensor, score_normal: torch.Tensor) -> torch.Tensor:
    """``1/(|A||N|) sum_a sum_n sigmoid(a(v_a) - a(v_n))``: the AUC with the step replaced by a sigmoid."""
    return torch.sigmoid(score_anomalous[:, None] - score_normal[None, :]).mean()


def proposed_loss(scores: torch.Tensor, normal_idx: torch.Tensor, anomalous_idx: torch.Tensor,
                  lam: float) -> torch.Tensor:
    """The paper's objective ``L``: mean normal score minus ``lam`` times the smooth AUC."""
    loss = scores[normal_idx].mean()
    if lam != 0.0:
        if len(anomalous_idx) == 0:
            raise ValueError("the AUC term needs at least one labelled anomalous node")
        loss = loss - lam * smooth_auc(scores[anomalous_idx], scores[normal_idx])
    return loss


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC with anomalies (y = 1) as positives; nan when one class is absent.

    Mann-Whitney form with mid-ranks for ties (equal to sklearn's ``roc_auc_score``, tested),
    written out because it runs after every epoch.
    """
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class Fit:
    """What one training run gives: validation AUC of the kept epoch and scores of every node."""

    val_auc: float
    scores: np.ndarray
    epoch: int
    epochs_run: int


def train_with_early_stopping(model: nn.Module,
                              loss_fn: Callable[[nn.Module], tuple[torch.Tensor, torch.Tensor]],
                              y_val: np.ndarray,
                              val_idx: np.ndarray, epochs: int, patience: int, lr: float,
                              weight_decay: float = 0.0) -> Fit:
    """Full-batch Adam on ``loss_fn(model) -> (loss, scores of every node)``; the validation AUC
    of the scores after every epoch; keeps the best epoch (epoch 0 = the initial network) and
    stops after ``patience`` epochs without improvement."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best_val, best_scores, best_epoch, best_state = -np.inf, None, 0, None
    since, epoch = 0, 0
    # Epoch t evaluates the parameters after t updates, on the forward pass that also gives
    # the loss of update t+1 (no dropout/batch-norm, so train and eval passes are the same).
    for epoch in range(0, epochs + 1):
        opt.zero_grad()
        loss, scores = loss_fn(model)
        s = scores.detach().cpu().numpy().astype(np.float64)
        v = auc(y_val, s[val_idx]) if np.all(np.isfinite(s)) else float("nan")
        if v > best_val or best_state is None:
            best_val, best_scores, best_epoch, since = v, s, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since += 1
            if since >= patience:
                break
        if epoch == epochs or not torch.isfinite(loss):
            break
        loss.backward()
        opt.step()
    model.load_state_dict(best_state)
    return Fit(float(best_val), best_scores, best_epoch, epoch)


def fit_hypersphere(model: nn.Module, x: torch.Tensor, a_hat: torch.Tensor | None, y: np.ndarray,
                    labelled: np.ndarray, val: np.ndarray, lam: float, epochs: int, patience: int,
                    lr: float, center_eps: float = 0.0) -> Fit:
    """Train ``model`` with :func:`proposed_loss` (``lam = 0``: normal labels only)."""
    lab_y = y[labelled]
    dev = device_of(x)
    normal_idx = torch.as_tensor(labelled[lab_y == 0], device=dev)
    anomalous_idx = torch.as_tensor(labelled[lab_y == 1], device=dev)
    with torch.no_grad():
        # centre: mean initial embedding of the labelled normal nodes, then fixed
        c = hypersphere_center(model(x, a_hat)[normal_idx], center_eps)

    def loss_fn(m):
        scores = anomaly_score(m(x, a_hat), c)
        return proposed_loss(scores, normal_idx, anomalous_idx, lam), scores

    return train_with_early_stopping(model, loss_fn, y[val], val, epochs, patience, lr)


def select_by_validation(fits: Sequence[tuple[float, Fit]]) -> tuple[float, Fit]:
    """The (hyperparameter, fit) with the highest validation AUC; ties go to the first."""
    best = max(range(len(fits)), key=lambda i: (fits[i][1].val_auc, -i))
    return fits[best]


def proposed(x: torch.Tensor, a_hat: torch.Tensor, y: np.ndarray, labelled: np.ndarray, val: np.ndarray,
             lambdas: Sequence[float], seed: int, hidden: int = 32, d_out: int = 32, layers: int = 3,
             epochs: int = 500, patience: int = 50, lr: float = 1e-3,
             encoder: str = "gcn", center_eps: float = 0.0, bias: bool = False) -> tuple[float, Fit]:
    """The proposed method (``encoder='gcn'``) for each lambda, best by validation AUC.

    ``encoder='mlp'`` is the paper's "Deep SVDD + AUC" baseline (same loss, no graph);
    ``lambdas=(0,)`` is the normal-only variant (or plain Deep SVDD with ``encoder='mlp'``).
    """
    fits = []
    for lam in lambdas:
        torch.manual_seed(seed)
        model = make_encoder(encoder, x.shape[1], hidden, d_out, layers, bias).to(device_of(x))
        fits.append((float(lam), fit_hypersphere(model, x, a_hat if encoder == "gcn" else None, y, labelled,
                                                 val, float(lam), epochs, patience, lr, center_eps)))
    return select_by_validation(fits)
