"""The claims on hand-made result tables: held when the proposed method is clearly best, not held otherwise,
judged over both tables (images and PMLB tables) when both were run."""

import itertools

import numpy as np
import pandas as pd
import pytest

from common.claims import Results, evaluate
from papers.fewshot_fs.claims import BASELINES, CLAIMS, TABLE

TABLE_SETS = {TABLE: (["fashion", "digits"], [5, 20]), "x_tables": (["letter", "satimage"], [2, 8])}


# the claims these tests construct are clear-cut: 300 bootstrap draws (root conftest) keep them fast
pytestmark = pytest.mark.usefixtures("few_bootstrap_draws")


def _write(folder, proposed_offset: float, tables_offset: float | None = None, tables=(TABLE,)):
    rng = np.random.default_rng(0)
    for table in tables:
        datasets, ks = TABLE_SETS[table]
        offset = proposed_offset if table == TABLE or tables_offset is None else tables_offset
        runs = []
        for ds, k, n, seed in itertools.product(datasets, ks, [5, 20], [0, 1, 2]):
            base = 0.03 - 0.0005 * k + rng.normal(0, 1e-4)
            for i, m in enumerate(["proposed"] + BASELINES):
                err = base + (offset if m == "proposed" else 0.001 * i) + rng.normal(0, 1e-5)
                st = f"n_selected={k};n_support={n}"
                runs += [dict(dataset=ds, method=m, setting=st, seed=seed, metric="test_recon_mse", value=err),
                         dict(dataset=ds, method=m, setting=st, seed=seed, metric="test_acc_pct", value=90 - 100 * err),
                         dict(dataset=ds, method=m, setting=st, seed=seed, metric="decoder_recon_mse", value=2 * err)]
        runs = pd.DataFrame(runs)
        runs.to_csv(folder / f"{table}_runs.csv", index=False)
        cells = runs.groupby(["dataset", "method", "setting", "metric"])["value"].agg(["mean", "std"]).reset_index()
        cells["n_seeds"] = 3
        cells.to_csv(folder / f"{table}.csv", index=False)
    return {v["id"]: v for v in evaluate(CLAIMS, Results(folder))}


def _status(verdicts):
    return {k: v["status"] for k, v in verdicts.items()}


def test_claims_follow_the_numbers(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = _status(_write(tmp_path / "good", proposed_offset=-0.002))
    assert good == {"C1": "held", "C2": "held", "C3": "held", "C4": "held", "S1": "held", "S2": "held"}
    bad = _status(_write(tmp_path / "bad", proposed_offset=+0.0025))     # worse than proposed_noenc and cae
    assert bad["C1"] == "not held" and bad["C2"] == "not held" and bad["S2"] == "held"


def test_claims_cover_both_tables(tmp_path):
    both = _write(tmp_path, proposed_offset=-0.002, tables_offset=+0.0025, tables=(TABLE, "x_tables"))
    assert both["C1"]["status"] == "not held" and both["C2"]["status"] == "not held"
    assert "letter" in both["C1"]["evidence"] and "fashion" in both["C1"]["evidence"]
    assert both["S2"]["status"] == "held"
