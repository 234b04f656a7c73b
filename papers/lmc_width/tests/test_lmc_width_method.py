"""method.py against known answers: LEWC exact for a constructed pair of bias-free ReLU nets that
satisfies both conditions (and clearly violated by a generic pair), temperature calibration
recovers a known temperature and never raises the held-out NLL, identical models have no barrier."""

import numpy as np
import pytest
import torch

from common.lmc.interpolation import lerp
from papers.lmc_width import method as M
from papers.lmc_width.models import build, mlp_layers, permutation_spec

DIMS = [6, 8, 8, 8, 3]  # input, 3 hidden layers, output


def _block_pair(seed=0):
    """Two bias-free 3-hidden-layer ReLU nets on disjoint hidden units: model a uses units 0..3 of every
    hidden layer, model b units 4..7. Then W^b z^a = 0 and W^a z^b = 0 (reciprocal orthogonality) and
    a and b never share an active unit (weak additivity), the two conditions of Thm 5.3."""
    g = torch.Generator().manual_seed(seed)
    pa, pb = {}, {}
    for i in range(len(DIMS) - 1):
        n_out, n_in = DIMS[i + 1], DIMS[i]
        wa, wb = torch.randn(n_out, n_in, generator=g, dtype=torch.float64), torch.randn(
            n_out, n_in, generator=g, dtype=torch.float64)
        if i < len(DIMS) - 2:  # hidden outputs: a writes the first half, b the second
            wa[n_out // 2:] = 0
            wb[:n_out // 2] = 0
        if i > 0:  # hidden inputs: a reads the first half, b the second
            wa[:, n_in // 2:] = 0
            wb[:, :n_in // 2] = 0
        pa[f"fc.{i}.weight"], pb[f"fc.{i}.weight"] = wa, wb
    return pa, pb


def _outputs(params, x):
    return mlp_layers(params, x, len(DIMS) - 1)


@pytest.mark.parametrize("lam", [0.5, 0.3, 0.8])
def test_lewc_is_exact_under_both_conditions(lam):
    pa, pb = _block_pair()
    x = torch.randn(200, DIMS[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    pre_a, out_a = _outputs(pa, x)
    pre_b, out_b = _outputs(pb, x)
    _, out_m = _outputs(M.merge(pa, pb, lam), x)
    errs = M.lewc_relative_errors(out_m, out_a, out_b, lam)
    assert len(errs) == 4 and max(errs) < 1e-12
    assert max(M.additivity_errors(pre_a[:-1], pre_b[:-1], lam)) < 1e-12
    weights = [[p[f"fc.{i}.weight"] for i in range(4)] for p in (pa, pb)]
    assert max(M.cross_term_ratios(weights[0], weights[1], out_a, out_b)) < 1e-12
    # the logits of the merged model are lam^4 f_a + (1 - lam)^4 f_b, i.e. a weighted logit ensemble
    assert torch.allclose(out_m[-1], lam ** 4 * out_a[-1] + (1 - lam) ** 4 * out_b[-1], atol=1e-12)


def test_lewc_fails_for_a_generic_pair():
    """Two dense random nets share units: both conditions fail, and so does LEWC (the check can fail)."""
    g = torch.Generator().manual_seed(3)
    pa = {f"fc.{i}.weight": torch.randn(DIMS[i + 1], DIMS[i], generator=g, dtype=torch.float64) for i in range(4)}
    pb = {f"fc.{i}.weight": torch.randn(DIMS[i + 1], DIMS[i], generator=g, dtype=torch.float64) for i in range(4)}
    x = torch.randn(200, DIMS[0], generator=g, dtype=torch.float64)
    pre_a, out_a = _outputs(pa, x)
    pre_b, out_b = _outputs(pb, x)
    _, out_m = _outputs(M.merge(pa, pb, 0.5), x)
    errs = M.lewc_relative_errors(out_m, out_a, out_b, 0.5)
    assert errs[0] > 0.1 and errs[-1] > 0.3
    assert min(M.additivity_errors(pre_a[:-1], pre_b[:-1], 0.5)) > 0.1
    weights = [[p[f"fc.{i}.weight"] for i in range(4)] for p in (pa, pb)]
    assert min(M.cross_term_ratios(weights[0], weights[1], out_a, out_b)) > 0.3


def test_lewc_of_a_model_with_itself_is_the_scaled_output():
    """theta_a = theta_b: the merged model is the model, LEWC predicts (lam^l + (1-lam)^l) f_l: the
    relative error is |1 - (lam^l + (1-lam)^l)| exactly, layer by layer."""
    pa, _ = _block_pair()
    x = torch.randn(50, DIMS[0], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    _, out = _outputs(pa, x)
    errs = M.lewc_relative_errors(out, out, out, 0.5)
    assert np.allclose(errs, [1 - 2 * 0.5 ** (i + 1) for i in range(4)], atol=1e-12)


def test_calibration_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 5, generator=g, dtype=torch.float64) * 2.0
    beta_true = 0.4
    y = torch.multinomial(torch.softmax(beta_true * z, 1), 1, generator=g).squeeze(1)
    beta = M.fit_inverse_temperature(z, y)
    assert beta == pytest.approx(beta_true, rel=0.05)
    assert M.nll(z, y, beta) < M.nll(z, y, 1.0) - 0.05


@pytest.mark.parametrize("scale,noise", [(0.01, 0.0), (1.0, 0.0), (30.0, 0.3), (1e3, 0.5), (5.0, 1.0)])
def test_calibration_never_raises_the_held_out_nll(scale, noise):
    g = torch.Generator().manual_seed(int(scale) + 7)
    y = torch.randint(0, 10, (500,), generator=g)
    z = torch.randn(500, 10, generator=g, dtype=torch.float64)
    z[torch.arange(500), y] += 2.0
    flip = torch.rand(500, generator=g) < noise
    y = torch.where(flip, torch.randint(0, 10, (500,), generator=g), y)
    z = z * scale
    beta = M.fit_inverse_temperature(z, y)
    assert M.BETA_BOUNDS[0] <= beta <= M.BETA_BOUNDS[1]
    assert M.nll(z, y, beta) <= M.nll(z, y, 1.0)
    # calibration leaves the predictions (argmax) unchanged
    assert torch.equal((beta * z).argmax(1), z.argmax(1))


def test_calibration_rejects_bad_shapes():
    with pytest.raises(ValueError, match="logits must be"):
        M.fit_inverse_temperature(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))


def test_identical_models_have_zero_barrier():
    torch.manual_seed(0)
    model = build("mlp", 16, 1.0, 2, False, (1, 4, 4), 3).double()
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    xv, xt = torch.randn(100, 1, 4, 4, generator=g, dtype=torch.float64), torch.randn(
        100, 1, 4, 4, generator=g, dtype=torch.float64)
    yv, yt = torch.randint(0, 3, (100,), generator=g), torch.randint(0, 3, (100,), generator=g)
    from torch.func import functional_call

    def logits_at(t):
        p = lerp(t, params, params)
        return functional_call(model, p, (xv,)), functional_call(model, p, (xt,))

    res = M.path_barriers(logits_at, [0.0, 0.25, 0.5, 0.75, 1.0], yv, yt)
    for key in ("mid_loss", "mid_loss_cal", "mid_acc_pct", "max_loss", "max_loss_cal", "max_acc_pct"):
        assert abs(res[key]) < 1e-9, key
    assert len(set(np.round(res["curve"]["beta"], 9))) == 1  # the same temperature everywhere
    # the bias-free spec covers exactly the parameters the model has
    assert set(permutation_spec(model, params).axes_to_perm) == set(params)


def test_path_must_contain_its_midpoint():
    with pytest.raises(ValueError, match="through t = 1/2"):
        M.path_barriers(lambda t: None, [0.0, 0.4, 1.0], torch.zeros(1), torch.zeros(1))


@pytest.mark.parametrize("t", [0.5, 0.25])
def test_repair_gives_every_hidden_unit_the_interpolated_statistics(t):
    """After REPAIR, on the data it measured, the merged model's per-unit pre-activation mean and std
    equal (1 - t) * endpoint a's + t * endpoint b's at every hidden layer; without it they do not."""
    g = torch.Generator().manual_seed(5)
    pa = {f"fc.{i}.weight": torch.randn(DIMS[i + 1], DIMS[i], generator=g, dtype=torch.float64) for i in range(4)}
    pb = {f"fc.{i}.weight": 2.0 * torch.randn(DIMS[i + 1], DIMS[i], generator=g, dtype=torch.float64)
          for i in range(4)}
    x = torch.randn(500, DIMS[0], generator=g, dtype=torch.float64) + 0.3
    pre_a, _ = _outputs(pa, x)
    pre_b, _ = _outputs(pb, x)
    repaired = M.repair_mlp(pa, pb, t, x, 4, eps=0.0)
    pre_r, out_r = _outputs(repaired, x)
    pre_m, _ = _outputs(lerp(t, pa, pb), x)
    gaps = []
    for i in range(3):  # hidden layers
        (mu_a, sd_a), (mu_b, sd_b), (mu_r, sd_r) = (M.unit_stats(p[i]) for p in (pre_a, pre_b, pre_r))
        assert torch.allclose(mu_r, (1 - t) * mu_a + t * mu_b, atol=1e-10)
        assert torch.allclose(sd_r, (1 - t) * sd_a + t * sd_b, atol=1e-10)
        mu_m, sd_m = M.unit_stats(pre_m[i])
        gaps.append(float((sd_m - ((1 - t) * sd_a + t * sd_b)).abs().max()))
    assert max(gaps) > 0.1  # the plain merge does not have those statistics
    assert "fc.3.bias" not in repaired  # the logits are not corrected
    assert torch.allclose(repaired["fc.3.weight"], lerp(t, pa, pb)["fc.3.weight"])
    assert torch.allclose(M.mlp_logits(repaired, x, 4, 64), out_r[-1])


def test_repair_of_an_endpoint_is_the_identity():
    pa, pb = _block_pair()
    x = torch.randn(300, DIMS[0], generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for t, p in ((0.0, pa), (1.0, pb)):
        out = M.repair_mlp(pa, pb, t, x, 4, eps=0.0)
        assert torch.allclose(_outputs(out, x)[1][-1], _outputs(p, x)[1][-1], atol=1e-9)
