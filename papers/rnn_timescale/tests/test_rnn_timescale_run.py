"""One cell through run(), bad input, the UCR reader / download on tiny files, the smoke profile end to end."""

import gzip

import numpy as np
import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from common.data.core import ChecksumError, download, git_blob_sha1
from papers.rnn_timescale import data as D
from papers.rnn_timescale.config import SMOKE, Config
from papers.rnn_timescale.run import run


def test_adding_and_copy_targets():
    rng = np.random.default_rng(0)
    x, y = D.adding(50, 20, rng)
    assert (x[:, :, 1].sum(1) == 2).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(1), rtol=1e-6)
    x, y = D.copy_task(5, 30, rng)
    np.testing.assert_array_equal(x[:, :10].argmax(-1) - 1, y)
    assert (x[:, 19].argmax(-1) == 9).all()


def test_run_smoke_cell_returns_metrics():
    rows = {r["metric"]: r["value"] for r in run(Config(**SMOKE, task="adding", method="ts_lstm"))}
    assert 0.0 < rows["test_mse"] < 5.0
    for stage in ("init", "early", "late"):
        assert -1.0 <= rows[f"grad_r2_{stage}"] <= 1.0 and rows[f"logf_mean_{stage}"] < 0


def test_bad_input_is_one_clear_error():
    with pytest.raises(ConfigError, match="method"):
        Config(method="transformer").validate()
    with pytest.raises(ConfigError, match="seq_len"):
        Config(task="copy", seq_len=10).validate()
    with pytest.raises(ConfigError, match="exceeds"):
        Config(batch=64, n_train=10).validate()


def test_ucr_reader_and_verified_download(tmp_path):
    text = "1 0.1 0.2 0.3 0.4\n2 0.5 0.6 0.7 0.8\n"
    plain = tmp_path / "Tiny_TRAIN"
    plain.write_text(text)
    with gzip.open(tmp_path / "Tiny_TEST.gz", "wt") as fh:
        fh.write(text)
    for p in (plain, tmp_path / "Tiny_TEST.gz"):
        x, y = D.read_ucr_file(p)
        assert x.shape == (2, 4) and list(y) == [1, 2]
    blob = git_blob_sha1(plain)
    opener = lambda url: open(plain, "rb")  # noqa: E731 - the network stand-in
    out = download("https://example.invalid/Tiny_TRAIN", tmp_path / "dl" / "Tiny_TRAIN", "gitblob:" + blob, opener)
    assert out.read_text() == text
    with pytest.raises(ChecksumError):
        download("https://example.invalid/x", tmp_path / "dl" / "bad", "gitblob:" + "0" * 40, opener)
    assert not (tmp_path / "dl" / "bad").exists()


@pytest.mark.data
def test_ucr_trace_split_is_stratified():
    try:
        xtr, ytr, xte, yte, k = D.ucr("Trace", 2, np.random.default_rng(0))
    except D.DataMissingError:
        pytest.skip("UCR Trace not available")
    assert k == 4 and xtr.shape == (100, 137, 1) and len(yte) == 100
    assert np.bincount(ytr).tolist() == [25, 25, 25, 25]


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("rnn_timescale", profile="smoke")
    assert not report.failed and len(report.ran) == 7
    cells = pd.read_csv(tmp_path / "results" / "rnn_timescale" / "smoke" / "t1_adding.csv", keep_default_na=False)
    assert set(cells[cells.metric == "test_mse"].method) == {"lstm", "ts_lstm"}
