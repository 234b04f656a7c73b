"""Task construction (held-out classes, disjoint support / query, OoD from other held-out classes, bad input)
and the loaders of every dataset of the full profile on tiny files of the official formats."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from common.data import cifar, core, images, write_idx
from common.meta import TaskError
from papers.meta_ood import data as D


def test_tasks_use_held_out_classes_and_disjoint_rows():
    pools = D.load_pools("digits", 0.4, 0, split_seed=0)
    assert len(pools.test_classes) == 4 and not set(pools.train_classes) & set(pools.test_classes)
    x_rows = {r.tobytes(): i for i, r in enumerate(pools.x)}
    for t in D.make_test_tasks(pools, n_way=2, k_shot=5, n_query=10, n_tasks=5, seed=1):
        s = [x_rows[r.tobytes()] for r in t.xs]
        q = [x_rows[r.tobytes()] for r in t.xq]
        assert not set(s) & set(q[:20])                                    # support and ID queries disjoint
        assert set(pools.y[s]) == set(t.id_classes) <= set(pools.test_classes)
        assert t.ys.tolist() == [0] * 5 + [1] * 5 and t.is_ood.tolist() == [0] * 20 + [1] * 20
        assert set(pools.y[q[:20]]) <= set(t.id_classes)
        ood = set(pools.y[q[20:]])
        assert ood <= set(pools.test_classes) - set(t.id_classes)         # OoD: other held-out classes
    draw = D.train_task_sampler(pools, 2, 5, 5, seed=0)
    assert set(draw().id_classes) <= set(pools.train_classes)


def test_pca_is_fitted_on_meta_training_rows_only():
    x, y, _, _ = D.load_images("digits")
    train = np.isin(y, [0, 1, 2, 3, 4, 5])
    a = D.pca_features(x, train, 8, seed=0)
    x2 = x.copy()
    x2[~train] = np.random.default_rng(0).random(x2[~train].shape)      # change every held-out row
    b = D.pca_features(x2, train, 8, seed=0)
    np.testing.assert_allclose(a[train], b[train], atol=1e-5)
    np.testing.assert_allclose(a[train].var(0).mean(), 1.0, rtol=0.05)


def test_impossible_tasks_are_task_errors():
    pools = D.load_pools("digits", 0.4, 0, split_seed=0)
    with pytest.raises(TaskError, match="needs at least 5"):
        D.make_test_tasks(pools, n_way=4, k_shot=5, n_query=5, n_tasks=1, seed=0)
    with pytest.raises(TaskError, match="instances, a 100-shot"):
        D.make_test_tasks(pools, n_way=2, k_shot=100, n_query=100, n_tasks=1, seed=0)
    with pytest.raises(TaskError, match="unknown dataset"):
        D.load_images("imagenet")


def _png(ink: int) -> bytes:
    pix = np.full((105, 105), 255, np.uint8)
    pix[:ink, :ink] = 0
    b = io.BytesIO()
    Image.fromarray(pix).convert("1").save(b, format="PNG")
    return b.getvalue()


def _omniglot_zip(path, top, alphabets, n_char=2, n_draw=3):
    with zipfile.ZipFile(path, "w") as zf:
        for a, alpha in enumerate(alphabets):
            for c in range(n_char):
                for d in range(n_draw):
                    zf.writestr(f"{top}/{alpha}/character{c + 1:02d}/{a}{c}_{d + 1:02d}.png", _png(10 * (c + 1)))


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "nodata")
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    monkeypatch.setattr(images, "FASHION_SYSTEM", [str(tmp_path / "no_debian")])
    fns = (images.load_fashion_mnist, images.load_mnist, images.load_omniglot, cifar._load_cifar_cached,
           D.load_images, D.load_pools)
    for fn in fns:
        fn.cache_clear()
    yield tmp_path
    for fn in fns:
        fn.cache_clear()


def test_full_profile_loaders_on_tiny_files(tiny_root):
    om = tiny_root / "omniglot"
    om.mkdir()
    _omniglot_zip(om / "images_background.zip", "images_background", ["Alpha", "Beta"])
    _omniglot_zip(om / "images_evaluation.zip", "images_evaluation", ["Gamma"])
    x, y, groups, _ = D.load_images("omniglot")
    assert x.shape == (18, 784) and 0 <= x.min() and x.max() <= 1 and len(set(y)) == 6
    assert sorted(set(groups)) == ["Alpha", "Beta", "Gamma"]
    pools = D.load_pools("omniglot", 1 / 3, 0, split_seed=0)                 # one alphabet held out
    assert len({groups[c] for c in pools.test_classes}) == 1
    assert not {groups[c] for c in pools.test_classes} & {groups[c] for c in pools.train_classes}

    rng = np.random.default_rng(0)
    for folder, name in (("mnist", "mnist"), ("fashion_mnist", "fmnist")):
        (tiny_root / folder).mkdir()
        imgs = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
        write_idx(tiny_root / folder / "train-images-idx3-ubyte.gz", imgs)
        write_idx(tiny_root / folder / "train-labels-idx1-ubyte.gz", (np.arange(20) % 10).astype(np.uint8))
        x, y, groups, _ = D.load_images(name)
        assert x.shape == (20, 784) and groups is None and y.tolist() == (np.arange(20) % 10).tolist()
        np.testing.assert_allclose(x[3], imgs[3].reshape(-1) / 255.0, atol=1e-7)

    for name, folder, top, label_bytes, files in (
            ("cifar10", "cifar10", "cifar-10-batches-bin", 1, [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]),
            ("cifar100", "cifar100", "cifar-100-binary", 2, ["train.bin", "test.bin"])):
        (tiny_root / folder / top).mkdir(parents=True)
        for f in files:
            rec = rng.integers(0, 256, size=(4, label_bytes + 3072), dtype=np.uint8)
            rec[:, :label_bytes] = np.arange(4)[:, None]
            (tiny_root / folder / top / f).write_bytes(rec.tobytes())
        x, y, _, _ = D.load_images(name)
        n_train = 20 if name == "cifar10" else 4
        assert x.shape == (n_train, 3072) and 0 <= x.min() and x.max() <= 1 and set(y) == {0, 1, 2, 3}
