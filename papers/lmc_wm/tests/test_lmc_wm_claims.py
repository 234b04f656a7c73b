"""The claim checks on small synthetic result folders: verdicts follow the per-seed intervals."""

import pandas as pd

from common.claims import HELD, INCONCLUSIVE, NOT_HELD, NOT_MEASURED, Results, evaluate
from common.results import RUN_COLUMNS
from papers.lmc_wm import claims as C


def _write(folder, table, rows):
    df = pd.DataFrame([{c: "" for c in RUN_COLUMNS} | {"paper": "lmc_wm", "table": table, "profile": "quick",
                        "dataset": "fashion_mnist", **r} for r in rows], columns=RUN_COLUMNS)
    df.to_csv(folder / f"{table}_runs.csv", index=False)


def _folder(tmp_path, wm_barrier=(0.01, 0.02, 0.015), endpoint=87.0, ste_mid=(0.06, 0.07, 0.05), ste_steps=2350):
    barrier, dist, merge = [], [], []
    for s in range(3):
        for m, b in (("naive", 1.2 + 0.01 * s), ("wm", wm_barrier[s])):
            barrier += [{"method": m, "setting": "arch=mlp", "seed": s, "metric": "barrier_loss_test", "value": b},
                        {"method": m, "setting": "arch=mlp", "seed": s, "metric": "endpoint_acc_pct_test",
                         "value": endpoint}]
        dist.append({"method": "wm", "setting": "arch=mlp", "seed": s, "metric": "dist_ratio", "value": 0.80 + 0.002 * s})
        for n in (3, 4):
            merge += [{"method": "wm", "setting": f"arch=mlp;n_merge={n}", "seed": s,
                       "metric": "others_mid_loss_barrier_test", "value": 0.08 + 0.001 * s},
                      {"method": "ste", "setting": f"arch=mlp;n_merge={n}", "seed": s,
                       "metric": "others_mid_loss_barrier_test", "value": ste_mid[s]},
                      {"method": "ste", "setting": f"arch=mlp;n_merge={n}", "seed": s,
                       "metric": "ste_steps_per_pair", "value": ste_steps}]
    _write(tmp_path, "x_barrier", barrier)
    _write(tmp_path, "t1_distance", dist)
    _write(tmp_path, "t3_merge", merge)
    return Results(tmp_path, "lmc_wm", "quick")


def _verdicts(res):
    return {v["id"]: v["status"] for v in evaluate(C.CLAIMS, res)}


def test_barrier_and_distance_claims_follow_the_seeds(tmp_path):
    v = _verdicts(_folder(tmp_path))
    assert v["C1"] == HELD and v["C4"] == HELD
    assert v["C7"] == NOT_HELD                       # STE's barrier is below WM's on every seed
    assert v["C3"] == NOT_MEASURED                   # no t2_alignment table here


def test_noisy_barrier_is_inconclusive_and_wm_win_is_held(tmp_path):
    v = _verdicts(_folder(tmp_path, wm_barrier=(0.01, 0.9, 0.05), ste_mid=(0.3, 0.28, 0.31)))
    assert v["C4"] == INCONCLUSIVE                   # 1 - WM/naive straddles 0.9 across seeds
    assert v["C7"] == HELD


def test_untrained_models_make_every_claim_not_measured(tmp_path):
    v = _verdicts(_folder(tmp_path, endpoint=10.0))
    assert all(v[c] == NOT_MEASURED for c in ("C1", "C4", "C7"))


def test_starved_ste_makes_the_ste_claims_not_measured(tmp_path):
    v = _verdicts(_folder(tmp_path, ste_mid=(0.3, 0.28, 0.31), ste_steps=60))
    assert v["C7"] == NOT_MEASURED                   # 60 < 1,000 STE steps per pair: not a fair comparison
    assert v["C4"] == HELD                           # the other claims do not depend on STE


def test_R_claims_follow_the_paper_statistic(tmp_path):
    _folder(tmp_path)
    rows = []
    for s in range(3):
        for m, r3, r0 in (("naive", 0.004, 0.006), ("wm", 0.14 + 0.01 * s, 0.12), ("am", 0.13, 0.12 + 0.005 * s),
                          ("ste", 0.09 + 0.005 * s, 0.08)):
            rows += [{"method": m, "setting": "arch=mlp", "seed": s, "metric": "R_gamma0.3", "value": r3},
                     {"method": m, "setting": "arch=mlp", "seed": s, "metric": "R_gamma0", "value": r0}]
        rows.append({"method": "ste", "setting": "arch=mlp", "seed": s, "metric": "ste_steps_per_pair", "value": 2350})
    _write(tmp_path, "t2_alignment", rows)
    v = _verdicts(Results(tmp_path, "lmc_wm", "quick"))
    assert v["C2"] == HELD                           # WM - naive R(0.3) ~ 0.14 > 0.05
    assert v["C3"] == INCONCLUSIVE                   # R(0.3) - R(0) = 0.03 [0.005, 0.055] straddles 0.02
    assert v["C6"] == INCONCLUSIVE                   # WM - STE = 0.055 [0.043, 0.067] straddles 0.05
    assert v["C5"] == NOT_MEASURED                   # no AM barrier rows in this folder


def test_claims_on_wm_alone_leave_out_the_narrow_stand_in(tmp_path):
    _folder(tmp_path)
    df = pd.read_csv(tmp_path / "x_barrier_runs.csv", keep_default_na=False)
    narrow = df.assign(setting="arch=mlp;width=128")
    narrow.loc[(narrow.method == "wm") & (narrow.metric == "barrier_loss_test"), "value"] = 0.6   # WM fails there
    pd.concat([df, narrow]).to_csv(tmp_path / "x_barrier_runs.csv", index=False)
    v = _verdicts(Results(tmp_path, "lmc_wm", "quick"))
    assert v["C4"] == HELD                           # judged on the paper's width only
