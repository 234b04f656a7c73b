"""The closed-form class-Gaussian mixture against scikit-learn's GaussianMixture with known labels, the
score's gradient into the encoder (gradcheck, float64), invariance to permutations of the support, and the
ablations' covariance structure."""

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky, _estimate_gaussian_parameters
from torch.func import functional_call

from papers.meta_ood import method as M
from papers.meta_ood.models import encoder

SK_TYPE = {"full": "full", "diag": "diag", "shared": "tied"}


def _data(seed=0, sizes=(4, 7, 5), d=3, sep=0.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.normal(size=(len(y), d)) @ rng.normal(size=(d, d)) + sep * np.eye(len(sizes), d)[y] * 10
    return x, y


def _as_full(cov, ct, n):
    return cov if ct == "full" else np.stack([np.diag(c) for c in cov]) if ct == "diag" else np.stack([cov] * n)


@pytest.mark.parametrize("covariance", ["full", "diag", "shared"])
def test_closed_form_equals_sklearn_m_step_with_labels(covariance):
    """Weights, means and covariances equal scikit-learn's ML estimates for one-hot responsibilities (its M-step,
    reg_covar = ridge), and the log-likelihood equals GaussianMixture.score_samples with those parameters."""
    x, y = _data(sizes=(4, 7, 5))
    resp = np.eye(3)[y]
    ct = SK_TYPE[covariance]
    nk, means, covs = _estimate_gaussian_parameters(x, resp, 0.1, ct)
    w, mu, cov = M.gaussian_mixture_closed_form(torch.tensor(x)[None], torch.tensor(resp)[None], 0.1, covariance)
    np.testing.assert_allclose(w[0].numpy(), nk / len(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(mu[0].numpy(), means, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cov[0].numpy(), _as_full(covs, ct, 3), rtol=0, atol=1e-12)
    gm = GaussianMixture(3, covariance_type=ct, reg_covar=0.1)
    gm.weights_, gm.means_, gm.covariances_ = nk / len(x), means, covs
    gm.precisions_cholesky_ = _compute_precision_cholesky(covs, ct)
    xq = np.random.default_rng(1).normal(size=(11, 3)) * 3
    ll = M.mixture_log_likelihood(torch.tensor(xq)[None], w, mu, cov)[0].numpy()
    np.testing.assert_allclose(ll, gm.score_samples(xq), rtol=0, atol=1e-10)
    score = M.ood_scores(torch.tensor(x)[None], torch.tensor(resp)[None], torch.tensor(xq)[None], 0.1, covariance)
    np.testing.assert_allclose(score[0].numpy(), -ll, rtol=0, atol=1e-12)


def test_closed_form_is_the_fixed_point_of_sklearn_em_on_separated_classes():
    """GaussianMixture.fit, started at the class-labelled estimate, keeps it: with well-separated classes EM's
    responsibilities are the labels (to ~1e-30), so its M-step reproduces our closed form. Tolerance: EM stops
    when the lower bound changes by < tol = 1e-10, and parameters move far less than that here."""
    x, y = _data(seed=2, sizes=(6, 8, 7), d=3, sep=1.0)
    resp = np.eye(3)[y]
    w, mu, cov = (a[0].numpy() for a in M.gaussian_mixture_closed_form(torch.tensor(x)[None], torch.tensor(resp)[None],
                                                                         1e-3))
    gm = GaussianMixture(3, covariance_type="full", reg_covar=1e-3, weights_init=w, means_init=mu,
                         precisions_init=np.linalg.inv(cov), tol=1e-10, max_iter=50).fit(x)
    assert gm.converged_
    np.testing.assert_allclose(gm.means_, mu, atol=1e-8)
    np.testing.assert_allclose(gm.covariances_, cov, atol=1e-8)
    np.testing.assert_allclose(gm.predict(x), y)


def test_ablation_covariance_structure():
    x, y = _data(sizes=(5, 5))
    z, r = torch.tensor(x)[None], torch.tensor(np.eye(2)[y])[None]
    _, _, diag = M.gaussian_mixture_closed_form(z, r, 0.1, "diag")
    _, _, shared = M.gaussian_mixture_closed_form(z, r, 0.1, "shared")
    _, _, full = M.gaussian_mixture_closed_form(z, r, 0.1, "full")
    off = ~torch.eye(3, dtype=torch.bool)
    assert float(diag[..., off].abs().max()) == 0.0 and float(full[..., off].abs().max()) > 1e-3
    torch.testing.assert_close(torch.diagonal(diag, dim1=-2, dim2=-1), torch.diagonal(full, dim1=-2, dim2=-1))
    torch.testing.assert_close(shared[0, 0], shared[0, 1])
    torch.testing.assert_close(shared[0, 0], full[0].mean(0))       # equal class sizes: the mean of the class covariances
    with pytest.raises(ValueError, match="covariance must be"):
        M.gaussian_mixture_closed_form(z, r, 0.1, "spherical")
    with pytest.raises(ValueError, match="at least one instance"):
        M.gaussian_mixture_closed_form(z, torch.zeros_like(r), 0.1)


@pytest.mark.parametrize("covariance", ["full", "diag", "shared"])
def test_score_gradient_reaches_the_encoder_gradcheck(covariance):
    """d(NLL of the queries)/d(encoder weights) through the closed-form fit, checked by finite differences."""
    torch.manual_seed(0)
    enc = encoder(4, 5, 3, "mlp").double()
    names = [n for n, _ in enc.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in enc.parameters()]
    xs = torch.randn(2, 6, 4, dtype=torch.float64)
    xq = torch.randn(2, 5, 4, dtype=torch.float64)
    resp = M.one_hot_support(2, 3, 2, torch.float64)

    def f(*ps):
        e = lambda x: functional_call(enc, dict(zip(names, ps)), (x,))  # noqa: E731
        return M.task_scores(e, xs, resp, xq, 0.05, covariance)
    assert torch.autograd.gradcheck(f, tuple(params), eps=1e-6, atol=1e-5, rtol=1e-4)
    loss = M.auc_surrogate_loss(f(*params), torch.tensor([0, 0, 1, 1, 1]), scale=3.0)
    grads = torch.autograd.grad(loss, params)
    assert all(float(g.abs().sum()) > 0 for g in grads)          # every encoder parameter receives a gradient


def test_likelihood_invariant_to_support_permutations():
    """Shuffling the support rows (labels shuffled with them) and relabelling the classes leave log p unchanged."""
    x, y = _data(seed=3, sizes=(5, 5, 5), d=4)
    xq = torch.tensor(np.random.default_rng(4).normal(size=(9, 4)))[None]
    resp = np.eye(3)[y]
    base = M.ood_scores(torch.tensor(x)[None], torch.tensor(resp)[None], xq, 0.1)
    rng = np.random.default_rng(5)
    for _ in range(3):
        rows, relabel = rng.permutation(len(y)), rng.permutation(3)
        perm = M.ood_scores(torch.tensor(x[rows])[None], torch.tensor(np.eye(3)[relabel[y[rows]]])[None], xq, 0.1)
        torch.testing.assert_close(perm, base, rtol=0, atol=1e-12)


def test_auc_surrogate_orders_scores():
    is_ood = torch.tensor([0, 0, 1, 1])
    good = M.auc_surrogate_loss(torch.tensor([[0.0, 1.0, 5.0, 6.0]]), is_ood)
    bad = M.auc_surrogate_loss(torch.tensor([[5.0, 6.0, 0.0, 1.0]]), is_ood)
    assert good < 0.05 < 4.0 < bad
