"""common.lmc: permutation specs (same function after a random permutation), weight and activation
matching recover known permutations, barriers and distances on known answers."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch.func import functional_call

from common.lmc.batchnorm import build_model_norm, full_spec, has_bn, matching_spec, reset_bn_stats
from common.lmc.interpolation import average, barrier, evaluate, interpolation_curve, l2_distance
from common.lmc.matching import activation_inner_products, activation_matching, lap_maximise, weight_matching
from common.lmc.models import MLP, VGG, ResNet20, build_model, spec_for
from common.lmc.permutation import (
    apply_permutation,
    check_spec,
    identity_perm,
    invert_perm,
    is_valid_perm,
    random_perm,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return torch.tensor(d.data / 16.0, dtype=torch.float32), torch.tensor(d.target)


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
        assert evaluate(model, _params(model), x, y)[1] > 90.0


@pytest.mark.parametrize("make,shape", [(lambda: MLP(20, 16, 3), (16, 20)),
                                        (lambda: VGG("vgg11", 0.125, 3, 10, 32), (4, 3, 32, 32)),
                                        (lambda: ResNet20(0.5), (4, 3, 32, 32))])
def test_permuted_model_computes_the_same_function(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    spec, p = spec_for(model), _params(model)
    check_spec(spec, p)
    perm = random_perm(spec, p, torch.Generator().manual_seed(1))
    x = torch.randn(*shape)
    out, out_perm = functional_call(model, p, (x,)), functional_call(model, apply_permutation(spec, perm, p), (x,))
    assert torch.allclose(out, out_perm, atol=1e-5)
    # ... while the parameters really moved
    assert l2_distance(p, apply_permutation(spec, perm, p)) > 0.1


def test_check_spec_rejects_an_uncovered_parameter_and_inconsistent_sizes():
    model = MLP(20, 16, 2)
    spec, p = spec_for(model), _params(model)
    with pytest.raises(ValueError, match="missing"):
        check_spec(spec, {**p, "extra.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match="different sizes"):
        check_spec(spec, {**p, "fc.0.bias": torch.zeros(17)})
    with pytest.raises(TypeError, match="no permutation spec"):
        spec_for(torch.nn.Linear(2, 2))


def test_permutation_helpers_invert_and_validate():
    model = MLP(10, 8, 2)
    spec, p = spec_for(model), _params(model)
    perm = random_perm(spec, p, torch.Generator().manual_seed(0))
    back = apply_permutation(spec, invert_perm(perm), apply_permutation(spec, perm, p))
    assert all(torch.equal(back[k], p[k]) for k in p)
    sizes = spec.sizes(p)
    assert is_valid_perm(perm, sizes) and is_valid_perm(identity_perm(spec, p), sizes)
    assert not is_valid_perm({**perm, "P_0": torch.zeros(8, dtype=torch.long)}, sizes)


def test_lap_maximise_finds_the_best_assignment():
    score = np.array([[1.0, 5.0, 0.0], [4.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert lap_maximise(score).tolist() == [1, 0, 2]


def test_wm_recovers_a_known_permutation_of_a_trained_model(trained):
    model = trained[0]
    spec, p = spec_for(model), _params(model)
    perm = random_perm(spec, p, torch.Generator().manual_seed(3))
    assert any(not torch.equal(ix, torch.arange(len(ix))) for ix in perm.values())
    shuffled = apply_permutation(spec, perm, p)
    found = weight_matching(spec, p, shuffled)
    inverse = invert_perm(perm)
    for name in perm:
        assert torch.equal(found[name], inverse[name]), name
    assert l2_distance(apply_permutation(spec, found, shuffled), p) == 0.0


def test_wm_on_cnn_recovers_the_permutation():
    torch.manual_seed(0)
    model = ResNet20(0.5)
    spec, p = spec_for(model), _params(model)
    perm = random_perm(spec, p, torch.Generator().manual_seed(2))
    found = weight_matching(spec, p, apply_permutation(spec, perm, p))
    inv = invert_perm(perm)
    assert all(torch.equal(found[k], inv[k]) for k in perm)


def test_wm_never_increases_the_distance(trained):
    a, b = (_params(m) for m in trained)
    spec = spec_for(trained[0])
    perm = weight_matching(spec, a, b)
    assert l2_distance(a, apply_permutation(spec, perm, b)) < l2_distance(a, b)


def test_am_recovers_a_known_permutation_and_is_valid(trained, digits):
    x, _ = digits
    model = trained[0]
    spec, p = spec_for(model), _params(model)
    perm = random_perm(spec, p, torch.Generator().manual_seed(7))
    twin = MLP(x.shape[1], 32, 3, 10)
    twin.load_state_dict(apply_permutation(spec, perm, p))
    found = activation_matching(model, twin, x)
    assert is_valid_perm(found, spec.sizes(p))
    inv = invert_perm(perm)
    # AM minimises sum_i ||z_a,i - z_b,pi(i)||^2 (= maximises the inner products): the true inverse
    # is optimal; dead units (all-zero activations) tie, so compare objectives and live units.
    scores = activation_inner_products(model, twin, x)
    for k in perm:
        s = scores[k]
        rows = torch.arange(len(s))
        assert float(s[rows, found[k]].sum()) == pytest.approx(float(s[rows, inv[k]].sum()), rel=1e-9)
        live = torch.diagonal(activation_inner_products(model, model, x)[k]) > 1e-8
        assert torch.equal(found[k][live], inv[k][live])
    assert is_valid_perm(activation_matching(model, trained[1], x), spec.sizes(p))


def test_barrier_of_a_model_with_itself_is_zero(trained, digits):
    x, y = digits
    p = _params(trained[0])
    curve = interpolation_curve(trained[0], p, p, x, y, np.linspace(0, 1, 5))
    loss_barrier, acc_barrier = barrier(curve)
    assert abs(loss_barrier) < 1e-6 and abs(acc_barrier) < 1e-9


def test_barrier_formula_on_a_known_curve():
    curve = {"lam": [0.0, 0.5, 1.0], "loss": [1.0, 3.0, 2.0], "acc_pct": [90.0, 50.0, 80.0]}
    assert barrier(curve) == pytest.approx((1.5, 35.0))


def test_evaluate_is_independent_of_the_batch_size(trained, digits):
    x, y = digits
    p = _params(trained[1])
    loss_a, acc_a = evaluate(trained[1], p, x, y, batch_size=100)
    loss_b, acc_b = evaluate(trained[1], p, x, y, batch_size=5000)
    assert loss_a == pytest.approx(loss_b, rel=1e-5) and acc_a == acc_b


def test_average_of_identical_models_is_the_model_and_of_two_is_the_midpoint(trained):
    p, q = (_params(m) for m in trained)
    assert l2_distance(average([p, p, p]), p) < 1e-6
    mid = average([p, q])
    assert l2_distance(mid, p) == pytest.approx(0.5 * l2_distance(p, q), rel=1e-6)


def test_build_model_shapes():
    assert isinstance(build_model("mlp", 8, 1.0, 2, (1, 28, 28)), MLP)
    assert build_model("mlp", 8, 1.0, 2, (1, 28, 28))(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("transformer", 8, 1.0, 2, (1, 28, 28))


def _bn_vgg(seed=0):
    torch.manual_seed(seed)
    model = build_model_norm("vgg11", 0, 0.125, 0, (3, 32, 32), norm="batch")
    x = torch.randn(64, 3, 32, 32)
    model.train()
    opt = torch.optim.SGD(model.parameters(), 0.05)
    for _ in range(3):                                # non-trivial running statistics and weights
        loss = torch.nn.functional.cross_entropy(model(x), torch.arange(64) % 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), x


def test_bn_models_permute_with_their_running_statistics():
    model, x = _bn_vgg()
    assert has_bn(model) and not has_bn(build_model("vgg11", 0, 0.125, 0, (3, 32, 32)))
    spec = full_spec(model)
    state = _params(model)
    check_spec(spec, state)                           # every parameter and buffer is covered
    perm = random_perm(spec, state, torch.Generator().manual_seed(3))
    permuted = apply_permutation(spec, perm, state)
    out, out_p = evaluate(model, state, x, torch.zeros(64, dtype=torch.long)), evaluate(
        model, permuted, x, torch.zeros(64, dtype=torch.long))
    assert out[0] == pytest.approx(out_p[0], rel=1e-5)   # the same function in eval mode (running stats)
    mspec = matching_spec(model, spec)
    assert not any("running" in k for k in mspec.axes_to_perm)
    back = apply_permutation(spec, weight_matching(mspec, state, permuted), permuted)
    assert all(torch.allclose(back[k].double(), state[k].double()) for k in state)
    res = build_model_norm("resnet20", 0, 0.25, 0, (3, 32, 32), norm="batch")
    check_spec(full_spec(res), res.state_dict())
    with pytest.raises(ValueError, match="needs a CNN"):
        build_model_norm("mlp", 16, 1.0, 2, (1, 8, 8), norm="batch")


def test_reset_bn_stats_recomputes_the_running_mean_on_the_data():
    model, x = _bn_vgg()
    state = _params(model)
    stale = {k: (torch.full_like(v, 5.0) if "running_mean" in k else v) for k, v in state.items()}
    fresh = reset_bn_stats(model, stale, x, batch_size=16)
    conv0 = torch.nn.functional.conv2d(x, state["convs.0.weight"], state["convs.0.bias"], padding=1)
    assert torch.allclose(fresh["norms.0.running_mean"], conv0.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.equal(fresh["convs.0.weight"], state["convs.0.weight"])
    mlp = MLP(8, 4, 1, 2)
    assert reset_bn_stats(mlp, _params(mlp), torch.randn(4, 8)).keys() == mlp.state_dict().keys()
