"""Numerical checks of CAFe's pieces against known answers and invariances."""

import copy

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from papers.cafe import baselines as B
from papers.cafe.adapt import TestTimeAdapter, configure_bn_adaptation, run_stream
from papers.cafe.method import (
    SourceStatistics,
    alignment_loss,
    batch_moments,
    compute_source_statistics,
    gaussian_js_by_kl,
    gaussian_js_moment_matched,
    gaussian_kl,
    gaussian_symmetric_kl,
    infomax_loss,
    spectral_feature_groups,
)
from papers.cafe.models import ResNetCifar, SmallCNN, build_model


def _spd(d, g):
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


@pytest.mark.parametrize("d", [1, 3, 8])
def test_gaussian_kl_matches_torch_distributions(d):
    g = torch.Generator().manual_seed(d)
    for _ in range(5):
        m0, m1 = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
        c0, c1 = _spd(d, g), _spd(d, g)
        ref01 = kl_divergence(MultivariateNormal(m0, c0), MultivariateNormal(m1, c1))
        ref10 = kl_divergence(MultivariateNormal(m1, c1), MultivariateNormal(m0, c0))
        assert torch.allclose(gaussian_kl(m0, c0, m1, c1), ref01, rtol=1e-9, atol=1e-9)
        assert torch.allclose(gaussian_symmetric_kl(m0, c0, m1, c1), 0.5 * (ref01 + ref10), rtol=1e-9, atol=1e-9)


def test_divergence_zero_iff_equal_and_symmetric():
    g = torch.Generator().manual_seed(0)
    m, c = torch.randn(4, generator=g, dtype=torch.float64), _spd(4, g)
    assert abs(gaussian_symmetric_kl(m, c, m, c).item()) < 1e-10
    m2, c2 = m + 0.3, _spd(4, g)
    assert gaussian_symmetric_kl(m, c, m2, c2) > 0
    assert torch.allclose(gaussian_symmetric_kl(m, c, m2, c2), gaussian_symmetric_kl(m2, c2, m, c))


def test_symmetric_kl_gradcheck():
    g = torch.Generator().manual_seed(1)
    m0 = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    m1, c1 = torch.randn(3, generator=g, dtype=torch.float64), _spd(3, g)

    def f(m0, a):
        return gaussian_symmetric_kl(m0, a @ a.T + torch.eye(3, dtype=torch.float64), m1, c1)
    assert torch.autograd.gradcheck(f, (m0, a))


@pytest.mark.parametrize("d", [1, 3, 8])
def test_js_closed_form_is_the_two_kls_to_the_moment_matched_mixture(d):
    g = torch.Generator().manual_seed(10 + d)
    for _ in range(5):
        m0, m1 = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
        c0, c1 = _spd(d, g), _spd(d, g)
        js = gaussian_js_moment_matched(m0, c0, m1, c1)
        assert torch.allclose(js, gaussian_js_by_kl(m0, c0, m1, c1), rtol=1e-9, atol=1e-12)
        assert torch.allclose(js, gaussian_js_moment_matched(m1, c1, m0, c0), rtol=1e-12, atol=1e-14)   # symmetric
        assert js > 0
    assert abs(gaussian_js_moment_matched(m0, c0, m0, c0).item()) < 1e-12


def _js_1d_by_quadrature(m0, s0, m1, s1):
    """True JS(N(m0,s0^2), N(m1,s1^2)) and KL(M || M~) (M the mixture, M~ its moment-matched Gaussian) by quadrature."""
    from scipy import integrate, stats
    p, q = stats.norm(m0, s0), stats.norm(m1, s1)
    mm = 0.5 * (m0 + m1)
    vm = 0.5 * (s0 ** 2 + s1 ** 2) + 0.25 * (m0 - m1) ** 2
    mt = stats.norm(mm, vm ** 0.5)
    lo, hi = min(m0 - 12 * s0, m1 - 12 * s1), max(m0 + 12 * s0, m1 + 12 * s1)

    def mix(x):
        return 0.5 * (p.pdf(x) + q.pdf(x))

    def js_integrand(x):
        m = mix(x)
        return 0.5 * (p.pdf(x) * (p.logpdf(x) - np.log(m)) + q.pdf(x) * (q.logpdf(x) - np.log(m)))

    def kl_m_mt(x):
        m = mix(x)
        return m * (np.log(m) - mt.logpdf(x))
    opts = dict(epsabs=1e-13, epsrel=1e-11, limit=400)
    return integrate.quad(js_integrand, lo, hi, **opts)[0], integrate.quad(kl_m_mt, lo, hi, **opts)[0]


