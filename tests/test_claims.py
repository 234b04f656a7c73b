"""Noise-aware claim verdicts and the claim-shape helpers, on small synthetic result folders."""

import numpy as np
import pandas as pd
import pytest

from common import claims as CL
from common import report as REP
from common import results as R


def _write(folder, table, rows, paper=None):
    """rows: (dataset, method, setting, seed, value) -> the runs CSV and the cells CSV of one table."""
    runs = [{"paper": "p", "table": table, "profile": "quick", "dataset": d, "method": m, "setting": s,
             "seed": seed, "metric": "acc", "value": v, "git_sha": "abc"} for d, m, s, seed, v in rows]
    folder.mkdir(parents=True, exist_ok=True)
    R.write_csv_atomic(folder / f"{table}_runs.csv", runs, R.RUN_COLUMNS)
    pdf = pd.DataFrame(paper or [], columns=["table", "dataset", "method", "setting", "metric", "value", "source"])
    R.write_csv_atomic(folder / f"{table}.csv", REP.summarise(runs, pdf), R.CELL_COLUMNS)
    return CL.Results(folder)


def _cells(method_means, seeds=(0, 1, 2), noise=(0.0, 0.3, -0.3), datasets=("a", "b"), setting="default"):
    return [(d, m, setting, s, mu[d] + e) for m, mu in method_means.items() for d in datasets
            for s, e in zip(seeds, noise)]


def test_t_interval_matches_scipy_and_one_value_is_unbounded():
    from scipy import stats

    m, lo, hi = CL.t_interval([1.0, 2.0, 4.0])
    ref = stats.t.interval(0.95, 2, loc=np.mean([1, 2, 4]), scale=stats.sem([1, 2, 4]))
    assert (lo, hi) == pytest.approx(ref)
    assert CL.t_interval([3.0])[1:] == (-np.inf, np.inf)


def test_bootstrap_interval_is_repeatable_and_covers_the_mean():
    groups = [[1.0, 1.2, 0.9], [2.0, 2.1, 1.8], [1.5, 1.4, 1.6]]
    a, b = CL.bootstrap_interval(groups), CL.bootstrap_interval(groups)
    assert a == b and a[1] < a[0] < a[2]
    assert a[0] == pytest.approx(np.mean([np.mean(g) for g in groups]))


def test_beats_best_held_not_held_and_inconclusive(tmp_path):
    # Ours 90 vs best baseline 85 / 80 on two datasets, seed noise 0.3: held; with a 10-point margin: not held.
    res = _write(tmp_path / "r1", "t", _cells({"ours": {"a": 90, "b": 90}, "x": {"a": 85, "b": 70},
                                               "y": {"a": 60, "b": 80}}))
    v = CL.beats_best(res, "t", "ours", ["x", "y"], "acc")
    assert v.status == CL.HELD and "x" in v.evidence and "y" in v.evidence
    assert CL.beats_best(res, "t", "ours", ["x", "y"], "acc", margin=10).status == CL.NOT_HELD
    # A 0.2-point edge on one dataset with noise 1.0 that is not shared: inconclusive, not held.
    rows = _cells({"ours": {"a": 90, "b": 90}, "x": {"a": 85, "b": 89.8}}, noise=(0.0, 1.0, -1.0))
    rows = [(d, m, s, seed, v + (0.7 * seed if m == "x" else 0)) for d, m, s, seed, v in rows]
    res2 = _write(tmp_path / "r2", "t", rows)
    assert CL.beats_best(res2, "t", "ours", ["x"], "acc").status == CL.INCONCLUSIVE


