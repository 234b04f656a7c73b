"""Numerical checks of method.py against hand computations and closed forms."""

import math
import types

import numpy as np
import pytest
import torch

from papers.pu_diffusion.baselines import risk
from papers.pu_diffusion.method import (
    ddim_sample,
    ddpm_sample,
    fid_from_features,
    frechet_distance,
    make_scheduler,
    per_example_loss,
    positive_loss,
    pu_risk,
    pu_risk_terms,
    sample,
)


def test_schedule_matches_ddpm_linear_defaults():
    s = make_scheduler(1000)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    # alpha_bar_t = prod_{s<=t} (1 - beta_s), written out for t = 2
    b = s.betas.double()
    assert s.alphas_cumprod[2].item() == pytest.approx(((1 - b[0]) * (1 - b[1]) * (1 - b[2])).item(), rel=1e-6)
    assert (s.config.variance_type, s.config.clip_sample, s.config.prediction_type) == ("fixed_small", True, "epsilon")


def test_forward_noising_matches_closed_form_and_marginal():
    s = make_scheduler(1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(3, 1, 4, 4, generator=g)
    t = torch.tensor([0, 499, 999])
    xt = s.add_noise(x0, eps, t)
    for i, ti in enumerate(t.tolist()):
        ab = float(np.prod(1 - np.linspace(1e-4, 0.02, 1000)[: ti + 1]))
        expect = math.sqrt(ab) * x0[i] + math.sqrt(1 - ab) * eps[i]
        assert torch.allclose(xt[i], expect.float(), atol=2e-5)
    # Marginal of x_T for x_0 = const: mean sqrt(abar_T) c, variance 1 - abar_T (Monte Carlo)
    c = torch.full((20000, 1), 0.7)
    xT = s.add_noise(c, torch.randn(20000, 1, generator=g), torch.full((20000,), 999))
    ab = s.alphas_cumprod[-1].item()
    assert xT.mean().item() == pytest.approx(math.sqrt(ab) * 0.7, abs=0.03)
    assert xT.var().item() == pytest.approx(1 - ab, abs=0.03)


class _Const(torch.nn.Module):
    """eps_theta that returns a fixed tensor, so the loss can be computed by hand."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x, t):
        return self.value.expand_as(x)


def test_per_example_loss_equals_hand_computation():
    s = make_scheduler(10)
    x0 = torch.zeros(4, 1, 2, 2)
    pred = torch.full((1, 1, 2, 2), 0.5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ell = per_example_loss(_Const(pred), s, x0, generator=g1)
    torch.randint(0, 10, (4,), generator=g2)              # same draws: t, then eps
    eps = torch.randn(4, 1, 2, 2, generator=g2)
    assert torch.allclose(ell, ((0.5 - eps) ** 2).flatten(1).sum(1))


def test_batch_risks_equal_hand_computation():
    ell = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.2])
    y = torch.tensor([0, 1, 0, 0, 1])
    beta = 0.3
    lp = [-math.log(1 - math.exp(-v) + 1e-6) for v in ell.tolist()]
    # Unsupervised: mean over the whole batch of (1 - y) l
    assert risk("unsupervised", ell, y, beta).item() == pytest.approx((0.5 + 1.0 + 3.0) / 5)
    # Supervised: mean over the batch of (1 - y) l + y l_P
    assert risk("supervised", ell, y, beta).item() == pytest.approx((0.5 + lp[1] + 1.0 + 3.0 + lp[4]) / 5, rel=1e-6)
    e_u, e_p, e_lp = (0.5 + 1.0 + 3.0) / 3, (2.0 + 0.2) / 2, (lp[1] + lp[4]) / 2
    neg = e_u - beta * e_p
    assert neg > 0
    assert risk("pu", ell, y, beta).item() == pytest.approx(beta * e_lp + abs(neg), rel=1e-6)
    assert risk("pu_nn", ell, y, beta).item() == pytest.approx(beta * e_lp + neg, rel=1e-6)


def test_pu_negative_part_abs_and_nonnegative_branches():
    ell = torch.tensor([0.1, 5.0, 6.0], requires_grad=True)
    y = torch.tensor([0.0, 1.0, 1.0])
    beta = 0.5
    pos, neg = pu_risk_terms(ell, y, beta)
    assert neg.item() == pytest.approx(0.1 - 0.5 * 5.5) and neg.item() < 0
    assert pu_risk(ell, y, beta).item() == pytest.approx(pos.item() - neg.item(), rel=1e-6)   # |neg|
    r = pu_risk(ell, y, beta, nonnegative=True)
    assert r.item() == pytest.approx(-neg.item(), rel=1e-6)                                 # nnPU step
    r.backward()
    # gradient of -(E_U l - beta E_P l): -1 on the unlabelled example, +beta/2 on each positive
    assert torch.allclose(ell.grad, torch.tensor([-1.0, 0.25, 0.25]))


def test_pu_reduces_to_unsupervised_without_labelled_sensitive():
    g = torch.Generator().manual_seed(1)
    ell = torch.rand(16, generator=g) * 10
    y = torch.zeros(16)
    for beta in (0.0, 0.1, 0.5):
        assert risk("pu", ell, y, beta).item() == pytest.approx(risk("unsupervised", ell, y, beta).item(), rel=1e-6)
        assert risk("pu_nn", ell, y, beta).item() == pytest.approx(ell.mean().item(), rel=1e-6)


def test_positive_loss_is_decreasing_in_l():
    ell = torch.linspace(0.05, 10, 50)
    lp = positive_loss(ell)
    assert (lp[1:] < lp[:-1]).all() and lp[-1].item() < 1e-4 and torch.isfinite(positive_loss(torch.zeros(1))).all()


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown method"):
        risk("gan", torch.ones(2), torch.zeros(2), 0.1)


@pytest.mark.parametrize("sampler,steps", [("ddpm", 0), ("ddpm", 10), ("ddim", 5)])
def test_samplers_shapes_finite(sampler, steps):
    s = make_scheduler(50)
    out = sample(_Const(torch.zeros(1)), s, (3, 2, 4, 4), sampler, steps, torch.Generator().manual_seed(0))
    assert out.shape == (3, 2, 4, 4) and torch.isfinite(out).all()


def test_ddim_with_oracle_eps_recovers_x0():
    """With the true noise predictor of a point mass at x0, deterministic DDIM lands on x0."""
    s = make_scheduler(100)
    x0 = torch.full((2, 1, 3, 3), 0.3)
    abar = s.alphas_cumprod.float()

    class Oracle(torch.nn.Module):
        def forward(self, x, t):
            a = abar[t].view(-1, 1, 1, 1)
            return (x - a.sqrt() * x0) / (1 - a).sqrt()

    out = ddim_sample(Oracle(), s, x0.shape, 10, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-4)
    out = ddpm_sample(Oracle(), s, x0.shape, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-3)
    with pytest.raises(ValueError, match="num_inference_steps"):
        ddim_sample(Oracle(), s, x0.shape, 101)


class _DiffusersLike(torch.nn.Module):
    """Returns an output object with ``.sample``, like diffusers' UNet2DModel."""

    def forward(self, x, t):
        return types.SimpleNamespace(sample=torch.zeros_like(x))


def test_samplers_and_loss_accept_diffusers_outputs():
    s = make_scheduler(20)
    assert sample(_DiffusersLike(), s, (2, 1, 4, 4), "ddim", 4, torch.Generator().manual_seed(0)).shape == (2, 1, 4, 4)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ell = per_example_loss(_DiffusersLike(), s, torch.zeros(3, 1, 2, 2), generator=g1)
    torch.randint(0, 20, (3,), generator=g2)
    assert torch.allclose(ell, (torch.randn(3, 1, 2, 2, generator=g2) ** 2).flatten(1).sum(1))


def test_frechet_distance_closed_form_gaussians():
    # 1-D: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
    assert frechet_distance([1.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(4 + 4 + 1 - 2 * 2)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(a, a + 2.0) == pytest.approx(12.0, rel=1e-3)
