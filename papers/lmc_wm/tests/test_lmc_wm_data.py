"""CIFAR-10 binary loader on tiny files of the real format; config errors."""

import numpy as np
import pytest

from common.config import ConfigError, resolve
from common.data import DataFormatError, DataMissingError
from papers.lmc_wm import config as cfgmod
from papers.lmc_wm import data as D


def _write_batch(path, labels, rng):
    rec = np.zeros((len(labels), D.CIFAR_RECORD), dtype=np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    rec.tofile(path)
    return rec


def test_cifar10_binary_loader_reads_the_official_format(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    recs = [_write_batch(folder / n, [i % 10, (i + 3) % 10], rng) for i, n in enumerate(D.CIFAR_TRAIN)]
    test_rec = _write_batch(folder / "test_batch.bin", [7, 1, 2], rng)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    x, y = D.load_cifar10("train", download=False)
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.uint8
    assert list(y[:2]) == [0, 3]
    # channel-major layout: first 1024 bytes are the red plane of image 0
    assert np.array_equal(x[0, 0].reshape(-1), recs[0][0, 1:1025])
    assert np.array_equal(x[0, 2].reshape(-1), recs[0][0, 2049:])
    xt, yt = D.load_cifar10("test", download=False)
    assert list(yt) == [7, 1, 2] and np.array_equal(xt[2].reshape(-1), test_rec[2, 1:])
    D.load_tensors.cache_clear()
    xf, yf, name = D.load_tensors("cifar10", "test")
    assert name == "cifar10" and xf.shape == (3, 3, 32, 32) and float(xf.max()) <= 1.0
    D.load_tensors.cache_clear()


def test_cifar10_truncated_file_is_a_format_error(tmp_path):
    bad = tmp_path / "data_batch_1.bin"
    bad.write_bytes(b"\x01" * 100)
    with pytest.raises(DataFormatError, match="3073-byte"):
        D.read_cifar_binary([bad])


def test_cifar10_missing_names_the_dataset_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_DOWNLOAD", "0")
    with pytest.raises(DataMissingError, match="cifar10.*\n.*|cifar-10-binary"):
        D.load_cifar10("test")


def test_cifar10_download_extracts_only_the_batches(tmp_path, monkeypatch):
    import io
    import tarfile

    rng = np.random.default_rng(1)
    payload = {}
    for n in D.CIFAR_TRAIN + D.CIFAR_TEST:
        rec = np.zeros((1, D.CIFAR_RECORD), dtype=np.uint8)
        rec[0, 0] = 4
        rec[0, 1:] = rng.integers(0, 256, 3072, dtype=np.uint8)
        payload[f"cifar-10-batches-bin/{n}"] = rec.tobytes()
    payload["cifar-10-batches-bin/readme.html"] = b"<html/>"
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in payload.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    D._extract_cifar(archive, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(D.CIFAR_TRAIN + D.CIFAR_TEST)
    x, y = D.read_cifar_binary([out / "test_batch.bin"])
    assert list(y) == [4]


@pytest.mark.parametrize("override,match", [
    ({"method": "random"}, "method must be one of"),
    ({"n_merge": 9}, "n_merge"),
    ({"arch": "vgg11"}, "needs 32x32"),
    ({"n_lambdas": 1}, "n_lambdas"),
    ({"analysis": "bogus"}, "analysis must be one of"),
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
    assert (full.epochs, full.batch_size, full.lr, full.optimizer) == (100, 500, 1e-3, "adam")
