"""The paper's analyses (singular values / vectors under permutations) and the STE baseline;
common.lmc itself is tested in tests/test_common_lmc.py."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from common.lmc.interpolation import evaluate, lerp
from common.lmc.models import MLP, spec_for
from common.lmc.permutation import apply_permutation, is_valid_perm, random_perm
from papers.lmc_wm import baselines as B
from papers.lmc_wm import method as M
from papers.lmc_wm.pool import augment_batch, make_optimizer


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


def test_singular_values_are_invariant_and_vectors_move(trained):
    b = _params(trained[1])
    spec = spec_for(trained[0])
    perm = random_perm(spec, b, torch.Generator().manual_seed(5))
    pb = apply_permutation(spec, perm, b)
    assert M.singular_value_change(b, pb) < 1e-10
    # the singular vectors of the hidden layers do change under the permutation
    align = M.singular_vector_alignment(b, pb)
    assert align["fc.1.weight"]["align"][:5].mean() < 0.9
    # a model is perfectly aligned with itself at every rank, however it is summarised
    self_align = M.singular_vector_alignment(b, b)
    assert all(np.allclose(r["align"], 1.0) for r in self_align.values())
    assert M.alignment_summary(self_align, 0.05) == pytest.approx((1.0, 1.0))
    assert M.sigma_weighted_alignment(self_align) == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in M.binned_alignment(self_align).values())


def test_singular_value_change_detects_a_non_permutation(trained):
    b = _params(trained[1])
    scaled = {k: (2 * v if k == "fc.1.weight" else v) for k, v in b.items()}
    assert M.singular_value_change(b, scaled) == pytest.approx(1.0, rel=1e-9)  # every s_i doubles


def test_rank_bins_cover_every_rank_once():
    for k in (1, 10, 32, 512):
        bins = M.rank_bins(k)
        ranks = [r for lo, hi in bins for r in range(lo, hi + 1)]
        assert ranks == list(range(1, k + 1)), k
    assert M.rank_bins(512)[0] == (1, 1) and len(M.rank_bins(512)) <= 13


def test_binned_alignment_is_the_mean_over_each_bin():
    align = {"w": {"align": np.arange(1.0, 11.0)}}
    binned = M.binned_alignment(align)
    for (_layer, lo, hi), v in binned.items():
        assert v == pytest.approx(np.mean(np.arange(lo, hi + 1)))


def test_ste_returns_a_valid_permutation_and_lowers_the_midpoint_loss(trained, digits):
    x, y = digits
    model = trained[0]
    spec = spec_for(model)
    a, b = (_params(m) for m in trained)
    perm, losses = B.ste_matching(model, spec, a, b, x, y, steps=15, batch_size=256, lr=1e-2, seed=0)
    assert is_valid_perm(perm, spec.sizes(a))
    assert len(losses) == 15 and all(np.isfinite(losses))
    naive_mid = evaluate(model, lerp(0.5, a, b), x, y)[0]
    ste_mid = evaluate(model, lerp(0.5, a, apply_permutation(spec, perm, b)), x, y)[0]
    assert ste_mid < naive_mid


def test_registry_searches_return_valid_permutations(trained, digits):
    from types import SimpleNamespace

    x, y = digits
    a, b = (_params(m) for m in trained)
    spec = spec_for(trained[0])
    inp = B.SearchInputs(spec, trained[0], a, b, x, y, x[:500], seed=0)
    cfg = SimpleNamespace(wm_max_iter=100, am_batch=1000, ste_steps=3, ste_batch=256, ste_lr=1e-2,
                          ste_momentum=0.9)
    assert set(B.METHODS) == set(B.KNOBS) == {"naive", "wm", "am", "ste"}
    for name, search in B.METHODS.items():
        perm = search(inp, cfg)
        assert is_valid_perm(perm, spec.sizes(a)), name
    naive = B.METHODS["naive"](inp, cfg)
    assert all(torch.equal(ix, torch.arange(len(ix))) for ix in naive.values())


def test_augment_draws_a_crop_and_flip_per_image():
    torch.manual_seed(0)
    x = torch.ones(64, 3, 8, 8)
    out = augment_batch(x)
    assert out.shape == x.shape and set(out.unique().tolist()) <= {0.0, 1.0}
    # the zero padding shows where each image was cropped: many different crops in one batch
    masks = {tuple(out[i, 0].flatten().tolist()) for i in range(64)}
    assert len(masks) > 5
    assert all(int(out[i, 0].sum()) >= 16 for i in range(64))   # a crop keeps >= 4x4 of the image


def test_sgd_schedule_is_linear_warmup_then_cosine():
    from types import SimpleNamespace

    model = torch.nn.Linear(2, 2)
    cfg = SimpleNamespace(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0, epochs=3, warmup_epochs=1)
    opt, sched = make_optimizer(cfg, model, steps_per_epoch=4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])           # (t+1)/warm
    cos = [0.05 * (1 + np.cos(np.pi * t / 8)) for t in range(8)]          # 8 decay steps from 0.1
    assert lrs[4:] == pytest.approx(cos)