@pytest.mark.parametrize("m1,s1", [(0.0, 1.0), (1.5, 1.0), (0.3, 2.0), (3.0, 0.5), (-6.0, 1.2)])
def test_js_approximation_is_true_js_plus_kl_of_mixture_to_its_gaussian(m1, s1):
    """JS~ = JS + KL(M || M~) >= JS: checked against quadrature of the true JS of two 1-D Gaussians."""
    m0, s0 = 0.0, 1.0
    t = torch.float64
    approx = gaussian_js_moment_matched(torch.tensor([m0], dtype=t), torch.tensor([[s0 ** 2]], dtype=t),
                                        torch.tensor([m1], dtype=t), torch.tensor([[s1 ** 2]], dtype=t)).item()
    js, gap = _js_1d_by_quadrature(m0, s0, m1, s1)
    assert js <= np.log(2) + 1e-9
    assert approx == pytest.approx(js + gap, rel=1e-6, abs=1e-10)
    assert approx >= js - 1e-10
    if (m1, s1) == (-6.0, 1.2):            # far apart: the true JS saturates at log 2, the approximation does not
        assert js > 0.6 and approx > 1.0


def test_js_approximation_is_exact_to_leading_order_for_close_gaussians():
    m0, s0, t = 0.0, 1.0, torch.float64
    ratios = []
    for delta in (0.2, 0.05):
        m1, s1 = delta, 1.0 + delta
        approx = gaussian_js_moment_matched(torch.tensor([m0], dtype=t), torch.tensor([[s0 ** 2]], dtype=t),
                                            torch.tensor([m1], dtype=t), torch.tensor([[s1 ** 2]], dtype=t)).item()
        ratios.append(approx / _js_1d_by_quadrature(m0, s0, m1, s1)[0] - 1)
    assert 0 <= ratios[1] < ratios[0] / 8 and ratios[1] < 5e-3   # relative error shrinks like delta^2 (16x here)


def test_js_approximation_gradcheck():
    g = torch.Generator().manual_seed(2)
    m0 = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    m1, c1 = torch.randn(3, generator=g, dtype=torch.float64), _spd(3, g)

    def f(m0, a):
        return gaussian_js_moment_matched(m0, a @ a.T + torch.eye(3, dtype=torch.float64), m1, c1)
    assert torch.autograd.gradcheck(f, (m0, a))


def test_alignment_loss_is_the_sum_over_groups():
    g = torch.Generator().manual_seed(3)
    src = torch.randn(300, 6, generator=g, dtype=torch.float64)
    tgt = torch.randn(40, 6, generator=g, dtype=torch.float64) * 1.3 + 0.4
    mu, cov = batch_moments(src)
    groups = [np.array([0, 4]), np.array([1, 2, 3, 5])]
    stats = SourceStatistics(mu, cov, groups)
    mt, ct = batch_moments(tgt)
    eye = [1e-3 * torch.eye(len(gr), dtype=torch.float64) for gr in groups]
    parts = [gaussian_js_moment_matched(mu[gr], cov[gr][:, gr] + e, mt[gr], ct[gr][:, gr] + e)
             for gr, e in zip(groups, eye)]
    assert torch.allclose(alignment_loss(tgt, stats, eps=1e-3), sum(parts), rtol=1e-10)
    assert torch.allclose(alignment_loss(tgt, stats, eps=1e-3, divergence="sym_kl"),
                          sum(gaussian_symmetric_kl(mu[gr], cov[gr][:, gr] + e, mt[gr], ct[gr][:, gr] + e)
                              for gr, e in zip(groups, eye)), rtol=1e-10)


