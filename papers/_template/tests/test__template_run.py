"""One cell through run() and the smoke profile of the table through the real sweep."""

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from papers._template.config import Config
from papers._template.run import run


def test_run_returns_accuracy_and_size():
    rows = {r["metric"]: r for r in run(Config(train_frac=0.05, max_iter=50))}
    assert rows["n_train"]["value"] == round(0.05 * 1797)
    assert 80 < rows["test_acc_pct"]["value"] <= 100 and rows["test_acc_pct"]["n"] > 800


def test_overlapping_sets_are_a_config_error():
    with pytest.raises(ConfigError, match="overlap"):
        run(Config(train_frac=0.6, test_frac=0.5))


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("_template", profile="smoke")
    assert not report.failed and len(report.ran) == 8
    out = tmp_path / "results" / "_template" / "smoke"
    cells = pd.read_csv(out / "t1_accuracy.csv", keep_default_na=False)
    acc = cells[cells.metric == "test_acc_pct"].set_index(["method", "setting"])["mean"]
    assert acc[("softmax", "train_frac=0.3")] > acc[("softmax", "train_frac=0.02")]
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S1", "verdict"] == "held" and claims.loc["S1", "kind"] == "sanity"
    assert (out / "f1_accuracy.png").is_file() and (out / "TABLES.md").is_file()
