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
    naive_mid = evaluate(model, lerp(0.5, a, b), x, y)[0]
    # Ainsworth et al.'s variant (SGD, midpoint, best batch) and the sibling code's (Adam 1e-3, random
    # mixing weights, last projection)
    for kw, steps in ((dict(lr=1e-2, optimizer="sgd", mix="mid", keep="best"), 15),
                      (dict(lr=1e-3, optimizer="adam", mix="random", keep="last"), 40)):
        perm, losses = B.ste_matching(model, spec, a, b, x, y, steps=steps, batch_size=256, seed=0, **kw)
        assert is_valid_perm(perm, spec.sizes(a))
        assert len(losses) == steps and all(np.isfinite(losses))
        ste_mid = evaluate(model, lerp(0.5, a, apply_permutation(spec, perm, b)), x, y)[0]
        assert ste_mid < naive_mid, kw
    with pytest.raises(ValueError, match="bad STE options"):
        B.ste_matching(model, spec, a, b, x, y, steps=1, mix="half")


def test_registry_searches_return_valid_permutations(trained, digits):
    from types import SimpleNamespace

    x, y = digits
    a, b = (_params(m) for m in trained)
    spec = spec_for(trained[0])
    inp = B.SearchInputs(spec, trained[0], a, b, x, y, x[:500], seed=0)
    cfg = SimpleNamespace(wm_max_iter=100, am_batch=1000, ste_epochs=0.375, ste_batch=256, ste_lr=1e-3,
                          ste_optimizer="adam", ste_momentum=0.9, ste_mix="random", ste_keep="last")
    assert B.ste_steps(len(x), cfg) == 3                      # 0.375 epochs of 8 batches
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
    cfg = SimpleNamespace(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0, epochs=3, warmup_epochs=1,
                          lr_decay="cosine")
    opt, sched = make_optimizer(cfg, model, steps_per_epoch=4)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])           # (t+1)/warm
    cos = [0.05 * (1 + np.cos(np.pi * t / 8)) for t in range(8)]          # 8 decay steps from 0.1
    assert lrs[4:] == pytest.approx(cos)


def test_alignment_R_is_one_for_identical_models_and_matches_the_polar_factor(trained):
    from scipy.linalg import polar

    a, b = (_params(m) for m in trained)
    spec = spec_for(trained[0])
    for g in (0.0, 0.3):
        r, kept = M.alignment_R(b, b, g)
        assert r == pytest.approx(1.0, abs=1e-9) and 0 < kept <= 1
    # gamma = 0: sum_ij (u_i.u'_j)(v_i.v'_j) = <U V^T, U' V'^T>_F = inner product of the polar factors
    pb = apply_permutation(spec, random_perm(spec, b, torch.Generator().manual_seed(1)), b)
    mats_a, mats_b = M.weight_matrices(a), M.weight_matrices(pb)
    num = sum(float(np.sum(polar(mats_a[k].numpy().T)[0] * polar(mats_b[k].numpy().T)[0])) for k in mats_a)
    den = sum(min(mats_a[k].shape) for k in mats_a)
    r0, kept0 = M.alignment_R(a, pb, 0.0)
    assert kept0 == 1.0 and r0 == pytest.approx(num / den, abs=1e-9)
    # a threshold above every singular value keeps nothing
    assert np.isnan(M.alignment_R(a, pb, 1e6)[0])
    # relative threshold 1 keeps only sigma_1 of each layer: R is then a mean of |rank-1 overlaps| <= 1
    r1, _ = M.alignment_R(a, pb, 1.0, relative=True)
    assert -1.0 <= r1 <= 1.0


def test_alignment_R_rises_when_a_hidden_permutation_is_undone(trained):
    b = _params(trained[1])
    spec = spec_for(trained[1])
    perm = random_perm(spec, b, torch.Generator().manual_seed(2))
    shuffled = apply_permutation(spec, perm, b)
    # the permuted copy computes the same function but its singular vectors are scrambled
    assert M.alignment_R(b, shuffled, 0.0)[0] < 0.5
    from common.lmc.matching import weight_matching

    back = apply_permutation(spec, weight_matching(spec, b, shuffled), shuffled)
    assert M.alignment_R(b, back, 0.0)[0] == pytest.approx(1.0, abs=1e-9)


def test_layer_distance_ratios_add_up_to_the_overall_distance(trained):
    from common.lmc.interpolation import l2_distance
    from common.lmc.matching import weight_matching

    a, b = (_params(m) for m in trained)
    spec = spec_for(trained[0])
    pb = apply_permutation(spec, weight_matching(spec, a, b), b)
    ratios = M.layer_distance_ratios(a, b, pb)
    assert sorted(ratios) == ["fc.0", "fc.1", "fc.2", "fc.3"]
    assert all(v == 1.0 for v in M.layer_distance_ratios(a, b, b).values())
    before = {k.rsplit(".", 1)[0]: 0.0 for k in a}
    for k in a:
        before[k.rsplit(".", 1)[0]] += float((a[k].double() - b[k].double()).square().sum())
    after_sq = sum(ratios[layer] ** 2 * before[layer] for layer in ratios)
    assert after_sq ** 0.5 == pytest.approx(l2_distance(a, pb), rel=1e-9)
    assert l2_distance(a, pb) < l2_distance(a, b)


def test_linear_warmup_then_linear_decay_to_zero():
    from papers.lmc_wm.pool import lr_factor

    f = [lr_factor(t, 10, 4) for t in range(10)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4:] == pytest.approx([1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert lr_factor(0, 5, 0) == pytest.approx(1.0)
