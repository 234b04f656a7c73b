"""One cell through run(), bad input, and the smoke profile through the real sweep (the smoke cell)."""

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from common.meta import TaskError
from papers.meta_ood.config import SMOKE, Config
from papers.meta_ood.run import run

DIGITS = {"dataset": "digits", "n_way": 2, "test_frac": 0.4, "n_query": 25, "n_train_query": 10}


def test_run_returns_auroc(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    rows = {r["metric"]: r for r in run(Config(**{**SMOKE, **DIGITS, "method": "gmm_input"}))}
    assert 60 < rows["auroc_pct"]["value"] <= 100 and rows["auroc_pct"]["n"] == SMOKE["n_test_tasks"]


def test_bad_input():
    with pytest.raises(TaskError, match="classes in the split"):
        run(Config(**{**SMOKE, "dataset": "digits", "n_way": 5, "method": "gmm_input"}))
    with pytest.raises(ConfigError, match="k_shot >= 2"):
        Config(**{**SMOKE, "k_shot": 1}).validate()
    with pytest.raises(ConfigError, match="method must be one of"):
        Config(method="oracle").validate()


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("meta_ood", profile="smoke")
    assert not report.failed and len(report.ran) == 6
    out = tmp_path / "results" / "meta_ood" / "smoke"
    cells = pd.read_csv(out / "t1_auroc.csv", keep_default_na=False)
    auc = cells[cells.metric == "auroc_pct"].set_index("method")["mean"].astype(float)
    assert set(auc.index) == {"proposed", "gmm_input", "protonet", "maml", "mahalanobis", "ocsvm_pretrained"}
    assert auc["gmm_input"] > 60 and (auc > 0).all() and (auc <= 100).all()
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S1", "verdict"] == "held" and claims.loc["S1", "kind"] == "sanity"
    assert (out / "f1_auroc.png").is_file()
