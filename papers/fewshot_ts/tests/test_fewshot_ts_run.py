"""The entry point: the smoke profile through the real sweep (every method, aggregation, claims,
figure), and one clear error for each kind of bad input with nothing left in runs/."""

import pandas as pd
import pytest

from common import cli
from common import config as C
from common import sweep as S
from common.data import DataMissingError
from papers.fewshot_ts import config as CF
from papers.fewshot_ts.claims import OTHERS

SMOKE_METHODS = ("proposed",) + OTHERS


@pytest.mark.data
def test_smoke_profile_end_to_end(tmp_path, monkeypatch):
    from papers.fewshot_ts import data as D

    try:
        D.load_ucr("Coffee", download=False)
    except DataMissingError:
        pytest.skip("UCR data not found (set REPRO_DATA)")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    report = cli.reproduce("fewshot_ts", profile="smoke")
    assert not report.failed and len(report.ran) == len(SMOKE_METHODS)
    out = tmp_path / "results" / "fewshot_ts" / "smoke"
    cells = pd.read_csv(out / "t1_forecast.csv", keep_default_na=False)
    assert set(cells.loc[cells.metric == "next_mse", "dataset"]) == {"all", "ucr", "long"}
    mse = cells[(cells.metric == "next_mse") & (cells.dataset == "all")].set_index(["method", "setting"])["mean"]
    assert set(mse.index.get_level_values(0)) == set(SMOKE_METHODS)
    assert set(mse.index.get_level_values(1)) == {"n_support=1", "n_support=3"}
    assert (mse > 0).all() and (mse < 10).all()
    # methods that ignore the support set score the same at every support size (same query series)
    for m in ("naive", "arima", "ets", "seasonal_naive", "pooled_lstm"):
        assert mse[(m, "n_support=1")] == mse[(m, "n_support=3")]
    claims = pd.read_csv(out / "claims.csv", keep_default_na=False).set_index("id")
    col = "verdict" if "verdict" in claims.columns else "status"  # the column's name in common.report
    assert claims.loc["S1", col] == "held" and claims.loc["S1", "kind"] == "sanity"
    assert (out / "f_error_vs_support.png").is_file() and (out / "TABLES.md").is_file()


@pytest.mark.parametrize("over, match", [
    ({"method": "prophet"}, "method must be one of"),
    ({"n_support": "0,2"}, "n_support sizes must be >= 1"),
    ({"norm": "minmax"}, "norm must be"),
    ({"datasets": "Coffee,NotADataset"}, "unknown UCR datasets"),
    ({"long_series": "manaus,nile"}, "unknown long series"),
    ({"context_frac": 1.0}, "context_frac"),
    ({"meta_steps": 0}, "meta_steps must be >= 1"),
])
def test_bad_settings_fail_at_once(over, match):
    with pytest.raises(C.ConfigError, match=match):
        C.resolve(CF.Config, CF, "quick", cli={k: str(v) for k, v in over.items()})


def test_unknown_key_lists_valid_ones():
    with pytest.raises(C.ConfigError, match="n_support"):
        C.resolve(CF.Config, CF, "quick", cli={"support_size": "3"})


def _cell(tmp_path, **over):
    cfg = C.resolve(CF.Config, CF, "smoke", cli={k: str(v) for k, v in over.items()})
    return S.Cell("fewshot_ts", "_test", "smoke", cfg, dict(over), "default", runs_root=str(tmp_path))


def test_missing_data_is_one_clear_error_and_nothing_done(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    cell = _cell(tmp_path, method="naive")
    with pytest.raises(DataMissingError, match="ucr"):
        S.execute_cell(cell)
    assert not (cell.dir / "done").exists() and not (cell.dir / "metrics.csv").exists()


@pytest.mark.data
def test_more_support_series_than_a_task_holds_is_a_config_error(tmp_path):
    from papers.fewshot_ts import data as D

    try:
        D.load_ucr("Coffee", download=False)
    except DataMissingError:
        pytest.skip("UCR data not found (set REPRO_DATA)")
    cell = _cell(tmp_path, method="naive", n_support="1,5000")  # the largest UCR set here holds 2,250 series
    with pytest.raises(C.ConfigError, match="fewer than n_support|windows of"):  # a long series cannot be cut that fine
        S.execute_cell(cell)
    assert not (cell.dir / "done").exists()
    cell = _cell(tmp_path, method="naive", n_support="1,5000", long_series="")       # UCR only
    with pytest.raises(C.ConfigError, match="fewer than n_support"):
        S.execute_cell(cell)
