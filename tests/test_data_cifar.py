"""CIFAR readers (binary / python version, folder / archive), the quick-profile subset and its
download path, on tiny files of the official formats."""

import dataclasses
import hashlib
import io
import pickle
import tarfile
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.data import DataFormatError, DataMissingError, cifar, core

RECORD = 1 + 3072


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """REPRO_DATA -> tmp/shared, data/ -> tmp/data, caches cleared, downloads allowed."""
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "shared"))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    for fn in (cifar._load_cifar_cached, cifar._subset_from_zip, cifar._subset_from_official):
        fn.cache_clear()
    yield tmp_path
    for fn in (cifar._load_cifar_cached, cifar._subset_from_zip, cifar._subset_from_official):
        fn.cache_clear()


def _no_network(monkeypatch):
    def refuse(url, timeout=None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(core.urllib.request, "urlopen", refuse)


def _records(labels, rng):
    rec = np.zeros((len(labels), RECORD), dtype=np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return rec


def _batches(rng, per_batch=4, n_test=6):
    """Five training batches and a test batch: labels cycle through the 10 classes."""
    train = [_records([(4 * b + i) % 10 for i in range(per_batch)], rng) for b in range(5)]
    test = _records([i % 10 for i in range(n_test)], rng)
    return train, test


def _binary_archive(path: Path, train, test):
    with tarfile.open(path, "w:gz") as tar:
        members = {f"cifar-10-batches-bin/data_batch_{i + 1}.bin": r.tobytes() for i, r in enumerate(train)}
        members["cifar-10-batches-bin/test_batch.bin"] = test.tobytes()
        members["cifar-10-batches-bin/readme.html"] = b"<html/>"
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _python_archive(path: Path, train, test):
    """The python version: pickled dicts {'data': (N, 3072) uint8, 'labels': list} (protocol 2)."""
    with tarfile.open(path, "w:gz") as tar:
        batches = {f"data_batch_{i + 1}": r for i, r in enumerate(train)}
        batches["test_batch"] = test
        for name, r in batches.items():
            blob = pickle.dumps({b"batch_label": b"x", b"labels": r[:, 0].tolist(), b"data": r[:, 1:].copy()},
                                protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def _expected(recs):
    rec = np.concatenate(recs)
    return rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), rec[:, 0].astype(np.int64)


def test_binary_folder_python_archive_and_binary_archive_agree(roots):
    rng = np.random.default_rng(0)
    train, test = _batches(rng)
    x_train, y_train = _expected(train)
    x_test, y_test = _expected([test])
    shared = roots / "shared" / "cifar10"
    (shared / "cifar-10-batches-bin").mkdir(parents=True)
    for i, r in enumerate(train):
        r.tofile(shared / "cifar-10-batches-bin" / f"data_batch_{i + 1}.bin")
    test.tofile(shared / "cifar-10-batches-bin" / "test_batch.bin")
    ds = cifar.load_cifar10("train")
    assert ds.x.shape == (20, 32, 32, 3) and np.array_equal(ds.x, x_train) and np.array_equal(ds.y, y_train)
    assert ds.source.endswith("cifar-10-batches-bin") and ds.classes[0] == "airplane"
    # red plane of image 0 = bytes 1..1024 of its record (channel-major as stored)
    assert np.array_equal(ds.x[0, :, :, 0].reshape(-1), train[0][0, 1:1025])
    for make in (_python_archive, _binary_archive):
        other = roots / make.__name__
        other.mkdir()
        archive = make(other / ("cifar-10-python.tar.gz" if make is _python_archive else "cifar-10-binary.tar.gz"),
                       train, test)
        kind = "python" if make is _python_archive else "binary"
        x, y = cifar.read_cifar_archive(cifar.LAYOUTS[("cifar10", kind)], archive, "test")
        assert np.array_equal(x, x_test) and np.array_equal(y, y_test)


def test_python_batch_refuses_foreign_objects():
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    blob = pickle.dumps({"data": Evil(), "labels": [1]}, protocol=2)
    with pytest.raises(DataFormatError, match="refused"):
        cifar.read_cifar_python(blob, "data_batch_1")


def test_truncated_files_are_one_format_error_naming_the_file(roots):
    rng = np.random.default_rng(1)
    train, test = _batches(rng)
    folder = roots / "shared" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i, r in enumerate(train):
        r.tofile(folder / f"data_batch_{i + 1}.bin")
    (folder / "test_batch.bin").write_bytes(test.tobytes()[:-100])          # short read
    with pytest.raises(DataFormatError, match=r"test_batch\.bin.*truncated"):
        cifar.load_cifar10("test")
    archive = _binary_archive(roots / "cifar-10-binary.tar.gz", train, test)
    cut = roots / "cut" / "cifar-10-binary.tar.gz"
    cut.parent.mkdir()
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"cut/cifar-10-binary\.tar\.gz.*truncated or corrupt"):
        cifar.read_cifar_archive(cifar.LAYOUTS[("cifar10", "binary")], cut, "train")


def test_subset_indices_are_class_grouped_first_k_in_official_order():
    y = np.array([3, 0, 3, 1, 0, 3, 2] + list(range(10)) * 3)
    old = dict(cifar.SUBSET_PER_CLASS)
    try:
        cifar.SUBSET_PER_CLASS["train"] = 2
        idx = cifar.cifar10_subset_indices(y, "train")
    finally:
        cifar.SUBSET_PER_CLASS.update(old)
    assert y[idx].tolist() == [c for c in range(10) for _ in range(2)]
    assert idx[:2].tolist() == [1, 4] and idx[6:8].tolist() == [0, 2]       # class 0, then class 3 in order
    with pytest.raises(DataFormatError, match="needs 500"):
        cifar.cifar10_subset_indices(y, "train")


def _serve(monkeypatch, archive: Path):
    """Point the official binary archive at a local file:// URL with the file's own MD5."""
    layout = cifar.LAYOUTS[("cifar10", "binary")]
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    res = core.Resource(layout.resource.name, archive.resolve().as_uri(), f"md5:{md5}")
    monkeypatch.setitem(cifar.LAYOUTS, ("cifar10", "binary"), dataclasses.replace(layout, resource=res))
    return res


def test_subset_is_cut_from_a_downloaded_official_archive(roots, monkeypatch):
    rng = np.random.default_rng(2)
    train, test = _batches(rng, per_batch=6, n_test=20)
    served = _binary_archive(roots / "served.tar.gz", train, test)
    _serve(monkeypatch, served)
    monkeypatch.setitem(cifar.SUBSET_PER_CLASS, "train", 2)
    monkeypatch.setitem(cifar.SUBSET_PER_CLASS, "test", 2)
    ds = cifar.load_cifar10_subset("train")
    assert (roots / "data" / "cifar10" / "cifar-10-binary.tar.gz").is_file()   # downloaded and kept
    x_all, y_all = _expected(train)
    idx = cifar.cifar10_subset_indices(y_all, "train")
    assert ds.y.tolist() == [c for c in range(10) for _ in range(2)]
    assert np.array_equal(ds.x, cifar.jpeg_roundtrip(x_all[idx]))
    diff = np.abs(ds.x.astype(int) - x_all[idx].astype(int)).mean()
    assert 0 < diff < 60          # lossy JPEG of random noise, but the same images
    # the same images from the JPEG-zip layout of the offline copy: identical arrays
    zdir = roots / "shared" / "cifar10_subset"
    zdir.mkdir(parents=True)
    with zipfile.ZipFile(zdir / "cifar10_train_5000_jpg.zip", "w") as z:
        for k, (img, lab) in enumerate(zip(x_all[idx], y_all[idx])):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=75)
            z.writestr(f"train/{cifar.CIFAR10_CLASSES[lab]}/{k:04d}.jpg", buf.getvalue())
    from_zip = cifar.load_cifar10_subset("train")
    assert from_zip.source.endswith("cifar10_train_5000_jpg.zip")
    assert np.array_equal(from_zip.x, ds.x) and np.array_equal(from_zip.y, ds.y)


