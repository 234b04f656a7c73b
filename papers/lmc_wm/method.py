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

- The paper's alignment statistic R (Table 2; definition as a third-party review quotes it,
  BRIEFS.md section 7): per layer l, the sum over kept singular-vector pairs (i, j) of
  ``(u_i^a . P_l u_j^b)(v_i^a . P_{l-1} v_j^b)``, summed over layers and divided by the number of
  kept vectors; a vector is kept when its singular value is >= gamma (gamma = 0 keeps all).
  :func:`alignment_R`. The singular vectors of the permuted matrix ``P_l W_l^b P_{l-1}^T`` are
  ``P_l u_j^b`` and ``P_{l-1} v_j^b``, so R is computed from the SVD of model a and of permuted
  model b. Reconstructed (not in the quote): the count of kept vectors of a layer is the mean of
  the two models' counts (so R = 1 for two identical models), and "passes gamma" means ``>=``;
  :func:`alignment_R` with ``relative=True`` thresholds ``sigma_i / sigma_1`` instead (our variant).
- Distance per layer (Table 1 per layer): :func:`layer_distance_ratios`.

Our own statistic beside R: the rank-1 component alignment above (``align_top`` etc.), kept because
it shows the alignment per rank; the README says which is which.
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


def layer_svds(params: Mapping[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Thin SVD ``(U, s, V^T)`` of every weight matrix (float64), computed once for every gamma."""
    return {k: torch.linalg.svd(w, full_matrices=False) for k, w in weight_matrices(params).items()}


def alignment_R(params_a, params_b, gamma: float, relative: bool = False) -> tuple[float, float]:
    """(R, fraction of singular vectors kept) of model a and (already permuted) model b.

    ``R = sum_l sum_{i in K_l^a, j in K_l^b} (u_i^a . u_j^b)(v_i^a . v_j^b) / sum_l (|K_l^a| + |K_l^b|) / 2``
    with ``K_l = {i : sigma_i >= gamma}`` (``relative``: ``sigma_i / sigma_1 >= gamma``). The
    per-layer double sum is ``sum(M * N)`` with ``M = U_a^T U_b``, ``N = V_a^T V_b`` over the kept
    columns; sign flips of a singular pair (u, v) -> (-u, -v) leave it unchanged. A layer with no kept
    vector adds nothing; R is NaN when no vector of any layer is kept. ``params_a`` / ``params_b``
    may be parameter dicts or their :func:`layer_svds`.
    """
    svd_a = params_a if _is_svds(params_a) else layer_svds(params_a)
    svd_b = params_b if _is_svds(params_b) else layer_svds(params_b)
    total, count, kept, n_all = 0.0, 0.0, 0, 0
    for k in svd_a:
        (ua, sa, vha), (ub, sb, vhb) = svd_a[k], svd_b[k]
        ref_a, ref_b = (sa / sa[0], sb / sb[0]) if relative else (sa, sb)
        ka, kb = ref_a >= gamma, ref_b >= gamma
        m = ua[:, ka].T @ ub[:, kb]
        n = vha[ka] @ vhb[kb].T
        total += float((m * n).sum())
        count += 0.5 * (int(ka.sum()) + int(kb.sum()))
        kept += int(ka.sum()) + int(kb.sum())
        n_all += len(sa) + len(sb)
    return (total / count if count else float("nan")), kept / n_all


def _is_svds(obj) -> bool:
    return bool(obj) and isinstance(next(iter(obj.values())), tuple)


def layer_distance_ratios(params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor],
                          permuted_b: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """``||theta_a,l - pi(theta_b)_l|| / ||theta_a,l - theta_b,l||`` per layer l (a module's weight and
    bias together; float64), for the layers that a permutation touches (ratio < 1 possible)."""
    groups: dict[str, list[str]] = {}
    for k in params_a:
        if params_a[k].dim() >= 1 and params_a[k].is_floating_point():
            groups.setdefault(k.rsplit(".", 1)[0], []).append(k)
    out = {}
    for layer, keys in groups.items():
        before = sum(float((params_a[k].double() - params_b[k].double()).square().sum()) for k in keys)
        after = sum(float((params_a[k].double() - permuted_b[k].double()).square().sum()) for k in keys)
        if before > 0:
            out[layer] = (after / before) ** 0.5
    return out


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
