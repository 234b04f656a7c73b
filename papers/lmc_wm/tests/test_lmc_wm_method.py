"""Known answers and invariances of weight matching, AM, STE and the analyses."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.func import functional_call

from papers.lmc_wm import baselines as B
from papers.lmc_wm import method as M
from papers.lmc_wm.models import MLP, VGG, ResNet20


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target)
    return x, y


def _train_mlp(x, y, seed, steps=100, width=32):
    torch.manual_seed(seed)
    model = MLP(x.shape[1], width, 3, 10)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def trained(digits):
    x, y = digits
    return _train_mlp(x, y, 0), _train_mlp(x, y, 1)


def test_trained_models_are_good(trained, digits):
    x, y = digits
    for model in trained:
        assert M.evaluate(model, _params(model), x, y)[1] > 90.0


def test_wm_recovers_a_known_permutation_of_a_trained_model(trained):
    model = trained[0]
    spec, p = M.spec_for(model), _params(model)
    perm = M.random_perm(spec, p, torch.Generator().manual_seed(3))
    assert any(not torch.equal(ix, torch.arange(len(ix))) for ix in perm.values())
    shuffled = M.apply_permutation(spec, perm, p)
    found = M.weight_matching(spec, p, shuffled)
    inverse = M.invert_perm(perm)
    for name in perm:
        assert torch.equal(found[name], inverse[name]), name
    back = M.apply_permutation(spec, found, shuffled)
    assert M.l2_distance(back, p) == 0.0


@pytest.mark.parametrize("make,shape", [(lambda: MLP(20, 16, 3), (16, 20)),
                                        (lambda: VGG("vgg11", 0.125, 3, 10, 32), (4, 3, 32, 32)),
                                        (lambda: ResNet20(0.5), (4, 3, 32, 32))])
def test_permuted_model_computes_the_same_function(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    spec, p = M.spec_for(model), _params(model)
    M.check_spec(spec, p)
    perm = M.random_perm(spec, p, torch.Generator().manual_seed(1))
    x = torch.randn(*shape)
    out, out_perm = functional_call(model, p, (x,)), functional_call(model, M.apply_permutation(spec, perm, p), (x,))
    assert torch.allclose(out, out_perm, atol=1e-5)
    # ... while the parameters really moved
    assert M.l2_distance(p, M.apply_permutation(spec, perm, p)) > 0.1


def test_wm_on_cnn_recovers_the_permutation():
    torch.manual_seed(0)
    model = ResNet20(0.5)
    spec, p = M.spec_for(model), _params(model)
    perm = M.random_perm(spec, p, torch.Generator().manual_seed(2))
    found = M.weight_matching(spec, p, M.apply_permutation(spec, perm, p))
    inv = M.invert_perm(perm)
    assert all(torch.equal(found[k], inv[k]) for k in perm)


def test_wm_never_increases_the_distance(trained):
    a, b = (_params(m) for m in trained)
    spec = M.spec_for(trained[0])
    perm = M.weight_matching(spec, a, b)
    assert M.l2_distance(a, M.apply_permutation(spec, perm, b)) < M.l2_distance(a, b)


def test_singular_values_are_invariant_and_vectors_move(trained):
    a, b = (_params(m) for m in trained)
    spec = M.spec_for(trained[0])
    perm = M.random_perm(spec, b, torch.Generator().manual_seed(5))
    pb = M.apply_permutation(spec, perm, b)
    assert M.singular_value_change(b, pb) < 1e-10
    # the singular vectors of the hidden layers do change under the permutation
    align = M.singular_vector_alignment(b, pb)
    assert align["fc.1.weight"]["align"][:5].mean() < 0.9
    # a model is perfectly aligned with itself at every rank
    self_align = M.singular_vector_alignment(b, b)
    assert all(np.allclose(r["align"], 1.0) for r in self_align.values())


def test_barrier_of_a_model_with_itself_is_zero(trained, digits):
    x, y = digits
    p = _params(trained[0])
    curve = M.interpolation_curve(trained[0], p, p, x, y, np.linspace(0, 1, 5))
    loss_barrier, acc_barrier = M.barrier(curve)
    assert abs(loss_barrier) < 1e-6 and abs(acc_barrier) < 1e-9


def test_barrier_formula_on_a_known_curve():
    curve = {"lam": [0.0, 0.5, 1.0], "loss": [1.0, 3.0, 2.0], "acc_pct": [90.0, 50.0, 80.0]}
    assert M.barrier(curve) == pytest.approx((1.5, 35.0))


def test_am_recovers_a_known_permutation_and_is_valid(trained, digits):
    x, _ = digits
    model = trained[0]
    spec, p = M.spec_for(model), _params(model)
    perm = M.random_perm(spec, p, torch.Generator().manual_seed(7))
    twin = MLP(x.shape[1], 32, 3, 10)
    twin.load_state_dict(M.apply_permutation(spec, perm, p))
    found = B.activation_matching(model, twin, x)
    assert M.is_valid_perm(found, spec.sizes(p))
    inv = M.invert_perm(perm)
    # AM minimises sum_i ||z_a,i - z_b,pi(i)||^2 (= maximises the inner products): the true inverse
    # is optimal; dead units (all-zero activations) tie, so compare objectives and live units.
    scores = B.activation_inner_products(model, twin, x)
    for k in perm:
        s = scores[k]
        rows = torch.arange(len(s))
        assert float(s[rows, found[k]].sum()) == pytest.approx(float(s[rows, inv[k]].sum()), rel=1e-9)
        live = torch.diagonal(B.activation_inner_products(model, model, x)[k]) > 1e-8
        assert torch.equal(found[k][live], inv[k][live])
    other = B.activation_matching(model, trained[1], x)
    assert M.is_valid_perm(other, spec.sizes(p))


def test_ste_returns_a_valid_permutation_and_lowers_the_midpoint_loss(trained, digits):
    x, y = digits
    model = trained[0]
    spec = M.spec_for(model)
    a, b = (_params(m) for m in trained)
    perm, losses = B.ste_matching(model, spec, a, b, x, y, steps=15, batch_size=256, lr=1e-2, seed=0)
    assert M.is_valid_perm(perm, spec.sizes(a))
    assert len(losses) == 15 and all(np.isfinite(losses))
    naive_mid = M.evaluate(model, M.lerp(0.5, a, b), x, y)[0]
    ste_mid = M.evaluate(model, M.lerp(0.5, a, M.apply_permutation(spec, perm, b)), x, y)[0]
    assert ste_mid < naive_mid


def test_merge_of_identical_models_is_the_model(trained):
    p = _params(trained[0])
    merged = M.merge([p, p, p])
    assert M.l2_distance(merged, p) < 1e-6
