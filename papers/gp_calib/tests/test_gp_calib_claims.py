"""Claims on constructed result folders: clear effects held, reversed ones not held, noise inconclusive;
and the seed varies the table split and the test tasks."""

import numpy as np

from common import results as R
from common.claims import Results, evaluate
from common.runtime import derive_seed
from papers.gp_calib import claims as CL
from papers.gp_calib.data import split_tables

SETTINGS = ["n_support=5", "n_support=10"]


def _write(folder, values: dict, sd: float, seeds=range(3)):
    """Cells ``values[(method, metric)]`` at every setting, with seed-wise noise of size ``sd``."""
    rng = np.random.default_rng(0)
    runs, cells = [], []
    for st in SETTINGS:
        for (method, metric), mu in values.items():
            vals = mu + sd * rng.standard_normal(len(seeds))
            for s, v in zip(seeds, vals):
                runs.append({"paper": "gp_calib", "table": CL.T, "profile": "quick", "dataset": "pmlb_regression",
                             "method": method, "setting": st, "seed": s, "metric": metric, "value": v})
            cells.append({"paper": "gp_calib", "table": CL.T, "profile": "quick", "dataset": "pmlb_regression",
                          "method": method, "setting": st, "metric": metric, "mean": vals.mean(),
                          "std": vals.std(ddof=1), "n_seeds": len(vals), "paper_value": "", "delta": ""})
    R.write_csv_atomic(folder / f"{CL.T}_runs.csv", runs, R.RUN_COLUMNS)
    R.write_csv_atomic(folder / f"{CL.T}.csv", cells, R.CELL_COLUMNS)


def _verdicts(folder):
    return {v["id"]: v["status"] for v in evaluate(CL.CLAIMS, Results(folder, "gp_calib", "quick"))}


def _values(ece_prop, ece_other, mse_prop, mse_dkt):
    vals = {}
    for m in CL.ORDER:
        vals[(m, CL.ECE)] = ece_prop if m == "proposed" else ece_other + (0.0 if m == "cnp" else 0.02)
        vals[(m, CL.MSE)] = mse_prop if m == "proposed" else mse_dkt
    return vals


def test_clear_effects_held_and_reversed_not_held(tmp_path):
    _write(tmp_path, _values(0.08, 0.10, 0.78, 0.80), sd=0.002)
    v = _verdicts(tmp_path)
    assert v["C1"] == v["C2"] == v["C3"] == v["C4"] == v["S1"] == "held"
    _write(tmp_path, _values(0.15, 0.10, 0.95, 0.80), sd=0.002)
    v = _verdicts(tmp_path)
    assert v["C1"] == v["C2"] == v["C4"] == "not held" and v["C3"] == "not held"


def test_small_mse_loss_within_tolerance_is_held_and_noise_is_inconclusive(tmp_path):
    # MSE 0.02 worse than DKT, well inside the 0.05 tolerance: non-inferiority holds
    _write(tmp_path, _values(0.08, 0.10, 0.82, 0.80), sd=0.002)
    assert _verdicts(tmp_path)["C3"] == "held"
    # an ECE gain far below the seed noise: inconclusive, never held
    _write(tmp_path, _values(0.099, 0.10, 0.78, 0.80), sd=0.03)
    assert _verdicts(tmp_path)["C2"] == "inconclusive"


def test_missing_table_is_not_measured(tmp_path):
    assert set(_verdicts(tmp_path).values()) == {"not measured"}


def test_seeds_vary_the_table_split():
    splits = [tuple(split_tables(derive_seed(s, "table_split"), 4, 10)["test"]) for s in range(3)]
    assert len(set(splits)) == 3
