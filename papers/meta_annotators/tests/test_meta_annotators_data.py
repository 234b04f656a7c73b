"""Annotator simulation, real-crowd task construction, and the crowd loaders on tiny files of the same format
(including the verified download path, served from file:// URLs)."""

import hashlib

import numpy as np
import pytest

from common.data import ChecksumError, DataMissingError, core
from common.meta import TaskError
from papers.meta_annotators import data as D


def test_simulated_annotations_follow_their_confusions():
    rng = np.random.default_rng(0)
    theta = D.sample_confusions(rng, 3, 4, 0.2, 0.8)
    np.testing.assert_allclose(theta.sum(-1), 1.0)
    diag = np.diagonal(theta, axis1=1, axis2=2)
    assert np.allclose(diag, diag[:, :1]) and (diag >= 0.2).all() and (diag <= 0.8).all()
    y = np.repeat(np.arange(4), 5000)
    ann = D.simulate_annotations(rng, y, theta, 0)
    for j in range(3):
        emp = np.stack([np.bincount(ann[y == c, j], minlength=4) / 5000 for c in range(4)])
        np.testing.assert_allclose(emp, theta[j], atol=0.03)
    sparse = D.simulate_annotations(rng, y[:100], theta, 2)
    assert ((sparse >= 0).sum(1) == 2).all()


def _tiny_crowd(n_cls=3, per=12, n_ann=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_cls), per)
    ann = np.where(rng.random((len(y), n_ann)) < 0.5, rng.integers(0, n_cls, (len(y), n_ann)), -1)
    ann[np.arange(len(y)), rng.integers(0, n_ann, len(y))] = y   # every item has a correct label
    x = rng.normal(size=(len(y), 4)).astype(np.float32)
    return D.CrowdData(x, ann, y, x, y, tuple("abc"[:n_cls]), "tiny")


def test_real_tasks_keep_only_in_task_labels_and_their_annotators():
    d = _tiny_crowd()
    task = D.RealCrowdTaskSampler(d, 2, 4, 3).sample(np.random.default_rng(1))
    assert task.xs.shape == (8, 4) and task.xq.shape == (6, 4)
    assert task.ann.max() <= 1 and ((task.ann >= 0).any(0)).all() and ((task.ann >= 0).any(1)).all()
    np.testing.assert_allclose(task.theta.sum(-1)[task.theta_mask > 0], 1.0)
    with pytest.raises(TaskError, match="shots"):
        D.RealCrowdTaskSampler(d, 2, 10, 5)
    with pytest.raises(TaskError, match="4-way"):
        D.RealCrowdTaskSampler(d, 4, 2, 2)


def _write_music(folder):
    folder.mkdir(parents=True)
    feats = ",".join(f"feature{i}" for i in range(3))
    genres = ["blues", "jazz"]
    with open(folder / "music_genre_gold.csv", "w") as fh:
        fh.write(f"id,{feats},class\n")
        for i in range(4):
            fh.write(f"s{i},{i},{i + 1},{i * 2},{genres[i % 2]}\n")
    with open(folder / "music_genre_test.csv", "w") as fh:
        fh.write(f"id,{feats},class\n")
        for i in range(4):
            fh.write(f"t{i},{i},{-i},{i},{genres[i % 2]}\n")
    with open(folder / "music_genre_mturk.csv", "w") as fh:
        fh.write(f"id,annotator,{feats},class\n")
        for i, w, g in [(0, "A", "blues"), (0, "B", "jazz"), (1, "A", "jazz"), (3, "C", "jazz")]:
            fh.write(f"s{i},{w},0,0,0,{g}\n")


def test_music_loader_on_a_tiny_file(tmp_path, monkeypatch):
    _write_music(tmp_path / "crowd" / "music_genre")
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setattr(D, "CROWD_FILES", {**D.CROWD_FILES, "music": [
        (f, u, hashlib.sha256((tmp_path / "crowd" / "music_genre" / f).read_bytes()).hexdigest())
        for f, u, _ in D.CROWD_FILES["music"]]})
    D.load_crowd.cache_clear()
    d = D.load_crowd("music")
    D.load_crowd.cache_clear()
    assert d.classes == ("blues", "jazz") and d.x.shape == (4, 3) and d.xs.shape == (4, 3)
    np.testing.assert_array_equal(d.ann, [[0, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, -1, 1]])
    np.testing.assert_array_equal(d.y, [0, 1, 0, 1])


def test_crowd_download_is_verified_by_sha256(tmp_path, monkeypatch):
    src = tmp_path / "server"
    _write_music(src)
    monkeypatch.setenv("REPRO_DATA", "")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    good = [(f, (src / f).as_uri(), hashlib.sha256((src / f).read_bytes()).hexdigest())
            for f, _, _ in D.CROWD_FILES["music"]]
    monkeypatch.setattr(D, "CROWD_FILES", {**D.CROWD_FILES, "music": good})
    paths = D.crowd_paths("music")
    assert all(p.startswith(str(tmp_path / "data")) for p in paths.values())
    (tmp_path / "data" / "crowd" / "labelme").mkdir(parents=True)
    bad = [(f, (src / f).as_uri(), "0" * 64) for f, _, _ in D.CROWD_FILES["music"]]
    monkeypatch.setattr(D, "CROWD_SUBDIRS", {**D.CROWD_SUBDIRS, "music": ("crowd/other",)})
    monkeypatch.setattr(D, "CROWD_FILES", {**D.CROWD_FILES, "music": bad})
    with pytest.raises(ChecksumError):
        D.crowd_paths("music")
    assert not list((tmp_path / "data" / "crowd" / "other").glob("*.csv"))


def test_missing_crowd_data_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "nodata")
    with pytest.raises(DataMissingError, match="(?s)crowd_labelme.*PyLearningCrowds"):
        D.crowd_paths("labelme")


def test_miniimagenet_features_loader(tmp_path, monkeypatch):
    (tmp_path / "miniimagenet").mkdir()
    np.savez(tmp_path / "miniimagenet" / "features.npz", x=np.ones((6, 3)), y=np.arange(6) % 3)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    x, y = D.load_miniimagenet_features()
    assert x.shape == (6, 3) and x.dtype == np.float32 and list(y) == [0, 1, 2, 0, 1, 2]


@pytest.mark.data
def test_shared_labelme_if_present():
    try:
        d = D.load_crowd("labelme", download=False)
    except DataMissingError:
        pytest.skip("LabelMe not found (set REPRO_DATA to the shared data folder)")
    assert d.ann.shape == (1000, 59) and d.xs.shape == (1688, 512) and len(d.classes) == 8