def test_truncated_subset_zip_is_a_format_error(roots):
    zdir = roots / "shared" / "cifar10_subset"
    zdir.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k in range(20):
            img = io.BytesIO()
            Image.fromarray(np.full((32, 32, 3), k, np.uint8)).save(img, format="JPEG")
            z.writestr(f"test/cat/{k:04d}.jpg", img.getvalue())
    (zdir / "cifar10_test_10000_jpg.zip").write_bytes(buf.getvalue()[:-200])
    with pytest.raises(DataFormatError, match="cifar10_test_10000_jpg.zip"):
        cifar.load_cifar10_subset("test")


def test_no_network_fails_fast_with_dataset_source_and_repro_data(roots, monkeypatch):
    _no_network(monkeypatch)
    t0 = time.monotonic()
    with pytest.raises(DataMissingError) as exc:
        cifar.load_cifar10_subset("test")
    assert time.monotonic() - t0 < 30
    msg = str(exc.value)
    assert "'cifar10_subset' not found" in msg and "cifar10_test_10000_jpg.zip" in msg
    assert "Automatic download failed" in msg and "cifar-10-binary.tar.gz" in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in msg and "REPRO_DATA" in msg
    assert not (roots / "data" / "cifar10").exists() or not any((roots / "data" / "cifar10").iterdir())