def test_small_cnn_has_the_feature_api_and_bn_everywhere():
    m = build_model("cnn", 8, 1, 10)
    assert isinstance(m, SmallCNN) and m.feature_dim == 64
    x = torch.randn(4, 3, 32, 32)
    assert m.forward_features(x).shape == (4, 64) and torch.allclose(m(x), m.fc(m.forward_features(x)))
    assert sum(isinstance(k, torch.nn.BatchNorm2d) for k in m.modules()) == 4
    params = configure_bn_adaptation(m)
    assert len(params) == 8 and not m.fc.weight.requires_grad
    with pytest.raises(ValueError):
        build_model("vgg", 8, 1, 10)


def test_spectral_grouping_partitions_and_recovers_blocks():
    rng = np.random.default_rng(0)
    d, k = 24, 3
    q = rng.permutation(d)
    z = rng.normal(size=(2000, k))
    x0 = np.repeat(z, d // k, axis=1) + 0.3 * rng.normal(size=(2000, d))  # 3 blocks of 8 correlated dims
    x = x0[:, q]                                                             # hide the block order
    groups = spectral_feature_groups(np.cov(x.T), k, seed=0)
    assert np.array_equal(np.sort(np.concatenate(groups)), np.arange(d))   # every dim exactly once
    blocks = {frozenset(np.flatnonzero(q // (d // k) == b).tolist()) for b in range(k)}
    assert {frozenset(g.tolist()) for g in groups} == blocks
    assert len(spectral_feature_groups(np.cov(x.T), 1)) == 1


def test_grouping_rejects_bad_k():
    with pytest.raises(ValueError):
        spectral_feature_groups(np.eye(4), 5)


def _model():
    torch.manual_seed(0)
    return ResNetCifar(8, 1, 10).eval()


def _stats(model, x):
    return compute_source_statistics(model, [x], n_groups=4, seed=0)


def test_alignment_loss_vanishes_on_matching_moments():
    feats = torch.randn(200, 6, dtype=torch.float64)
    mu, cov = batch_moments(feats)
    stats = SourceStatistics(mu, cov, [np.array([0, 1, 2]), np.array([3, 4, 5])])
    for div in ("js", "sym_kl"):
        assert abs(alignment_loss(feats, stats, eps=0.0, divergence=div).item()) < 1e-9
        assert alignment_loss(feats * 1.5 + 1, stats, eps=0.0, divergence=div).item() > 0.1


def test_only_bn_affine_parameters_are_updated():
    model = _model()
    x = torch.randn(32, 3, 16, 16)
    stats = _stats(model, x)
    for method, fn in [("cafe", B.cafe_loss_fn(stats, 1.0, 1e-3, "js")), ("cafe_symkl", B.cafe_loss_fn(stats, 1.0, 1e-3, "sym_kl")),
                       ("tent", B.tent_loss),
                       ("tfa", B.tfa_loss_fn(stats)), ("shot_im", B.shot_im_loss)]:
        m = copy.deepcopy(model)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        ad = TestTimeAdapter(m, fn, lr=1e-2)
        ad.step(torch.randn(8, 3, 16, 16) * 2 + 1)
        after = m.state_dict()
        changed = {k for k in after if k in before and not torch.equal(before[k], after[k])}
        assert changed, method
        assert all(k.endswith(("bn.weight", "bn.bias", "bn1.weight", "bn1.bias", "bn2.weight", "bn2.bias",
                               "short.1.weight", "short.1.bias")) for k in changed), (method, changed)
        assert any("weight" in k for k in changed)
        trainable = {n for n, p in m.named_parameters() if p.requires_grad}
        assert all(".bn" in n or n.startswith("bn") or "short.1" in n for n in trainable)


def test_bn_adaptation_on_a_source_like_batch_changes_nothing_material():
    """If the test batch has the statistics the BN layers were trained with, test-time BN is the identity."""
    model = _model()
    x = torch.randn(256, 3, 16, 16)
    for mod in model.modules():               # running stats := exact statistics of this batch
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None               # cumulative average over one batch = that batch's stats
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()
    with torch.no_grad():
        ref = model(x)
    adapted = TestTimeAdapter(copy.deepcopy(model), None, adapt_bn_stats=True).step(x)
    # running_var is the unbiased estimate, train-mode BN divides by n: relative gap ~ 1/(2n) per layer
    assert torch.allclose(adapted, ref, rtol=1e-2, atol=1e-2)
    assert (adapted.argmax(1) == ref.argmax(1)).float().mean() > 0.98
    # and a shifted batch is changed materially (the check above could fail)
    shifted = TestTimeAdapter(copy.deepcopy(model), None, adapt_bn_stats=True).step(x * 3 + 2)
    with torch.no_grad():
        src = model(x * 3 + 2)
    assert not torch.allclose(shifted, src, atol=1e-1)


def test_source_statistics_hold_no_source_samples():
    model = _model()
    x = torch.randn(64, 3, 8, 8)
    stats = _stats(model, x)
    d = model.feature_dim
    n_numbers = stats.mean.numel() + stats.cov.numel() + sum(len(g) for g in stats.groups)
    assert n_numbers == d + d * d + d
    assert stats.cov.shape == (d, d) and torch.allclose(stats.cov, stats.cov.T, atol=1e-6)


def test_infomax_prefers_confident_diverse_predictions():
    confident_diverse = torch.eye(4) * 20
    confident_collapsed = torch.zeros(4, 4)
    confident_collapsed[:, 0] = 20
    uniform = torch.zeros(4, 4)
    assert infomax_loss(confident_diverse) < infomax_loss(uniform)
    assert infomax_loss(confident_diverse) < infomax_loss(confident_collapsed)


def test_configure_bn_adaptation_freezes_everything_else():
    model = _model()
    params = configure_bn_adaptation(model)
    n_bn = sum(1 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert len(params) == 2 * n_bn
    assert not model.fc.weight.requires_grad and not model.conv.weight.requires_grad


def test_methods_registry_builds_every_method_around_the_given_model():
    model = _model()
    x = torch.randn(32, 3, 16, 16)
    stats = _stats(model, x)
    cfg = type("Cfg", (), dict(lr=1e-2, steps=1, optimizer="sgd", momentum=0.5, align_weight=1.0, cov_eps=1e-3,
                               divergence="js"))()
    for name, build in B.METHODS.items():
        m = copy.deepcopy(model)
        ad = build(m, stats, cfg)
        assert ad.model is m, name
        assert (ad.opt is None) == (name in ("source", "bn")), name
        if ad.opt is not None:
            assert isinstance(ad.opt, torch.optim.SGD) and ad.opt.defaults["momentum"] == 0.5
    whole = B._without_grouping(stats)
    assert len(whole.groups) == 1 and len(stats.groups) == 4
    assert np.array_equal(whole.groups[0], np.arange(model.feature_dim))


def test_run_stream_predicts_every_sample_once_in_the_original_order():
    class Oracle:                    # "predicts" the class stored in the first pixel of each image
        def step(self, x):
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 10).float()
    y = np.arange(23) % 10
    x = np.zeros((23, 1, 2, 2), dtype=np.float32)
    x[:, 0, 0, 0] = y
    x[5, 0, 0, 0] = (y[5] + 1) % 10          # one wrong prediction, at index 5
    ok = run_stream(Oracle(), x, y, np.random.default_rng(0).permutation(23), 4, lambda x, idx: torch.from_numpy(x[idx]))
    assert ok.sum() == 22 and not ok[5]      # the last batch has 3 images, none dropped
