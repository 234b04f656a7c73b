"""Full-profile loaders on tiny files of the official layouts, written to a tmp dir; quick data when present."""

import numpy as np
import pytest
from PIL import Image

from common.data import DataFormatError, DataMissingError
from papers.cafe import data as D


def test_cifar10_c_npy_layout(tmp_path, monkeypatch):
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    n = 4                                            # 4 images per severity instead of 10,000
    x = np.zeros((5 * n, 32, 32, 3), np.uint8)
    for s in range(5):
        x[s * n:(s + 1) * n] = 10 * (s + 1)          # pixel value encodes the severity
    y = np.tile(np.arange(n), 5).astype(np.uint8)
    np.save(folder / "fog.npy", x)
    np.save(folder / "labels.npy", y)
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    xs, ys = D.load_cifar_c("cifar10", "fog", 3)
    assert xs.shape == (n, 32, 32, 3) and (xs == 30).all()
    assert ys.tolist() == list(range(n)) and ys.dtype == np.int64
    with pytest.raises(DataMissingError, match="CIFAR-10-C"):
        D.load_cifar_c("cifar10", "snow", 1)
    with pytest.raises(ValueError, match="unknown corruption"):
        D.load_cifar_c("cifar10", "rain", 1)
    np.save(folder / "frost.npy", x[:, :16])        # wrong image size
    with pytest.raises(DataFormatError):
        D.load_cifar_c("cifar10", "frost", 1)


def test_cifar100_c_and_binary_training_sets(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    (tmp_path / "CIFAR-100-C").mkdir()
    np.save(tmp_path / "CIFAR-100-C" / "snow.npy", np.ones((10, 32, 32, 3), np.uint8))
    np.save(tmp_path / "CIFAR-100-C" / "labels.npy", np.arange(10).astype(np.uint8) * 9)
    xs, ys = D.load_cifar_c("cifar100", "snow", 5)
    assert xs.shape == (2, 32, 32, 3) and ys.tolist() == [72, 81]
    # CIFAR-100 binary: <coarse><fine><3072 bytes CHW>
    rec = np.zeros((3, 2 + 3072), np.uint8)
    rec[:, 1] = [5, 17, 99]
    rec[:, 2:2 + 1024] = 200                          # red plane
    d100 = tmp_path / "cifar-100-binary"
    d100.mkdir()
    rec.tofile(d100 / "train.bin")
    x, y = D.load_cifar_binary("cifar100", "train")
    assert x.shape == (3, 32, 32, 3) and y.tolist() == [5, 17, 99]
    assert (x[..., 0] == 200).all() and (x[..., 1] == 0).all()
    # CIFAR-10 binary: five training batches of <label><3072 bytes>
    d10 = tmp_path / "cifar-10-batches-bin"
    d10.mkdir()
    for i in range(1, 6):
        r = np.zeros((2, 1 + 3072), np.uint8)
        r[:, 0] = i
        r.tofile(d10 / f"data_batch_{i}.bin")
    x, y = D.load_cifar_binary("cifar10", "train")
    assert x.shape == (10, 32, 32, 3) and y.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    np.zeros(100, np.uint8).tofile(d10 / "test_batch.bin")
    with pytest.raises(DataFormatError, match="record"):
        D.load_cifar_binary("cifar10", "test")


def test_imagenet_c_folder_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    for wnid, colour in [("n01440764", (255, 0, 0)), ("n01443537", (0, 0, 255))]:
        f = tmp_path / "ImageNet-C" / "gaussian_noise" / "5" / wnid
        f.mkdir(parents=True)
        Image.new("RGB", (300, 260), colour).save(f / "ILSVRC2012_val_00000001.JPEG")
    folder = D.imagenet_c_folder("gaussian_noise", 5)
    files, y, classes = D.list_image_folder(folder)
    assert classes == ["n01440764", "n01443537"] and y.tolist() == [0, 1]
    x = D.load_image_files(files)
    assert x.shape == (2, 224, 224, 3) and x[0, 100, 100, 0] > 200 and x[1, 100, 100, 2] > 200
    with pytest.raises(DataMissingError, match="ImageNet-C"):
        D.imagenet_c_folder("gaussian_noise", 3)
    with pytest.raises(DataMissingError, match="imagenet"):
        D.imagenet_train_folder()
    (tmp_path / "imagenet" / "train" / "n01440764").mkdir(parents=True)
    assert D.imagenet_train_folder() == tmp_path / "imagenet" / "train"


def test_benchmark_is_seeded_and_sized():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (50, 32, 32, 3)).astype(np.uint8)
    y = np.arange(50) % 10
    a = D.make_corrupted_benchmark(x, y, 5, 5, seed=1)
    b = D.make_corrupted_benchmark(x, y, 5, 5, seed=1)
    assert len(a) == 15 and all(v[0].shape == (5, 32, 32, 3) for v in a.values())
    assert all(np.array_equal(a[c][0], b[c][0]) for c in a)
    with pytest.raises(ValueError, match="n_per_corruption"):
        D.make_corrupted_benchmark(x, y, 51, 5, seed=1)


@pytest.mark.data
def test_quick_datasets_load():
    try:
        x, y = D.load_cifar10_subset("train")
    except DataMissingError:
        pytest.skip("cifar10_subset not found (set REPRO_DATA)")
    assert x.shape == (5000, 32, 32, 3) and np.bincount(y).tolist() == [500] * 10
    try:
        x, y = D.load_fmnist32("test")
    except DataMissingError:
        pytest.skip("Fashion-MNIST not installed")
    assert x.shape == (10000, 32, 32, 3) and (x[:, :2] == 0).all()
