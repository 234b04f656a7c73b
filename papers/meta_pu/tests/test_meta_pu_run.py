"""One cell through run(), the smoke profile through the real sweep, the tasks, and bad input."""

import numpy as np
import pandas as pd
import pytest

from common import cli
from common.config import ConfigError, apply_overrides
from common.meta.episodes import TaskError
from papers.meta_pu.config import QUICK, SMOKE, Config
from papers.meta_pu.data import GaussianTaskSource, class_split_pools, task_sources
from papers.meta_pu.run import run


def _smoke(**kw) -> Config:
    return Config(**{**QUICK, **SMOKE, **kw})


@pytest.fixture()
def scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    return tmp_path


def test_one_synthetic_cell_reports_every_method_and_the_bayes_ceiling(scratch):
    rows = run(_smoke(dataset="synthetic", methods="proposed,nnpu,elkan_noto,ulsif,pn_oracle"))
    acc = {r["method"]: r["value"] for r in rows if r["metric"] == "test_acc_pct"}
    assert set(acc) == {"proposed", "nnpu", "elkan_noto", "ulsif", "pn_oracle", "bayes"}
    assert all(0 <= v <= 100 for v in acc.values())
    assert acc["bayes"] > 60  # the synthetic tasks are learnable
    assert {r["n"] for r in rows} == {SMOKE["n_test_tasks"]}


def test_unknown_prior_cell_reports_prior_errors(scratch):
    rows = run(_smoke(dataset="synthetic", prior_known=False, prior=0.3, methods="proposed,upu"))
    err = {r["method"]: r["value"] for r in rows if r["metric"] == "prior_abs_err"}
    assert set(err) == {"proposed", "baseline_prior_estimate"} and all(0 <= v < 1 for v in err.values())


def test_tasks_are_class_disjoint_and_have_the_requested_composition():
    pools = class_split_pools("digits", {"train": 0.5, "val": 0.2, "test": 0.3}, split_seed=3)
    sets = [set(np.unique(p.y).tolist()) for p in pools.values()]
    assert sum(map(len, sets)) == 10 and len(set.union(*sets)) == 10
    src = task_sources("digits", {"train": 0.5, "val": 0.2, "test": 0.3}, 3,
                       {"test": (5, 40, 30, (0.25, 0.25))})["test"]
    t = src.sample(np.random.default_rng(0))
    assert t.x_pos.shape == (5, 64) and t.x_unl.shape == (40, 64) and t.y_unl.sum() == 10
    assert t.y_query.sum() == round(0.25 * 30) and t.info["pos_class"] in sets[2]
    rows = np.vstack([t.x_pos, t.x_unl, t.x_query])
    assert len({r.tobytes() for r in rows}) >= len(rows) - 3  # disjoint draws (digits has a few duplicates)


def test_seeds_change_the_class_split_and_the_tasks():
    a = task_sources("digits", {"train": 0.5, "val": 0.2, "test": 0.3}, 1, {"test": (5, 20, 10, (0.5, 0.5))})
    b = task_sources("digits", {"train": 0.5, "val": 0.2, "test": 0.3}, 2, {"test": (5, 20, 10, (0.5, 0.5))})
    ca, cb = a["test"].classes.tolist(), b["test"].classes.tolist()
    ta = a["test"].sample(np.random.default_rng(0))
    tb = GaussianTaskSource(2, 5, 20, 10, (0.5, 0.5)).sample(np.random.default_rng(1))
    assert ca != cb or not np.array_equal(ta.x_pos, b["test"].sample(np.random.default_rng(0)).x_pos)
    assert tb.x_pos.shape == (5, 2)


def test_smoke_profile_end_to_end(scratch):
    report = cli.reproduce("meta_pu", profile="smoke")
    assert not report.failed and len(report.ran) == 3
    out = scratch / "results" / "meta_pu" / "smoke"
    cells = pd.read_csv(out / "x_synthetic.csv", keep_default_na=False)
    acc = cells[cells.metric == "test_acc_pct"].set_index("method")["mean"]
    assert set(acc.index) >= {"proposed", "upu", "nnpu", "elkan_noto", "ulsif", "protonet", "maml", "pn_oracle", "bayes"}
    anom = pd.read_csv(out / "x_anomaly.csv", keep_default_na=False)  # PU tasks from unseen anomaly tables
    acc = anom[anom.metric == "test_acc_pct"].set_index("method")["mean"]
    assert set(acc.index) == {"proposed", "upu", "nnpu", "elkan_noto", "ulsif", "protonet", "maml", "pn_oracle"}
    assert all(0 <= v <= 100 for v in acc)
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert set(claims.index) == {"C1", "C2", "C3", "C4", "C5", "S1", "S2"}
    assert (out / "f_x_pu.png").is_file() and (out / "f_x_anomaly.png").is_file() and (out / "TABLES.md").is_file()


@pytest.mark.parametrize("bad, match", [
    (dict(methods="proposed,svm"), "unknown method"),
    (dict(prior=1.0), "prior must be in"),
    (dict(nn_weight_decays=(0.1,)), "same tuning budget"),
    (dict(class_fractions=(0.5, 0.5, 0.5)), "class_fractions"),
    (dict(n_pos=1), "n_pos"),
])
def test_impossible_settings_are_one_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(_smoke(), bad, "test")


def test_more_positives_than_a_class_holds_is_a_task_error(scratch):
    with pytest.raises(TaskError, match="smallest class"):
        run(_smoke(dataset="digits", n_pos=150, n_unl=100))


def test_bad_input_through_the_cli_leaves_nothing(scratch, capsys):
    code = cli.main(["reproduce", "meta_pu", "--profile", "smoke", "--set", "n_pos=150"])
    assert code == 2 and "error:" in capsys.readouterr().err
    runs = scratch / "runs" / "meta_pu"
    assert not runs.exists() or not any(p.name == "done" for p in runs.rglob("done"))
