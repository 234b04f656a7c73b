"""PU tasks from the anomaly tables (x_anomaly): preprocessing, table-disjoint splits, the real loader
(skipped when the tables are absent) and bad input. The smoke cell of x_anomaly runs through the real
runner in test_meta_pu_run.py::test_smoke_profile_end_to_end."""

import numpy as np
import pytest

from common.config import ConfigError
from common.data import DataFormatError, DataMissingError
from papers.meta_pu.data import (
    ANOMALY_DIM,
    ANOMALY_GROUPS,
    ANOMALY_TABLES,
    AnomalyTableTaskSource,
    find_anomaly_table,
    load_anomaly_table,
    prepare_anomaly_table,
    task_sources,
)

FR = {"train": 0.5, "val": 0.2, "test": 0.3}


def _have_tables() -> bool:
    return all(find_anomaly_table(t) is not None for t in ANOMALY_TABLES)


needs_tables = pytest.mark.skipif(not _have_tables(), reason="ADBench tables not under $REPRO_DATA/anomaly")


def _table(name, n_norm, n_anom, d, seed=0):
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(size=(n_norm, d)), rng.normal(2.0, 1.0, size=(n_anom, d))])
    y = np.r_[np.zeros(n_norm), np.ones(n_anom)].astype(np.int64)
    return prepare_anomaly_table(name, x, y, seed)


def test_tables_are_capped_standardised_and_brought_to_one_width():
    wide = prepare_anomaly_table("wide", np.random.default_rng(0).normal(3, 5, (300, 20)),
                                 np.r_[np.zeros(250), np.ones(50)].astype(int), 0, max_normal=100, max_anomaly=30)
    assert wide.x.shape == (130, ANOMALY_DIM) and wide.y.sum() == 30
    assert abs(float((wide.x ** 2).sum(1).mean()) / ANOMALY_DIM - 1) < 1e-9  # unit average variance
    narrow = _table("narrow", 80, 40, 3)
    assert narrow.x.shape == (120, ANOMALY_DIM) and np.all(narrow.x[:, 3:] == 0)
    assert np.allclose(narrow.x[:, :3].mean(0), 0) and np.allclose(narrow.x[:, :3].std(0), 1)


def test_source_draws_positives_from_anomalies_with_the_requested_prior():
    tables = [_table("a", 100, 60, 4, 1), _table("b", 100, 60, 4, 2)]
    t = AnomalyTableTaskSource(tables, 5, 40, 20, (0.3, 0.3)).sample(np.random.default_rng(0))
    assert t.x_pos.shape == (5, ANOMALY_DIM) and t.y_unl.sum() == 12 and t.y_query.sum() == 6
    src = {x.name: x for x in tables}[t.info["table"]]
    lab = {r.tobytes(): int(v) for r, v in zip(src.x, src.y)}
    assert all(lab[r.tobytes()] == 1 for r in t.x_pos)
    assert [lab[r.tobytes()] for r in t.x_unl] == t.y_unl.tolist()
    rows = np.vstack([t.x_pos, t.x_unl, t.x_query])
    assert len({r.tobytes() for r in rows}) == len(rows)  # P, U and queries are disjoint rows


def test_reader_takes_an_adbench_npz_and_rejects_a_bad_one(tmp_path, monkeypatch):
    folder = tmp_path / "anomaly" / "adbench_classical"
    folder.mkdir(parents=True)
    np.savez(folder / "7_tiny.npz", X=np.arange(12.0).reshape(4, 3), y=np.array([0, 1, 0, 0], dtype=np.int32))
    np.savez(folder / "8_broken.npz", X=np.ones((3, 2)), y=np.array([0, 2, 1]))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    load_anomaly_table.cache_clear()
    try:
        x, y = load_anomaly_table("tiny")
        assert x.shape == (4, 3) and x.dtype == np.float64 and y.tolist() == [0, 1, 0, 0]
        with pytest.raises(DataFormatError):
            load_anomaly_table("broken")
        with pytest.raises(DataMissingError, match="ADBench"):
            load_anomaly_table("absent")
    finally:
        load_anomaly_table.cache_clear()


def test_more_positives_than_a_table_holds_is_a_config_error():
    with pytest.raises(ConfigError, match="anomalies"):
        AnomalyTableTaskSource([_table("small", 100, 20, 4)], 15, 40, 20, (0.3, 0.3))


@needs_tables
def test_real_tables_split_into_disjoint_groups_and_give_tasks():
    src = task_sources("anomaly", FR, 1, {k: (5, 40, 20, (0.3, 0.3)) for k in FR})
    names = {k: {t.name for t in s.tables} for k, s in src.items()}
    assert set.union(*names.values()) == set(ANOMALY_TABLES) and sum(map(len, names.values())) == len(ANOMALY_TABLES)
    split_of = {n: k for k, v in names.items() for n in v}
    assert all(split_of[a] == split_of[b] for a, b in ANOMALY_GROUPS.items())
    t = src["test"].sample(np.random.default_rng(0))
    assert t.info["table"] in names["test"] and t.x_unl.shape == (40, ANOMALY_DIM) and t.y_unl.sum() == 12


@needs_tables
def test_too_many_positives_for_a_real_table_is_a_config_error():
    with pytest.raises(ConfigError, match="anomalies"):
        task_sources("anomaly", FR, 1, {"test": (200, 40, 20, (0.3, 0.3))})
