"""Permutation search and the LMC analyses of Ito, Yamada & Kumagai (ICLR 2025).

Implemented (names follow the paper, Sec. 2-6):

- Permutation symmetry: a hidden layer's units can be permuted, ``W_l -> P_l W_l P_{l-1}^T``,
  ``b_l -> P_l b_l``, without changing the function (Sec. 2). :class:`PermutationSpec` says
  which axis of which parameter each permutation acts on; :func:`apply_permutation` applies it.
- Weight matching (WM, Sec. 2, Ainsworth et al. Alg. 1): maximise ``sum_l <W_l^a, P_l W_l^b
  P_{l-1}^T>_F`` (equivalently minimise the L2 distance ``||theta_a - pi(theta_b)||``) by
  coordinate descent over the permutations in a random order, each step a linear assignment
  problem solved exactly with ``scipy.optimize.linear_sum_assignment``; stop when no step
  improves. :func:`weight_matching`.
- The other permutation searches the paper analyses (activation matching, STE) and the naive
  reference (identity permutation) live in :mod:`papers.lmc_wm.baselines`.
- Loss / accuracy barrier along ``(1-lam) theta_a + lam pi(theta_b)`` (Sec. 2, Eq. of the
  barrier: ``max_lam L(mix) - ((1-lam) L(a) + lam L(b))``). :func:`interpolation_curve`,
  :func:`barrier`.
- L2 distance before/after permutation and their ratio (Sec. 3, Fig. 2). :func:`l2_distance`.
- Singular values and singular vectors of each layer before/after permutation (Sec. 4):
  singular values are invariant under permutations (:func:`singular_value_change`); the
  alignment of the i-th rank-1 components ``|<u_i^a v_i^a^T, u_i^b v_i^b^T>_F| =
  |u_i^a . u_i^b| |v_i^a . v_i^b|`` as a function of the rank i
  (:func:`singular_vector_alignment`).
- Merging n >= 3 models (Sec. 6): every model is matched to a reference model and the
  parameters are averaged (:func:`merge`).

Deviations: the paper's exact alignment statistic is replaced by the rank-1 component
alignment above (the README says why); everything else follows the peer code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]
Perm = dict[str, torch.Tensor]


# --------------------------------------------------------------------------------------
# Permutation specs.


@dataclass(frozen=True)
class PermutationSpec:
    """``axes_to_perm[param] = (perm name or None per axis)``; parameters not listed are never permuted."""

    axes_to_perm: dict

    @property
    def perm_to_axes(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for key, axes in self.axes_to_perm.items():
            for axis, p in enumerate(axes):
                if p is not None:
                    out[p].append((key, axis))
        return dict(out)

    def sizes(self, params: Mapping[str, torch.Tensor]) -> dict[str, int]:
        return {p: params[axes[0][0]].shape[axes[0][1]] for p, axes in self.perm_to_axes.items()}


def mlp_spec(n_hidden: int) -> PermutationSpec:
    axes = {}
    for i in range(n_hidden + 1):
        p_out = f"P_{i}" if i < n_hidden else None
        p_in = f"P_{i - 1}" if i > 0 else None
        axes[f"fc.{i}.weight"] = (p_out, p_in)
        axes[f"fc.{i}.bias"] = (p_out,)
    return PermutationSpec(axes)


def vgg_spec(n_convs: int) -> PermutationSpec:
    axes = {}
    for i in range(n_convs):
        p, q = f"P_conv{i}", (f"P_conv{i - 1}" if i > 0 else None)
        axes[f"convs.{i}.weight"] = (p, q, None, None)
        axes[f"convs.{i}.bias"] = (p,)
        axes[f"norms.{i}.weight"] = (p,)
        axes[f"norms.{i}.bias"] = (p,)
    last = f"P_conv{n_convs - 1}"
    axes.update({"dense.0.weight": ("P_dense0", last), "dense.0.bias": ("P_dense0",),
                 "dense.1.weight": ("P_dense1", "P_dense0"), "dense.1.bias": ("P_dense1",),
                 "dense.2.weight": (None, "P_dense1"), "dense.2.bias": (None,)})
    return PermutationSpec(axes)


def resnet20_spec() -> PermutationSpec:
    axes = {"conv1.weight": ("P_g0", None, None, None), "norm1.weight": ("P_g0",), "norm1.bias": ("P_g0",)}
    for g in range(3):
        for b in range(3):
            pre = f"groups.{g}.{b}"
            p_in = f"P_g{g - 1}" if (b == 0 and g > 0) else f"P_g{g}"
            inner, out = f"P_g{g}_b{b}_inner", f"P_g{g}"
            axes[f"{pre}.conv1.weight"] = (inner, p_in, None, None)
            axes[f"{pre}.norm1.weight"] = (inner,)
            axes[f"{pre}.norm1.bias"] = (inner,)
            axes[f"{pre}.conv2.weight"] = (out, inner, None, None)
            axes[f"{pre}.norm2.weight"] = (out,)
            axes[f"{pre}.norm2.bias"] = (out,)
            if b == 0 and g > 0:
                axes[f"{pre}.shortcut_conv.weight"] = (out, p_in, None, None)
                axes[f"{pre}.shortcut_norm.weight"] = (out,)
                axes[f"{pre}.shortcut_norm.bias"] = (out,)
    axes["linear.weight"] = (None, "P_g2")
    axes["linear.bias"] = (None,)
    return PermutationSpec(axes)


def spec_for(model: nn.Module) -> PermutationSpec:
    from papers.lmc_wm.models import MLP, VGG, ResNet20

    if isinstance(model, MLP):
        return mlp_spec(len(model.acts))
    if isinstance(model, VGG):
        return vgg_spec(len(model.convs))
    if isinstance(model, ResNet20):
        return resnet20_spec()
    raise TypeError(f"no permutation spec for {type(model).__name__}")


def check_spec(spec: PermutationSpec, params: Mapping[str, torch.Tensor]) -> None:
    """Every parameter is covered, and every axis of one permutation has the same size."""
    missing = set(params) - set(spec.axes_to_perm)
    if missing:
        raise ValueError(f"parameters missing from the permutation spec: {sorted(missing)}")
    for p, axes in spec.perm_to_axes.items():
        sizes = {params[k].shape[a] for k, a in axes}
        if len(sizes) != 1:
            raise ValueError(f"permutation {p} acts on axes of different sizes {sizes}")


# --------------------------------------------------------------------------------------
# Applying permutations.


def identity_perm(spec: PermutationSpec, params: Mapping[str, torch.Tensor]) -> Perm:
    return {p: torch.arange(n) for p, n in spec.sizes(params).items()}


def random_perm(spec: PermutationSpec, params: Mapping[str, torch.Tensor], generator: torch.Generator) -> Perm:
    return {p: torch.randperm(n, generator=generator) for p, n in spec.sizes(params).items()}


def permuted_param(spec: PermutationSpec, perm: Perm, key: str, params: Mapping[str, torch.Tensor],
                   except_axis: int | None = None) -> torch.Tensor:
    """``params[key]`` with every permutation applied except on ``except_axis``."""
    w = params[key]
    for axis, p in enumerate(spec.axes_to_perm.get(key, ())):
        if p is not None and axis != except_axis:
            w = torch.index_select(w, axis, perm[p].to(w.device))
    return w


def apply_permutation(spec: PermutationSpec, perm: Perm, params: Mapping[str, torch.Tensor]) -> Params:
    """pi(theta): unit j of a permuted layer is unit ``perm[p][j]`` of the original."""
    return {k: permuted_param(spec, perm, k, params) for k in params}


def invert_perm(perm: Perm) -> Perm:
    return {p: torch.argsort(ix) for p, ix in perm.items()}


def is_valid_perm(perm: Perm, sizes: Mapping[str, int]) -> bool:
    return set(perm) == set(sizes) and all(
        torch.equal(torch.sort(perm[p].cpu()).values, torch.arange(n)) for p, n in sizes.items())


# --------------------------------------------------------------------------------------
# Weight matching.


def _lap_maximise(score: np.ndarray) -> np.ndarray:
    rows, cols = linear_sum_assignment(score, maximize=True)
    assert np.array_equal(rows, np.arange(len(rows)))
    return cols


def weight_matching(spec: PermutationSpec, params_a: Mapping[str, torch.Tensor],
                    params_b: Mapping[str, torch.Tensor], max_iter: int = 100, init_perm: Perm | None = None,
                    seed: int = 0) -> Perm:
    """Permutation of ``params_b`` maximising ``sum <theta_a, pi(theta_b)>`` (Ainsworth et al., Alg. 1).

    Coordinate descent: for each permutation P_l in a random order, fix the others and solve
    ``max_P <sum_k W_k^a (W_k^b with the other perms)^T, P>`` exactly (a linear assignment);
    stop after a sweep without improvement.
    """
    sizes = spec.sizes(params_a)
    perm = {p: ix.clone() for p, ix in (init_perm or identity_perm(spec, params_a)).items()}
    names = sorted(sizes)
    rng = np.random.default_rng(seed)
    p2a = spec.perm_to_axes
    a64 = {k: v.detach().double().cpu() for k, v in params_a.items()}
    b64 = {k: v.detach().double().cpu() for k, v in params_b.items()}
    for _ in range(max_iter):
        progress = False
        for i in rng.permutation(len(names)):
            p = names[i]
            n = sizes[p]
            score = torch.zeros(n, n, dtype=torch.float64)
            for key, axis in p2a[p]:
                wa = torch.movedim(a64[key], axis, 0).reshape(n, -1)
                wb = torch.movedim(permuted_param(spec, perm, key, b64, except_axis=axis), axis, 0).reshape(n, -1)
                score += wa @ wb.T
            score_np = score.numpy()
            cols = _lap_maximise(score_np)
            old = score_np[np.arange(n), perm[p].numpy()].sum()
            new = score_np[np.arange(n), cols].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                progress = True
            perm[p] = torch.as_tensor(cols, dtype=torch.long)
        if not progress:
            break
    return perm


# --------------------------------------------------------------------------------------
# Interpolation, barriers, distances.


def lerp(lam: float, params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor]) -> Params:
    return {k: (1 - lam) * params_a[k] + lam * params_b[k] for k in params_a}


@torch.no_grad()
def evaluate(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             batch_size: int = 5000) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``model`` with ``params`` on (x, y)."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = functional_call(model, dict(params), (x[i:i + batch_size],))
        loss += float(nn.functional.cross_entropy(out, y[i:i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    return loss / len(x), 100.0 * correct / len(x)


def interpolation_curve(model: nn.Module, params_a: Params, params_b: Params, x: torch.Tensor, y: torch.Tensor,
                        lambdas: Iterable[float]) -> dict[str, list[float]]:
    lams = [float(v) for v in lambdas]
    losses, accs = zip(*(evaluate(model, lerp(lam, params_a, params_b), x, y) for lam in lams))
    return {"lam": lams, "loss": list(losses), "acc_pct": list(accs)}


def barrier(curve: Mapping[str, list[float]]) -> tuple[float, float]:
    """(loss barrier, accuracy barrier in points): max over lam of the gap to the straight line
    between the endpoints (Frankle et al. 2020; Ainsworth et al. 2023)."""
    lam = np.asarray(curve["lam"])
    loss, acc = np.asarray(curve["loss"]), np.asarray(curve["acc_pct"])
    line_loss = (1 - lam) * loss[0] + lam * loss[-1]
    line_acc = (1 - lam) * acc[0] + lam * acc[-1]
    return float(np.max(loss - line_loss)), float(np.max(line_acc - acc))


def flat(params: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([params[k].detach().reshape(-1).double().cpu() for k in sorted(params)])


def l2_distance(params_a: Mapping[str, torch.Tensor], params_b: Mapping[str, torch.Tensor]) -> float:
    return float(torch.linalg.vector_norm(flat(params_a) - flat(params_b)))


# --------------------------------------------------------------------------------------
# Singular values and vectors.


def weight_matrices(params: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every weight with >= 2 axes as an (out, rest) matrix (conv kernels flattened), float64."""
    return {k: v.detach().double().cpu().reshape(v.shape[0], -1) for k, v in params.items()
            if v.dim() >= 2}


def singular_value_change(params_b: Mapping[str, torch.Tensor], permuted_b: Mapping[str, torch.Tensor]) -> float:
    """max over layers of ``max_i |s_i(pi(W)) - s_i(W)| / s_1(W)`` (0 up to rounding: Sec. 4)."""
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


# --------------------------------------------------------------------------------------
# Merging.


def merge(param_list: list[Mapping[str, torch.Tensor]]) -> Params:
    """Uniform average of already-aligned models."""
    return {k: sum(p[k] for p in param_list) / len(param_list) for k in param_list[0]}
