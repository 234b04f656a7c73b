"""Baselines: RuLSIF against the densratio package, convergence to the true relative ratio,
the exact plain -> relative conversion, KLIEP, and the neural baselines' adaptation mechanics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from papers.meta_rdre import baselines as B


def _gauss(n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (n, 1)), rng.normal(1.0, 1.5, (n, 1))


def _true_relative(x, alpha):
    pa, pb = norm.pdf(x, 0.0, 1.0), norm.pdf(x, 1.0, 1.5)
    return pa / (alpha * pa + (1 - alpha) * pb)


def test_rulsif_matches_densratio_package():
    from densratio import densratio

    xa, xb = _gauss(80, 0)
    np.random.seed(3)
    ref = densratio(xa, xb, method="RuLSIF", alpha=0.3, sigma_range=[0.7], lambda_range=[0.05], kernel_num=40,
                    verbose=False)
    ours = B.KernelRuLSIF(0.3, sigmas=(0.7,), lambdas=(0.05,)).fit(xa, xb, centers=ref.kernel_info.centers)
    grid = np.linspace(-3, 4, 50)[:, None]
    np.testing.assert_allclose(ours.predict(grid), ref.compute_density_ratio(grid), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_rulsif_with_cv_approaches_true_relative_ratio(alpha):
    grid = np.linspace(-2.5, 3.5, 100)[:, None]
    errs = []
    for n in (15, 200):
        e = []
        for s in range(2):
            xa, xb = _gauss(n, 10 * n + s)
            est = B.KernelRuLSIF(alpha, seed=s, max_centers=40, lambdas=(1e-2, 1e-1), n_folds=3).fit(xa, xb)
            e.append(np.mean((est.predict(grid) - _true_relative(grid[:, 0], alpha)) ** 2))
        errs.append(np.mean(e))
    assert errs[1] < errs[0]
    assert errs[1] < 0.1


def test_cv_picks_the_better_bandwidth():
    xa, xb = _gauss(200, 1)
    est = B.KernelRuLSIF(0.5, sigmas=(0.01, 0.8), lambdas=(0.01,)).fit(xa, xb)
    assert est.sigma == 0.8  # a 0.01 bandwidth overfits and loses in cross-validation


def test_relative_from_plain_is_exact():
    x = np.linspace(-2, 3, 30)
    pa, pb = norm.pdf(x, 0, 1), norm.pdf(x, 1, 1.5)
    np.testing.assert_allclose(B.relative_from_plain(pa / pb, 0.3), pa / (0.3 * pa + 0.7 * pb), rtol=1e-12)


def test_kliep_recovers_the_ratio_shape():
    xa, xb = _gauss(300, 2)
    f = B.kliep_ratio(xa, xb, seed=0)
    grid = np.linspace(-2, 3, 40)[:, None]
    est, true = f(grid), norm.pdf(grid[:, 0], 0, 1) / norm.pdf(grid[:, 0], 1, 1.5)
    assert np.corrcoef(est, true)[0, 1] > 0.9
    # KLIEP's constraint: mean of the ratio over S_B is 1
    assert np.mean(f(xb)) == pytest.approx(1.0, abs=0.05)


def test_neural_per_task_training_lowers_support_loss_and_maml_zero_steps_is_identity():
    g = torch.Generator().manual_seed(0)
    sa, sb = torch.randn(3, 20, 2, generator=g), 1.0 + torch.randn(3, 20, 2, generator=g)
    p0 = B.init_mlp_params(2, 16, 2, torch.Generator().manual_seed(1), n_tasks=3)
    before = B._task_losses(p0, sa, sb, 0.5)
    p1 = B.train_per_task(p0, sa, sb, 0.5, steps=40, lr=2e-2, weight_decay=0.0)
    after = B._task_losses(p1, sa, sb, 0.5)
    assert (after < before - 0.05).all()
    shared = [p.requires_grad_(True) for p in B.init_mlp_params(2, 8, 1, torch.Generator().manual_seed(2))]
    same = B.maml_adapt(shared, sa, sb, 0.5, inner_steps=0, inner_lr=0.1, create_graph=False)
    assert all(torch.equal(a[0], b) for a, b in zip(same, shared))
    moved = B.maml_adapt(shared, sa, sb, 0.5, inner_steps=2, inner_lr=0.1, create_graph=False)
    # each task adapts with its own gradient: adapted weights differ between tasks
    assert not torch.allclose(moved[0][0], moved[0][1])
    # second-order meta-gradient reaches the initialisation
    qa, qb = torch.randn(3, 10, 2, generator=g), 1.0 + torch.randn(3, 10, 2, generator=g)
    loss = B.maml_meta_loss(shared, sa, sb, qa, qb, 0.5, 2, 0.1)
    grads = torch.autograd.grad(loss, shared)
    assert all(torch.isfinite(gr).all() for gr in grads) and any(gr.abs().sum() > 0 for gr in grads)
