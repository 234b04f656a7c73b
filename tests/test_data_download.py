"""Downloads on first use (verified, progress bar, REPRO_OFFLINE, no network), one home for the
search roots, and `make data-status` covering every dataset of every paper."""

import hashlib
import io
import re
import subprocess
import sys
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from common.data import DataMissingError, core, images, write_idx

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def online(tmp_path, monkeypatch):
    """Empty roots, downloads allowed, data/ -> tmp/data, loader caches cleared."""
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(core, "DATA_DIR", tmp_path / "data")
    monkeypatch.delenv("REPRO_OFFLINE", raising=False)
    monkeypatch.setattr(images, "FASHION_SYSTEM", [str(tmp_path / "no_debian_package")])
    for fn in (images.load_fashion_mnist, images.load_mnist, images.load_omniglot):
        fn.cache_clear()
    yield tmp_path
    for fn in (images.load_fashion_mnist, images.load_mnist, images.load_omniglot):
        fn.cache_clear()


def _served(folder: Path, name: str, blob: bytes, algo: str = "md5") -> core.Resource:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(blob)
    return core.Resource(name, (folder / name).resolve().as_uri(), f"{algo}:{hashlib.new(algo, blob).hexdigest()}")


def test_fashion_mnist_comes_from_the_official_files_without_the_debian_package(online, monkeypatch):
    rng = np.random.default_rng(0)
    files = online / "zalando"
    files.mkdir()
    blobs = {}
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(files / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28), dtype=np.uint8))
        write_idx(files / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8))
    for r in images.FASHION_RESOURCES:
        blobs[r.name] = (files / r.name).read_bytes()
    served = [_served(online / "srv", r.name, blobs[r.name]) for r in images.FASHION_RESOURCES]
    monkeypatch.setattr(images, "FASHION_RESOURCES", served)
    ds = images.load_fashion_mnist("test")
    assert ds.x.shape == (3, 28, 28) and ds.y.tolist() == [0, 1, 2]
    assert ds.source == str(online / "data" / "fashion_mnist")
    # only the files of the split asked for were fetched
    assert sorted(p.name for p in (online / "data" / "fashion_mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_omniglot_comes_from_the_official_zip(online, monkeypatch):
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(2):
            for d in range(2):
                b = io.BytesIO()
                Image.fromarray(np.full((105, 105), 255, np.uint8)).convert("1").save(b, format="PNG")
                zf.writestr(f"images_background_small1/Greek/character{c + 1:02d}/x_{d + 1:02d}.png", b.getvalue())
    res = _served(online / "srv", "images_background_small1.zip", buf.getvalue(), "sha256")
    monkeypatch.setitem(images.OMNIGLOT_RESOURCES, "background_small1", res)
    ds = images.load_omniglot("background_small1")
    assert len(ds.classes) == 2 and len(ds) == 4
    assert (online / "data" / "omniglot" / "images_background_small1.zip").is_file()


def test_progress_bar_shows_unless_repro_progress_is_0(online, monkeypatch, capfd):
    blob = b"x" * 5000
    res = _served(online / "srv", "f.bin", blob, "sha256")
    monkeypatch.setenv("REPRO_PROGRESS", "1")
    core.download(res.url, online / "d1" / "f.bin", res.checksum)
    assert "f.bin" in capfd.readouterr().err
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    core.download(res.url, online / "d2" / "f.bin", res.checksum)
    assert capfd.readouterr().err == ""
    assert (online / "d2" / "f.bin").read_bytes() == blob and not list((online / "d2").glob("*.part"))


def test_a_tampered_download_is_refused_and_removed(online, monkeypatch):
    res = _served(online / "srv", "images_background_small2.zip", b"not the real zip", "sha256")
    monkeypatch.setitem(images.OMNIGLOT_RESOURCES, "background_small2",
                        core.Resource(res.name, res.url, "sha256:" + "0" * 64))
    with pytest.raises(core.ChecksumError, match="does not match"):
        images.load_omniglot("background_small2")
    assert not list((online / "data").rglob("images_background_small2*"))


def test_no_network_names_dataset_source_and_repro_data_quickly(online, monkeypatch):
    def refuse(url, timeout=None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")
    monkeypatch.setattr(core.urllib.request, "urlopen", refuse)
    t0 = time.monotonic()
    with pytest.raises(DataMissingError) as exc:
        images.load_omniglot("background_small2")
    assert time.monotonic() - t0 < 30
    msg = str(exc.value)
    assert "dataset 'omniglot' not found" in msg and "Name or service not known" in msg
    assert images.OMNIGLOT_RESOURCES["background_small2"].url in msg and "REPRO_DATA" in msg


def test_offline_switch_and_download_false_never_download(online, monkeypatch):
    def fail(*a, **k):
        raise AssertionError("urlopen called")
    monkeypatch.setattr(core.urllib.request, "urlopen", fail)
    with pytest.raises(DataMissingError, match="Downloads were not allowed"):
        images.load_fashion_mnist("train", download=False)
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    with pytest.raises(DataMissingError, match="REPRO_OFFLINE=1"):
        images.load_fashion_mnist("train", download=True)
    assert core.download_enabled() is False
    monkeypatch.setenv("REPRO_OFFLINE", "0")
    assert core.download_enabled() is True and core.download_enabled(False) is False


def test_search_roots_live_only_in_common_data_core():
    """No paper or other common module reads REPRO_DATA or builds its own list of roots."""
    offenders = []
    for path in list((REPO / "papers").glob("*/*.py")) + list((REPO / "common").rglob("*.py")):
        if path == REPO / "common" / "data" / "core.py":
            continue
        text = path.read_text()
        reads_env = re.search(r"environ[^\n]*REPRO_DATA|getenv\([\"']REPRO_DATA", text)
        own_roots = "search_roots()" in text and path.parent != REPO / "common" / "data"
        if reads_env or own_roots:
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"search roots handled outside common.data.core: {offenders}"


def test_data_status_lists_every_dataset_of_every_paper():
    from common.data.__main__ import import_paper_data_modules, status_lines

    assert import_paper_data_modules() == []
    text = "\n".join(status_lines())
    expected = {
        "common": ["fashion_mnist", "mnist", "digits", "omniglot", "omniglot_small", "cifar10", "cifar100",
                   "cifar10_subset"],
        "cafe": ["cifar10_c", "cifar100_c", "imagenet_c", "imagenet"],
        "fast_gsot": ["usps"],
        "graph_ssad": ["cora", "citeseer", "pubmed", "amazon_photo", "amazon_computers"],
        "meta_rdre": ["anomaly_cardio", "anomaly_thyroid", "anomaly_shuttle", "anomaly_odds_wbc"],
        "meta_ticket": ["cifarfs", "miniimagenet", "cub", "cars", "aircraft", "vgg_flower"],
        "pu_diffusion": ["stl10"],
    }
    for paper, names in expected.items():
        for name in names:
            assert re.search(rf"^{re.escape(name)}\s", text, re.M), f"{name} ({paper}) missing from data-status"
            assert core.REGISTRY[name].paper == paper
    # shared datasets name the papers that read them
    line = next(ln for ln in text.splitlines() if ln.startswith("cifar10_subset "))
    assert "cafe" in line and "meta_ticket" in line
    line = next(ln for ln in text.splitlines() if ln.startswith("fashion_mnist "))
    assert {"cafe", "lmc_wm", "meta_rdre", "pu_diffusion"} <= set(re.search(r"\[(.*?)\]", line).group(1).split(", "))


def test_data_status_command_runs_without_downloading(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REPRO_DATA": str(tmp_path), "REPRO_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "common.data"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "downloads: disabled (REPRO_OFFLINE=1)" in out.stdout
    assert re.search(r"^cora\s.*\n\s+(MISSING - downloads on first use|found)", out.stdout, re.M)
    assert re.search(r"\d+ of \d+ datasets found", out.stdout)
