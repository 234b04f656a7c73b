"""What one cell measures, per ``analysis``: rows of (metric, value, n) for one pair (or group) of
models from the pool. ``ANALYSES = {name: analysis(cfg, pool) -> rows}``; ``run.py`` looks it up.

Cell seed s uses models 0 and 1 of its own pool (barrier, distance, singular), or models 0, ...,
n_merge-1 with reference model 0 (merge). Curves become rows: one row per
point of the interpolation path (``path_<loss|acc_pct>_<split>_lam<lam>``) and per log-spaced
rank bin of the singular-vector alignment (``align_rank_<layer>_r<first>-<last>``), so the figures
are drawn from ``results/`` alone.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from common.lmc.interpolation import average, flat, l2_distance, lerp
from common.lmc.interpolation import barrier as barrier_of
from papers.lmc_wm import baselines as B
from papers.lmc_wm import method as M
from papers.lmc_wm.config import Config
from papers.lmc_wm.pool import ModelPool

Rows = list[dict]


def pair(cfg: Config) -> tuple[int, int]:
    """Models a and b of the seed's pool."""
    return 0, 1


def _row(pool: ModelPool, metric: str, value: float, n: int | None = None) -> dict:
    return {"dataset": pool.dataset_name, "metric": metric, "value": float(value), **({"n": n} if n else {})}


def barrier(cfg: Config, pool: ModelPool) -> Rows:
    """Loss / accuracy along ``(1-lam) theta_a + lam pi(theta_b)`` on the test set and a train subset."""
    a, b = pair(cfg)
    pa, pb = pool.params(a), pool.aligned(cfg.method, a, b)
    lams = np.linspace(0, 1, cfg.n_lambdas)
    rows = []
    splits = {"test": (pool.xte, pool.yte), "train": (pool.xtr_eval, pool.ytr_eval)}
    curves = pool.curve(pa, pb, lams, splits)
    for split, (_x, y) in splits.items():
        curve = curves[split]
        loss_b, acc_b = barrier_of(curve)
        mid = int(np.argmin(np.abs(lams - 0.5)))
        rows += [_row(pool, f"barrier_loss_{split}", loss_b, len(y)),
                 _row(pool, f"barrier_acc_pct_{split}", acc_b, len(y)),
                 _row(pool, f"mid_acc_pct_{split}", curve["acc_pct"][mid], len(y)),
                 _row(pool, f"endpoint_acc_pct_{split}", 0.5 * (curve["acc_pct"][0] + curve["acc_pct"][-1]), len(y))]
        for lam, loss, acc in zip(curve["lam"], curve["loss"], curve["acc_pct"]):
            rows += [_row(pool, f"path_loss_{split}_lam{lam:.4g}", loss, len(y)),
                     _row(pool, f"path_acc_pct_{split}_lam{lam:.4g}", acc, len(y))]
    return rows


def _search_rows(cfg: Config, pool: ModelPool, pairs: list[tuple[int, int]]) -> Rows:
    """STE's budget as a result row: optimisation steps per pair (the same for every pair)."""
    if cfg.method != "ste":
        return []
    return [_row(pool, "ste_steps_per_pair", B.ste_steps(len(pool.xtr), cfg), len(pairs))]


def distance(cfg: Config, pool: ModelPool) -> Rows:
    """``||theta_a - theta_b||`` before and after the permutation, their ratio (overall and per layer,
    Table 1), and the distance after it relative to ``sqrt(||a||^2 + ||b||^2)``."""
    a, b = pair(cfg)
    pa, pb_raw, pb = pool.params(a), pool.params(b), pool.aligned(cfg.method, a, b)
    before, after = l2_distance(pa, pb_raw), l2_distance(pa, pb)
    norm = math.sqrt(float(flat(pa).square().sum() + flat(pb_raw).square().sum()))
    rows = [_row(pool, "l2_dist_before", before), _row(pool, "l2_dist_after", after),
            _row(pool, "dist_ratio", after / before), _row(pool, "dist_norm_after", after / norm)]
    rows += [_row(pool, f"dist_ratio_{layer}", r) for layer, r in M.layer_distance_ratios(pa, pb_raw, pb).items()]
    return rows + _search_rows(cfg, pool, [(a, b)])


