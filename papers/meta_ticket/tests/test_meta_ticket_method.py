"""Numerical checks of Meta-ticket and the MAML-family baselines against known answers."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from papers.meta_ticket.baselines import MAMLFamily
from papers.meta_ticket.method import (
    MetaTicket,
    adapt,
    binary_mask,
    cosine_warmup_factor,
    linear_cka,
    meta_loss,
    percentile_threshold,
)
from papers.meta_ticket.models import FewShotMLP, SinusoidMLP


def _tiny(dtype=torch.float64, bn=True, seed=0):
    torch.manual_seed(seed)
    return FewShotMLP(6, 3, [5, 4], bn=bn).to(dtype)


def _tasks(n=2, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        xs, xq = torch.randn(6, 6, generator=g, dtype=dtype), torch.randn(6, 6, generator=g, dtype=dtype)
        ys, yq = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 1, 0, 0, 1, 2])
        out.append((xs, ys, xq, yq))
    return out


def test_straight_through_mask_gradient_is_identity():
    score = torch.tensor([-0.5, 0.1, 0.3, 2.0], requires_grad=True)
    m = binary_mask(score, torch.tensor(0.2))
    assert m.tolist() == [0.0, 0.0, 1.0, 1.0]
    c = torch.tensor([1.5, -2.0, 3.0, 0.25])
    (m * c).sum().backward()
    assert torch.equal(score.grad, c)  # dm/ds = 1 everywhere, pruned entries included


def test_percentile_threshold_matches_official_and_prunes_that_fraction():
    s = torch.arange(1.0, 101.0)[torch.randperm(100)]
    assert float(percentile_threshold(s, 0.0)) == 1.0          # init_sparsity 0: the smallest score -> dense mask
    t = percentile_threshold(s, 30.0)                           # k = 1 + round(0.3 * 99) = 31
    assert float(t) == 31.0
    assert float((s < t).float().mean()) == pytest.approx(0.30)


def test_all_ones_mask_forward_equals_dense_network():
    model = _tiny()
    mt = MetaTicket(model, ["features.0.linear.weight", "features.1.linear.weight"], init_sparsity=0.0)
    params, forward = mt.initial()
    assert all(bool(m.all()) for m in mt.masks().values())
    x = torch.randn(7, 6, dtype=torch.float64)
    dense = torch.func.functional_call(model, mt.weights, (x,))
    assert torch.allclose(forward(params, x), dense)
    # and a mask that prunes changes it: a strong check that the mask is really applied
    with torch.no_grad():
        mt.scores["features.0.linear.weight"][0, :] = -10.0
    params, forward = mt.initial()
    assert not torch.allclose(forward(params, x), dense)


def _fd_grad(f, tensor, idx, eps=1e-6):
    with torch.no_grad():
        old = tensor[idx].item()
        tensor[idx] = old + eps
        up = f().item()
        tensor[idx] = old - eps
        down = f().item()
        tensor[idx] = old
    return (up - down) / (2 * eps)


def test_second_order_meta_gradient_matches_finite_differences():
    model = _tiny()
    learner = MAMLFamily(model, "maml")
    tasks = _tasks(1)
    ce = nn.CrossEntropyLoss()

    def f(first_order=False):
        return meta_loss(learner, tasks, ce, inner_lr=0.5, steps=2, first_order=first_order)[0]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    loss = f()
    grads = torch.autograd.grad(loss, list(learner.meta.values()))
    fo = torch.autograd.grad(f(True), list(learner.meta.values()))
    rng = np.random.default_rng(0)
    max_diff_fo = 0.0
    for (name, p), g, gfo in zip(learner.meta.items(), grads, fo):
        if not (name.endswith("weight")):
            continue
        for _ in range(1):
            idx = tuple(int(rng.integers(s)) for s in p.shape)
            fd = _fd_grad(lambda: f(), p.data, idx)
            assert g[idx].item() == pytest.approx(fd, rel=1e-5, abs=1e-8), name
            max_diff_fo = max(max_diff_fo, abs(gfo[idx].item() - fd))
    torch.set_num_threads(threads)
    assert max_diff_fo > 1e-4  # the first-order approximation is measurably different: second order is used


def test_meta_ticket_score_gradient_equals_mask_derivative_by_finite_differences():
    """STE: dL/ds = dL/dm at the binary mask; check it against finite differences in a continuous mask."""
    model = _tiny()
    name = "features.0.linear.weight"
    mt = MetaTicket(model, [name, "features.1.linear.weight"], init_sparsity=0.3,
                    generator=torch.Generator().manual_seed(1))
    for k in mt.scores:
        mt.scores[k].data = mt.scores[k].data.double()
        mt.thresholds[k] = mt.thresholds[k].double()
    mt.weights = {k: v.double() for k, v in mt.weights.items()}
    tasks, ce = _tasks(1), nn.CrossEntropyLoss()
    loss, _ = meta_loss(mt, tasks, ce, inner_lr=0.5, steps=2)
    loss.backward()
    g = mt.scores[name].grad.clone()
    fixed = {k: v.detach().clone() for k, v in mt.masks().items()}
    mt.masks = lambda: fixed                               # continuous mask variables
    for idx in [(0, 0), (2, 3)]:
        fd = _fd_grad(lambda: meta_loss(mt, tasks, ce, 0.5, 2)[0], fixed[name], idx)
        assert g[idx].item() == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_inner_loop_is_sgd_on_unpruned_weights():
    """One inner step changes a weight by -lr * m * dL/dW (pruned weights get zero gradient)."""
    model = _tiny(bn=False)
    name = "features.0.linear.weight"
    mt = MetaTicket(model, [name], init_sparsity=0.5)
    params, forward = mt.initial()
    xs, ys, _, _ = _tasks(1)[0]
    new = adapt(forward, params, mt.adapt_keys, xs, ys, nn.CrossEntropyLoss(), 0.3, 1, create_graph=False)
    mask = mt.masks()[name].detach()
    w = params[name].detach().clone().requires_grad_()
    eff = {**{k: v.detach() for k, v in params.items()}, name: mask * w}
    g, = torch.autograd.grad(nn.CrossEntropyLoss()(torch.func.functional_call(model, eff, (xs,)), ys), w)
    assert torch.allclose(new[name], params[name] - 0.3 * g)
    assert torch.all(new[name][mask == 0] == params[name][mask == 0])


def test_anil_adapts_only_head_and_boil_only_body():
    xs, ys, _, _ = _tasks(1)[0]
    for variant, head_moves, body_moves in (("anil", True, False), ("boil", False, True), ("maml", True, True)):
        learner = MAMLFamily(_tiny(), variant)
        p0, fwd = learner.initial()
        p1 = adapt(fwd, p0, learner.adapt_keys, xs, ys, nn.CrossEntropyLoss(), 0.4, 1, create_graph=False)
        for k in p0:
            moved = not torch.equal(p0[k].detach(), p1[k].detach())
            expect = head_moves if k.startswith("classifier.") else body_moves
            assert moved == expect, (variant, k)


def test_scores_change_and_weights_do_not_during_meta_training():
    from papers.meta_ticket.config import Config
    from papers.meta_ticket.train import meta_train

    model = _tiny(dtype=torch.float32)
    mt = MetaTicket(model, ["features.0.linear.weight", "features.1.linear.weight"], init_sparsity=0.0,
                    generator=torch.Generator().manual_seed(0))
    w0 = {k: v.clone() for k, v in mt.weights.items()}
    s0 = {k: v.detach().clone() for k, v in mt.scores.items()}
    cfg = Config(iterations=5, warmup_iters=1, meta_batch=2, inner_lr=0.4)
    tasks = _tasks(2, torch.float32)
    meta_train(cfg, mt, lambda rng, n: tasks[:n], nn.CrossEntropyLoss(), lambda o, y: 0.0, np.random.default_rng(0))
    assert all(torch.equal(w0[k], mt.weights[k]) for k in w0)            # random weights frozen
    assert all(not torch.equal(s0[k], mt.scores[k].detach()) for k in s0)  # scores learned
    assert mt.overall_sparsity() > 0                                        # lr 10 prunes from a dense start


def test_iterand_redraws_only_pruned_weights():
    mt = MetaTicket(_tiny(dtype=torch.float32), ["features.0.linear.weight"], init_sparsity=0.5,
                    rerand_freq=2, rerand_rate=1.0, generator=torch.Generator().manual_seed(0))
    name = "features.0.linear.weight"
    w0, pruned = mt.weights[name].clone(), (mt.scores[name] < mt.thresholds[name]).detach()
    mt.after_step(0)                                   # step 1: not a multiple of rerand_freq
    assert torch.equal(w0, mt.weights[name])
    mt.after_step(1)
    changed = mt.weights[name] != w0
    assert bool(changed[pruned].all()) and not bool(changed[~pruned].any())


def test_cosine_schedule_with_warmup():
    assert cosine_warmup_factor(0, 100, 9) == pytest.approx(0.1)
    assert cosine_warmup_factor(9, 100, 9) == pytest.approx(1.0)
    assert cosine_warmup_factor(9 + 91 // 2, 100, 9) == pytest.approx(0.5, abs=0.02)
    assert cosine_warmup_factor(99, 100, 9) < 0.01


def test_score_optimiser_follows_the_official_schedule_step_by_step():
    """The LambdaLR of train.py gives lr = 10 x factor(it) at every outer iteration it."""
    from papers.meta_ticket.config import Config
    from papers.meta_ticket.train import build_optimisers

    mt = MetaTicket(_tiny(dtype=torch.float32), ["features.0.linear.weight"], generator=torch.Generator().manual_seed(0))
    (opt, sched), = build_optimisers(Config(iterations=20, warmup_iters=4), mt)
    assert opt.param_groups[0]["momentum"] == 0.9
    for it in range(20):
        assert opt.param_groups[0]["lr"] == pytest.approx(10.0 * cosine_warmup_factor(it, 20, 4), rel=1e-12)
        opt.step()
        sched.step()


def test_linear_cka_invariances():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20, 5, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    assert linear_cka(a, 3.0 * a @ q + 1.0) == pytest.approx(1.0)
    assert linear_cka(a, torch.randn(20, 5, generator=g, dtype=torch.float64)) < 0.7


def test_sinusoid_meta_ticket_masks_only_hidden2():
    from papers.meta_ticket.baselines import build_learner
    from papers.meta_ticket.config import Config

    mt = build_learner(Config(dataset="sinusoid", method="meta_ticket"), SinusoidMLP(40), torch.Generator().manual_seed(0))
    assert mt.sparse_names == ["hidden2.weight"]
    assert set(mt.aux) == {"hidden1.weight", "hidden1.bias", "hidden2.bias", "hidden3.weight", "hidden3.bias"}
    copy.deepcopy(mt.weights)


def test_interrupted_meta_training_resumes_from_checkpoint(tmp_path, monkeypatch, caplog):
    from papers.meta_ticket import train as R
    from papers.meta_ticket.config import Config

    monkeypatch.setattr(R, "CHECKPOINT_EVERY", 2)
    tasks = _tasks(2, torch.float32)
    cfg = Config(iterations=3, warmup_iters=1, meta_batch=2)

    def fresh():
        return MetaTicket(_tiny(dtype=torch.float32), ["features.0.linear.weight"], generator=torch.Generator().manual_seed(0))

    ref = fresh()
    R.meta_train(cfg, ref, lambda rng, n: tasks[:n], nn.CrossEntropyLoss(), lambda o, y: 0.0, np.random.default_rng(0))
    calls = []

    def crash_on_third(rng, n):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return tasks[:n]

    with pytest.raises(KeyboardInterrupt):
        R.meta_train(cfg, fresh(), crash_on_third, nn.CrossEntropyLoss(), lambda o, y: 0.0, np.random.default_rng(0),
                     tmp_path / "checkpoint.pt")
    assert (tmp_path / "checkpoint.pt").exists()
    resumed = fresh()
    with caplog.at_level("INFO", logger="repro.meta_ticket"):
        R.meta_train(cfg, resumed, lambda rng, n: tasks[:n], nn.CrossEntropyLoss(), lambda o, y: 0.0,
                     np.random.default_rng(0), tmp_path / "checkpoint.pt")
    assert "resumed from iteration 2" in caplog.text
    for k in ref.scores:
        assert torch.allclose(resumed.scores[k], ref.scores[k], atol=1e-6)


def test_random_mask_control_keeps_weights_and_per_layer_sparsity():
    names = ["features.0.linear.weight", "features.1.linear.weight"]
    mt = MetaTicket(_tiny(dtype=torch.float32), names, init_sparsity=0.3, generator=torch.Generator().manual_seed(0))
    ctrl = mt.with_random_masks(torch.Generator().manual_seed(1))
    learned, rand = mt.masks(), ctrl.masks()
    for n in names:
        assert int(rand[n].sum()) == int(learned[n].sum())           # same number kept in every tensor
        assert not torch.equal(rand[n], learned[n])                   # at other positions
    assert ctrl.weights is mt.weights and ctrl.overall_sparsity() == pytest.approx(mt.overall_sparsity())
    assert all(torch.equal(mt.masks()[n], learned[n]) for n in names)  # the learner itself is untouched
