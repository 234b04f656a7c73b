"""Loaders (tiny files of the real formats), config errors and a smoke run of one cell."""

import bz2

import numpy as np
import pytest

from common.config import ConfigError, apply_overrides
from common.data import DataFormatError, DataMissingError
from papers.fast_gsot import data as D
from papers.fast_gsot.config import QUICK, SMOKE, Config


def _write_usps(path, n=12, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for k in range(n):
        feats = " ".join(f"{i + 1}:{v:.4f}" for i, v in enumerate(rng.uniform(-1, 1, 256)) if i % 3 == 0)
        lines.append(f"{k % 10 + 1} {feats}")
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


def test_usps_loader_reads_libsvm_bz2(tmp_path, monkeypatch):
    folder = tmp_path / "usps"
    folder.mkdir()
    _write_usps(folder / "usps.bz2")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    x, y = D.load_usps()
    assert x.shape == (12, 16, 16) and x.min() >= 0 and x.max() <= 1
    assert sorted(set(y.tolist())) == list(range(10))      # labels 1..10 -> 0..9
    assert np.all(x.reshape(12, -1)[:, 1] == 0.5)          # absent feature = 0 -> 0.5 after rescale


def test_usps_loader_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    with pytest.raises(DataMissingError, match="usps"):
        D.load_usps()
    bad = tmp_path / "bad.bz2"
    bad.write_bytes(bz2.compress(b"0 1:0.5\n"))            # label 0 is not a USPS label
    with pytest.raises(DataFormatError):
        D.load_usps(bad)


def test_stratified_subset_and_cost():
    y = np.repeat(np.arange(3), [4, 6, 10])
    idx = D.stratified_subset(y, 12, np.arange(3), np.random.default_rng(0))
    assert len(set(idx)) == 12 and np.bincount(y[idx]).tolist() == [4, 4, 4]
    with pytest.raises(ValueError):
        D.stratified_subset(y, 21, np.arange(3), np.random.default_rng(0))
    C = D.sq_euclidean_cost(np.eye(3), np.eye(3)[:2])
    assert C.max() == 1.0 and np.allclose(np.diag(C), 0)


@pytest.mark.parametrize("overrides, match", [
    ({"n_source": 6000}, "n_source=6000"),
    ({"methods": "fast"}, "list both"),
    ({"methods": "original,nope"}, "nope"),
    ({"rho": 1.0}, "rho"),
    ({"n_classes": 11}, "n_classes"),
    ({"dataset": "cifar"}, "dataset"),
])
def test_impossible_settings_fail_with_one_clear_error(overrides, match):
    cfg = apply_overrides(Config(), QUICK, "quick")
    with pytest.raises(ConfigError, match=match):
        apply_overrides(cfg, overrides, "test")


def test_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="lambda_"):
        apply_overrides(Config(), {"lambda_": 1.0}, "test")


@pytest.mark.data
def test_smoke_run_of_one_cell():
    from papers.fast_gsot.run import load_pair, run

    try:  # the pair run() uses: its 8x8 MNIST features are computed once and cached
        load_pair(QUICK["dataset"])
    except DataMissingError as exc:
        pytest.skip(str(exc))
    cfg = apply_overrides(apply_overrides(Config(), {**QUICK, **SMOKE}, "smoke"),
                          {"n_source": 60, "n_target": 50, "gamma": 10.0}, "test")
    rows = run(cfg)
    got = {(r["method"], r["metric"]): r["value"] for r in rows}
    assert got[("fast", "obj_rel_diff")] <= 1e-12
    assert got[("fast", "iter_obj_max_rel_diff")] <= 1e-12
    assert got[("fast", "same_iterations")] == 1
    assert got[("fast", "blocks_computed_pct")] < 100 == got[("original", "blocks_computed_pct")]
    assert got[("pot_dual", "obj_rel_diff")] < 1e-6
    assert got[("fast", "da_acc_pct")] == got[("original", "da_acc_pct")]
    assert 0 < got[("original", "plan_zero_block_pct")] < 100
    assert got[("sinkhorn_l1l2_gl", "plan_zero_block_pct")] < got[("original", "plan_zero_block_pct")]
    assert 0 <= got[("no_adapt", "da_acc_pct")] <= 100
    assert got[("emd", "marginal_l1_err")] < 1e-9 and 0 <= got[("emd", "da_acc_pct")] <= 100
    # the fair speedup is over the faster exact baseline of this very run
    assert got[("fast", "speedup_vs_best_exact_x")] == min(got[("fast", "speedup_x")], got[("fast", "speedup_vs_pot_x")])
    assert all(r["dataset"].startswith("mnist5k") for r in rows)


def test_registry_runs_every_configured_method_in_order():
    from papers.fast_gsot import baselines as B
    from papers.fast_gsot.config import METHODS

    assert list(B.METHODS) == list(METHODS)      # run.py runs them in this order: fast needs original first


@pytest.mark.data
def test_quick_pair_features_are_cached_and_reloaded_unchanged(tmp_path, monkeypatch):
    from papers.fast_gsot import run as R

    monkeypatch.setenv("REPRO_RUNS", str(tmp_path))
    try:
        first = R.load_pair("mnist5k_to_digits")
    except DataMissingError as exc:
        pytest.skip(str(exc))
    assert list(tmp_path.glob("fast_gsot/_cache/pair-*/pair.npz"))

    def no_reload(name):
        raise AssertionError("the cached pair should have been used")

    monkeypatch.setattr(R.D, "load_pair", no_reload)
    second = R.load_pair("mnist5k_to_digits")
    assert second.name == first.name
    for key in ("xs", "ys", "xt", "yt"):
        assert np.array_equal(getattr(second, key), getattr(first, key))