def test_offline_never_opens_a_url(roots, monkeypatch):
    monkeypatch.setenv("REPRO_OFFLINE", "1")

    def fail(*a, **k):
        raise AssertionError("urlopen called although REPRO_OFFLINE=1")
    monkeypatch.setattr(core.urllib.request, "urlopen", fail)
    with pytest.raises(DataMissingError, match="(?s)REPRO_OFFLINE=1.*cifar-10-binary.tar.gz"):
        cifar.load_cifar10("train")


def test_a_server_that_never_answers_is_given_up_quickly(roots, monkeypatch):
    def hang(url, timeout=None):
        time.sleep(3)
        raise urllib.error.URLError("late")
    monkeypatch.setattr(core.urllib.request, "urlopen", hang)
    monkeypatch.setattr(core, "CONNECT_TIMEOUT_S", 0.2)
    t0 = time.monotonic()
    with pytest.raises(DataMissingError, match="no answer within"):
        cifar.load_cifar10("train")
    assert time.monotonic() - t0 < 2


# ---- the real data (skip where absent) ----

@pytest.mark.data
def test_offline_subset_copy_is_the_official_images_where_both_exist():
    """File NNNN of a class in the JPEG zips = the NNNN-th image of that class in official order,
    encoded by Pillow at quality 75: checked image by image when both copies are on this machine."""
    try:
        zpath = cifar._locate_subset("test")
        cifar.locate_cifar("cifar10", "test")
    except DataMissingError:
        pytest.skip("needs both $REPRO_DATA/cifar10_subset and an official CIFAR-10 archive")
    zipped = cifar.read_subset_zip(zpath)
    full = cifar.load_cifar10("test", download=False)
    idx = cifar.cifar10_subset_indices(full.y, "test")
    assert np.array_equal(zipped[1], full.y[idx])
    # per image: mean |difference| ~0 when aligned (same encoder), ~60 grey levels for another image
    diff = np.abs(cifar.jpeg_roundtrip(full.x[idx]).astype(int) - zipped[0].astype(int)).mean(axis=(1, 2, 3))
    assert (diff < 3).mean() > 0.99, f"{(diff >= 3).sum()} of {len(diff)} images differ from the official ones"
