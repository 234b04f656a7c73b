"""The permutation searches Ito et al. compare with weight matching, under the same protocol.

- Naive interpolation: the identity permutation (:func:`naive_perm`).
- Activation matching (AM, Sec. 5; Ainsworth et al. Sec. 3.1): for each hidden layer, the
  linear assignment that maximises ``E[z_a z_b^T]`` (uncentred inner products of post-ReLU
  activations over training data; the peer code matches on ``E[A^T B]``).
  :func:`activation_matching`.
- Straight-through estimator (STE, Sec. 6; Ainsworth et al. Alg. 2, peer code ``*_ste2.py``):
  free parameters ``theta~`` (initialised at ``theta_a``); each step projects them onto the
  permutations of ``theta_b`` by weight matching, ``pi = WM(theta~, theta_b)`` (warm-started
  from the previous step), and descends the loss of the midpoint
  ``(theta_a + [pi(theta_b) + theta~ - sg(theta~)]) / 2`` on a training batch (SGD, momentum
  0.9); the permutation with the lowest batch loss is kept. :func:`ste_matching`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from papers.lmc_wm.method import (
    Params,
    Perm,
    PermutationSpec,
    _lap_maximise,
    apply_permutation,
    identity_perm,
    weight_matching,
)


def naive_perm(spec: PermutationSpec, params) -> Perm:
    """No permutation: plain interpolation between the two models."""
    return identity_perm(spec, params)


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
    return {name: torch.as_tensor(_lap_maximise(m.numpy()), dtype=torch.long)
            for name, m in activation_inner_products(model_a, model_b, x, batch_size).items()}


# --------------------------------------------------------------------------------------
# Straight-through estimator.


def ste_matching(model: nn.Module, spec: PermutationSpec, params_a: Params, params_b: Params,
                 x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int = 1000, lr: float = 1e-2,
                 momentum: float = 0.9, wm_max_iter: int = 100, seed: int = 0,
                 loss_fn: Callable = nn.functional.cross_entropy) -> tuple[Perm, list[float]]:
    """Ainsworth et al.'s STE (peer code ``*_ste2.py``): learn theta~ whose WM projection of theta_b
    makes the midpoint with theta_a a low-loss model; returns the best permutation and the batch losses."""
    gen = torch.Generator().manual_seed(seed)
    device = x.device
    free = {k: v.detach().clone().requires_grad_(True) for k, v in params_a.items()}
    opt = torch.optim.SGD(list(free.values()), lr=lr, momentum=momentum)
    perm = None
    best, best_loss, losses = None, math.inf, []
    order = torch.randperm(len(x), generator=gen)
    pos = 0
    for step in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch_size].to(device)
        pos += batch_size
        perm = weight_matching(spec, free, params_b, max_iter=wm_max_iter, init_perm=perm, seed=seed + step)
        projected = apply_permutation(spec, perm, params_b)
        mid = {k: 0.5 * (params_a[k] + (projected[k] + free[k] - free[k].detach())) for k in free}
        loss = loss_fn(functional_call(model, mid, (x[idx],)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        val = float(loss.detach())
        losses.append(val)
        if not math.isfinite(val):
            raise FloatingPointError(f"STE loss is not finite at step {step}: {val}")
        if val < best_loss:
            best_loss, best = val, {p: ix.clone() for p, ix in perm.items()}
    return best, losses
