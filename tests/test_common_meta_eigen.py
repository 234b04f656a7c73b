"""common.meta.eigen: the generalized eigen solver against scipy, its gradient, and the guard."""

import numpy as np
import pytest
import scipy.linalg
import torch

from common.meta.eigen import eigh_guarded, generalized_eigh


def _spd(rng, d, ridge=0.5):
    m = rng.standard_normal((d, d))
    return m @ m.T / d + ridge * np.eye(d)


def test_matches_scipy_generalized_eigh():
    rng = np.random.default_rng(0)
    for d in (2, 5, 9):
        a = rng.standard_normal((d, d))
        a = a + a.T
        b = _spd(rng, d)
        lam, w = generalized_eigh(torch.as_tensor(a), torch.as_tensor(b))
        lam_ref, w_ref = scipy.linalg.eigh(a, b)
        np.testing.assert_allclose(lam.numpy(), lam_ref, rtol=1e-9, atol=1e-10)
        w = w.numpy()
        # eigenvectors agree up to sign (eigenvalues are distinct for random matrices)
        signs = np.sign(np.sum(w * w_ref, 0))
        np.testing.assert_allclose(w * signs, w_ref, atol=1e-8)
        np.testing.assert_allclose(w.T @ b @ w, np.eye(d), atol=1e-9)
        np.testing.assert_allclose(a @ w, b @ w @ np.diag(lam.numpy()), atol=1e-8)


def test_batched_and_bad_input():
    rng = np.random.default_rng(1)
    a = torch.as_tensor(np.stack([_spd(rng, 4) for _ in range(3)]))
    b = torch.as_tensor(np.stack([_spd(rng, 4) for _ in range(3)]))
    lam, _ = generalized_eigh(a, b)
    for i in range(3):
        np.testing.assert_allclose(lam[i].numpy(), scipy.linalg.eigh(a[i].numpy(), b[i].numpy())[0], rtol=1e-9)
    with pytest.raises(ValueError, match="positive definite"):
        generalized_eigh(a[0], -b[0])
    with pytest.raises(ValueError, match="same shape"):
        generalized_eigh(a[0], b[0, :3, :3])


def test_gradcheck_away_from_degeneracy():
    """With eps_rel = 0 the backward is exact: gradcheck on a loss of eigenvalues and of a
    (sign-invariant) eigenvector projector, for a problem with well-separated eigenvalues."""
    rng = np.random.default_rng(2)
    d = 4
    a0 = np.diag([0.0, 1.0, 2.5, 4.0]) + 0.1 * rng.standard_normal((d, d))
    a0 = torch.tensor(a0 + a0.T, requires_grad=True)
    b0 = torch.tensor(_spd(rng, d, 1.0), requires_grad=True)
    probe = torch.as_tensor(rng.standard_normal((d, 3)))

    def f(a, b):
        a = 0.5 * (a + a.T)
        b = 0.5 * (b + b.T)
        lam, w = generalized_eigh(a, b, eps_rel=0.0)
        top = w[:, -2:]
        proj = probe.T @ top @ top.T @ probe        # invariant to eigenvector signs
        return lam, proj

    assert torch.autograd.gradcheck(f, (a0, b0), eps=1e-6, atol=1e-6)


def test_guard_keeps_gradient_finite_at_degeneracy_and_is_exact_away():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = torch.tensor(q @ np.diag([1.0, 2.0, 2.0, 3.0]) @ q.T, requires_grad=True)   # a repeated eigenvalue
    probe = torch.as_tensor(rng.standard_normal(4))
    _, v = torch.linalg.eigh(a)
    (probe @ v[:, 1]).pow(2).backward()
    assert not torch.isfinite(a.grad).all() or a.grad.abs().max() > 1e6      # unguarded: inf/nan or huge
    a.grad = None
    _, v = eigh_guarded(a)
    (probe @ v[:, 1]).pow(2).backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().max() < 1e5
    # away from degeneracy the guarded gradient equals torch's exact one
    b = torch.tensor(q @ np.diag([1.0, 2.0, 3.0, 5.0]) @ q.T, requires_grad=True)
    g = []
    for fn in (torch.linalg.eigh, eigh_guarded):
        lam, v = fn(b)
        (lam.sum() * 0.3 + (probe @ v[:, 2]).pow(2)).backward()
        g.append(b.grad.clone())
        b.grad = None
    np.testing.assert_allclose(g[0].numpy(), g[1].numpy(), atol=1e-6)


def test_top_direction_separates_well_separated_anomalies():
    """Normals compact around 0, anomalies far along a hidden direction: the leading generalized
    eigenvector of (anomaly scatter, normal scatter + ridge) ranks every anomaly above every normal."""
    rng = np.random.default_rng(4)
    d = 6
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    normals = rng.standard_normal((40, d))
    anomalies = rng.standard_normal((5, d)) * 0.3 + 8.0 * u * rng.choice([-1, 1], (5, 1))
    mu = normals.mean(0)
    b = np.cov(normals.T, bias=True) + 1e-3 * np.eye(d)
    a = (anomalies - mu).T @ (anomalies - mu) / len(anomalies)
    _, w = generalized_eigh(torch.as_tensor(a), torch.as_tensor(b))
    top = w[:, -1].numpy()
    test_n = rng.standard_normal((200, d))
    test_a = rng.standard_normal((50, d)) * 0.3 + 8.0 * u * rng.choice([-1, 1], (50, 1))
    s_n = ((test_n - mu) @ top) ** 2
    s_a = ((test_a - mu) @ top) ** 2
    assert s_a.min() > s_n.max()
