"""The PMLB table reader and its download path on tiny files of the official format (gzip TSV with a
`target` column), the fixed feature scaling, and class splits for tables with many classes."""

import gzip
import hashlib

import numpy as np
import pytest

from common.config import ConfigError
from common.data import DataFormatError, core
from papers.fewshot_fs import data as D
from papers.fewshot_fs.config import SMOKE, Config
from papers.fewshot_fs.run import run


def _tsv_gz(path, x, y):
    with gzip.open(path, "wt") as fh:
        fh.write("\t".join([f"f{i}" for i in range(x.shape[1])] + ["target"]) + "\n")
        for row, t in zip(x, y):
            fh.write("\t".join(str(int(v)) for v in row) + f"\t{t}\n")


def test_reader_splits_features_and_target(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, size=(12, 3))
    y = np.array([3, 7, 9] * 4)
    _tsv_gz(tmp_path / "toy.tsv.gz", x, y)
    xr, yr = D.read_table(tmp_path / "toy.tsv.gz")
    np.testing.assert_array_equal(xr, x)
    assert yr.tolist() == [0, 1, 2] * 4                         # labels re-coded 0..C-1
    with gzip.open(tmp_path / "bad.tsv.gz", "wt") as fh:
        fh.write("a\tb\n1\t2\n")
    with pytest.raises(DataFormatError, match="target"):
        D.read_table(tmp_path / "bad.tsv.gz")


def test_table_downloads_verified_and_is_scaled_by_its_fixed_range(tmp_path, monkeypatch):
    served = tmp_path / "served" / "satimage"
    served.mkdir(parents=True)
    x = np.r_[np.zeros((6, 36)), np.full((6, 36), 255)].astype(int)
    _tsv_gz(served / "satimage.tsv.gz", x, np.array([1, 2, 3] * 4))
    digest = hashlib.sha256((served / "satimage.tsv.gz").read_bytes()).hexdigest()
    monkeypatch.setattr(D, "PMLB_URL", (tmp_path / "served").as_uri() + "/{name}/{name}.tsv.gz")
    monkeypatch.setitem(D.TABLES, "satimage", (digest, 255.0))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    D._raw.cache_clear()
    try:
        xs, ys = D._raw("satimage")
        assert xs.shape == (12, 36) and xs.min() == 0.0 and xs.max() == 1.0 and set(ys) == {0, 1, 2}
        assert (tmp_path / "data" / "tabular" / "classification" / "satimage.tsv.gz").is_file()
        monkeypatch.setitem(D.TABLES, "letter", ("0" * 64, 15.0))
        monkeypatch.setenv("REPRO_OFFLINE", "1")
        with pytest.raises(Exception, match="letter"):
            D.load_table("letter")
    finally:
        D._raw.cache_clear()


def test_class_split_of_a_26_class_table_is_disjoint_and_seeded():
    src, tgt = D.class_split(3, 8, 26)
    assert len(tgt) == 8 and len(src) == 18 and sorted(src + tgt) == list(range(26))
    assert D.class_split(3, 8, 26) == (src, tgt) and D.class_split(4, 8, 26) != (src, tgt)


def test_impossible_table_settings_are_config_errors():
    with pytest.raises(ConfigError, match="satimage has 6 classes"):
        run(Config(**{**SMOKE, "dataset": "satimage", "n_test_classes": 5, "n_ways": 2}))
    with pytest.raises(ConfigError, match="dataset must be one of.*letter.*satimage"):
        Config(**{**SMOKE, "dataset": "iris"}).validate()