def singular(cfg: Config, pool: ModelPool) -> Rows:
    """Singular values under the permutation (an identity) and singular-vector alignment vs rank."""
    a, b = pair(cfg)
    pa, pb_raw, pb = pool.params(a), pool.params(b), pool.aligned(cfg.method, a, b)
    align = M.singular_vector_alignment(pa, pb)
    top, bottom = M.alignment_summary(align, cfg.top_frac)
    rows = [_row(pool, "sv_rel_change_max", M.singular_value_change(pb_raw, pb)),
            _row(pool, "align_top", top), _row(pool, "align_bottom_half", bottom),
            _row(pool, "align_sigma_weighted", M.sigma_weighted_alignment(align))]
    rows += [_row(pool, f"align_rank_{layer}_r{lo}-{hi}", v) for (layer, lo, hi), v in M.binned_alignment(align).items()]
    # The paper's R (Table 2) at every gamma (absolute threshold, as quoted), and our relative variant.
    svd_a, svd_b = M.layer_svds(pa), M.layer_svds(pb)
    for g in cfg.gammas:
        r, kept = M.alignment_R(svd_a, svd_b, float(g))
        rows += [_row(pool, f"R_gamma{float(g):g}", r), _row(pool, f"R_kept_frac_gamma{float(g):g}", kept)]
        if 0 < float(g) <= 1:
            rows.append(_row(pool, f"Rrel_gamma{float(g):g}", M.alignment_R(svd_a, svd_b, float(g), relative=True)[0]))
    return rows + _search_rows(cfg, pool, [(a, b)])


def merge(cfg: Config, pool: ModelPool) -> Rows:
    """Average of ``n_merge`` models, each aligned to the reference (anchor) model a = 0 (merged
    accuracy for 2, 3, 4 models). With ``n_merge == 3`` also the paper's Table 3 quantity (as quoted
    in the brief): models b = 1 and c = 2 are each matched to the anchor a, then the path between b
    and c is evaluated; ``others_mid_*`` at its midpoint (loss at lam = 1/2 minus the mean of the two
    end losses; can be negative, as the paper's WM value -0.098), ``others_barrier_*`` the maximum
    over the path's ``n_lambdas`` points. Each seed has its own pool, so seeds are independent triples."""
    group = list(range(cfg.n_merge))
    ref = group[0]
    members = [pool.params(ref)] + [pool.aligned(cfg.method, ref, o) for o in group[1:]]
    n = len(pool.yte)
    loss, acc = pool.evaluate(pool.merged(average(members)), pool.xte, pool.yte)
    ends = [pool.evaluate(p, pool.xte, pool.yte) for p in members]
    end_loss, end_acc = float(np.mean([e[0] for e in ends])), float(np.mean([e[1] for e in ends]))
    rows = [_row(pool, "merged_acc_pct_test", acc, n), _row(pool, "merged_loss_test", loss, n),
            _row(pool, "acc_drop_pct_test", end_acc - acc, n), _row(pool, "loss_gap_test", loss - end_loss, n)]
    if len(members) == 3:
        mid_loss, mid_acc = pool.evaluate(pool.merged(lerp(0.5, members[1], members[2])), pool.xte, pool.yte)
        rows += [_row(pool, "others_mid_acc_drop_pct_test", 0.5 * (ends[1][1] + ends[2][1]) - mid_acc, n),
                 _row(pool, "others_mid_loss_barrier_test", mid_loss - 0.5 * (ends[1][0] + ends[2][0]), n)]
        curve = pool.curve(members[1], members[2], np.linspace(0, 1, cfg.n_lambdas),
                           {"test": (pool.xte, pool.yte)})["test"]
        loss_b, acc_b = barrier_of(curve)
        rows += [_row(pool, "others_barrier_loss_test", loss_b, n), _row(pool, "others_barrier_acc_pct_test", acc_b, n)]
    return rows + _search_rows(cfg, pool, [(ref, o) for o in group[1:]])


ANALYSES: dict[str, Callable[[Config, ModelPool], Rows]] = {
    "barrier": barrier, "distance": distance, "singular": singular, "merge": merge}
