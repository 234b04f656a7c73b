"""Numerical checks of method.py: EM increases the log-posterior, identity confusions give the Gaussian classifier,
known confusions are recovered as the data grow, and gradients flow through the unrolled EM."""

import numpy as np
import torch

from papers.meta_annotators import method as M
from papers.meta_annotators.data import sample_confusions, simulate_annotations


def _synthetic_task(m, n=3, j=4, d=2, seed=0, acc=(0.3, 0.9)):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n, m)
    centers = rng.normal(0, 3.0, (n, d))
    z = centers[y] + rng.normal(0, 1.0, (m, d))
    theta = sample_confusions(rng, j, n, *acc)
    ann = simulate_annotations(rng, y, theta, 0)
    zt = torch.as_tensor(z, dtype=torch.float64)[None]
    at = M.one_hot_annotations(torch.as_tensor(ann)[None], n).double()
    return zt, at, y, theta


def test_each_em_step_increases_the_log_posterior():
    z, ann, _, _ = _synthetic_task(60, seed=1, acc=(0.2, 0.6))
    alpha = M.dirichlet_concentration(3, 2.5, 1.3, torch.float64)
    values = []
    for steps in range(12):
        st = M.em(z, ann, steps, alpha, 1.0, 0.1)
        values.append(float(M.log_posterior(z, ann, st.pi, st.mu, st.s2, st.theta, alpha, 1.0, 0.1)))
    diffs = np.diff(values)
    assert (diffs > -1e-8).all(), diffs
    assert values[-1] > values[0] + 1e-3   # EM moved away from the majority-vote start


def test_identity_confusions_reduce_to_a_gaussian_classifier():
    """One perfect annotator and Theta = I: the responsibilities are the labels, and the fit is the class means,
    the class frequencies and the pooled MAP variance of those labels."""
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(5, int), np.ones(7, int), np.full(4, 2)]
    z = torch.as_tensor(rng.normal(size=(16, 3)) + y[:, None] * 2.0)[None]
    ann = M.one_hot_annotations(torch.as_tensor(y)[None, :, None], 3).double()
    eye = torch.eye(3, dtype=torch.float64).clamp(min=1e-9)[None]
    st = M.em(z, ann, 5, M.dirichlet_concentration(3, 2.0, 1.5, torch.float64), 1.0, 0.1, fixed_theta=eye)
    means = np.stack([z[0].numpy()[y == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(st.mu[0].numpy(), means, atol=1e-7)
    np.testing.assert_allclose(st.pi[0].numpy(), np.bincount(y) / 16, atol=1e-7)
    ss = sum(((z[0].numpy()[y == c] - means[c]) ** 2).sum() for c in range(3))
    np.testing.assert_allclose(float(st.s2[0]), (ss + 0.2) / (16 * 3 + 4.0), rtol=1e-6)
    pred = M.query_logits(z, st).argmax(-1)[0].numpy()
    d2 = ((z[0].numpy()[:, None] - means[None]) ** 2).sum(-1)
    expected = np.argmax(np.log(np.bincount(y) / 16) - d2 / (2 * float(st.s2[0])), 1)
    np.testing.assert_array_equal(pred, expected)


def test_em_recovers_known_confusions_as_the_data_grow():
    alpha = M.dirichlet_concentration(3, 1.5, 1.1, torch.float64)
    errs = []
    for m in (30, 300, 3000):
        z, ann, _, theta = _synthetic_task(m, seed=3)
        st = M.em(z, ann, 30, alpha, 1.0, 0.1)
        errs.append(float(M.confusion_tv_error(st.theta[0], torch.as_tensor(theta))))
    assert errs[2] < errs[1] < errs[0] and errs[2] < 0.05, errs


def test_gradient_flows_through_the_unrolled_em():
    z, ann, _, _ = _synthetic_task(8, n=2, j=2, d=2, seed=4)
    zq = torch.randn(1, 3, 2, dtype=torch.float64)
    a = torch.tensor([0.7, 0.2], dtype=torch.float64, requires_grad=True)
    zz = z.clone().requires_grad_(True)

    def f(zz, a):
        alpha = M.dirichlet_concentration(2, 1 + torch.nn.functional.softplus(a[0]),
                                          1 + torch.nn.functional.softplus(a[1]), torch.float64)
        return M.query_logits(zq, M.em(zz, ann, 3, alpha, 1.0, 0.1))
    assert torch.autograd.gradcheck(f, (zz, a), eps=1e-6, atol=1e-5)
    loss = M.query_loss(zq, torch.tensor([[0, 1, 1]]), M.em(zz, ann, 3, M.dirichlet_concentration(
        2, 1 + torch.nn.functional.softplus(a[0]), 1.5, torch.float64), 1.0, 0.1))
    loss.backward()
    assert zz.grad.abs().sum() > 0 and a.grad[0] != 0


def test_soft_majority_vote_and_missing_labels():
    labels = torch.tensor([[[0, 0, 1], [-1, -1, -1], [2, -1, 2]]])
    ann = M.one_hot_annotations(labels, 3)
    r = M.soft_majority_vote(ann, smooth=0.0 + 1e-9)
    np.testing.assert_allclose(r[0, 0].numpy(), [2 / 3, 1 / 3, 0], atol=1e-6)
    np.testing.assert_allclose(r[0, 1].numpy(), [1 / 3] * 3, atol=1e-6)
    assert float(ann[0, 1].sum()) == 0.0 and float(ann[0, 2].sum()) == 2.0
