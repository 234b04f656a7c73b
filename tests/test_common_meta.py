"""common/meta: closed-form solvers against reference solvers, gradients through them, set-encoder
invariances, and the task sources' guarantees (disjoint rows, null pairs, clear errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.meta import (
    ContaminatedTaskSource,
    DeepSetEncoder,
    LabelledPool,
    MixturePairTaskSource,
    TaskError,
    VariableFeatureSelfAttention,
    column_mask,
    example_mask,
    pearson_divergence,
    relative_density_ratio_closed_form,
    rulsif_squared_loss,
    solve_spd,
    stack_tasks,
    weighted_ridge,
)


@pytest.fixture(autouse=True)
def _float64():
    """Every test here runs in float64 (gradcheck, exact comparisons); restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _spd(k, gen, batch=()):
    a = torch.randn(*batch, k, k, generator=gen, dtype=torch.float64)
    return a @ a.transpose(-1, -2) + 0.5 * torch.eye(k, dtype=torch.float64)


def test_solve_spd_matches_linalg_solve_batched():
    g = torch.Generator().manual_seed(0)
    a, b = _spd(5, g, (3,)), torch.randn(3, 5, generator=g, dtype=torch.float64)
    assert torch.allclose(solve_spd(a, b), torch.linalg.solve(a, b.unsqueeze(-1)).squeeze(-1), atol=1e-10)
    bm = torch.randn(3, 5, 2, generator=g, dtype=torch.float64)
    assert torch.allclose(solve_spd(a, bm), torch.linalg.solve(a, bm), atol=1e-10)


def test_solve_spd_gradcheck():
    g = torch.Generator().manual_seed(1)
    a = _spd(4, g).requires_grad_(True)
    b = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a_, b_: solve_spd(0.5 * (a_ + a_.T), b_), (a, b))


