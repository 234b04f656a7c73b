"""Aggregation and the claims report on the committed fixture run folders (a real tiny experiment)."""

import csv
import shutil
from statistics import mean, stdev

import pandas as pd
import pytest

from common import report as REP
from common.claims import HELD, INCONCLUSIVE, NOT_HELD, NOT_MEASURED, Results, compare
from tests.conftest import FIXTURE_RUNS

T1 = FIXTURE_RUNS / "digits_logreg" / "t1"


def _metric_values(method, metric="test_acc_pct"):
    vals = []
    for folder in T1.iterdir():
        with open(folder / "metrics.csv") as fh:
            vals += [float(r["value"]) for r in csv.DictReader(fh) if r["method"] == method and r["metric"] == metric]
    return vals


def _by_seed(method, metric="test_acc_pct"):
    out = {}
    for folder in T1.iterdir():
        with open(folder / "metrics.csv") as fh:
            out.update({int(r["seed"]): float(r["value"]) for r in csv.DictReader(fh)
                        if r["method"] == method and r["metric"] == metric})
    return [out[s] for s in sorted(out)]


def test_fixture_has_six_finished_runs():
    folders = sorted(T1.iterdir())
    assert len(folders) == 6
    assert all((f / "done").is_file() and (f / "config.json").is_file() for f in folders)


def test_aggregate_cells_and_claims(fixture_env, tmp_path):
    written = REP.aggregate("digits_logreg", "quick", {"t1": sorted(T1.iterdir())}, tmp_path / "results")
    cells = pd.read_csv(written["t1"], keep_default_na=False)
    runs = pd.read_csv(tmp_path / "results" / "digits_logreg" / "quick" / "t1_runs.csv")
    assert len(runs) == 6 * 2 and set(runs["seed"]) == {0, 1, 2}
    row = cells[(cells.method == "logreg") & (cells.metric == "test_acc_pct")].iloc[0]
    vals = _metric_values("logreg")
    assert row["n_seeds"] == 3 and row["mean"] == pytest.approx(mean(vals), abs=1e-5)
    assert row["std"] == pytest.approx(stdev(vals), abs=1e-5)
    assert float(row["paper_value"]) == 96.0 and float(row["delta"]) == pytest.approx(mean(vals) - 96.0, abs=1e-5)
    cen = cells[(cells.method == "centroid") & (cells.metric == "test_acc_pct")].iloc[0]
    assert cen["paper_value"] == "" and cen["delta"] == ""

    verdicts = {v["id"]: v for v in REP.evaluate_paper("digits_logreg", "quick", tmp_path / "results")}
    diffs = [a - b for a, b in zip(_by_seed("logreg"), _by_seed("centroid"))]
    assert verdicts["C1"]["status"] == HELD and float(verdicts["C1"]["effect"]) == pytest.approx(mean(diffs), abs=1e-4)
    lo, hi = float(verdicts["C1"]["ci_low"]), float(verdicts["C1"]["ci_high"])
    assert 0 < lo < mean(diffs) < hi < 50                               # t interval over 3 paired seeds
    assert hi - lo == pytest.approx(2 * 4.302653 * stdev(diffs) / 3 ** 0.5, rel=1e-4)
    assert verdicts["C2"]["status"] == NOT_HELD
    assert verdicts["C3"]["status"] == NOT_MEASURED and "t9" in verdicts["C3"]["evidence"]
    assert verdicts["C4"]["status"] == NOT_HELD                            # interval entirely below the margin
    assert verdicts["C5"]["status"] == INCONCLUSIVE and lo < 6 < hi         # interval straddles the margin
    assert verdicts["S1"]["kind"] == "sanity" and verdicts["S1"]["status"] == HELD
    csv = pd.read_csv(tmp_path / "results" / "digits_logreg" / "quick" / "claims.csv", keep_default_na=False)
    assert list(csv.columns[:5]) == ["id", "kind", "claim", "source", "verdict"] and "status" not in csv.columns
    assert set(csv["verdict"]) <= {HELD, NOT_HELD, INCONCLUSIVE, NOT_MEASURED}
    assert dict(zip(csv["id"], csv["verdict"])) == {k: v["status"] for k, v in verdicts.items()}
    assert {r["id"]: r["status"] for r in REP._read_claims(tmp_path / "results" / "digits_logreg" / "quick" /
                                                             "claims.csv")} == {k: v["status"] for k, v in verdicts.items()}


