"""The claims of claims.py on small result tables whose verdicts are known by construction."""

import pandas as pd

from common.claims import Results, evaluate
from papers.pu_diffusion.claims import CLAIMS, DRIFT, RATE_MARGIN

SEEDS = [0.0, 1.5, -1.0, 0.5, -0.5]           # shared seed effect: pairing removes it


def _write(folder, table, rows):
    runs = pd.DataFrame([dict(paper="pu_diffusion", table=table, profile="quick", dataset="fashion_mnist_16px",
                              n=2000, **r) for r in rows])
    runs.to_csv(folder / f"{table}_runs.csv", index=False)
    keys = ["paper", "table", "profile", "dataset", "method", "setting", "metric"]
    cells = runs.groupby(keys)["value"].agg(mean="mean", std="std", n_seeds="count").reset_index()
    cells["paper_value"], cells["delta"] = "", ""
    cells.to_csv(folder / f"{table}.csv", index=False)


def _results(tmp_path, judge_acc=99.0, pu_rate=99.0, pu_fid=25.0, neg_pct_beta02=5.0):
    rows = []
    for i, s in enumerate(SEEDS):
        def add(method, metric, value, seed=i):
            rows.append(dict(method=method, setting="normal=clothes", seed=seed, metric=metric, value=value))
        for m, rate, fid in (("unsupervised", 91 + s, 30 + s), ("supervised", 92 + s, 30 + s), ("pu", pu_rate + s / 5,
                                                                                             pu_fid + s)):
            add(m, "nonsensitive_rate_pct", rate)
            add(m, "fid_judgefeat", fid)
            add(m, "judge_normal_vs_sensitive_acc_pct", judge_acc)
            add(m, "judge_chance_pct", 70.0)
            add(m, "pu_negative_risk_below0_steps_pct", 0.0)
        add("real_unlabeled_data", "nonsensitive_rate_pct", 91.0 + s / 3)
    _write(tmp_path, "x_methods", rows)
    beta = [dict(method=m, setting="normal=clothes;beta=0.2", seed=i, metric="pu_negative_risk_below0_steps_pct",
                 value=neg_pct_beta02 + i) for m in ("pu", "pu_nn") for i in range(3)]
    _write(tmp_path, "x_beta", beta)
    return {v["id"]: v for v in evaluate(CLAIMS, Results(tmp_path, "pu_diffusion", "quick"))}


def test_verdicts_follow_the_intervals(tmp_path):
    v = _results(tmp_path)
    assert {k: v[k]["status"] for k in v} == {"C1": "held", "C2": "held", "S1": "held", "S2": "held", "S3": "held",
                                              "S4": "held"}
    assert [v[k]["kind"] for k in ("C1", "C2", "S1", "S4")] == ["claim", "claim", "sanity", "sanity"]
    assert float(v["C2"]["ci_low"]) > RATE_MARGIN


def test_rate_claims_need_a_judge_above_chance(tmp_path):
    """A judge within 10 points of chance (as in smoke) makes every rate claim 'not measured'."""
    v = _results(tmp_path, judge_acc=75.0)
    assert [v[k]["status"] for k in ("C1", "C2", "S1")] == ["not measured", "not measured", "not held"]
    assert "chance" in v["C1"]["evidence"]


def test_small_gains_and_worse_quality_are_not_held(tmp_path):
    assert _results(tmp_path, pu_rate=93.0)["C2"]["status"] != "held"          # +1 point: inside the margin
    assert _results(tmp_path, pu_fid=40.0)["C1"]["status"] == "not held"        # FID 33 % worse
    assert _results(tmp_path, neg_pct_beta02=0.0)["S4"]["status"] == "not held"


def test_drift_cell_is_a_quick_cell():
    assert DRIFT["table"] == "x_methods" and DRIFT["cell"]["method"] == "pu" and DRIFT["tol"] > 0
