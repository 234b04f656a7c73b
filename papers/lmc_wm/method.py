"""The analyses of Ito, Yamada & Kumagai (ICLR 2025): what a permutation does to the singular
value decomposition of each layer, and why weight matching (WM) gives linear mode connectivity.

Implemented (names follow the abstract; the exact statistics are reconstructed, see the README):

- Singular values are invariant under permutations: ``P_l W_l P_{l-1}^T`` has the singular values
  of ``W_l`` (:func:`singular_value_change`, an identity checked on every found permutation).
- Singular vectors move: the alignment of the i-th rank-1 components of model a and permuted
  model b, ``|<u_i^a v_i^a^T, u_i^b v_i^b^T>_F| = |u_i^a . u_i^b| |v_i^a . v_i^b|``, as a function
  of the rank i (:func:`singular_vector_alignment`), summarised over the top ranks, the bottom
  half, weighted by the singular values (:func:`alignment_summary`,
  :func:`sigma_weighted_alignment`), and per log-spaced rank bin (:func:`rank_bins`,
  :func:`binned_alignment`) for the alignment-vs-rank curves.
- WM's claim is that it aligns the large-singular-value directions first; the permutation
  searches themselves (WM, activation matching) and the interpolation / barrier / distance code
  live in :mod:`common.lmc`, the straight-through estimator in :mod:`papers.lmc_wm.baselines`.

Deviation: the paper's own alignment statistic (a sum over kept singular-vector pairs) is
replaced by the rank-1 component alignment above; the README says why.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch


def weight_matrices(params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every weight with >= 2 axes as an (out, rest) matrix (conv kernels flattened), float64."""
    return {k: v.detach().double().cpu().reshape(v.shape[0], -1) for k, v in params.items()
            if v.dim() >= 2}


def singular_value_change(params_b: Mapping[str, torch.Tensor], permuted_b: Mapping[str, torch.Tensor]) -> float:
    """max over layers of ``max_i |s_i(pi(W)) - s_i(W)| / s_1(W)`` (0 up to rounding: an identity)."""
    worst = 0.0
    mb, mp = weight_matrices(params_b), weight_matrices(permuted_b)
    for k in mb:
        s, sp = torch.linalg.svdvals(mb[k]), torch.linalg.svdvals(mp[k])
        worst = max(worst, float((s - sp).abs().max() / s[0]))
    return worst


def singular_vector_alignment(params_a: Mapping[str, torch.Tensor],
                              params_b: Mapping[str, torch.Tensor]) -> dict[str, dict[str, np.ndarray]]:
    """Per weight matrix: singular values of both models and ``|u_i^a.u_i^b| |v_i^a.v_i^b|`` per rank i."""
    out = {}
    ma, mb = weight_matrices(params_a), weight_matrices(params_b)
    for k in ma:
        ua, sa, vha = torch.linalg.svd(ma[k], full_matrices=False)
        ub, sb, vhb = torch.linalg.svd(mb[k], full_matrices=False)
        left = (ua * ub).sum(0).abs()
        right = (vha * vhb).sum(1).abs()
        out[k] = {"s_a": sa.numpy(), "s_b": sb.numpy(), "align": (left * right).numpy(),
                  "left": left.numpy(), "right": right.numpy()}
    return out


def alignment_summary(align: Mapping[str, Mapping[str, np.ndarray]], top_frac: float) -> tuple[float, float]:
    """(mean alignment over the top ``top_frac`` ranks, over the bottom half of ranks), averaged over layers."""
    tops, bottoms = [], []
    for rec in align.values():
        a = rec["align"]
        k = max(1, int(round(top_frac * len(a))))
        tops.append(a[:k].mean())
        bottoms.append(a[len(a) // 2:].mean())
    return float(np.mean(tops)), float(np.mean(bottoms))


def sigma_weighted_alignment(align: Mapping[str, Mapping[str, np.ndarray]]) -> float:
    """Alignment weighted by the singular values of model a (large-sigma directions count more),
    averaged over layers."""
    return float(np.mean([float((r["s_a"] * r["align"]).sum() / r["s_a"].sum()) for r in align.values()]))


def rank_bins(k: int, n_edges: int = 14) -> list[tuple[int, int]]:
    """Log-spaced bins of the ranks 1..k as inclusive (first, last) rank pairs."""
    edges = np.unique(np.round(np.geomspace(1, k + 1, n_edges)).astype(int))
    return [(int(lo), int(hi) - 1) for lo, hi in zip(edges[:-1], edges[1:])]


def binned_alignment(align: Mapping[str, Mapping[str, np.ndarray]]) -> dict[tuple[str, int, int], float]:
    """Mean alignment per layer and log-spaced rank bin: ``{(layer, first rank, last rank): mean}``."""
    out = {}
    for layer, rec in align.items():
        a = rec["align"]
        for lo, hi in rank_bins(len(a)):
            out[(layer, lo, hi)] = float(a[lo - 1:hi].mean())
    return out
