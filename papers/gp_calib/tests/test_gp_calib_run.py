"""A smoke cell through run() on the real tables, the smoke profile through the real runner, bad input."""

import os
from pathlib import Path

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from papers.gp_calib.config import SMOKE, Config
from papers.gp_calib.run import run

HAVE_DATA = any((Path(r) / "tabular/regression/1027_ESL.tsv.gz").is_file()
                for r in os.environ.get("REPRO_DATA", "").split(":") if r)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="PMLB regression tables not under REPRO_DATA")


@needs_data
@pytest.mark.data
def test_smoke_cell_returns_every_metric():
    rows = {r["metric"]: r for r in run(Config(**{**SMOKE, "method": "proposed"}))}
    assert {"test_ece", "test_ece_pooled", "test_nll_nats", "test_mse", "coverage_p50"} <= set(rows)
    assert 0 <= rows["test_ece"]["value"] <= 0.5 and rows["test_ece"]["n"] == SMOKE["n_test_tasks"]
    assert rows["test_mse"]["value"] > 0 and 0 <= rows["coverage_p50"]["value"] <= 1


def test_bad_config_is_one_error():
    with pytest.raises(ConfigError, match="unknown method"):
        Config(method="gp").validate()
    with pytest.raises(ConfigError, match="accuracy_loss"):
        Config(accuracy_loss="mae").validate()
    with pytest.raises(ConfigError, match="meta-training"):
        run(Config(**{**SMOKE, "n_test_tables": 30}))


@needs_data
@pytest.mark.data
def test_too_many_shots_is_a_config_error():
    # the smallest tables have 47 rows
    with pytest.raises(ConfigError, match="exceeds the rows"):
        run(Config(**{**SMOKE, "n_support": 40, "n_query": 10}))


@needs_data
@pytest.mark.data
def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("gp_calib", profile="smoke")
    assert not report.failed and len(report.ran) == 7
    out = tmp_path / "results" / "gp_calib" / "smoke"
    cells = pd.read_csv(out / "x_fewshot.csv", keep_default_na=False)
    assert set(cells["method"]) == {"proposed", "no_gmm", "dkt", "gp_isotonic", "maml", "cnp", "ensemble"}
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert set(claims.index) >= {"C1", "C2", "C3", "C4", "S1"} and claims.loc["S1", "kind"] == "sanity"
    assert (out / "x_fewshot.png").is_file() and (out / "x_calibration_curve.png").is_file()
