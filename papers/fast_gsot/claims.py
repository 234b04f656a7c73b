"""The paper's claims as noise-aware checks over the quick/full results.

What could be read of the paper is its abstract and introduction (README, "Deviations"). The
abstract says the method skips zero-gradient computations with an upper bound and extracts the
nonzero ones with sorted norms, that it "is up to 8.6 times faster than the original method
without degrading accuracy", and the introduction that the gradient cost of the original grows
with the number of data samples and of classes (regularisation terms). Each claim below cites that
sentence; the claim about the fastest exact baseline (``pot_dual``, the same objective solved in
POT) is ours (issue 34), because the paper compares only with its own original method.

Speed claims are seed intervals of per-cell CPU-time ratios (Student t over seeds, or the slope of a
trend per seed); the thread drift of the deterministic metrics (README, "Drift") is zero, so it does
not widen any margin, and timing noise is inside the intervals. Identities (the fast oracle is the
original's, bit for bit) and the accuracy that follows from them are sanity checks.
"""

from __future__ import annotations

import pandas as pd

from common.claims import Claim, NotMeasured, combine, compare, decide, requires, t_interval, trend

SPEED_TABLES = ("x_size", "x_classes", "x_gamma_rho", "x_da")
PAPER_SPEEDUP = 8.6          # abstract: "up to 8.6 times faster than the original method"
SAME_OBJ = 1e-12             # relative; measured 0 (bitwise) in every run so far
POT_OBJ = 1e-5               # relative gap of pot_dual's final objective (different summation order)


def _runs(res, metric: str, method: str = "fast", tables=SPEED_TABLES) -> pd.DataFrame:
    frames = []
    for t in tables:
        try:
            frames.append(res.runs(t, method=method, metric=metric).assign(table=t))
        except NotMeasured:
            continue
    if not frames:
        raise NotMeasured(f"no {method} {metric} runs in {', '.join(tables)}")
    return pd.concat(frames, ignore_index=True)


def _identity_text(res) -> tuple[bool, str]:
    final, per_iter = _runs(res, "obj_rel_diff"), _runs(res, "iter_obj_max_rel_diff")
    same = _runs(res, "same_iterations")
    ok = final["value"].max() <= SAME_OBJ and per_iter["value"].max() <= SAME_OBJ and same["value"].min() == 1
    return ok, (f"over {len(final)} runs: max final |D_fast - D_orig|/|D_orig| = {final['value'].max():.3g}, "
                f"max over iterations = {per_iter['value'].max():.3g} (bar {SAME_OBJ:g}); same iteration count "
                f"in {int(same['value'].sum())}/{len(same)} runs")


def _same_objective(res):
    ok, text = _identity_text(res)
    return compare(float(ok), "==", 1.0, text, "identical")


def _same_accuracy(res):
    parts = {}
    for metric in ("da_acc_pct", "da_1nn_acc_pct"):
        f = _runs(res, metric, "fast", ("x_da",)).set_index(["dataset", "setting", "seed"])["value"]
        o = _runs(res, metric, "original", ("x_da",)).set_index(["dataset", "setting", "seed"])["value"]
        diff = float((f - o.reindex(f.index)).abs().max())
        parts[metric] = compare(diff, "==", 0.0, f"max |fast - original| {metric} over {len(f)} runs", "0")
    return combine(parts)


def _pot_same_objective(res):
    d = _runs(res, "obj_rel_diff", "pot_dual")
    worst = d.loc[d["value"].idxmax()]
    return compare(float(worst["value"]), "<=", POT_OBJ,
                   f"max |D_pot - D_orig|/|D_orig| over {len(d)} runs ({worst['table']}, {worst['setting']})",
                   f"{POT_OBJ:g}")


def _largest(res, table: str, key: str) -> str:
    settings = set(res.select(table, method="fast", metric="speedup_x")["setting"].astype(str))
    return max(settings, key=lambda s: int(s.split(f"{key}=")[1].split(";")[0]))


