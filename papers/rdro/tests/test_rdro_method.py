"""RDRO loss against hand-computed values, the 1/alpha bound, and the population minimiser = p+."""

import math

import numpy as np
import pytest
import torch

from papers.rdro import baselines as B
from papers.rdro import categorical as C
from papers.rdro import method as M


def test_loss_equals_the_formula_on_hand_values():
    a = 0.25
    rc = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)
    rr = torch.tensor([math.log(0.5)], dtype=torch.float64)
    c, r = M.rdro_per_sample(rc, rr, a)
    # softplus(0) = log 2; softplus(log 3) = log 4; softplus(log 0.5) = log 1.5
    assert c.tolist() == pytest.approx([1.25 * math.log(2), 1.25 * math.log(4) - math.log(3)], abs=1e-12)
    assert r.tolist() == pytest.approx([0.75 * math.log(1.5)], abs=1e-12)
    sample = (c.sum() + r.sum()) / 3
    klass = c.mean() + r.mean()
    assert float(M.rdro_loss(rc, rr, a, "sample")) == pytest.approx(float(sample))
    assert float(M.rdro_loss(rc, rr, a, "class")) == pytest.approx(float(klass))
    with pytest.raises(ValueError):
        M.rdro_per_sample(rc, rr, 1.0)


def test_relative_ratio_is_bounded_by_one_over_alpha():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(1000, generator=g, dtype=torch.float64)
    q = torch.rand(1000, generator=g, dtype=torch.float64) ** 8   # p- nearly 0 in places
    for a in (0.1, 0.39, 0.9):
        r = M.relative_density_ratio(p, q, a)
        assert float(r.max()) <= 1 / a + 1e-9 and float(r.max()) > 0.9 / a
    assert float((p / q).max()) > 1e3   # the ordinary ratio p+/p- (DDRO) is not bounded


def test_preferred_term_has_a_bounded_minimiser_but_ddro_has_none():
    a = 0.39
    r = torch.linspace(-3, 12, 3001, dtype=torch.float64)
    c_rdro, _ = M.rdro_per_sample(r, r[:0], a)
    assert float(r[c_rdro.argmin()]) == pytest.approx(math.log(1 / a), abs=0.01)     # exp(r*) = 1/alpha
    c_ddro, _ = B.ddro_per_sample(r, r[:0])
    assert bool((c_ddro[1:] < c_ddro[:-1]).all())                                    # falls for ever


@pytest.mark.parametrize("reduction", ["class", "sample"])
def test_pointwise_minimiser_zeroes_the_expected_gradient(reduction):
    a = 0.3
    q = torch.tensor([0.05, 0.3, 0.7, 0.99], dtype=torch.float64)
    rstar = torch.log(M.rdro_pointwise_minimiser(q, a, reduction)).requires_grad_(True)
    c, n = M.rdro_per_sample(rstar, rstar, a)
    w_pos, w_neg = (q / a, (1 - q) / (1 - a)) if reduction == "class" else (q, 1 - q)
    (g,) = torch.autograd.grad((w_pos * c + w_neg * n).sum(), rstar)
    assert g.abs().max() < 1e-12
    if reduction == "class":
        assert torch.allclose(rstar.exp(), q / a)       # the relative ratio p+/pi_ref


def test_population_minimiser_on_the_categorical_setting_is_p_plus():
    world = C.make_world(20, 1.0, 2.0, np.random.default_rng(1))
    cpos, cneg = C.population_counts(world)
    theta, _ = C.fit("rdro_class", world, cpos, cneg, None, world.alpha, 0.1, 200, 1.0)
    assert C.tv(torch.log_softmax(theta, 0), world.p_pos) < 1e-3
    # DDRO's population fit is another distribution (it targets pi_ref p+/p-)
    theta_d, _ = C.fit("ddro", world, cpos, cneg, None, world.alpha, 0.1, 200, 1.0)
    assert C.tv(torch.log_softmax(theta_d, 0), world.p_pos) > 0.02


def test_kto_and_dpo_formulas():
    r = torch.tensor([0.0, 2.0])
    c, n = B.kto_per_sample(r, r, torch.tensor(0.5), beta=0.1)
    assert c.tolist() == pytest.approx([1 - 1 / (1 + math.exp(0.05)), 1 - 1 / (1 + math.exp(-0.15))], abs=1e-6)
    assert n.tolist() == pytest.approx([1 - 1 / (1 + math.exp(-0.05)), 1 - 1 / (1 + math.exp(0.15))], abs=1e-6)
    assert float(B.dpo_loss(torch.tensor([1.0]), torch.tensor([-1.0]), 0.5)) == pytest.approx(math.log(1 + math.exp(-1)))
    assert float(B.dpo_loss(torch.zeros(3), torch.zeros(3), 0.1)) == pytest.approx(math.log(2))
