"""One cell through run(), bad input, and the smoke profile through the real sweep (the smoke cell)."""

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from common.data import DataMissingError
from papers.mgr.config import SMOKE, Config
from papers.mgr.run import run

pytestmark = pytest.mark.data


@pytest.fixture(autouse=True)
def _scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    try:
        from common.data import load_fashion_mnist
        load_fashion_mnist("test", download=False)
    except DataMissingError:
        pytest.skip("Fashion-MNIST not on this machine")


def test_mgr_cell_returns_accuracies():
    rows = {r["metric"]: r for r in run(Config(**{**SMOKE, "method": "mgr", "train_frac": 0.01}))}
    assert rows["n_train"]["value"] == 540 and rows["n_val"]["value"] == 60
    assert 0 <= rows["test_acc_pct"]["value"] <= 100 and rows["test_acc_pct"]["n"] == 10000
    assert {"finder_synthetic_acc_pct", "meta_val_loss", "synthetic_acc_pct"} <= set(rows)


def test_bad_input():
    with pytest.raises(ConfigError, match="at least 2"):
        run(Config(**{**SMOKE, "method": "erm", "train_frac": 0.0001}))
    with pytest.raises(ConfigError, match="method must be one of"):
        Config(method="oracle").validate()
    with pytest.raises(ConfigError, match="train_frac"):
        Config(train_frac=1.5).validate()
    with pytest.raises(ConfigError, match="generator must be cvae"):
        Config(generator="stylegan").validate()
    with pytest.raises(FileNotFoundError, match="generator weights"):
        run(Config(**{**SMOKE, "method": "gda", "train_frac": 0.01, "generator_weights": "/nonexistent/g.pt"}))


def test_smoke_profile_end_to_end(tmp_path):
    report = cli.reproduce("mgr", profile="smoke")
    assert not report.failed and len(report.ran) == 4
    out = tmp_path / "results" / "mgr" / "smoke"
    cells = pd.read_csv(out / "t1_fraction.csv", keep_default_na=False)
    acc = cells[cells.metric == "test_acc_pct"].set_index("method")["mean"].astype(float)
    assert set(acc.index) == {"erm", "gda", "mgr"} and ((acc >= 0) & (acc <= 100)).all()
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S2", "verdict"] == "held" and claims.loc["S2", "kind"] == "sanity"
    assert (out / "f1_fraction.png").is_file() and (out / "t1_ci.md").is_file()
    assert not list((tmp_path / "runs").rglob("failed"))
