"""The entry point: a smoke cell through the real sweep machinery on real Cora, one clear error
for each kind of bad input with nothing marked done, the table expansion and the claims."""

import pandas as pd
import pytest

from common import config as C
from common import sweep as S
from common.claims import HELD, NOT_HELD, Results, evaluate
from common.data import DataMissingError
from papers.graph_ssad import claims as CL
from papers.graph_ssad import config as CF


def _cell(tmp_path, **over):
    paper = S.load_paper("graph_ssad")
    cfg = C.resolve(CF.Config, CF, "smoke", cli={k: str(v) for k, v in over.items()})
    return S.Cell("graph_ssad", "_test", "smoke", cfg, dict(over), "default", runs_root=str(tmp_path)), paper


@pytest.mark.data
def test_smoke_cell_runs_through_the_sweep(tmp_path, monkeypatch):
    from papers.graph_ssad import data as D

    try:
        D.load_graph("cora")
    except DataMissingError:
        pytest.skip("Cora not found (set REPRO_DATA)")
    monkeypatch.setenv("REPRO_RUNS", str(tmp_path / "runs"))
    cell, _ = _cell(tmp_path, method="proposed", dataset="cora", label_frac=0.05, threads=1)
    assert S.execute_cell(cell) == "done"
    rows = pd.read_csv(cell.dir / "metrics.csv")
    auc = rows.loc[rows.metric == "test_auc_pct", "value"].item()
    assert 50.0 < auc <= 100.0  # even 15 epochs of the AUC objective rank Cora's anomalies above chance
    assert rows.loc[rows.metric == "selected_lambda", "value"].item() in (1.0, 100.0)
    assert rows.loc[rows.metric == "test_auc_pct", "n"].item() == 2708 - 135 - 271
    assert S.execute_cell(cell) == "skipped"  # resumable: a done cell is not rerun


@pytest.mark.parametrize("over, match", [
    ({"method": "svm"}, "method must be one of"),
    ({"dataset": "dblp"}, "dataset must be one of"),
    ({"label_frac": 0.95}, "label_frac \\+ val_frac"),
    ({"lambdas": "0,1"}, "lambdas must be positive"),
    ({"epochs": 0}, "epochs must be >= 1"),
])
def test_bad_settings_fail_at_once(over, match):
    with pytest.raises(C.ConfigError, match=match):
        C.resolve(CF.Config, CF, "quick", cli={k: str(v) for k, v in over.items()})


def test_unknown_key_lists_valid_ones():
    with pytest.raises(C.ConfigError, match="label_frac"):
        C.resolve(CF.Config, CF, "quick", cli={"label_fraction": "0.1"})


def test_missing_data_is_one_clear_error_and_no_done(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA", str(tmp_path / "empty"))
    from papers.graph_ssad import data as D

    monkeypatch.setattr(D, "DATA_DIR", tmp_path / "nodata")
    cell, _ = _cell(tmp_path, method="gcn", dataset="pubmed")
    with pytest.raises(DataMissingError, match="pubmed"):
        S.execute_cell(cell)
    assert not (cell.dir / "done").exists() and not (cell.dir / "metrics.csv").exists()


def test_table_expands_to_the_paper_grid():
    paper = S.load_paper("graph_ssad")
    full = S.expand_table(paper, "t1_auc", "full")
    assert len(full) == 5 * 3 * 11 * 10  # graphs x fractions x methods (10 + our Deep SAD variant) x seeds
    amazon = [c for c in full if c.values["dataset"].startswith("amazon")]
    assert all(c.config.epochs == 1000 for c in amazon)  # paper: 1000 epochs on Amazon
    quick = S.expand_table(paper, "t1_auc", "quick")
    assert {c.values["dataset"] for c in quick} == {"cora", "citeseer"}
    assert {c.setting for c in quick} == {"label_frac=0.025", "label_frac=0.05", "label_frac=0.1"}
    assert all(c.config.lambdas == (1.0, 10.0, 100.0, 1000.0, 10000.0) for c in quick)


def _fake_results(tmp_path, proposed, others):
    rows = []
    for ds in ("cora", "citeseer"):
        for f in ("0.025", "0.05", "0.1"):
            for m in ("proposed",) + CL.BASELINES:
                v = proposed[f] if m == "proposed" else others
                rows.append({"paper": "graph_ssad", "table": "t1_auc", "profile": "quick", "dataset": ds, "method": m,
                             "setting": f"label_frac={f}", "metric": "test_auc_pct", "mean": v, "std": 0.0,
                             "n_seeds": 3, "paper_value": "", "delta": ""})
    pd.DataFrame(rows).to_csv(tmp_path / "t1_auc.csv", index=False)
    return Results(tmp_path, "graph_ssad", "quick")


def test_claims_follow_the_numbers(tmp_path):
    good = evaluate(CL.CLAIMS, _fake_results(tmp_path, {"0.025": 80.0, "0.05": 85.0, "0.1": 90.0}, 60.0))
    status = {v["id"]: v["status"] for v in good}
    assert status["C1"] == HELD and status["C2"] == HELD and status["C8"] == HELD
    assert status["C5"] == NOT_HELD  # all baselines equal: Deep SVDD + AUC does not beat Deep SVDD
    assert status["C10"] == NOT_HELD and "out of the paper's order" in {v["id"]: v["evidence"] for v in good}["C10"]
    (tmp_path / "b").mkdir()
    bad = evaluate(CL.CLAIMS, _fake_results(tmp_path / "b", {"0.025": 65.0, "0.05": 64.0, "0.1": 63.0}, 60.0))
    status = {v["id"]: v["status"] for v in bad}
    assert status["C2"] == NOT_HELD and status["C8"] == NOT_HELD and status["C1"] == HELD
    assert "proposed 64.0" in {v["id"]: v["evidence"] for v in bad}["C1"]


def test_figure_and_compact_table_from_aggregated_results(tmp_path):
    from common import report as REP
    from papers.graph_ssad import figures as F

    rows = []
    for ds, base in (("cora", 90.0), ("citeseer", 60.0)):
        for f in ("0.025", "0.05", "0.1"):
            for m, off in (("proposed", 0.0), ("gcn", -5.0)):
                for seed in range(3):
                    rows.append({"paper": "graph_ssad", "table": "t1_auc", "profile": "quick", "dataset": ds,
                                 "method": m, "setting": f"label_frac={f}", "seed": seed,
                                 "metric": "test_auc_pct", "value": base + off + seed})
    pd.DataFrame(rows).to_csv(tmp_path / "t1_auc_runs.csv", index=False)
    pd.DataFrame(REP.summarise(rows, REP.load_paper_results("graph_ssad"))).to_csv(tmp_path / "t1_auc.csv", index=False)
    F.make_figures(tmp_path, "quick")
    assert (tmp_path / "t1_auc_vs_labelled.png").stat().st_size > 10_000
    table = (tmp_path / "t1_auc_table.md").read_text()
    assert "**91.0 ± 1.0 (paper 88.8)**" in table  # cora 2.5 %: mean of 90, 91, 92 beside the paper's value
    assert "| GCN classifier |" in table and "86.0 / 88.1 / 90.3" in table  # paper's 5-graph average
