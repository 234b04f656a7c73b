"""Meta-SVDD's per-task SVDD solve (exact, differentiable) and the ADBench task construction (no leakage)."""

import numpy as np
import pytest
import scipy.optimize
import torch

from common.data import DataMissingError
from common.meta import TaskError
from papers.meta_occ import data as D
from papers.meta_occ import svdd as SV
from papers.meta_occ.baselines import METHODS
from papers.meta_occ.config import Config


def _dual_reference(z: np.ndarray, eps: float) -> float:
    k = z @ z.T + eps * np.eye(len(z))
    f = lambda a: a @ k @ a - np.diag(k) @ a  # noqa: E731
    r = scipy.optimize.minimize(f, np.full(len(z), 1 / len(z)), method="SLSQP", bounds=[(0, None)] * len(z),
                                constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
                                options={"ftol": 1e-15, "maxiter": 2000})
    return -r.fun                                  # = R^2 of the minimum enclosing ball (+ eps terms)


def test_svdd_solve_minimises_the_radius_on_the_support():
    """The SVDD centre gives the smallest enclosing ball: its R^2 equals the dual optimum (scipy), is below
    the R^2 of the mean centre (the one-class ProtoNet / Deep SVDD centre) and of random convex
    combinations; every support point is inside the ball and the ball touches at least two of them."""
    rng = np.random.default_rng(0)
    z = torch.as_tensor(rng.standard_normal((5, 10, 6)) * rng.uniform(0.5, 3, (5, 1, 6)))
    alpha = SV.svdd_alpha(z, eps=1e-9)
    c = SV.svdd_centre(z, eps=1e-9)
    r2 = SV.squared_radius(z, c)
    assert torch.allclose(alpha.sum(-1), torch.ones(5, dtype=z.dtype)) and (alpha >= 0).all()
    for i in range(5):
        np.testing.assert_allclose(r2[i].item(), _dual_reference(z[i].numpy(), 1e-9), rtol=1e-6)
    assert (r2 < SV.squared_radius(z, z.mean(1)) - 1e-6).all()
    for _ in range(50):
        w = torch.as_tensor(rng.dirichlet(np.ones(10), 5))
        assert (r2 <= SV.squared_radius(z, (w.unsqueeze(-1) * z).sum(1)) + 1e-9).all()
    d2 = (z - c.unsqueeze(1)).pow(2).sum(-1)
    assert ((r2.unsqueeze(-1) - d2) > -1e-8).all()
    assert ((r2.unsqueeze(-1) - d2).abs() < 1e-8).sum(-1).min() >= 2


def test_svdd_centre_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    z = torch.tensor(rng.standard_normal((2, 8, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: SV.svdd_centre(q, 1e-6), (z,))


def test_meta_svdd_learns_from_tasks_and_scores_easy_anomalies():
    """A few meta-training steps on synthetic tasks give finite losses; the scorer ranks far anomalies high."""
    from papers.meta_occ.data import AnomalyTask
    rng = np.random.default_rng(2)

    def task():
        xs = np.r_[rng.standard_normal((10, 6)), rng.standard_normal((3, 6)) + 6].astype(np.float32)
        xq = np.r_[rng.standard_normal((20, 6)), rng.standard_normal((20, 6)) + 6].astype(np.float32)
        return AnomalyTask(xs, np.r_[np.zeros(10), np.ones(3)].astype(np.int64), xq,
                           np.r_[np.zeros(20), np.ones(20)].astype(np.int64), 0)
    cfg = Config(dataset="fmnist_pca32", hidden=16, meta_iters=10, meta_batch=4)
    score = METHODS["meta_svdd"](task, 6, cfg, 0, None)
    t = task()
    s = score(t)
    assert np.isfinite(s).all() and s[t.yq == 1].min() > s[t.yq == 0].max()


def test_dedupe_drops_duplicates_and_label_conflicts():
    x = np.array([[0, 0], [1, 1], [0, 0], [2, 2], [2, 2], [3, 3]], dtype=float)
    y = np.array([0, 0, 0, 0, 1, 1])
    keep = D.dedupe(x, y)
    assert keep.tolist() == [0, 1, 5]          # [0,0] once; [2,2] has both labels -> dropped


def test_preprocessing_uses_meta_training_rows_only():
    """Changing the meta-test rows' values leaves the meta-training features unchanged (standardisation and
    PCA use meta-training statistics only) while the meta-test features do change."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400, 30))
    y = (rng.random(400) < 0.2).astype(np.int64)
    (xtr, ytr), (xte, _) = D._prepare_table(x, y, np.random.default_rng(7))
    is_train = np.zeros(400, bool)                 # the split _prepare_table draws (distinct rows, no cap)
    rng7 = np.random.default_rng(7)
    for label in (0, 1):
        idx = rng7.permutation(np.flatnonzero(y == label))
        is_train[idx[: len(idx) // 2]] = True
    x2 = x.copy()
    x2[~is_train] = x2[~is_train] * 50 + 100       # wild meta-test rows
    (xtr2, ytr2), (xte2, _) = D._prepare_table(x2, y, np.random.default_rng(7))
    assert xtr.shape == (is_train.sum(), D.ADBENCH_DIM)
    np.testing.assert_array_equal(ytr, ytr2)
    np.testing.assert_allclose(xtr2, xtr, rtol=1e-6, atol=1e-6)
    assert np.abs(xte2).max() > 10 * np.abs(xte).max()


def _table_pools():
    try:
        return D.load_table_pools(0, 10, 3)
    except DataMissingError:
        pytest.skip("ADBench tables not on this machine")


def test_adbench_splits_and_tasks_are_disjoint():
    """Real tables: meta-training and meta-test rows share no feature vector; test tasks use meta-test rows
    only and meta-training tasks meta-training rows only; support and query rows of a task are disjoint."""
    tp = _table_pools()
    assert len(tp.names) == 43 and len(tp.test_tables) >= 40 and tp.dim == D.ADBENCH_DIM
    rows = lambda a: {r.tobytes() for r in a}  # noqa: E731
    train_sets, test_sets = [rows(tp.train[i][0]) for i in range(43)], [rows(tp.test[i][0]) for i in range(43)]
    for i in range(43):
        assert len(train_sets[i]) == len(tp.train[i][0]) and not train_sets[i] & test_sets[i], tp.names[i]
    for t in D.make_table_test_tasks(tp, 84, 10, 3, 50, seed=1):
        s, q = rows(t.xs), rows(t.xq)
        assert len(s) == 13 and len(q) == len(t.xq) and not s & q
        assert s | q <= test_sets[t.normal_class] and not (s | q) & train_sets[t.normal_class]
        assert 1 <= t.yq.sum() <= 50 and 1 <= (t.yq == 0).sum() <= 50
    draw = D.table_task_sampler(tp, 10, 3, 30, seed=2)
    for _ in range(100):
        t = draw()
        s, q = rows(t.xs), rows(t.xq)
        assert len(t.xq) == 60 and not s & q and s | q <= train_sets[t.normal_class]


def test_table_task_needs_enough_rows():
    x, y = np.zeros((12, 2), np.float32), np.r_[np.zeros(9), np.ones(3)].astype(np.int64)
    with pytest.raises(TaskError, match="a task needs"):
        D.sample_table_task(x, y, 0, 10, 3, 5, np.random.default_rng(0), fixed_query=False)
