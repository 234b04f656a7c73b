"""Claims on constructed result folders (held / not held / inconclusive / not measured), and seeds that
vary the data split and the initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common import results as R
from common.claims import Results, evaluate
from common.config import resolve
from common.runtime import derive_seed
from papers.meta_rdre import claims as CL
from papers.meta_rdre import config as C
from papers.meta_rdre import run as RUN

SETTINGS = ["n_support=5", "n_support=20"]


def _write(folder, table, metric, means: dict, sd: float, seeds=range(5)):
    """Cells ``means[(method, setting)]`` with seed-wise noise of size ``sd`` (fixed rng)."""
    rng = np.random.default_rng(0)
    runs, cells = [], []
    for (method, setting), mu in means.items():
        vals = mu + sd * rng.standard_normal(len(seeds))
        for s, v in zip(seeds, vals):
            runs.append({"paper": "meta_rdre", "table": table, "profile": "quick", "dataset": "digits",
                         "method": method, "setting": setting, "seed": s, "metric": metric, "value": v})
        cells.append({"paper": "meta_rdre", "table": table, "profile": "quick", "dataset": "digits", "method": method,
                      "setting": setting, "metric": metric, "mean": vals.mean(), "std": vals.std(ddof=1),
                      "n_seeds": len(vals), "paper_value": "", "delta": ""})
    R.write_csv_atomic(folder / f"{table}_runs.csv", runs, R.RUN_COLUMNS)
    R.write_csv_atomic(folder / f"{table}.csv", cells, R.CELL_COLUMNS)


def _verdicts(folder) -> dict[str, str]:
    return {v["id"]: v["status"] for v in evaluate(CL.CLAIMS, Results(folder, "meta_rdre", "quick"))}


def _rdre(proposed: float, best_other: float, noenc: float, sd: float) -> dict:
    means = {}
    for st in SETTINGS:
        means[("proposed", st)] = proposed
        means[("proposed_noenc", st)] = noenc
        for m in CL.PER_TASK + CL.META:
            means[(m, st)] = best_other if m == "maml" else best_other + 0.05
    return means


def test_clear_effects_are_held_and_reversed_ones_not_held(tmp_path):
    _write(tmp_path, "x_rdre", CL.ERR, _rdre(-0.85, -0.70, -0.70, 0.005), 0.005)
    v = _verdicts(tmp_path)
    assert v["C1"] == v["C2"] == v["C6"] == "held"
    assert v["C3"] == v["S1"] == v["C4"] == v["C5"] == "not measured"   # no x_rows / comparison / outlier tables
    _write(tmp_path, "x_rows", CL.ERR, _rdre(-0.60, -0.70, -0.70, 0.005), 0.005)
    v = _verdicts(tmp_path)
    assert v["C3"] == "not held" and v["C1"] == "held"   # C3 reads the secondary table only
    _write(tmp_path, "x_rdre", CL.ERR, _rdre(-0.60, -0.70, -0.70, 0.005), 0.005)
    assert _verdicts(tmp_path)["C1"] == "not held"


def test_outlier_claim_reads_the_class_disjoint_table(tmp_path):
    means = {(m, "n_support=10"): 60.0 for m in CL.PER_TASK + CL.META + ("proposed_noenc",)}
    means[("proposed", "n_support=10")] = 70.0
    _write(tmp_path, "x_outlier", CL.OUT, means, sd=0.5)
    assert _verdicts(tmp_path)["C5"] == "held"
    means[("maml", "n_support=10")] = 75.0
    _write(tmp_path, "x_outlier", CL.OUT, means, sd=0.5)
    assert _verdicts(tmp_path)["C5"] == "not held"


def test_noise_larger_than_the_effect_is_inconclusive(tmp_path):
    _write(tmp_path, "x_rdre", CL.ERR, _rdre(-0.72, -0.70, -0.70, 0.0), sd=0.05)
    assert _verdicts(tmp_path)["C2"] == "inconclusive"


def test_a_model_that_learned_nothing_is_not_measured(tmp_path):
    _write(tmp_path, "x_rdre", CL.ERR, _rdre(-0.45, -0.30, -0.30, 0.001), 0.001)
    v = evaluate(CL.CLAIMS, Results(tmp_path, "meta_rdre", "quick"))
    c1 = next(x for x in v if x["id"] == "C1")
    assert c1["status"] == "not measured" and "constant-ratio" in c1["evidence"]


def test_auc_claims_use_the_auc_margin(tmp_path):
    means = {(m, "n_support=5"): 90.0 for m in CL.PER_TASK + CL.META}
    means[("proposed", "n_support=5")] = 90.5      # beyond the noise, inside the margin
    _write(tmp_path, "x_comparison", CL.CMP, means, sd=0.0)
    v = evaluate(CL.CLAIMS, Results(tmp_path, "meta_rdre", "quick"))
    c4 = next(x for x in v if x["id"] == "C4")
    assert c4["status"] == "not held" and float(c4["margin"]) == CL.AUC_MARGIN


def _cfg(**kw):
    return resolve(C.Config, C, "smoke", cli=kw, cli_from_text=False)


def test_seeds_vary_the_split_and_the_test_tasks():
    a, b = _cfg(seed=0, pair_split="classes"), _cfg(seed=1, pair_split="classes")
    assert RUN.split_seed(a) == derive_seed(0, "split") != RUN.split_seed(b)
    (_, _, te_a), (_, _, te_b) = RUN.sources(a), RUN.sources(b)
    classes = [set(np.unique(te.pool.y).tolist()) for te in (te_a, te_b)]
    assert len(classes[0]) == len(classes[1]) == 4 and classes[0] != classes[1]
    # a fixed split_seed fixes the split across seeds
    fixed = [RUN.sources(_cfg(seed=s, pair_split="classes", split_seed=3))[2] for s in (0, 1)]
    assert np.array_equal(np.unique(fixed[0].pool.y), np.unique(fixed[1].pool.y))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_meta_training_follows_the_dtype_and_the_seed(dtype):
    from papers.meta_rdre import baselines as B

    cfg = _cfg(dtype=dtype, meta_iters=2, pair_split="rows")
    train, _, _ = RUN.sources(cfg)
    d = train.pool.x.shape[1]
    s0 = B.meta_train_state("proposed", cfg, d, RUN.batch_sampler(cfg, train))
    s1 = B.meta_train_state("proposed", _cfg(dtype=dtype, meta_iters=2, pair_split="rows", seed=1), d,
                            RUN.batch_sampler(cfg, train))
    assert all(v.dtype == getattr(torch, dtype) for v in s0.values() if v.is_floating_point())
    assert any(not np.array_equal(s0[k].numpy(), s1[k].numpy()) for k in s0)
