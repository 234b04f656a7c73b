"""One cell through run(), bad input, and the smoke profile through the real sweep."""

import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from common.data import DataMissingError
from common.meta import TaskError
from papers.meta_annotators.config import SMOKE, Config
from papers.meta_annotators.data import load_crowd
from papers.meta_annotators.run import run, synthetic_settings

MUSIC = {"dataset": "music", "n_way": 3, "k_shot": 5, "n_query": 5, "labels_per_item": 3}


def _need_music():
    try:
        load_crowd("music", download=False)
    except DataMissingError:
        pytest.skip("Music genre crowd data not found (set REPRO_DATA to the shared data folder)")


@pytest.mark.data
def test_run_real_crowd_cell():
    _need_music()
    rows = run(Config(**{**SMOKE, **MUSIC, "method": "proposed", "n_test_tasks": 4}))
    acc = [r for r in rows if r["metric"] == "test_acc_pct"]
    err = [r for r in rows if r["metric"] == "conf_err_tv"]
    assert len(acc) == 1 and acc[0]["setting"] == "K=5;N=3" and acc[0]["n"] == 4 and 0 <= acc[0]["value"] <= 100
    assert len(err) == 1 and 0 <= err[0]["value"] <= 1


def test_settings_and_bad_input():
    assert synthetic_settings(Config(k_shot=5, n_annotators=5, test_shots=(2, 5), test_annotators=(3, 5))) == \
        [(2, 5), (5, 5), (5, 3)]
    with pytest.raises(ConfigError, match="labels_per_item"):
        Config(labels_per_item=9, n_annotators=3).validate()
    with pytest.raises(ConfigError, match="method must be one of"):
        Config(method="oracle").validate()
    with pytest.raises(ConfigError, match="alpha_diag"):
        Config(alpha_diag=1.0).validate()


@pytest.mark.data
def test_impossible_task_is_a_task_error():
    _need_music()
    with pytest.raises(TaskError, match="shots"):
        run(Config(**{**SMOKE, **MUSIC, "k_shot": 80, "method": "mv_clf"}))


@pytest.mark.data
def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    _need_music()
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("meta_annotators", profile="smoke")
    assert not report.failed and len(report.ran) == 14
    out = tmp_path / "results" / "meta_annotators" / "smoke"
    cells = pd.read_csv(out / "t2_real.csv", keep_default_na=False)
    acc = cells[cells.metric == "test_acc_pct"].set_index("method")["mean"].astype(float)
    assert len(acc) == 7 and (acc >= 0).all() and (acc <= 100).all()
    syn = pd.read_csv(out / "t1_synthetic.csv", keep_default_na=False)
    assert set(syn[syn.metric == "test_acc_pct"]["setting"]) == {"K=2;J=5", "K=5;J=3"}
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert claims.loc["S1", "verdict"] == "held" and claims.loc["S1", "kind"] == "sanity"
    assert (out / "f1_synthetic.png").is_file() and (out / "f2_real.png").is_file()
