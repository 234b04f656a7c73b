"""The proposed one-class classifier: known answers of the eigen formulation, its gradient, the loss,
the baselines' key properties."""

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.metrics import roc_auc_score

from papers.meta_occ import method as M
from papers.meta_occ.baselines import METHODS
from papers.meta_occ.config import Config
from papers.meta_occ.data import AnomalyTask
from papers.meta_occ.models import ResidualEncoder


def _task(rng, d=6, n=10, m=3, q=100, shift=6.0, sides=(-1, 1)):
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    def anomalies(k):
        return rng.standard_normal((k, d)) * 0.5 + shift * u * rng.choice(sides, (k, 1))
    xs = np.concatenate([rng.standard_normal((n, d)), anomalies(m)]).astype(np.float32)
    xq = np.concatenate([rng.standard_normal((q, d)), anomalies(q)]).astype(np.float32)
    return AnomalyTask(xs, np.r_[np.zeros(n), np.ones(m)].astype(np.int64), xq,
                       np.r_[np.zeros(q), np.ones(q)].astype(np.int64), 0)


def test_subspace_is_the_constrained_trace_maximiser():
    """W* = leading generalized eigenvectors: W^T B W = I and tr(W^T A W) = sum of the top-r eigenvalues
    (scipy), which no other B-orthonormal W exceeds."""
    rng = np.random.default_rng(0)
    zn, za = torch.as_tensor(rng.standard_normal((1, 12, 5))), torch.as_tensor(rng.standard_normal((1, 4, 5)) + 2)
    a, b, _ = M.scatter_matrices(zn, za, ridge=0.1, gamma=0.01)
    w, _ = M.fit_subspace(zn, za, rank=2, ridge=0.1, gamma=0.01, eps_rel=0.0)
    a, b, w = a[0].numpy(), b[0].numpy(), w[0].numpy()
    np.testing.assert_allclose(w.T @ b @ w, np.eye(2), atol=1e-9)
    top = scipy.linalg.eigh(a, b, eigvals_only=True)[-2:].sum()
    np.testing.assert_allclose(np.trace(w.T @ a @ w), top, rtol=1e-9)
    chol_inv = np.linalg.inv(np.linalg.cholesky(b))
    for _ in range(20):                      # random B-orthonormal competitors
        q, _ = np.linalg.qr(rng.standard_normal((5, 2)))
        v = chol_inv.T @ q
        assert np.trace(v.T @ a @ v) <= top + 1e-9


def test_separates_well_separated_anomalies_perfectly():
    rng = np.random.default_rng(1)
    t = _task(rng)
    cfg = Config(dataset="fmnist_pca32", rank=1)
    s = METHODS["proposed_nometa"](None, 6, cfg, 0, None)(t)
    assert roc_auc_score(t.yq, s) == 1.0


def test_meta_gradient_flows_through_the_solver():
    rng = np.random.default_rng(2)
    tasks = [_task(rng) for _ in range(3)]
    enc = ResidualEncoder(6, 16)
    torch.nn.init.normal_(enc.g[-1].weight, std=0.1)
    xs, ys, xq, yq = (torch.as_tensor(np.stack([getattr(t, k) for t in tasks])) for k in ("xs", "ys", "xq", "yq"))
    loss = M.auc_surrogate_loss(M.task_scores(enc, xs, ys, xq, 2, 0.1, 0.01), yq)
    loss.backward()
    grads = [p.grad for p in enc.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


def test_auc_surrogate_orders_like_auroc():
    y = torch.tensor([[0, 0, 1, 1]])
    good, bad = torch.tensor([[1.0, 2.0, 5.0, 6.0]]), torch.tensor([[5.0, 6.0, 1.0, 2.0]])
    assert M.auc_surrogate_loss(good, y) < np.log(2) < M.auc_surrogate_loss(bad, y)


def test_per_task_baselines_detect_easy_anomalies():
    rng = np.random.default_rng(3)
    t = _task(rng, q=50, shift=10.0, sides=(1,))      # one-sided, so a linear classifier can work too
    cfg = Config(dataset="fmnist_pca32", hidden=16, emb_dim=4, deep_epochs=50)
    for name in ("ocsvm", "iforest", "supervised", "deep_svdd", "deep_sad"):
        assert roc_auc_score(t.yq, METHODS[name](None, 6, cfg, 0, None)(t)) > 0.75, name


def test_registry_and_bad_config():
    assert set(METHODS) >= {"proposed", "maml", "protonet", "oc_protonet", "meta_svdd", "deep_sad", "ocsvm"}
    from common.config import ConfigError
    for bad in (dict(method="nope"), dict(n_anomaly=0), dict(rank=0), dict(ridge=0.0), dict(svdd_eps=0.0),
                dict(dataset="adbench", rank=17)):
        with pytest.raises(ConfigError):
            Config(**bad).validate()
