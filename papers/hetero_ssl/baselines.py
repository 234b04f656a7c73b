"""Baselines under the same protocol: every method gets a task's labelled instances and its unlabelled
instances (the semi-supervised ones use them) and estimates the unlabelled instances' labels.

Meta-learners (meta-trained on the same tasks as the proposed method; ``forward(x, y_l)`` with the labelled
instances first, as ``method.HeteroSSLNet``):
- ``hetero2020``: Iwata & Kumagai (NeurIPS 2020), meta-learning from tasks with heterogeneous attribute
  spaces, written from its description (README): DeepSets blocks (3-layer MLPs of ``hidden`` units, ReLU)
  alternate attribute representations v_i = g(mean_n f([x_ni, y_n, z_n])) over the labelled instances and
  instance representations z_n = g(mean_i f([x_ni, v_i])); classification scores = -||z - prototype||^2,
  regression = an MLP of [z, task representation] (ours). Supervised: the unlabelled instances are only
  queries.
- ``protonet``: prototypical network (Snell et al. 2017) on attributes zero-padded / truncated to a fixed
  size; for regression the same encoder with the closed-form ridge head (ours, ProtoNet has no regressor).
- ``maml``: MAML (Finn et al. 2017, second-order) of an MLP on the padded attributes.
- ``proposed_nounlab``: the proposed network without unlabelled data (ablation, method.py).
Per-task models (scikit-learn, fitted on each task alone): ``logreg`` / ``ridge``, ``rf``,
``label_spreading`` (classification: sklearn LabelSpreading; regression: the same propagation applied to
[y, 1] and normalised, ours), ``self_training`` (sklearn SelfTrainingClassifier on logistic regression;
classification only).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from torch import Tensor, nn

from common.meta.closed_form import weighted_ridge
from common.meta.encoders import mlp


class Hetero2020Net(nn.Module):
    """The 2020 heterogeneous-attribute meta-learner (supervised; DeepSets over attributes and instances)."""

    def __init__(self, problem: str, n_label_columns: int, hidden: int = 32, rounds: int = 2) -> None:
        super().__init__()
        self.problem, self.rounds, h, n_lab = problem, rounds, hidden, n_label_columns
        self.f_v = nn.ModuleList(mlp(1 + n_lab + (h if r else 0), h, h, 2) for r in range(rounds))
        self.g_v = nn.ModuleList(mlp(h, h, h, 2) for _ in range(rounds))
        self.f_z = nn.ModuleList(mlp(1 + h, h, h, 2) for _ in range(rounds))
        self.g_z = nn.ModuleList(mlp(h, h, h, 2) for _ in range(rounds))
        if problem == "regression":
            self.f_task = mlp(h + 1, h, h, 2)
            self.g_y = mlp(2 * h, h, 1, 2)

    def embed(self, x: Tensor, y_l: Tensor) -> Tensor:
        n_l = y_l.shape[1]
        xl = x[:, :n_l]
        d = xl.shape[2]
        z = None
        for r in range(self.rounds):
            # attribute representation v_i from the labelled instances: pooled over n of f([x_ni, y_n, z_n])
            parts = [xl.unsqueeze(-1), y_l[:, :, None, :].expand(-1, -1, d, -1)]
            if z is not None:
                parts.append(z[:, :n_l, None, :].expand(-1, -1, d, -1))
            v = self.g_v[r](self.f_v[r](torch.cat(parts, -1)).mean(1))                          # (B, D, h)
            # instance representation z_n from its attributes: pooled over i of f([x_ni, v_i])
            zin = torch.cat([x.unsqueeze(-1), v[:, None].expand(-1, x.shape[1], -1, -1)], -1)
            z = self.g_z[r](self.f_z[r](zin).mean(2))                                          # (B, N, h)
        return z

    def forward(self, x: Tensor, y_l: Tensor) -> Tensor:
        n_l = y_l.shape[1]
        z = self.embed(x, y_l)
        zl, zu = z[:, :n_l], z[:, n_l:]
        if self.problem == "classification":
            protos = (y_l.transpose(1, 2) @ zl) / y_l.sum(1).unsqueeze(-1).clamp_min(1.0)
            return -torch.cdist(zu, protos) ** 2
        task = self.f_task(torch.cat([zl, y_l], -1)).mean(1, keepdim=True).expand(-1, zu.shape[1], -1)
        return self.g_y(torch.cat([zu, task], -1))


def pad_attributes(x: Tensor, d_fixed: int) -> Tensor:
    """Zero-pad (or truncate) the attribute axis to ``d_fixed`` columns."""
    d = x.shape[-1]
    return x[..., :d_fixed] if d >= d_fixed else F.pad(x, (0, d_fixed - d))


class PaddedProtoNet(nn.Module):
    """ProtoNet on padded attributes; ridge head (closed form) for regression."""

    def __init__(self, problem: str, d_fixed: int, hidden: int = 64, embed: int = 32) -> None:
        super().__init__()
        self.problem, self.d_fixed = problem, d_fixed
        self.encoder = mlp(d_fixed, hidden, embed, 2)
        self.log_lam = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: Tensor, y_l: Tensor) -> Tensor:
        n_l = y_l.shape[1]
        z = self.encoder(pad_attributes(x, self.d_fixed))
        zl, zu = z[:, :n_l], z[:, n_l:]
        if self.problem == "classification":
            protos = (y_l.transpose(1, 2) @ zl) / y_l.sum(1).unsqueeze(-1).clamp_min(1.0)
            return -torch.cdist(zu, protos) ** 2
        phi_l = torch.cat([zl, torch.ones_like(zl[..., :1])], -1)
        phi_u = torch.cat([zu, torch.ones_like(zu[..., :1])], -1)
        w = weighted_ridge(phi_l, y_l, torch.ones_like(phi_l[..., 0]), F.softplus(self.log_lam) + 1e-3)
        return phi_u @ w


class PaddedMAML(nn.Module):
    """MAML: an MLP on padded attributes, ``inner_steps`` SGD steps on the labelled instances per task."""

    def __init__(self, problem: str, d_fixed: int, n_out: int, hidden: int = 64, inner_steps: int = 5,
                 inner_lr: float = 0.1) -> None:
        super().__init__()
        self.problem, self.d_fixed, self.steps, self.inner_lr = problem, d_fixed, inner_steps, inner_lr
        self.net = mlp(d_fixed, hidden, n_out, 2)

    def _apply(self, params: list[Tensor], x: Tensor) -> Tensor:
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i].transpose(-1, -2) + params[i + 1].unsqueeze(-2)
            if i + 2 < len(params):
                h = torch.relu(h)
        return h

    def _loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.problem == "classification":
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.argmax(-1).reshape(-1), reduction="sum")
        return ((out - y) ** 2).sum()

    def forward(self, x: Tensor, y_l: Tensor) -> Tensor:
        b, n_l = x.shape[0], y_l.shape[1]
        xp = pad_attributes(x, self.d_fixed)
        # per-task copies of the initial parameters (B, ...), adapted by SGD on each task's labelled loss
        params = [p.unsqueeze(0).expand(b, *p.shape) for p in self.net.parameters()]
        for _ in range(self.steps):
            loss = self._loss(self._apply(params, xp[:, :n_l]), y_l) / n_l
            grads = torch.autograd.grad(loss, params, create_graph=self.training)
            params = [p - self.inner_lr * g for p, g in zip(params, grads)]
        return self._apply(params, xp[:, n_l:])


# ---------------------------------------------------------------------------------------------------------
# Per-task models (scikit-learn)


def _label_spreading_regression(xl: np.ndarray, yl: np.ndarray, xu: np.ndarray, alpha: float = 0.2) -> np.ndarray:
    """Label spreading (Zhou et al. 2004) of [y, 1] with sklearn's symmetric-normalised RBF graph (gamma = 1/D),
    the estimate = propagated y / propagated mass (ours, LabelSpreading has no regressor)."""
    x = np.concatenate([xl, xu])
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    w = np.exp(-d2 / x.shape[1])
    np.fill_diagonal(w, 0.0)
    deg = np.sqrt(w.sum(1)).clip(1e-12)
    s = w / deg[:, None] / deg[None]
    target = np.zeros((len(x), 2))
    target[:len(xl), 0], target[:len(xl), 1] = yl, 1.0
    f = np.linalg.solve(np.eye(len(x)) - alpha * s, target)[len(xl):]
    return f[:, 0] / np.where(np.abs(f[:, 1]) > 1e-12, f[:, 1], 1e-12)


def per_task_predict(name: str, problem: str, xl: np.ndarray, yl: np.ndarray, xu: np.ndarray,
                     seed: int, rf_trees: int = 100) -> np.ndarray:
    """Class labels (classification) or values (regression) for ``xu`` from one per-task model."""
    if problem == "classification":
        if name == "logreg":
            return LogisticRegression(max_iter=1000).fit(xl, yl).predict(xu)
        if name == "rf":
            return RandomForestClassifier(n_estimators=rf_trees, random_state=seed, n_jobs=1).fit(xl, yl).predict(xu)
        if name == "label_spreading":
            model = LabelSpreading(kernel="rbf", gamma=1.0 / xl.shape[1], alpha=0.2, max_iter=100)
            model.fit(np.concatenate([xl, xu]), np.concatenate([yl, -np.ones(len(xu), dtype=yl.dtype)]))
            return model.transduction_[len(xl):]
        if name == "self_training":
            model = SelfTrainingClassifier(LogisticRegression(max_iter=1000), threshold=0.75)
            model.fit(np.concatenate([xl, xu]), np.concatenate([yl, -np.ones(len(xu), dtype=yl.dtype)]))
            return model.predict(xu)
    else:
        if name == "ridge":
            return Ridge(alpha=1.0).fit(xl, yl).predict(xu)
        if name == "rf":
            return RandomForestRegressor(n_estimators=rf_trees, random_state=seed, n_jobs=1).fit(xl, yl).predict(xu)
        if name == "label_spreading":
            return _label_spreading_regression(xl, yl, xu)
    raise ValueError(f"{name} is not a per-task {problem} method")


#: method -> kind ("meta": meta-trained network; "per_task": fitted on each task), per problem type
METHODS = {
    "classification": {"proposed": "meta", "proposed_nounlab": "meta", "hetero2020": "meta", "protonet": "meta",
                       "maml": "meta", "logreg": "per_task", "rf": "per_task", "label_spreading": "per_task",
                       "self_training": "per_task"},
    "regression": {"proposed": "meta", "proposed_nounlab": "meta", "hetero2020": "meta", "protonet": "meta",
                   "maml": "meta", "ridge": "per_task", "rf": "per_task", "label_spreading": "per_task"},
}