def test_relative_ratio_closed_form_equals_lstsq_and_gradient_descent():
    g = torch.Generator().manual_seed(2)
    na, nb, k, alpha, lam = 7, 9, 4, 0.3, 0.05
    ha, hb = torch.randn(na, k, generator=g), torch.randn(nb, k, generator=g)
    w = relative_density_ratio_closed_form(ha, hb, alpha, lam)
    # the same problem as ordinary least squares: ||M w - t||^2 has normal equations
    # (alpha H_A + (1-alpha) H_B + lam I) w = hbar_A
    m = torch.cat([(alpha / na) ** 0.5 * ha, ((1 - alpha) / nb) ** 0.5 * hb, lam ** 0.5 * torch.eye(k)])
    t = torch.cat([torch.full((na,), 1 / (alpha * na) ** 0.5), torch.zeros(nb + k)])
    w_ls = torch.linalg.lstsq(m, t.unsqueeze(-1)).solution.squeeze(-1)
    assert torch.allclose(w, w_ls, atol=1e-9)
    # and the minimiser of J(w) found by gradient descent
    v = torch.zeros(k, requires_grad=True)
    opt = torch.optim.LBFGS([v], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = rulsif_squared_loss(ha @ v, hb @ v, alpha) + 0.5 * lam * (v ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert torch.allclose(w, v.detach(), atol=1e-6)


def test_relative_ratio_closed_form_gradcheck():
    g = torch.Generator().manual_seed(3)
    ha = torch.randn(2, 6, 3, generator=g, requires_grad=True)
    hb = torch.randn(2, 5, 3, generator=g, requires_grad=True)
    lam = torch.tensor(0.2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, l_: relative_density_ratio_closed_form(a, b, 0.5, l_),
                                    (ha, hb, lam))


def test_masks_ignore_padding():
    g = torch.Generator().manual_seed(4)
    ha, hb = torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g)
    pad_a = torch.cat([ha, 100 * torch.randn(3, 3, generator=g)])
    mask_a = torch.tensor([1] * 5 + [0] * 3)
    w = relative_density_ratio_closed_form(ha, hb, 0.5, 0.1)
    w_pad = relative_density_ratio_closed_form(pad_a, hb, 0.5, 0.1, mask_a=mask_a)
    assert torch.allclose(w, w_pad, atol=1e-10)


def test_rulsif_loss_is_mse_to_true_relative_ratio_up_to_constant():
    # discrete densities on 5 points, represented exactly by replicated samples
    p_a = np.array([1, 2, 3, 2, 2]) / 10
    p_b = np.array([4, 1, 1, 2, 2]) / 10
    alpha = 0.4
    q = alpha * p_a + (1 - alpha) * p_b
    r_true = p_a / q
    sa = torch.tensor(np.repeat(np.arange(5), (p_a * 10).astype(int)))
    sb = torch.tensor(np.repeat(np.arange(5), (p_b * 10).astype(int)))
    rng = np.random.default_rng(0)
    for _ in range(3):
        r = torch.tensor(rng.uniform(0, 2, 5))
        lhs = rulsif_squared_loss(r[sa], r[sb], alpha) - rulsif_squared_loss(torch.tensor(r_true)[sa],
                                                                               torch.tensor(r_true)[sb], alpha)
        mse = 0.5 * float((q * (r.numpy() - r_true) ** 2).sum())
        assert float(lhs) == pytest.approx(mse, abs=1e-12)
    # the divergence of identical densities with r = 1 is exactly 0
    assert float(pearson_divergence(torch.ones(10), torch.ones(7), alpha)) == pytest.approx(0.0, abs=1e-12)


def test_kernel_closed_form_approaches_true_relative_ratio_with_more_instances():
    # p_A = N(0, 1), p_B = N(1, 1.5^2) in 1-D; Gaussian-kernel features with fixed centres
    alpha = 0.5
    centers = torch.linspace(-4, 5, 25)

    def feats(x):
        return torch.exp(-(x[:, None] - centers[None, :]) ** 2 / (2 * 0.7 ** 2))

    def npdf(x, m, s):
        return torch.exp(-(x - m) ** 2 / (2 * s ** 2)) / (s * (2 * torch.pi) ** 0.5)

    grid = torch.linspace(-3, 4, 200)
    pa, pb = npdf(grid, 0.0, 1.0), npdf(grid, 1.0, 1.5)
    r_true = pa / (alpha * pa + (1 - alpha) * pb)
    errs = []
    for n in (20, 200, 5000):
        e = []
        for s in range(5):
            g = torch.Generator().manual_seed(100 * n + s)
            xa, xb = torch.randn(n, generator=g), 1.0 + 1.5 * torch.randn(n, generator=g)
            w = relative_density_ratio_closed_form(feats(xa), feats(xb), alpha, 1e-3)
            e.append(float(((feats(grid) @ w - r_true) ** 2 * (alpha * pa + (1 - alpha) * pb)).mean()))
        errs.append(np.mean(e))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.01


def test_deep_set_encoder_permutation_invariance_and_masks():
    torch.manual_seed(0)
    enc = DeepSetEncoder(4, 16, 8)
    x = torch.randn(3, 10, 4)
    perm = torch.randperm(10)
    assert torch.allclose(enc(x), enc(x[:, perm]), atol=1e-10)
    # padding rows with mask 0 change nothing
    padded = torch.cat([x, 50 * torch.randn(3, 4, 4)], 1)
    mask = torch.cat([torch.ones(3, 10), torch.zeros(3, 4)], 1)
    assert torch.allclose(enc(x), enc(padded, mask), atol=1e-10)
    # different sets give different codes (the encoder is not trivially constant)
    assert not torch.allclose(enc(x[:1]), enc(x[1:2]))
    for pool in ("sum", "max"):
        e = DeepSetEncoder(4, 16, 8, pool=pool)
        assert torch.allclose(e(x), e(x[:, perm]), atol=1e-10)
        assert torch.allclose(e(x), e(padded, mask), atol=1e-10)


def _id_pool(n_per_class=40, n_classes=5):
    # feature 0 = row id, so disjointness of drawn rows can be checked
    y = np.repeat(np.arange(n_classes), n_per_class)
    x = np.stack([np.arange(len(y)), y], 1).astype(np.float32)
    return LabelledPool(x, y, "ids")


def test_mixture_pair_tasks_disjoint_rows_and_null_pairs():
    src = MixturePairTaskSource(_id_pool(), 8, 6, 5, n_active=2, same_prob=0.5)
    rng = np.random.default_rng(0)
    n_same = 0
    for _ in range(50):
        t = src.sample(rng)
        ids = np.concatenate([t.support_a[:, 0], t.support_b[:, 0], t.query_a[:, 0], t.query_b[:, 0]])
        assert len(np.unique(ids)) == len(ids) == 8 + 6 + 5 + 5
        assert (t.info["pi_a"] > 0).sum() <= 2 and t.info["pi_a"].sum() == pytest.approx(1.0)
        # rows only from classes with positive weight
        assert set(t.support_a[:, 1].astype(int)) <= set(np.flatnonzero(t.info["pi_a"]).tolist())
        if t.info["same"]:
            n_same += 1
            assert np.array_equal(t.info["pi_a"], t.info["pi_b"])
    assert 10 < n_same < 40
    a = src.fixed_tasks(3, seed=7)
    b = src.fixed_tasks(3, seed=7)
    assert all(np.array_equal(x.support_a, y.support_a) for x, y in zip(a, b))
    st = stack_tasks(a, ["support_a", "query_b"])
    assert st["support_a"].shape == (3, 8, 2) and st["query_b"].shape == (3, 5, 2)


def test_mixture_pair_task_errors():
    with pytest.raises(TaskError, match="needs"):
        MixturePairTaskSource(_id_pool(10), 30, 30, 10, n_active=2)
    with pytest.raises(TaskError, match="n_active"):
        MixturePairTaskSource(_id_pool(), 5, 5, 5, n_active=9)


def test_contaminated_tasks():
    y = np.array([0] * 200 + [1] * 20)
    x = np.stack([np.arange(len(y)), y], 1).astype(np.float32)
    src = ContaminatedTaskSource(LabelledPool(x, y, "t"), n_reference=10, n_test=40, contamination=0.1, n_query=10)
    t = src.sample(np.random.default_rng(0))
    assert (t.support_a[:, 1] == 0).all() and len(t.support_a) == 10
    assert t.labels_b.sum() == 4 and (t.support_b[:, 1] == t.labels_b).all()
    ids = np.concatenate([t.support_a[:, 0], t.support_b[:, 0], t.info["query_a"][:, 0], t.info["query_b"][:, 0]])
    assert len(np.unique(ids)) == len(ids)
    assert (t.info["query_a"][:, 1] == 0).all() and t.info["query_b"][:, 1].sum() == 1
    with pytest.raises(TaskError, match="anomalous"):
        ContaminatedTaskSource(LabelledPool(x, y, "t"), 10, 400, 0.1)
    with pytest.raises(TaskError, match="contamination"):
        ContaminatedTaskSource(LabelledPool(x, y, "t"), 10, 40, 0.0)


def test_weighted_ridge_matches_lstsq():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(3, 9, 4, generator=g, dtype=torch.float64)
    t = torch.randn(3, 9, 2, generator=g, dtype=torch.float64)
    w = torch.rand(3, 9, generator=g, dtype=torch.float64) + 0.1
    lam = 0.7
    ours = weighted_ridge(phi, t, w, lam)
    # ridge = least squares on [sqrt(w) phi; sqrt(lam) I] against [sqrt(w) t; 0]
    a = torch.cat([phi * w.sqrt()[..., None], (lam ** 0.5) * torch.eye(4, dtype=torch.float64).expand(3, 4, 4)], 1)
    b = torch.cat([t * w.sqrt()[..., None], torch.zeros(3, 4, 2, dtype=torch.float64)], 1)
    torch.testing.assert_close(ours, torch.linalg.lstsq(a, b).solution)
    # lam -> 0 with unit weights: ordinary least squares
    torch.testing.assert_close(weighted_ridge(phi, t, torch.ones(3, 9, dtype=torch.float64), 1e-10),
                               torch.linalg.lstsq(phi, t).solution, atol=1e-7, rtol=1e-6)


def test_weighted_ridge_gradcheck():
    g = torch.Generator().manual_seed(1)
    phi = torch.randn(2, 6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(2, 6, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, tt, ww: weighted_ridge(p, tt, ww, 0.3), (phi, t, w))


def test_attribute_cells_never_see_their_own_label_cells():
    m = column_mask(3, 2)
    assert m.shape == (5, 7)
    assert not m[:3, 3:5].any() and m[:3, :3].all() and m[:3, 5:].all() and m[3:, :5].all()


def test_variable_feature_attention_equivariant_over_examples_and_attributes_any_width():
    torch.manual_seed(0)
    layer = VariableFeatureSelfAttention(8, 2).eval()
    for n_attr in (3, 50):
        n, n_lab = 6, 2
        h = torch.randn(1, n, n_attr + n_lab, 8)
        labelled = torch.tensor([[True, True, True, False, False, False]])
        ctx = torch.randn(1, n, 8)
        mask = example_mask(labelled, n_attr + n_lab, True)
        out = layer(h, n_attr, labelled, mask, ctx)
        assert out.shape == h.shape and torch.isfinite(out).all()
        pa = torch.cat([torch.randperm(n_attr), torch.arange(n_attr, n_attr + n_lab)])
        torch.testing.assert_close(layer(h[:, :, pa], n_attr, labelled, mask, ctx), out[:, :, pa])
        pe = torch.cat([torch.randperm(3), 3 + torch.randperm(3)])      # labelled stay labelled
        torch.testing.assert_close(layer(h[:, pe], n_attr, labelled, mask, ctx[:, pe]), out[:, pe])
    # the ablation mask: an unlabelled example sees only the labelled ones (never itself)
    m = example_mask(labelled, 1, False)[0, 0]
    assert m[:, 3:].sum() == 0 and not m.diagonal().any() and m[3:, :3].all()
