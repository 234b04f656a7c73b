"""Loaders of the anomaly tables (ADBench npz, ODDS mat) on tiny files of the same format, errors,
and the class / row splits of the pair pools."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio

from common.data import DataFormatError, DataMissingError, core
from papers.meta_rdre import data as D


@pytest.fixture
def tiny_tables(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    ad = tmp_path / "anomaly" / "adbench_classical"
    od = tmp_path / "anomaly" / "odds_mat"
    ad.mkdir(parents=True)
    od.mkdir(parents=True)
    x = rng.normal(size=(60, 4))
    x[:, 3] = 7.0  # a constant column, dropped by the split
    y = np.r_[np.zeros(50, np.int64), np.ones(10, np.int64)]
    np.savez(ad / "99_toy.npz", X=x, y=y.astype(np.int32))
    sio.savemat(od / "toy.mat", {"X": x[:, :3], "y": y[:, None].astype(np.float64)})
    np.savez(ad / "98_broken.npz", X=x, labels=y)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    D.load_anomaly_table.cache_clear()
    yield tmp_path
    D.load_anomaly_table.cache_clear()


def test_adbench_and_odds_loaders(tiny_tables):
    x, y, src = D.load_anomaly_table("toy")
    assert x.shape == (60, 4) and y.sum() == 10 and src.endswith("99_toy.npz")
    x2, y2, src2 = D.load_anomaly_table("odds_toy")
    assert x2.shape == (60, 3) and y2.dtype == np.int64 and y2.sum() == 10 and src2.endswith("toy.mat")


def test_anomaly_pools_split_and_standardise(tiny_tables):
    tr, _, te = D.anomaly_pools("toy", split_seed=0, test_frac=0.5)
    assert tr.x.shape[1] == 3  # constant column removed
    assert tr.y.sum() == 5 and te.y.sum() == 5 and len(tr.y) + len(te.y) == 60
    np.testing.assert_allclose(tr.x.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(tr.x.std(0), 1.0, atol=1e-5)


def test_missing_and_malformed_tables(tiny_tables):
    with pytest.raises(DataMissingError, match="nonexistent"):
        D.load_anomaly_table("nonexistent")
    with pytest.raises(DataMissingError):
        D.load_anomaly_table("odds_nonexistent")
    with pytest.raises(DataFormatError, match="keys X and y"):
        D.load_anomaly_table("broken")


def test_pair_pool_splits_are_disjoint():
    tr, va, te = D.pair_pools("digits", split_seed=0, test_frac=0.4, split="classes")
    assert va is None and not set(tr.y.tolist()) & set(te.y.tolist()) and len(set(te.y.tolist())) == 4
    tr, va, te = D.pair_pools("digits", split_seed=0, test_frac=0.4, split="classes", val_frac=0.2)
    sets = [set(p.y.tolist()) for p in (tr, va, te)]
    assert [len(c) for c in sets] == [4, 2, 4] and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    tr, va, te = D.pair_pools("digits", split_seed=0, test_frac=0.4, split="rows", val_frac=0.1)
    assert set(tr.y.tolist()) == set(va.y.tolist()) == set(te.y.tolist()) == set(range(10))
    rows_tr = {r.tobytes() for r in tr.x}
    assert len(tr.x) + len(va.x) + len(te.x) == 1797 and abs(len(va.x) - 180) < 10
    assert sum(r.tobytes() in rows_tr for r in te.x) < 5  # digits has few duplicates
    with pytest.raises(ValueError, match="unknown pair dataset"):
        D.pair_pools("imagenet")


@pytest.mark.data
def test_shared_anomaly_tables_if_present():
    try:
        x, y, _ = D.load_anomaly_table("cardio")
    except DataMissingError:
        pytest.skip("ADBench cardio not found (set REPRO_DATA to the shared data folder)")
    assert x.shape == (1831, 21) and int(y.sum()) == 176


def test_paper_tables_download_on_first_use_verified(tmp_path, monkeypatch):
    """The download path on a tiny ADBench-format table served as a file:// URL; then the
    offline and no-network messages name the table, its source and REPRO_DATA."""
    served = tmp_path / "served"
    served.mkdir()
    rng = np.random.default_rng(0)
    np.savez(served / "6_cardio.npz", X=rng.normal(size=(20, 3)), y=np.r_[np.zeros(18), np.ones(2)].astype(np.int32))
    monkeypatch.setattr(D, "ADBENCH_URL", served.as_uri() + "/{name}")
    monkeypatch.setitem(D.ANOMALY_FILES, "cardio", ("6_cardio.npz", core.git_blob_sha1(served / "6_cardio.npz")))
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    D.load_anomaly_table.cache_clear()
    x, y, src = D.load_anomaly_table("cardio")
    assert x.shape == (20, 3) and int(y.sum()) == 2
    assert src == str(tmp_path / "data" / "anomaly" / "adbench_classical" / "6_cardio.npz")
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    with pytest.raises(DataMissingError, match="(?s)'thyroid' not found.*REPRO_OFFLINE=1.*38_thyroid.npz.*REPRO_DATA"):
        D.load_anomaly_table("thyroid")
    D.load_anomaly_table.cache_clear()


def test_truncated_table_is_one_format_error_naming_it(tiny_tables):
    path = tiny_tables / "anomaly" / "adbench_classical" / "99_toy.npz"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataFormatError, match=r"99_toy\.npz.*truncated or corrupt"):
        D.load_anomaly_table("toy")


def _toy_pool(n_classes=12, per_class=20, dim=3):
    from common.meta.tasks import LabelledPool

    y = np.repeat(np.arange(n_classes), per_class)
    return LabelledPool(np.random.default_rng(0).normal(size=(len(y), dim)) + y[:, None], y, "toy")


def test_overlap_mixtures_share_a_varying_number_of_classes():
    src = D.OverlapMixturePairSource(_toy_pool(), 5, 5, 5, n_active=4, concentration=1.0)
    rng = np.random.default_rng(0)
    shared = []
    for _ in range(200):
        t = src.sample(rng)
        a, b = set(np.flatnonzero(t.info["pi_a"])), set(np.flatnonzero(t.info["pi_b"]))
        assert len(a) == len(b) == 4
        shared.append(len(a & b))
    assert set(shared) == {0, 1, 2, 3, 4}          # from disjoint classes to a pure change of proportions
    same = src.sample(rng, same=True)
    assert np.array_equal(same.info["pi_a"], same.info["pi_b"])


def test_class_outlier_tasks_draw_anomalies_from_other_classes():
    pool = _toy_pool()
    src = D.ClassOutlierTaskSource(pool, n_reference=10, n_test=40, contamination=0.1, n_active=3)
    task = src.sample(np.random.default_rng(1))
    normal = set(task.info["normal_classes"].tolist())
    label_of = {r.tobytes(): c for r, c in zip(pool.x, pool.y)}
    ref_cls = {label_of[r.tobytes()] for r in task.support_a}
    test_cls = np.array([label_of[r.tobytes()] for r in task.support_b])
    assert ref_cls <= normal and task.labels_b.sum() == 4 and len(task.support_b) == 40
    assert all((c in normal) == (lab == 0) for c, lab in zip(test_cls, task.labels_b))


@pytest.mark.data
def test_omniglot_pool_is_class_disjoint_with_over_100_training_characters():
    try:
        tr, va, te = D.pair_pools("omniglot_pca32", split_seed=0, test_frac=0.25, split="classes", val_frac=0.15)
    except DataMissingError:
        pytest.skip("Omniglot small1/small2 zips not found")
    sets = [set(p.y.tolist()) for p in (tr, va, te)]
    assert sum(len(c) for c in sets) == 242                       # deduplicated by (alphabet, character)
    assert len(sets[0]) >= 100 and not (sets[0] & sets[2] or sets[0] & sets[1] or sets[1] & sets[2])
    assert tr.x.shape[1] == 32 and abs(float(tr.x.var(0).mean()) - 1.0) < 1e-3   # encoder fitted on train only
