"""zsda's claims as noise-aware checks over the aggregated unseen-domain results (common.claims).

The abstract's claim ("the effectiveness of the proposed method was demonstrated through experiments
using one regression and two classification tasks"), made concrete by the issue: on unseen domains
the proposed method beats the pooled and the domain-generalisation baselines, for classification and
for regression. Every comparison is seed-paired (same source/target split and images per seed).
"""

from common.claims import Claim, NotMeasured, beats_best, decide, paired, t_interval

CLS, REG = "x_classification", "x_regression"
BASELINES = ["pooled", "pooled_norm", "dann", "moe"]


def _order(res):
    """Protocol: inferred domain vectors of the unseen half-way angles (probe domains) follow the angle:
    Spearman between their pairwise distances and the pairwise angle differences (on the 180-degree
    circle, see run.distance_correlation); interval over seeds and datasets above 0.5."""
    vals = res.runs(CLS, method="proposed", metric="z_probe_distance_spearman")["value"].astype(float).to_numpy()
    if len(vals) < 2:
        raise NotMeasured("need z_probe_distance_spearman of proposed for two runs or more")
    est, lo, hi = t_interval(vals)
    return decide(est, lo, hi, 0.5, f"mean Spearman(|z_a - z_b|, angle difference) over {len(vals)} runs")


CLAIMS = [
    Claim("C1", "On unseen domains the proposed method beats the pooled and domain-generalisation baselines "
                "(classification: each rotated dataset)", "abstract; issue 29 bars",
          lambda res: beats_best(res, CLS, "proposed", BASELINES, "test_acc_pct", per=["dataset"], margin=0.0)),
    Claim("C2", "On unseen domains the proposed method beats the pooled and domain-generalisation baselines "
                "(regression)", "abstract; issue 29 bars",
          lambda res: beats_best(res, REG, "proposed", BASELINES, "test_rmse", per=["dataset"], margin=0.0,
                                 higher=False)),
    Claim("C3", "The probabilistic domain vector is at least as good as the deterministic one (ablation: "
                "proposed - proposed_det accuracy > -1 point)", "issue 29 (ablation named there)",
          lambda res: paired(res, CLS, {"method": "proposed"}, {"method": "proposed_det"}, "test_acc_pct",
                             -1.0, True, "proposed", "proposed_det")),
    Claim("S1", "Inferred domain vectors of unseen angles are ordered by angle", "issue 29 tests", _order,
          kind="sanity"),
]

HEADLINE = [
    dict(table=CLS, metric="test_acc_pct", rows="method", cols="dataset",
         title="Test accuracy (%) on unseen rotation angles"),
    dict(table=REG, metric="test_rmse", rows="method", cols="dataset",
         title="Test RMSE (knots) on unseen months"),
]

# A small cell CI reruns (common.drift): float32 Adam; measured: 3e-9 knots between 1 and 2 threads
# (3.3725997693 vs 3.3725997667); tolerance 1e-6 leaves room for other BLAS kernels.
# tol: 1e-6 held between thread counts on one machine; on another machine of our kind (make check-drift,
# 2026-12-06) the cell's test RMSE moved 3.3726 -> 3.3424 knots (-0.030), so tol = 0.1.
DRIFT = dict(table=REG, cell={"dataset": "wind_months", "method": "pooled", "seed": 0}, tol=0.1)