def test_beats_best_picks_the_competitor_best_over_the_groups_cells(tmp_path):
    # per=["dataset"] over two settings: x has the single best cell (88 at s1) but y the best mean (84 vs 75).
    # The competitor is y (best mean over the group's cells), compared with ours in every setting.
    rows = []
    for setting, means in (("s1", {"ours": 86, "x": 88, "y": 84}), ("s2", {"ours": 86, "x": 62, "y": 84})):
        rows += _cells({m: {"a": v} for m, v in means.items()}, datasets=("a",), setting=setting)
    res = _write(tmp_path, "t", rows)
    v = CL.beats_best(res, "t", "ours", ["x", "y"], "acc", per=["dataset"])
    assert "ours - y (acc, 2 cell(s))" in v.evidence and v.status == CL.HELD


def test_paired_uses_seed_pairing(tmp_path):
    # A shared seed effect (+-5) cancels in the paired difference (exactly 1.0 per seed).
    rows = [("a", m, "default", s, base + off) for s, off in [(0, 0), (1, 5), (2, -5)]
            for m, base in [("ours", 51.0), ("x", 50.0)]]
    rows[0] = ("a", "ours", "default", 0, 51.1)
    res = _write(tmp_path, "t", rows)
    v = CL.paired(res, "t", {"method": "ours"}, {"method": "x"}, "acc")
    assert v.status == CL.HELD and v.ci[0] > 0.5


def test_trend_increasing_and_flat(tmp_path):
    rows = [("a", "m", f"width={w}", s, 10 * np.log2(w) + e) for w in (1, 2, 4) for s, e in zip((0, 1, 2), (0, .5, -.5))]
    res = _write(tmp_path / "up", "t", rows)
    assert CL.trend(res, "t", "acc", x="width").status == CL.HELD
    assert CL.trend(res, "t", "acc", x="width", increasing=False).status == CL.NOT_HELD
    flat = [("a", "m", f"width={w}", s, 50 + e * w) for w in (1, 2, 4) for s, e in zip((0, 1, 2), (0, .5, -.5))]
    assert CL.trend(_write(tmp_path / "flat", "t", flat), "t", "acc", x="width").status == CL.INCONCLUSIVE


def test_within_paper(tmp_path):
    rows = [("cora", "ours", "default", s, 88.0 + e) for s, e in zip((0, 1, 2), (0, .2, -.2))]
    paper = [{"table": "t", "dataset": "cora", "method": "ours", "setting": "default", "metric": "acc",
              "value": "90.0", "source": "Table 2"}]
    res = _write(tmp_path, "t", rows, paper)
    # ours - paper = -2.0 with a 95% CI of +-0.50 (3 seeds, sd 0.2)
    assert CL.within_paper(res, "t", 3.0, method="ours").status == CL.HELD
    assert CL.within_paper(res, "t", 1.0, method="ours").status == CL.NOT_HELD
    assert CL.within_paper(res, "t", 2.0, method="ours").status == CL.INCONCLUSIVE


def test_failed_cells_make_the_table_not_measured(tmp_path):
    res = _write(tmp_path, "t", _cells({"ours": {"a": 90, "b": 90}, "x": {"a": 80, "b": 80}}))
    assert CL.beats_best(res, "t", "ours", ["x"], "acc").status == CL.HELD
    R.write_csv_atomic(tmp_path / "t_missing.csv", [{"cell": "dataset=c method=ours", "run_id": "r"}],
                       ["cell", "run_id"])
    out = CL.evaluate([CL.Claim("C1", "ours wins", "s", lambda r: CL.beats_best(r, "t", "ours", ["x"], "acc"))],
                      CL.Results(tmp_path))
    assert out[0]["status"] == CL.NOT_MEASURED and "failed or did not run" in out[0]["evidence"]


def test_precondition_and_kind():
    out = CL.evaluate([CL.Claim("C1", "rate claim", "s", lambda r: (CL.requires(False, "judge at chance"),)[0])],
                      CL.Results("/nonexistent"))
    assert out[0]["status"] == CL.NOT_MEASURED and "judge at chance" in out[0]["evidence"]
    with pytest.raises(ValueError, match="kind"):
        CL.Claim("C1", "x", "s", lambda r: None, kind="other")
