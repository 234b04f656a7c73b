"""The PMLB reader and the task construction on tiny files of the same format; the split by table; the
verified download (file:// URL) and bad input."""

import gzip
import hashlib

import numpy as np
import pytest

from common.config import ConfigError
from common.data import ChecksumError, DataFormatError, DataMissingError, core
from common.meta import TaskError
from papers.hetero_ssl import data as D


def _write(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        fh.write("\t".join(header) + "\n")
        for r in rows:
            fh.write("\t".join("NA" if (isinstance(v, float) and np.isnan(v)) else str(v) for v in r) + "\n")


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    y = np.repeat([1, 3, 7], 20)                       # non-contiguous class codes, target first
    x = rng.normal(size=(60, 4)) + y[:, None]
    rows = np.column_stack([y, x, np.ones(60)]).tolist()
    rows[5][2] = float("nan")                          # one missing value: the row is dropped
    _write(root / "tabular/classification/iris.tsv.gz", ["target", "a", "b", "c", "d", "const"], rows)
    xr = rng.normal(size=(50, 3))
    _write(root / "tabular/regression/1027_ESL.tsv.gz", ["a", "b", "c", "target"],
           np.column_stack([xr, xr @ [1.0, -2.0, 0.5] + 10]))
    monkeypatch.setenv("REPRO_DATA", str(root))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    D.load_table.cache_clear()
    yield root
    D.load_table.cache_clear()


def test_reader_standardises_reindexes_and_drops_missing_rows(tiny_root):
    x, y = D.load_table("classification", "iris")
    assert x.shape == (59, 4) and x.dtype == np.float32        # NA row and constant column dropped
    assert sorted(set(y.tolist())) == [0, 1, 2]
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    xr, yr = D.load_table("regression", "1027_ESL")
    np.testing.assert_allclose([yr.mean(), yr.std()], [0, 1], atol=1e-5)


def test_tasks_are_class_balanced_nested_and_reproducible(tiny_root):
    src = D.TaskSource("classification", ["iris"], n_way=2, n_unlabelled=10, max_lab=3)
    a = src.fixed_tasks(np.random.default_rng(1), 4, (2, 3))
    b = src.fixed_tasks(np.random.default_rng(1), 4, (2, 3))
    for t, u in zip(a, b):
        np.testing.assert_array_equal(t.x_u, u.x_u)
        assert t.x_l.shape[0] == 6 and t.x_u.shape[0] == 10 and t.x_l.shape[1] in (2, 3)
        assert np.bincount(t.y_l, minlength=2).tolist() == [3, 3] and np.bincount(t.y_u).tolist() == [5, 5]
        one = t.with_labelled(1, 2)
        assert one.y_l.tolist() in ([0, 1], [1, 0]) and one.x_u is t.x_u
    batch = src.batch(np.random.default_rng(2), 3, (2, 9), 2)
    assert len({t.x_l.shape for t in batch}) == 1 and batch[0].x_l.shape[1] <= 4
    reg = D.TaskSource("regression", ["1027_ESL"], n_way=2, n_unlabelled=20, max_lab=10)
    t = reg.batch(np.random.default_rng(0), 1, (2, 2), 10)[0]
    assert t.x_l.shape == (10, 2) and t.y_u.shape == (20,)
    with pytest.raises(TaskError, match="enough rows"):
        D.TaskSource("regression", ["1027_ESL"], 2, 45, 10)
    with pytest.raises(ConfigError, match="multiple"):
        D.TaskSource("classification", ["iris"], 2, 9, 3)


def test_bad_and_missing_files(tiny_root):
    _write(tiny_root / "tabular/classification/wine_recognition.tsv.gz", ["a", "b"], [[1, 2], [3, 4], [5, 6], [7, 8]])
    with pytest.raises(DataFormatError, match="target"):
        D.load_table("classification", "wine_recognition")
    with pytest.raises(DataMissingError, match="glass"):
        D.load_table("classification", "glass")
    with pytest.raises(ConfigError, match="unknown PMLB"):
        D.load_table("regression", "iris")


def test_download_is_sha256_verified(tmp_path, monkeypatch):
    served = tmp_path / "served" / "iris"
    rng = np.random.default_rng(0)
    _write(served / "iris.tsv.gz", ["a", "b", "target"], np.column_stack([rng.normal(size=(8, 2)), np.arange(8) % 2]))
    digest = hashlib.sha256((served / "iris.tsv.gz").read_bytes()).hexdigest()
    monkeypatch.setattr(D, "PMLB_URL", (tmp_path / "served").as_uri() + "/{name}/{name}.tsv.gz")
    monkeypatch.setitem(D.SHA256["classification"], "iris", digest)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    D.load_table.cache_clear()
    x, y = D.load_table("classification", "iris")
    assert x.shape == (8, 2) and (tmp_path / "data/tabular/classification/iris.tsv.gz").is_file()
    monkeypatch.setitem(D.SHA256["classification"], "iris", "0" * 64)
    (tmp_path / "data/tabular/classification/iris.tsv.gz").unlink()
    D.load_table.cache_clear()
    with pytest.raises((ChecksumError, DataMissingError)):
        D.load_table("classification", "iris")
    assert not list((tmp_path / "data/tabular/classification").glob("iris*"))
    D.load_table.cache_clear()


def test_split_by_table_is_disjoint_and_keeps_same_rows_together():
    for problem in D.PROBLEMS:
        for seed in range(10):
            parts = D.split_tables(problem, seed, 4, 10)
            names = [t for p in parts.values() for t in p]
            assert sorted(names) == sorted(D.SHA256[problem]) and len(set(names)) == len(names)
            side = {t: k for k, p in parts.items() for t in p}
            for a, b in D.SAME_GROUP.items():
                if a in side:
                    assert side[a] == side[b]
    assert D.split_tables("classification", 0, 4, 10) != D.split_tables("classification", 1, 4, 10)
    with pytest.raises(ConfigError, match="no meta-training"):
        D.split_tables("regression", 0, 10, 30)
    assert len(D.SHA256["classification"]) == 61 and len(D.SHA256["regression"]) == 35


ARFF = """% a tiny OpenML-style table
@RELATION tiny
@ATTRIBUTE width NUMERIC
@ATTRIBUTE colour {red,green,blue}
@ATTRIBUTE height REAL
@ATTRIBUTE kind {cat,dog}
@DATA
{rows}
"""


def _arff_rows(n=12, missing_row=3):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        colour = ["red", "green", "blue"][i % 3]
        rows.append(f"{rng.normal():.4f},{'?' if i == missing_row else colour},{rng.normal() + i % 2:.4f},"
                    f"{['cat', 'dog'][i % 2]}")
    return "\n".join(rows)


def _serve_openml(tmp_path, data_id, md5=None):
    served = tmp_path / "served"
    served.mkdir(parents=True, exist_ok=True)
    arff = served / f"{data_id}.arff"
    arff.write_text(ARFF.replace("{rows}", _arff_rows()))
    desc = {"data_set_description": {"id": str(data_id), "url": arff.as_uri(), "default_target_attribute": "kind",
                                     "md5_checksum": md5 or hashlib.md5(arff.read_bytes()).hexdigest()}}
    (served / f"{data_id}.json").write_text(__import__("json").dumps(desc))
    return served.as_uri() + "/{data_id}.json"


def test_openml_arff_is_read_downloaded_md5_verified_and_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "OPENML_API", _serve_openml(tmp_path, 61))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    D.load_table.cache_clear()
    x, y = D.load_table("classification", "openml_61")
    # 12 rows, one with a missing nominal value dropped; width, colour (as its index) and height kept
    assert x.shape == (11, 3) and sorted(set(y.tolist())) == [0, 1]
    raw, target = D.read_arff(tmp_path / "data/openml/61/dataset.arff", "kind")
    # rows 0, 1, 2, 4 (row 3 lacks its colour): colour as the index in {red, green, blue}, kind in {cat, dog}
    assert raw[:4, 1].tolist() == [0.0, 1.0, 2.0, 1.0] and target[:4].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert (tmp_path / "data/openml/61/description.json").is_file()
    # the second load needs no network
    monkeypatch.setattr(D, "OPENML_API", "file:///nonexistent/{data_id}.json")
    D.load_table.cache_clear()
    assert D.load_table("classification", "openml_61")[0].shape == (11, 3)
    # a wrong published md5: the download is refused and nothing is left behind
    monkeypatch.setattr(D, "OPENML_API", _serve_openml(tmp_path, 62, md5="0" * 32))
    D.load_table.cache_clear()
    with pytest.raises(ChecksumError):
        D.load_table("classification", "openml_62")
    assert not list((tmp_path / "data/openml").glob("62/*"))
    # offline and absent: one clear error naming OpenML
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    D.load_table.cache_clear()
    with pytest.raises(DataMissingError, match="OpenML dataset 63"):
        D.load_table("classification", "openml_63")
    D.load_table.cache_clear()


def test_openml_ids_replace_the_pmlb_tables():
    from common.config import resolve
    from papers.hetero_ssl import config as C

    cfg = resolve(C.Config, C, "quick", cli={"openml_ids": "61, 1464,40975"}, cli_from_text=False)
    assert cfg.table_list() == ("openml_61", "openml_1464", "openml_40975")
    split = D.split_tables("classification", 0, 1, 1, cfg.table_list())
    assert sorted(sum(split.values(), [])) == sorted(cfg.table_list()) and len(split["train"]) == 1
    with pytest.raises(ConfigError, match="openml_ids"):
        resolve(C.Config, C, "quick", cli={"openml_ids": "iris"}, cli_from_text=False)
