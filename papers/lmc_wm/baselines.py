"""The permutation searches Ito et al. compare, under one protocol, and the registry ``METHODS``.

Every entry maps a method name to ``search(inputs, cfg) -> Perm`` (a permutation of model b that
aligns it to model a, ``{perm name: index tensor}``); :mod:`papers.lmc_wm.pool` looks methods up
here and caches what they return. ``KNOBS`` names the config fields each search depends on (the
cache key).

- naive: the identity permutation (plain interpolation between the two models).
- wm: weight matching (:func:`common.lmc.matching.weight_matching`; Ainsworth et al. Alg. 1).
- am: activation matching (:func:`common.lmc.matching.activation_matching`; Ainsworth et al.
  Sec. 3.1), on the activations of ``am_n`` training images.
- ste: the straight-through estimator (Ainsworth et al. Alg. 2, peer code ``*_ste2.py``), below:
  free parameters ``theta~`` (initialised at ``theta_a``); each step projects them onto the
  permutations of ``theta_b`` by weight matching, ``pi = WM(theta~, theta_b)`` (warm-started from
  the previous step), and descends the loss of the midpoint ``(theta_a + [pi(theta_b) + theta~ -
  sg(theta~)]) / 2`` on a training batch (SGD with momentum); the permutation with the lowest
  batch loss is kept. :func:`ste_matching`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from common.lmc.matching import activation_matching, weight_matching
from common.lmc.permutation import Params, Perm, PermutationSpec, apply_permutation, identity_perm


@dataclass(frozen=True)
class SearchInputs:
    """What a permutation search may use: the two models and the training data."""

    spec: PermutationSpec
    model: nn.Module
    """An instance of the architecture (a template for ``functional_call``)."""
    params_a: Params
    params_b: Params
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_am: torch.Tensor
    """The training images whose activations activation matching uses."""
    seed: int
    """Seed of the search's own randomness (WM's layer order, STE's batches)."""
    match_spec: PermutationSpec | None = None
    """The spec restricted to trainable parameters (BN models: running statistics are not matched);
    None = ``spec``."""

    def module(self, params: Params) -> nn.Module:
        m = copy.deepcopy(self.model)
        m.load_state_dict(params)
        return m.eval()


