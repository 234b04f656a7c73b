"""The PMLB loader on tiny files of the same format (read, verified download, errors) and the tasks."""

import gzip

import numpy as np
import pytest

from common.data import core
from common.data.core import DataFormatError, DataMissingError
from papers.at_sharpness import data as D


def _write_tsv_gz(path, rows, header):
    with gzip.open(path, "wt") as fh:
        fh.write("\t".join(header) + "\n")
        for r in rows:
            fh.write("\t".join(str(v) for v in r) + "\n")


def test_pmlb_reader_finds_the_target_column_anywhere(tmp_path):
    path = tmp_path / "toy.tsv.gz"
    _write_tsv_gz(path, [[1, 0.5, 2.0], [0, 1.5, 3.0], [1, 2.5, 4.0], [0, 3.5, 5.0]], ["target", "a", "b"])
    x, y = D.read_pmlb(path)
    assert x.shape == (4, 2) and y.tolist() == [1, 0, 1, 0] and x[0].tolist() == [0.5, 2.0]
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFormatError, match="toy.tsv.gz"):
        D.read_pmlb(path)


def test_pmlb_download_on_first_use_is_verified(tmp_path, monkeypatch):
    served = tmp_path / "served" / "sonar"
    served.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_tsv_gz(served / "sonar.tsv.gz", [[*rng.normal(size=3).round(3), i % 2] for i in range(12)],
                  ["f0", "f1", "f2", "target"])
    monkeypatch.setattr(D, "PMLB_URL", (tmp_path / "served").as_uri() + "/{name}/{name}.tsv.gz")
    monkeypatch.setitem(D.PMLB_SHA256, "sonar", core.file_digest(served / "sonar.tsv.gz"))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    D.load_pmlb.cache_clear()
    x, y, src = D.load_pmlb("sonar")
    assert x.shape == (12, 3) and set(y.tolist()) == {0.0, 1.0}
    assert src == str(tmp_path / "data" / "tabular" / "classification" / "sonar.tsv.gz")
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    with pytest.raises(DataMissingError, match="(?s)pmlb_pima.*REPRO_OFFLINE=1.*pima.tsv.gz.*REPRO_DATA"):
        D.load_pmlb("pima")
    D.load_pmlb.cache_clear()


def test_binary_tasks_are_standardised_and_labelled():
    task = D.load_binary("breast_cancer", 0, 0.3, split_seed=1, subsample_seed=2)
    assert set(np.unique(task.y_train)) == {-1.0, 1.0}
    np.testing.assert_allclose(task.x_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(task.x_train.std(0), 1, atol=1e-12)
    small = D.load_binary("digits_3v8", 40, 0.3, split_seed=1, subsample_seed=2)
    other = D.load_binary("digits_3v8", 40, 0.3, split_seed=1, subsample_seed=3)
    assert len(small.y_train) == 40 and not np.array_equal(small.x_train, other.x_train)
    assert small.x_train.shape[1] == 64 and small.x_train.max() <= 1.0


def test_image_pairs_pool_and_keep_the_official_test_split():
    try:
        task = D.load_binary("fmnist_tshirt_pullover", 100, 0.3, 0, 0, pool=2)
    except DataMissingError:
        pytest.skip("Fashion-MNIST not found")
    assert task.x_train.shape == (100, 196) and task.x_test.shape == (2000, 196)
    assert 0.0 <= task.x_train.min() and task.x_train.max() <= 1.0
    np.testing.assert_allclose(D.avg_pool(np.arange(16.0)[None], 4, 2), [[2.5, 4.5, 10.5, 12.5]])
