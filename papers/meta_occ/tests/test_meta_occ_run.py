"""One cell through run() and the smoke profile of both tables through the real sweep (the smoke cell)."""

import pandas as pd
import pytest

from common import cli
from common.meta import TaskError
from papers.meta_occ.config import SMOKE, Config
from papers.meta_occ.run import run


def test_run_returns_auroc():
    rows = {r["metric"]: r for r in run(Config(**{**SMOKE, "method": "proposed"}))}
    assert 50 < rows["auroc_pct"]["value"] <= 100 and rows["auroc_pct"]["n"] == SMOKE["n_test_tasks"]
    assert rows["meta_train_s"]["value"] > 0


def test_impossible_task_is_a_task_error():
    with pytest.raises(TaskError, match="a task needs"):
        run(Config(**{**SMOKE, "method": "ocsvm", "n_query": 7000}))


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("meta_occ", profile="smoke")
    assert not report.failed and len(report.ran) == 6
    out = tmp_path / "results" / "meta_occ" / "smoke"
    cells = pd.read_csv(out / "t1_auroc.csv", keep_default_na=False)
    auc = cells[cells.metric == "auroc_pct"].set_index("method")["mean"].astype(float)
    assert (auc > 50).all() and set(auc.index) == {"proposed", "proposed_nometa", "ocsvm", "maml"}
    tab = pd.read_csv(out / "t2_adbench.csv", keep_default_na=False)
    auc2 = tab[tab.metric == "auroc_pct"].set_index("method")["mean"].astype(float)
    assert set(auc2.index) == {"proposed", "meta_svdd"} and (auc2 > 50).all()
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S1", "verdict"] == "held" and claims.loc["S1", "kind"] == "sanity"
    assert (out / "f1_auroc.png").is_file() and (out / "f2_adbench.png").is_file()
