"""One cell through run(), bad input, and the smoke profile through the real sweep."""

import numpy as np
import pandas as pd
import pytest

from common import cli
from common.config import ConfigError
from papers.fewshot_fs.config import SMOKE, Config
from papers.fewshot_fs.data import TaskSource, class_split, load_pool
from papers.fewshot_fs.run import overlap_pct, run


def test_run_rows_cover_every_method_and_metric():
    rows = run(Config(**SMOKE))
    got = {(r["method"], r["metric"]) for r in rows}
    for m in Config().method_list():
        assert {(m, "test_recon_mse"), (m, "test_acc_pct"), (m, "selection_overlap_pct")} <= got
    assert ("proposed", "decoder_recon_mse") in got and ("ndfs", "decoder_recon_mse") not in got
    err = {r["method"]: r["value"] for r in rows if r["metric"] == "test_recon_mse"}
    assert all(0 < v < 1 for v in err.values())
    assert {r["setting"] for r in rows} == {"n_selected=4;n_support=5"}


def test_tasks_are_class_disjoint_and_balanced():
    src, tgt = class_split(3, 4)
    assert len(tgt) == 4 and not set(src) & set(tgt) and len(src) + len(tgt) == 10
    x, y = load_pool("digits", 50, seed=0)
    source = TaskSource(x[np.isin(y, tgt)], y[np.isin(y, tgt)], tgt, 2)
    t = source.target_tasks(np.random.default_rng(0), 2, 6, 10, 10)[0]
    assert set(t.classes) <= set(tgt) and np.bincount(t.eval_y).tolist() == [5, 5]
    rows = {r.tobytes() for r in np.concatenate([t.support, t.eval_x, t.query_x])}
    assert len(rows) >= 25                                   # disjoint draws (digits has few duplicates)
    assert overlap_pct([{1, 2}, {1, 2}]) == 100.0 and overlap_pct([{1, 2}, {3, 4}]) == 0.0


@pytest.mark.parametrize("override, match", [
    (dict(methods="proposed,lasso"), "unknown methods"),
    (dict(n_supports="2,5"), ">= 3"),
    (dict(n_supports="five"), "comma-separated"),
    (dict(n_selected=65), "exceeds the 64 features"),
    (dict(n_eval_train=400), "the pool has"),
    (dict(n_test_classes=9), "source classes"),
])
def test_impossible_settings_are_config_errors(override, match):
    with pytest.raises(ConfigError, match=match):
        run(Config(**{**SMOKE, **override}))


def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("fewshot_fs", profile="smoke")
    assert not report.failed and len(report.ran) == 2            # one cell of x_fewshot, one of x_tables
    out = tmp_path / "results" / "fewshot_fs" / "smoke"
    for table, dataset in (("x_fewshot", "digits"), ("x_tables", "satimage")):
        cells = pd.read_csv(out / f"{table}.csv", keep_default_na=False)
        assert set(cells["method"]) == set(Config().method_list()) and set(cells["dataset"]) == {dataset}
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    assert {"C1", "C2", "C3", "C4", "S1", "S2"} <= set(claims.index)
    assert (out / "f_recon_vs_k_digits.png").is_file() and (out / "f_recon_vs_k_satimage.png").is_file() and (out / "TABLES.md").is_file()