def _above(res, table: str, setting: str, metric: str, margin: float, what: str):
    s = res.seeds(table, method="fast", metric=metric, setting=setting)
    m, lo, hi = t_interval(s.to_numpy(float))
    return decide(m, lo, hi, margin, f"{what} at {setting} ({len(s)} seeds)")


def _same_objective_first(res) -> None:
    ok, text = _identity_text(res)
    requires(ok, f"the fast method must give the original's objective for a speed comparison ({text})")


def _up_to_paper(res):
    _same_objective_first(res)
    setting = _largest(res, "x_classes", "n_classes")
    return _above(res, "x_classes", setting, "speedup_x", PAPER_SPEEDUP, "fast vs original CPU-time ratio")


def _beats_best_exact(res):
    _same_objective_first(res)
    parts = {}
    for table, key in (("x_size", "n_source"), ("x_classes", "n_classes")):
        setting = _largest(res, table, key)
        parts[table] = _above(res, table, setting, "speedup_vs_best_exact_x", 1.0,
                              "CPU time of the faster of original / pot_dual over fast")
    return combine(parts)


def _grows(table: str, key: str):
    def check(res):
        _same_objective_first(res)
        return trend(res, table, "speedup_x", x=key, method="fast")
    return check


CLAIMS = [
    Claim("C1", "The fast method is up to 8.6 times faster than the original method: at the largest quick "
                "setting (242 classes, most blocks zero) the speedup's 95% interval lies above 8.6",
          "abstract (\"up to 8.6 times faster than the original method\")", _up_to_paper),
    Claim("C2", "At the largest setting of the sample and class sweeps, the fast method is faster than the "
                "fastest exact baseline measured in the same cell (original, or the same objective in POT)",
          "ours (issue 34: fair speedup); abstract (fast, same objective)", _beats_best_exact),
    Claim("C3", "The speedup over the original grows with the number of data samples",
          "abstract; introduction (gradient cost grows with the samples)", _grows("x_size", "n_source")),
    Claim("C4", "The speedup over the original grows with the number of classes (regularisation terms)",
          "abstract; introduction (gradient cost grows with the classes)", _grows("x_classes", "n_classes")),
    Claim("S1", "The fast method returns the original's objective at every iteration (same iterates, same "
                "iteration count)", "abstract (safe skipping of zero gradients)", _same_objective, kind="sanity"),
    Claim("S2", "Domain-adaptation accuracy is unchanged by the fast method (implied by S1's identical plans)",
          "abstract (\"without degrading accuracy\")", _same_accuracy, kind="sanity"),
    Claim("S3", "The POT baseline solves the same objective: its final dual value is within 1e-5 (relative) of "
                "the original's", "protocol (exact baseline)", _pot_same_objective, kind="sanity"),
]

HEADLINE = [
    dict(table="x_classes", metric="cpu_time_s", rows="method", cols="setting", row_order=["original", "pot_dual",
         "fast"], title="CPU seconds of each exact solver vs the number of classes (Omniglot, 10 per class per side)"),
    dict(table="x_size", metric="cpu_time_s", rows="method", cols="setting", row_order=["original", "pot_dual",
         "fast"], title="CPU seconds of each exact solver vs the number of samples (MNIST -> digits, 10 classes)"),
    dict(table="x_da", metric="da_acc_pct", rows="method", cols="dataset",
         row_order=["original", "fast", "pot_dual", "sinkhorn_l1l2_gl", "no_adapt"],
         title="Target accuracy (%) of the transported source labels (no_adapt: 1-NN from source)"),
]

# tol: on another machine of our kind (make check-drift, 2026-12-06) L-BFGS-B stopped elsewhere for `fast`:
# evaluations 446 -> 441, iterations 361 -> 365, snapshots 18 -> 19, blocks computed 14.64 -> 14.90 %, objective
# +1e-7, accuracies identical. The tolerance is absolute over every metric, so the counts set it: 10.
DRIFT = dict(table="x_da", cell={"dataset": "mnist5k_to_digits", "seed": 0}, tol=10.0)
