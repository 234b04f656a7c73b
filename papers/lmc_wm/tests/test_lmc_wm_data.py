"""CIFAR-10 tensors from tiny files of the official format (read by common.data.cifar); config errors."""

import numpy as np
import pytest

from common.config import ConfigError, resolve
from common.data import DataMissingError
from papers.lmc_wm import config as cfgmod
from papers.lmc_wm import data as D

RECORD = 1 + 3072


def _write_batch(path, labels, rng):
    rec = np.zeros((len(labels), RECORD), dtype=np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    rec.tofile(path)
    return rec


def test_cifar10_tensors_are_channel_major_in_unit_range(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        _write_batch(folder / f"data_batch_{i}.bin", [i % 10, (i + 3) % 10], rng)
    test_rec = _write_batch(folder / "test_batch.bin", [7, 1, 2], rng)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    D.load_tensors.cache_clear()
    xf, yf, name = D.load_tensors("cifar10", "test")
    assert name == "cifar10" and tuple(xf.shape) == (3, 3, 32, 32) and float(xf.max()) <= 1.0
    assert yf.tolist() == [7, 1, 2]
    # channel-major as stored: the first 1024 bytes of a record are the red plane
    assert np.allclose(xf[2, 0].numpy().reshape(-1), test_rec[2, 1:1025] / 255.0)
    assert np.allclose(xf[2, 2].numpy().reshape(-1), test_rec[2, 2049:] / 255.0)
    xtr, ytr, _ = D.load_tensors("cifar10", "train")
    assert tuple(xtr.shape) == (10, 3, 32, 32) and ytr[:2].tolist() == [1, 4]
    D.load_tensors.cache_clear()


def test_cifar10_missing_names_the_dataset_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    D.load_tensors.cache_clear()
    with pytest.raises(DataMissingError, match="(?s)'cifar10' not found.*cifar-10-binary.tar.gz.*REPRO_DATA"):
        D.load_tensors("cifar10", "test")


@pytest.mark.parametrize("override,match", [
    ({"method": "random"}, "method must be one of"),
    ({"n_merge": 9}, "n_merge"),
    ({"arch": "vgg11"}, "needs 32x32"),
    ({"n_lambdas": 1}, "n_lambdas"),
    ({"analysis": "bogus"}, "analysis must be one of"),
    ({"ste_mix": "half"}, "ste_mix must be one of"),
    ({"gammas": (0.3,)}, "gammas must be >= 0 and include 0"),
    ({"ste_epochs": 0}, "ste_epochs must be > 0"),
    ({"norm": "batch"}, "needs a CNN"),
])
def test_impossible_settings_fail_with_one_clear_error(override, match):
    with pytest.raises(ConfigError, match=match):
        resolve(cfgmod.Config, cfgmod, "quick", cli=override, cli_from_text=False)


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match="n_epochs"):
        resolve(cfgmod.Config, cfgmod, "quick", cli={"n_epochs": 3}, cli_from_text=False)


def test_quick_profile_is_the_documented_cpu_setting():
    cfg = resolve(cfgmod.Config, cfgmod, "quick")
    assert (cfg.dataset, cfg.arch, cfg.width, cfg.n_hidden) == ("fashion_mnist", "mlp", 512, 3)
    full = resolve(cfgmod.Config, cfgmod, "full")
    # the sibling code's recipes (BRIEFS.md s.7): MLP Adam 1e-3, 5 epochs, batch 500; STE Adam 1e-3,
    # 10 epochs of batch 256 (2,350 steps on Fashion-MNIST), random mixing weights, last projection
    assert (cfg.epochs, full.epochs, full.batch_size, full.lr, full.optimizer) == (5, 5, 500, 1e-3, "adam")
    assert (full.ste_epochs, full.ste_batch, full.ste_lr, full.ste_optimizer, full.ste_mix, full.ste_keep) == (
        10.0, 256, 1e-3, "adam", "random", "last")
    from papers.lmc_wm.baselines import ste_steps

    assert ste_steps(60000, cfg) == 2350
    assert 0.0 in cfg.gammas and 0.3 in cfg.gammas
