"""PCR touches only the feature extractor; the look-ahead is an SGD step; the finder learns through it; weights
load safely."""

import copy

import pytest
import torch
from torch.func import functional_call

from papers.mgr import method as M
from papers.mgr.models import ConditionalVAE, LatentFinder, SmallCNN, load_generator_weights


@pytest.fixture()
def setup():
    torch.manual_seed(0)
    model = SmallCNN(1, 10, 28, width=4, feat_dim=16)
    gen = ConditionalVAE((1, 28, 28), 10, latent_dim=4, hidden=32).requires_grad_(False)
    return model, gen


def test_pcr_gradient_reaches_only_the_feature_extractor(setup):
    model, gen = setup
    x, _ = M.sample_synthetic(gen, 8, 10, "cpu")
    loss = M.pcr_loss(model.features, x)
    assert loss > 0
    loss.backward()
    assert all(p.grad is None for p in model.head.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.features.parameters())
    assert sum(float(p.grad.abs().sum()) for p in model.features.parameters()) > 0


def test_pcr_is_zero_without_augmentation(setup):
    model, gen = setup
    x, _ = M.sample_synthetic(gen, 8, 10, "cpu")
    assert float(M.pcr_loss(model.features, x, augment=lambda t: t).detach()) == 0.0


def test_lookahead_equals_a_manual_sgd_step(setup):
    model, gen = setup
    x, _ = M.sample_synthetic(gen, 8, 10, "cpu")
    lr = 0.3
    theta = dict(model.features.named_parameters())
    torch.manual_seed(1)
    loss = M.pcr_loss(lambda t: functional_call(model.features, theta, (t,)), x)
    new = M.sgd_lookahead(theta, loss, lr)
    ref = copy.deepcopy(model)
    opt = torch.optim.SGD(ref.features.parameters(), lr=lr)
    torch.manual_seed(1)
    M.pcr_loss(ref.features, x).backward()
    opt.step()
    for k, p in ref.features.named_parameters():
        torch.testing.assert_close(new[k], p, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(new[k], theta[k]) for k in theta)


def test_finder_gets_a_gradient_only_through_the_lookahead(setup):
    model, gen = setup
    finder = LatentFinder(4, 10, hidden=8)
    xv, yv = torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,))
    params = list(finder.parameters())
    torch.manual_seed(2)
    grads = torch.autograd.grad(M.mps_meta_loss(model, gen, finder, xv, yv, 8, 1.0, 0.5), params, allow_unused=True)
    assert grads[-2] is not None and float(grads[-2].abs().sum()) > 0 and torch.isfinite(grads[-2]).all()
    torch.manual_seed(2)   # lambda = 0: the look-ahead is the identity and the validation loss ignores the finder
    loss0 = M.mps_meta_loss(model, gen, finder, xv, yv, 8, 0.0, 0.5)
    grads0 = torch.autograd.grad(loss0, params, allow_unused=True)
    assert all(g is None or float(g.abs().sum()) == 0 for g in grads0)


def test_finder_step_moves_only_the_finder(setup):
    model, gen = setup
    finder = LatentFinder(4, 10, hidden=8)
    opt = torch.optim.Adam(finder.parameters(), lr=1e-2)
    before = [p.clone() for p in finder.parameters()]
    state = copy.deepcopy(model.state_dict())
    loss = M.mps_finder_step(model, gen, finder, opt, torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,)), 8, 1.0, 0.5)
    assert loss > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, finder.parameters()))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and all(p.grad is None for p in gen.parameters())


def test_finder_starts_at_the_prior_and_keeps_the_norm():
    finder = LatentFinder(5, 3)
    eps, y = torch.randn(7, 5), torch.randint(0, 3, (7,))
    torch.testing.assert_close(finder(eps, y), eps)
    torch.nn.init.normal_(finder.g[-1].weight)
    z = finder(eps, y)
    assert not torch.allclose(z, eps)
    torch.testing.assert_close(z.norm(dim=1), eps.norm(dim=1))


def test_augmentation_is_differentiable_and_shifts():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6).requires_grad_()
    assert torch.equal(M.random_shift_flip(x, pad=0, flip=False), x)
    out = M.random_shift_flip(x, pad=2)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and float(x.grad.sum()) == pytest.approx(out.numel())


def test_generator_weights_load_safely(tmp_path):
    from safetensors.torch import save_file

    gen = ConditionalVAE((1, 4, 4), 3, 2, 8)
    other = ConditionalVAE((1, 4, 4), 3, 2, 8)
    save_file(gen.state_dict(), str(tmp_path / "g.safetensors"))
    torch.save(gen.state_dict(), tmp_path / "g.pt")
    for name in ("g.safetensors", "g.pt"):
        loaded = load_generator_weights(ConditionalVAE((1, 4, 4), 3, 2, 8), tmp_path / name)
        assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), gen.state_dict().values()))
    torch.save({"weights": gen.state_dict(), "obj": _Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="[Ww]eights only|weights_only|Unsupported"):
        load_generator_weights(other, tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="generator weights not found"):
        load_generator_weights(other, tmp_path / "missing.pt")


class _Evil:
    """An arbitrary object: a tensors-only loader must refuse to unpickle it."""