def test_summary_and_readme_sections(fixture_env, tmp_path, monkeypatch):
    results = tmp_path / "results"
    REP.aggregate("digits_logreg", "quick", {"t1": sorted(T1.iterdir())}, results)
    papers = tmp_path / "papers"
    shutil.copytree(REP.papers_dir() / "digits_logreg", papers / "digits_logreg")
    (papers / "index.yaml").write_text("- {slug: digits_logreg, title: Fixture, venue: test, arxiv: x}\n"
                                       "- {slug: other, title: Not started, venue: test, arxiv: y}\n")
    (papers / "digits_logreg" / "README.md").write_text(
        "# Fixture\n\n<!-- results:begin -->\nold\n<!-- results:end -->\n\nafter\n")
    readme = tmp_path / "README.md"
    readme.write_text("top\n<!-- papers:begin -->\n<!-- papers:end -->\nbottom\n")
    monkeypatch.setenv("REPRO_PAPERS_DIR", str(papers))
    out = REP.write_summary(results)
    REP.update_readmes(results, readme)
    summary = out.read_text()
    assert "1 held, 2 not held, 1 inconclusive, 1 not measured; sanity checks 1/1 passed" in summary
    assert "Paper vs ours" in summary and "96" in summary
    idx = readme.read_text()
    assert ("| [`digits_logreg`](papers/digits_logreg/) | Fixture | test | results: quick | quick: 1 held, 2 not held, "
            "1 inconclusive, 1 not measured; sanity checks 1/1 passed |") in idx
    assert "| `other` | Not started | test | not started |" in idx and idx.endswith("bottom\n")
    paper_readme = (papers / "digits_logreg" / "README.md").read_text()
    assert "old" not in paper_readme and "**not held**" in paper_readme and "**inconclusive**" in paper_readme
    assert "**Test accuracy (%)**" in paper_readme and "TABLES.md" in paper_readme   # headline + link
    assert "Sanity checks" in paper_readme
    tables_md = (results / "digits_logreg" / "quick" / "TABLES.md").read_text()
    assert "## `t1`" in tables_md and "96" in tables_md
    assert paper_readme.endswith("after\n")


def test_compare_helper():
    assert compare(2.0, ">", 1.0, "a", "b").status == HELD
    assert compare(2.0, ">", 1.5, "a", "b", margin=1.0).status == NOT_HELD
    assert compare(float("nan"), ">", 1.0, "a", "b").status == NOT_MEASURED


def test_results_lookup_errors(tmp_path):
    res = Results(tmp_path)
    from common.claims import NotMeasured

    with pytest.raises(NotMeasured, match="no results for table 'x'"):
        res.mean("x", metric="m")


def test_auxiliary_csvs_beside_cell_tables_are_ignored(fixture_env, tmp_path):
    results = tmp_path / "results"
    REP.aggregate("digits_logreg", "quick", {"t1": sorted(T1.iterdir())}, results)
    folder = results / "digits_logreg" / "quick"
    (folder / "t1_ci95.csv").write_text("method,acc,ci\nlogreg,95.0,0.5\n")
    assert Results(folder).tables() == ["t1"]
    REP.write_tables_md("digits_logreg", "quick", results)
    tables_md = (folder / "TABLES.md").read_text()
    assert "`t1`" in tables_md and "t1_ci95" not in tables_md


def test_natural_order_of_settings():
    keys = ["n=10", "n=5", "n=2.5", "m", "n=100"]
    assert sorted(keys, key=REP.natural_key) == ["m", "n=2.5", "n=5", "n=10", "n=100"]
    rows = [{"paper": "p", "table": "t", "profile": "quick", "dataset": "d", "method": "a",
             "setting": f"n={n}", "metric": "m", "value": 1.0} for n in (10, 5, 20)]
    assert [r["setting"] for r in REP.summarise(rows)] == ["n=5", "n=10", "n=20"]
