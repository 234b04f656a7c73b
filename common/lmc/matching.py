"""Permutation searches shared by the LMC papers (Ainsworth et al., ICLR 2023).

- Weight matching (WM, their Alg. 1): maximise ``sum_l <W_l^a, P_l W_l^b P_{l-1}^T>_F``
  (equivalently minimise ``||theta_a - pi(theta_b)||``) by coordinate descent over the
  permutations in a random order, each step a linear assignment solved exactly with
  ``scipy.optimize.linear_sum_assignment``; stop after a sweep without improvement.
  :func:`weight_matching`.
- Activation matching (AM, their Sec. 3.1): per hidden layer, the assignment that maximises
  ``E[z_a z_b^T]`` (uncentred inner products of post-ReLU activations over data; the peer code
  matches on ``E[A^T B]``). :func:`activation_matching`; the models say where each permutation's
  activations are observed (``activation_sites()``, :mod:`common.lmc.models`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from common.lmc.permutation import Perm, PermutationSpec, identity_perm, permuted_param


def lap_maximise(score: np.ndarray) -> np.ndarray:
    """Column assigned to each row by the assignment of maximal total score."""
    rows, cols = linear_sum_assignment(score, maximize=True)
    if not np.array_equal(rows, np.arange(len(rows))):
        raise ValueError(f"score matrix must be square, got shape {score.shape}")
    return cols


def weight_matching(spec: PermutationSpec, params_a: Mapping[str, torch.Tensor],
                    params_b: Mapping[str, torch.Tensor], max_iter: int = 100, init_perm: Perm | None = None,
                    seed: int = 0) -> Perm:
    """Permutation of ``params_b`` maximising ``sum <theta_a, pi(theta_b)>`` (Ainsworth et al., Alg. 1).

    Coordinate descent: for each permutation P_l in a random order (``seed``), fix the others and
    solve ``max_P <sum_k W_k^a (W_k^b with the other perms)^T, P>`` exactly (a linear assignment);
    stop after a sweep without improvement or after ``max_iter`` sweeps. Float64 throughout.
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
            cols = lap_maximise(score_np)
            old = score_np[np.arange(n), perm[p].numpy()].sum()
            new = score_np[np.arange(n), cols].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                progress = True
            perm[p] = torch.as_tensor(cols, dtype=torch.long)
        if not progress:
            break
    return perm


@torch.no_grad()
def activation_inner_products(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor,
                              batch_size: int = 1000) -> dict[str, torch.Tensor]:
    """``E[z_a z_b^T]`` per permutation over the data (conv maps: every pixel is a sample)."""
    sites_a, sites_b = model_a.activation_sites(), model_b.activation_sites()
    stats: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = defaultdict(int)
    store: dict[tuple[str, str], list[torch.Tensor]] = defaultdict(list)
    hooks = []

    def hook(tag, name):
        def fn(_m, _inp, out):
            z = out.detach()
            if z.dim() == 4:
                z = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
            store[(tag, name)].append(z.double())
        return fn

    for tag, sites in (("a", sites_a), ("b", sites_b)):
        model = model_a if tag == "a" else model_b
        model.eval()
        for name, mods in sites.items():
            for m in mods:
                hooks.append(m.register_forward_hook(hook(tag, name)))
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            model_a(xb)
            model_b(xb)
            for name in sites_a:
                za, zb = store.pop(("a", name)), store.pop(("b", name))
                for u, v in zip(za, zb):
                    stats[name] = stats.get(name, 0) + u.T @ v
                    counts[name] += u.shape[0]
    finally:
        for h in hooks:
            h.remove()
    return {k: (v / counts[k]).cpu() for k, v in stats.items()}


def activation_matching(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> Perm:
    """Per hidden layer, the assignment maximising ``E[z_a z_b^T]`` (peer code: match on E[A^T B])."""
    return {name: torch.as_tensor(lap_maximise(m.numpy()), dtype=torch.long)
            for name, m in activation_inner_products(model_a, model_b, x, batch_size).items()}