def ste_matching(model: nn.Module, spec: PermutationSpec, params_a: Params, params_b: Params,
                 x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int = 256, lr: float = 1e-3,
                 optimizer: str = "adam", momentum: float = 0.9, mix: str = "random", keep: str = "last",
                 wm_max_iter: int = 100, seed: int = 0, match_spec: PermutationSpec | None = None,
                 loss_fn: Callable = nn.functional.cross_entropy) -> tuple[Perm, list[float]]:
    """The straight-through estimator: learn theta~ whose WM projection of theta_b, mixed with theta_a,
    is a low-loss model; returns the permutation and the per-step batch losses.

    Each step: ``pi = WM(theta~, theta_b)`` (warm-started from the previous step), the mixture
    ``w_a theta_a + w_b [pi(theta_b) + theta~ - sg(theta~)]`` on a training batch, one optimiser
    step on theta~. ``mix="random"``: convex weights ``(w_a, w_b) = r / sum(r)``, r uniform in
    [0, 1]^2 per step (the authors' sibling code, ``mid: False``); ``"mid"``: ``w = 1/2`` (Ainsworth et
    al.). ``optimizer``: ``"adam"`` (sibling code, lr 1e-3) or ``"sgd"`` with momentum (Ainsworth et
    al., lr 1e-2). ``keep``: ``"last"`` = WM projection of the final theta~ (sibling code) or
    ``"best"`` = the permutation of the lowest batch loss. Batches: epochs over ``x`` in random order.
    Only trainable parameters are learned and matched (``match_spec``); buffers (BN running
    statistics) are mixed as they are, and the forward pass runs in train mode (BN uses batch
    statistics, as in the sibling code).
    """
    if optimizer not in ("adam", "sgd") or mix not in ("random", "mid") or keep not in ("last", "best"):
        raise ValueError(f"bad STE options optimizer={optimizer!r} mix={mix!r} keep={keep!r}")
    gen = torch.Generator().manual_seed(seed)
    device = x.device
    trainable = {k for k, _ in model.named_parameters()}
    mspec = match_spec or spec
    free = {k: v.detach().clone().requires_grad_(True) for k, v in params_a.items() if k in trainable}
    opt = (torch.optim.Adam(list(free.values()), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(list(free.values()), lr=lr, momentum=momentum))
    perm = None
    best, best_loss, losses = None, math.inf, []
    order = torch.randperm(len(x), generator=gen)
    pos = 0
    for step in range(steps):
        if pos + batch_size > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos:pos + batch_size].to(device)
        pos += batch_size
        perm = weight_matching(mspec, free, params_b, max_iter=wm_max_iter, init_perm=perm, seed=seed + step)
        projected = apply_permutation(spec, perm, params_b)
        r = torch.rand(2, generator=gen, dtype=torch.float64) if mix == "random" else torch.ones(2, dtype=torch.float64)
        w_a, w_b = (float(v) for v in r / r.sum())
        mixed = {k: (w_a * params_a[k] + w_b * (projected[k] + free[k] - free[k].detach())) if k in free
                 else params_a[k].detach().clone() for k in params_a}
        was_training = model.training
        model.train()
        try:
            loss = loss_fn(functional_call(model, mixed, (x[idx],)), y[idx])
        finally:
            model.train(was_training)
        opt.zero_grad()
        loss.backward()
        opt.step()
        val = float(loss.detach())
        losses.append(val)
        if not math.isfinite(val):
            raise FloatingPointError(f"STE loss is not finite at step {step}: {val}")
        if val < best_loss:
            best_loss, best = val, {p: ix.clone() for p, ix in perm.items()}
    if keep == "last":
        return weight_matching(mspec, {k: v.detach() for k, v in free.items()}, params_b, max_iter=wm_max_iter,
                               init_perm=perm, seed=seed + steps), losses
    return best, losses


def ste_steps(n_train: int, cfg) -> int:
    """STE steps of a pair: ``ste_epochs`` epochs of ``ste_batch`` over the training set (sibling
    code: 10 epochs of 256 on Fashion-MNIST = 2,350 steps), at least one."""
    return max(1, int(round(cfg.ste_epochs * math.ceil(n_train / cfg.ste_batch))))


def naive(inp: SearchInputs, cfg) -> Perm:
    """No permutation: plain interpolation between the two models."""
    return identity_perm(inp.spec, inp.params_a)


def wm(inp: SearchInputs, cfg) -> Perm:
    return weight_matching(inp.match_spec or inp.spec, inp.params_a, inp.params_b, max_iter=cfg.wm_max_iter,
                           seed=inp.seed)


def am(inp: SearchInputs, cfg) -> Perm:
    return activation_matching(inp.module(inp.params_a), inp.module(inp.params_b), inp.x_am, cfg.am_batch)


def ste(inp: SearchInputs, cfg) -> Perm:
    perm, _ = ste_matching(inp.model, inp.spec, inp.params_a, inp.params_b, inp.x_train, inp.y_train,
                           steps=ste_steps(len(inp.x_train), cfg), batch_size=cfg.ste_batch, lr=cfg.ste_lr,
                           optimizer=cfg.ste_optimizer, momentum=cfg.ste_momentum, mix=cfg.ste_mix,
                           keep=cfg.ste_keep, wm_max_iter=cfg.wm_max_iter, seed=inp.seed, match_spec=inp.match_spec)
    return perm


METHODS: dict[str, Callable[[SearchInputs, object], Perm]] = {"naive": naive, "wm": wm, "am": am, "ste": ste}

#: Config fields that determine each search's result (its cache key); naive needs no cache.
KNOBS: dict[str, tuple[str, ...]] = {
    "naive": (),
    "wm": ("wm_max_iter",),
    "am": ("am_n", "am_batch"),
    "ste": ("ste_epochs", "ste_batch", "ste_lr", "ste_optimizer", "ste_momentum", "ste_mix", "ste_keep",
            "wm_max_iter"),
}
