"""One smoke cell of the table through the real sweep (rows, aggregation, claims, figures), and bad input."""

import os
from pathlib import Path

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from papers.hetero_ssl.config import SMOKE, Config
from papers.hetero_ssl.run import run

HAVE_DATA = any((Path(r) / "tabular/index.csv").is_file() for r in os.environ.get("REPRO_DATA", "").split(":") if r)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="PMLB tables not under REPRO_DATA")


@needs_data
@pytest.mark.data
def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("hetero_ssl", profile="smoke")
    assert not report.failed and len(report.ran) == 1
    out = tmp_path / "results" / "hetero_ssl" / "smoke"
    cells = pd.read_csv(out / "t1_ssl.csv", keep_default_na=False)
    acc = cells[cells.metric == "test_acc_pct"]
    assert set(acc["method"]) == set(Config().method_list()) and set(acc["setting"]) == {"n_labelled=1",
                                                                                          "n_labelled=2"}
    assert acc["mean"].between(0, 100).all()
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["C2", "verdict"] == "not measured"      # the smoke profile runs classification only
    assert (out / "f1_classification.png").is_file()


@needs_data
@pytest.mark.data
def test_regression_cell_reports_mse():
    rows = run(Config(**{**SMOKE, "problem": "regression", "n_labelled": "3", "methods": "proposed,ridge,rf",
                         "n_test_tables": 4}))
    mse = {r["method"]: r for r in rows if r["metric"] == "test_mse"}
    assert set(mse) == {"proposed", "ridge", "rf"} and all(r["dataset"] == "pmlb_regression" for r in rows)
    assert all(0 < r["value"] < 50 and r["n"] == 4 for r in mse.values())


@pytest.mark.parametrize("bad, match", [({"methods": "proposed,self_training", "problem": "regression"}, "unknown"),
                                         ({"n_labelled": "0"}, "n_labelled"),
                                         ({"n_unlabelled": 9}, "multiple of n_way"),
                                         ({"n_test_tables": 70}, "no meta-training"),
                                         ({"problem": "ranking"}, "problem must be")])
def test_impossible_settings_are_one_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        run(Config(**{**SMOKE, **bad}))
