"""The six full-profile loaders on tiny files of their official formats, the verified download of DTD from a tiny
archive, and the stratified fraction with its validation split."""

import hashlib
import tarfile

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from common.config import ConfigError
from common.data import DataMissingError, Resource
from papers.mgr import data as D


def _jpg(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((10, 14, 3), value, np.uint8)).save(path)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _aircraft(root):
    _write(root / "data/images_variant_trainval.txt", "001 Boeing 707-320\n002 A300B4\n")
    _write(root / "data/images_variant_test.txt", "003 A300B4\n")
    for i, v in (("001", 10), ("002", 20), ("003", 30)):
        _jpg(root / f"data/images/{i}.jpg", v)
    return {"train": (2, [1, 0]), "test": (1, [0])}   # classes sorted: A300B4 = 0, Boeing 707-320 = 1


def _cub(root):
    _write(root / "images.txt", "1 001.Albatross/a.jpg\n2 002.Auklet/b.jpg\n3 002.Auklet/c.jpg\n")
    _write(root / "image_class_labels.txt", "1 1\n2 2\n3 2\n")
    _write(root / "train_test_split.txt", "1 1\n2 0\n3 1\n")
    for f in ("001.Albatross/a.jpg", "002.Auklet/b.jpg", "002.Auklet/c.jpg"):
        _jpg(root / "images" / f, 50)
    return {"train": (2, [0, 1]), "test": (1, [1])}


def _dtd(root):
    _write(root / "labels/train1.txt", "banded/banded_1.jpg\n")
    _write(root / "labels/val1.txt", "zigzag/zigzag_1.jpg\n")
    _write(root / "labels/test1.txt", "zigzag/zigzag_2.jpg\nbanded/banded_2.jpg\n")
    for f in ("banded/banded_1.jpg", "zigzag/zigzag_1.jpg", "zigzag/zigzag_2.jpg", "banded/banded_2.jpg"):
        _jpg(root / "images" / f, 70)
    return {"train": (2, [0, 1]), "test": (2, [1, 0])}


def _flowers(root):
    root.mkdir(parents=True, exist_ok=True)
    savemat(root / "imagelabels.mat", {"labels": np.array([[1, 2, 2]])})
    savemat(root / "setid.mat", {"trnid": np.array([[1]]), "valid": np.array([[2]]), "tstid": np.array([[3]])})
    for i in (1, 2, 3):
        _jpg(root / f"jpg/image_{i:05d}.jpg", 90)
    return {"train": (2, [0, 1]), "test": (1, [1])}


def _pets(root):
    _write(root / "annotations/trainval.txt", "Abyssinian_1 1 1 1\nbeagle_1 2 2 1\n")
    _write(root / "annotations/test.txt", "beagle_2 2 2 1\n")
    for n in ("Abyssinian_1", "beagle_1", "beagle_2"):
        _jpg(root / f"images/{n}.jpg", 110)
    return {"train": (2, [0, 1]), "test": (1, [1])}


def _cars(root):
    dt = [("fname", "O"), ("class", "O")]
    (root / "devkit").mkdir(parents=True, exist_ok=True)
    savemat(root / "devkit/cars_train_annos.mat", {"annotations": np.array([("00001.jpg", 1), ("00002.jpg", 3)], dtype=dt)})
    savemat(root / "cars_test_annos_withlabels.mat", {"annotations": np.array([("00001.jpg", 3)], dtype=dt)})
    for f in ("cars_train/00001.jpg", "cars_train/00002.jpg", "cars_test/00001.jpg"):
        _jpg(root / f, 130)
    return {"train": (2, [0, 2]), "test": (1, [2])}


LAYOUTS = {"aircraft": _aircraft, "birds": _cub, "dtd": _dtd, "flowers": _flowers, "pets": _pets, "cars": _cars}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_full_loader_reads_its_official_layout(name, tmp_path, monkeypatch):
    spec = D.FULL_DATASETS[name]
    root = tmp_path / spec.subdirs[0]
    expect = LAYOUTS[name](root)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    assert D.locate_root(name, download=False) == root
    for split, (n, labels) in expect.items():
        files, ys = spec.index(root, split)
        assert len(files) == n and ys == labels
        x, y = D.load_full(name, split, 6, download=False)
        assert x.shape == (n, 6, 6, 3) and x.dtype == np.uint8 and list(y) == labels


def test_missing_full_dataset_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    monkeypatch.setattr("common.data.core.DATA_DIR", tmp_path / "data")
    with pytest.raises(DataMissingError, match="stanford_cars"):
        D.locate_root("cars")
    with pytest.raises(DataMissingError, match="dtd"):
        D.locate_root("dtd")


def test_dtd_download_is_verified_and_extracted(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _dtd(src / "dtd")
    archive = tmp_path / "dtd-r1.0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "dtd", arcname="dtd")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr("common.data.core.DATA_DIR", tmp_path / "data")
    spec = D.FULL_DATASETS["dtd"]
    bad = spec.__class__(**{**spec.__dict__, "resources": (Resource(archive.name, archive.as_uri(), "md5:" + "0" * 32),)})
    monkeypatch.setitem(D.FULL_DATASETS, "dtd", bad)
    with pytest.raises(Exception, match="does not match"):
        D.locate_root("dtd", download=True)
    good = spec.__class__(**{**spec.__dict__, "resources": (Resource(archive.name, archive.as_uri(), "md5:" + md5),)})
    monkeypatch.setitem(D.FULL_DATASETS, "dtd", good)
    root = D.locate_root("dtd", download=True)
    assert root == tmp_path / "data" / "dtd" / "dtd"
    assert D.dtd_index(root, "test") == (["images/zigzag/zigzag_2.jpg", "images/banded/banded_2.jpg"], [1, 0])


def test_stratified_fraction_and_validation_split():
    y = np.repeat(np.arange(4), 50)
    tr, va = D.stratified_fraction(y, 0.2, 0.1, seed=3)
    assert len(np.intersect1d(tr, va)) == 0
    assert np.bincount(y[tr]).tolist() == [9] * 4 and np.bincount(y[va]).tolist() == [1] * 4
    tr2, _ = D.stratified_fraction(y, 0.2, 0.1, seed=4)
    assert set(tr2) != set(tr)
    with pytest.raises(ConfigError, match="at least 2"):
        D.stratified_fraction(y, 0.01, 0.1, seed=0)
