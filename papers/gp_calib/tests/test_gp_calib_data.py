"""The PMLB regression loader on tiny files of the same format, the split by table, and bad input."""

import gzip

import numpy as np
import pytest

from common.config import ConfigError
from common.data import DataFormatError, DataMissingError
from papers.gp_calib import data as D


def _write(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write("\t".join(header) + "\n")
        for r in rows:
            fh.write("\t".join(str(v) for v in r) + "\n")


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    """Two tiny regression tables under a REPRO_DATA root (target first in one, last in the other)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    x = rng.normal(size=(40, 3))
    _write(root / "tabular/regression/1027_ESL.tsv.gz", ["target", "a", "b", "c"],
           np.column_stack([x @ [1.0, 2.0, 0.0] + 5, x]))
    _write(root / "tabular/regression/192_vineyard.tsv.gz", ["u", "const", "target"],
           np.column_stack([x[:, 0], np.ones(40), 3 * x[:, 0]]))
    monkeypatch.setenv("REPRO_DATA", str(root))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    D.load_table.cache_clear()
    yield root
    D.load_table.cache_clear()


def test_loader_reads_target_by_name_and_standardises(tiny_root):
    x, y = D.load_table("1027_ESL")
    assert x.shape == (40, 3)
    np.testing.assert_allclose([x.mean(0), x.std(0)], [np.zeros(3), np.ones(3)], atol=1e-12)
    np.testing.assert_allclose([y.mean(), y.std()], [0, 1], atol=1e-12)
    # y was built from a and b: the standardised target is a linear function of the standardised columns
    coef, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(40)]), y, rcond=None)
    np.testing.assert_allclose(np.column_stack([x, np.ones(40)]) @ coef, y, atol=1e-10)
    xv, yv = D.load_table("192_vineyard")
    assert xv.shape == (40, 1)   # the constant column is dropped
    np.testing.assert_allclose(np.abs(np.corrcoef(xv[:, 0], yv)[0, 1]), 1.0, atol=1e-12)


def test_tasks_pad_features_and_are_reproducible(tiny_root):
    src = D.RegressionTaskSource(["1027_ESL", "192_vineyard"], n_features=4, n_support=5, n_query=7)
    a = src.sample(np.random.default_rng(3), 20)
    b = src.sample(np.random.default_rng(3), 20)
    assert a.xs.shape == (20, 5, 4) and a.yq.shape == (20, 7)
    np.testing.assert_array_equal(a.xq, b.xq)
    for i, name in enumerate(a.tables):
        used = 3 if name == "1027_ESL" else 1
        assert np.all(a.xs[i, :, used:] == 0) and np.any(a.xs[i, :, :used] != 0)
    with pytest.raises(ConfigError, match="exceeds the rows"):
        D.RegressionTaskSource(["1027_ESL"], 4, 30, 11)


def test_bad_and_missing_files(tiny_root):
    _write(tiny_root / "tabular/regression/1028_SWD.tsv.gz", ["a", "b"], [[1, 2], [3, 4], [5, 6], [7, 8]])
    with pytest.raises(DataFormatError, match="target"):
        D.load_table("1028_SWD")
    with pytest.raises(DataMissingError, match="1029_LEV"):
        D.load_table("1029_LEV")
    with pytest.raises(ConfigError, match="unknown PMLB"):
        D.load_table("not_a_table")


def test_split_by_table_is_disjoint_and_keeps_twins_together():
    for seed in range(20):
        parts = D.split_tables(seed, 4, 10)
        names = [t for p in parts.values() for t in p]
        assert sorted(names) == sorted(D.TABLES) and len(parts["test"]) + len(parts["val"]) in (14, 15)
        side = {t: k for k, p in parts.items() for t in p}
        assert side["197_cpu_act"] == side["227_cpu_small"]
    assert D.split_tables(0, 4, 10) != D.split_tables(1, 4, 10)
    with pytest.raises(ConfigError, match="meta-training"):
        D.split_tables(0, 10, 30)
