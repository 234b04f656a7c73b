"""Meta-ticket (Chijiwa et al., NeurIPS 2022): meta-learn a binary mask over fixed random weights.

Implemented from the paper and its official code (dchiji-ntt/meta-ticket @ e9ca2c25,
``models/sparse_module.py``, ``models/meta_ticket*.py``, ``models/maml.py``):

* The network's weights ``w`` are drawn once (Kaiming normal) and never meta-trained.
* Each prunable weight tensor (Linear or Conv2d; fan_in = in_channels x kernel area) has a score tensor ``s`` (Kaiming-uniform init) and a fixed threshold
  ``tau = percentile(s_init, 100 * init_sparsity)``; the mask is ``m = 1[s >= tau]`` with a
  straight-through gradient ``dm/ds = 1`` (:class:`BinaryMaskSTE`). With the paper's Omniglot setting
  ``init_sparsity = 0`` the threshold is the smallest initial score, so training starts dense and the
  outer loop prunes by pushing scores below ``tau``.
* Inner loop (MAML, second order by default): starting from the fixed weights, the task learner takes
  ``steps`` gradient steps ``w <- w - alpha * dL_support(m * w)/dw`` on the *unpruned* weights
  (official ``_before_pruned`` tensors) and on the non-masked parameters (classifier, BatchNorm,
  biases), which start from their (fixed) initial values each task.
* Outer loop: the query loss after adaptation, averaged over the meta-batch, is differentiated
  through the inner loop with respect to the scores only (SGD, lr 10, momentum 0.9, cosine schedule
  with linear warm-up, ``CustomCosineLR``). Optional ``aux`` parameters are meta-learned densely (the
  official sinusoid setting meta-learns hidden1/hidden3/biases with AdamW).
* Control for the sparse-subnetwork claim (ours, not in the paper): :meth:`MetaTicket.with_random_masks`
  keeps the weights and replaces each learned mask by a random one of the same per-layer sparsity.
* IteRand option (Chijiwa et al. 2021): every ``rerand_freq`` outer steps, each currently pruned
  weight is replaced by a fresh Kaiming-normal draw with probability ``rerand_rate``.

The inner loop uses ``torch.func.functional_call`` and ``torch.autograd.grad(create_graph=True)``; the outer
gradient flows through the inner gradients by ordinary autograd (second order unless ``first_order``).
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterable

import torch
from torch import nn
from torch.func import functional_call

from papers.meta_ticket.models import fan_in, kaiming_normal_

Params = dict[str, torch.Tensor]


class BinaryMaskSTE(torch.autograd.Function):
    """m = 1[score >= threshold]; backward passes the gradient straight through (official GetBinaryMask)."""

    @staticmethod
    def forward(ctx, score: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return (score >= threshold).to(score.dtype)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return g, None


def binary_mask(score: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    return BinaryMaskSTE.apply(score, threshold)


def percentile_threshold(score: torch.Tensor, q: float) -> torch.Tensor:
    """The official ``percentile``: the k-th smallest score with k = 1 + round(q/100 * (n - 1))."""
    flat = score.detach().reshape(-1)
    k = 1 + round(0.01 * float(q) * (flat.numel() - 1))
    return flat.kthvalue(k).values.clone()


def kaiming_uniform_score(shape: torch.Size, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scores: Kaiming uniform (fan_in, ReLU gain), bound sqrt(6 / fan_in)."""
    bound = math.sqrt(6.0 / fan_in(shape))
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


# --------------------------------------------------------------------------------------
# The inner loop, shared by Meta-ticket and the MAML family.


def adapt(forward: Callable[[Params, torch.Tensor], torch.Tensor], params: Params, adapt_keys: Iterable[str],
          x: torch.Tensor, y: torch.Tensor, loss_fn: Callable, lr: float, steps: int,
          create_graph: bool = True) -> Params:
    """``steps`` SGD steps on ``adapt_keys`` of ``params`` (MAML inner loop, Finn et al. 2017, Eq. 1).

    With ``create_graph`` the returned parameters stay differentiable with respect to whatever the
    initial ``params`` (and ``forward``) depend on, giving the second-order meta-gradient. The inner
    gradient is ``torch.autograd.grad`` (a tensor of ``params`` that does not require grad, e.g.
    Meta-ticket's fixed weights, enters as a fresh leaf); it gives bit-identical values to
    ``torch.func.grad`` (checked when it was switched) with less per-operation overhead. The graph is
    retained because tasks share its start (Meta-ticket's masked weights).
    """
    wanted = set(adapt_keys)
    keys = [k for k in params if k in wanted]
    recording = torch.is_grad_enabled()   # under no_grad (finite differences) every step starts from fresh leaves

    def leaf(v: torch.Tensor) -> torch.Tensor:
        return v.detach().requires_grad_()

    params = {k: (leaf(v) if k in wanted and not (recording and v.requires_grad) else v if recording else v.detach())
              for k, v in params.items()}
    for _ in range(steps):
        with torch.enable_grad():
            loss = loss_fn(forward(params, x), y)
            g = torch.autograd.grad(loss, [params[k] for k in keys], create_graph=create_graph, retain_graph=True,
                                    materialize_grads=True)
        params = {**params, **{k: params[k] - lr * gk for k, gk in zip(keys, g)}}
        if not recording:
            params = {**params, **{k: leaf(params[k]) for k in keys}}
    return params


class TaskLearner:
    """What the outer loop needs from a gradient-based meta-learner."""

    model: nn.Module
    adapt_keys: list[str]

    def meta_param_groups(self) -> list[tuple[str, list[torch.Tensor]]]:
        raise NotImplementedError

    def initial(self, train: bool = True) -> tuple[Params, Callable[[Params, torch.Tensor], torch.Tensor]]:
        """Task-independent starting parameters and the forward function for one outer step (``train``)
        or for meta-testing (``train=False``: nothing in them is differentiable w.r.t. meta-parameters)."""
        raise NotImplementedError

    def after_step(self, step: int) -> None:
        """Hook called after each outer optimiser step (IteRand)."""


class MetaTicket(TaskLearner):
    """Meta-ticket over ``model``: masks on ``sparse_names``, dense meta-learning of ``aux_names``.

    Parameters of ``model`` that are neither sparse nor aux stay at their random initial value in
    the outer loop and are adapted in the inner loop (official ``ignore_params``).
    """

    def __init__(self, model: nn.Module, sparse_names: list[str], aux_names: list[str] | None = None,
                 init_sparsity: float = 0.0, rerand_freq: int = 0, rerand_rate: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        self.model = model
        named = dict(model.named_parameters())
        unknown = [n for n in list(sparse_names) + list(aux_names or []) if n not in named]
        if unknown:
            raise ValueError(f"unknown parameter names {unknown}; the model has {sorted(named)}")
        if not 0.0 <= init_sparsity < 1.0:
            raise ValueError(f"init_sparsity must be in [0, 1), got {init_sparsity}")
        self.sparse_names = list(sparse_names)
        self.aux_names = [n for n in (aux_names or []) if n not in self.sparse_names]
        self.generator = generator
        # Fixed random weights (official SparseModule re-initialises the sparse ones Kaiming normal).
        self.weights: Params = {}
        for n, p in named.items():
            w = p.detach().clone()
            if n in self.sparse_names:
                kaiming_normal_(w, generator)
            self.weights[n] = w
        self.scores = {n: nn.Parameter(kaiming_uniform_score(self.weights[n].shape, generator))
                       for n in self.sparse_names}
        self.thresholds = {n: percentile_threshold(s, 100 * init_sparsity) for n, s in self.scores.items()}
        self.aux = {n: nn.Parameter(self.weights[n].clone()) for n in self.aux_names}
        self.adapt_keys = list(named)            # the inner loop adapts every (unpruned) parameter
        self.rerand_freq, self.rerand_rate = int(rerand_freq), float(rerand_rate)

    def to(self, device: torch.device) -> "MetaTicket":
        self.model.to(device)
        self.weights = {n: w.to(device) for n, w in self.weights.items()}
        for d in (self.scores, self.aux):
            for n in d:
                d[n].data = d[n].data.to(device)
        self.thresholds = {n: t.to(device) for n, t in self.thresholds.items()}
        return self

    def meta_param_groups(self):
        groups = [("score", list(self.scores.values()))]
        if self.aux:
            groups.append(("aux", list(self.aux.values())))
        return groups

    def masks(self) -> Params:
        return {n: binary_mask(self.scores[n], self.thresholds[n]) for n in self.sparse_names}

    def initial(self, train: bool = True):
        masks = self.masks() if train else {n: m.detach() for n, m in self.masks().items()}
        aux = self.aux if train else {n: v.detach() for n, v in self.aux.items()}
        # The fixed weights enter as leaves (the inner loop differentiates w.r.t. them); their masked values
        # m ⊙ w are computed once here and shared by every task of the meta-batch.
        params = {**{n: (w.detach().requires_grad_() if n in masks else w) for n, w in self.weights.items()}, **aux}
        start = {n: (params[n], masks[n] * params[n]) for n in masks}

        def forward(p: Params, x: torch.Tensor, **kw):
            # Eq. (meta-ticket forward): f_{m ⊙ w}(x); only sparse tensors are masked.
            eff = {n: ((start[n][1] if v is start[n][0] else masks[n] * v) if n in masks else v) for n, v in p.items()}
            return functional_call(self.model, eff, (x,), kw)

        return params, forward

    def sparsity(self) -> dict[str, float]:
        with torch.no_grad():
            return {n: 1.0 - float((self.scores[n] >= self.thresholds[n]).float().mean()) for n in self.sparse_names}

    def overall_sparsity(self) -> float:
        with torch.no_grad():
            kept = sum(float((self.scores[n] >= self.thresholds[n]).sum()) for n in self.sparse_names)
            total = sum(self.scores[n].numel() for n in self.sparse_names)
        return 1.0 - kept / total

    def with_random_masks(self, generator: torch.Generator | None = None) -> "MetaTicket":
        """The control of the sparse-subnetwork claim: the same fixed weights and unmasked parameters,
        with each mask replaced by a uniformly random one that keeps exactly as many weights of that
        tensor as the learned mask does (same per-layer sparsity, no meta-learned structure)."""
        control = copy.copy(self)
        control.scores, control.thresholds = {}, {}
        with torch.no_grad():
            for n in self.sparse_names:
                s = self.scores[n]
                kept = int((s >= self.thresholds[n]).sum())
                keep = torch.zeros(s.numel())
                keep[torch.randperm(s.numel(), generator=generator)[:kept]] = 1.0
                control.scores[n] = keep.reshape(s.shape).to(s.device)
                control.thresholds[n] = torch.tensor(0.5, device=s.device)
        return control

    def rerandomize(self, rate: float | None = None) -> int:
        """IteRand: replace pruned weights by fresh Kaiming-normal draws with probability ``rate``."""
        rate = self.rerand_rate if rate is None else rate
        changed = 0
        with torch.no_grad():
            for n in self.sparse_names:
                w = self.weights[n]
                pruned = self.scores[n] < self.thresholds[n]
                fresh = kaiming_normal_(torch.empty_like(w, device="cpu"), self.generator).to(w.device)
                coin = torch.rand(w.shape, generator=self.generator).to(w.device) < rate
                where = pruned & coin
                self.weights[n] = torch.where(where, fresh, w)
                changed += int(where.sum())
        return changed

    def after_step(self, step: int) -> None:
        if self.rerand_freq > 0 and self.rerand_rate > 0 and (step + 1) % self.rerand_freq == 0:
            self.rerandomize()


# --------------------------------------------------------------------------------------
# Outer loop pieces.


def cosine_warmup_factor(it: int, total: int, warmup: int) -> float:
    """Multiplier of the score learning rate at outer iteration ``it`` (official ``CustomCosineLR``):
    linear warm-up ``(it + 1) / (warmup + 1)``, then a half cosine from 1 to 0 over the remaining
    ``total - warmup`` iterations. Used as a ``torch.optim.lr_scheduler.LambdaLR`` (train.py)."""
    if it < warmup:
        return (it + 1) / (warmup + 1)
    e, es = it - warmup, max(total - warmup, 1)
    return 0.5 * (1 + math.cos(math.pi * e / es))


def meta_loss(learner: TaskLearner, tasks, loss_fn, inner_lr: float, steps: int, first_order: bool = False,
              metric: Callable | None = None) -> tuple[torch.Tensor, float]:
    """Mean query loss over ``tasks`` [(xs, ys, xq, yq), ...] after inner adaptation; differentiable.
    The tasks share one set of masks (Meta-ticket) and one graph, so one backward pass gives the
    meta-gradient of the meta-batch (the official ``loss.backward()`` of the mean)."""
    params0, forward = learner.initial()
    total, score = 0.0, 0.0
    for xs, ys, xq, yq in tasks:
        adapted = adapt(forward, params0, learner.adapt_keys, xs, ys, loss_fn, inner_lr, steps,
                        create_graph=not first_order)
        out = forward(adapted, xq)
        total = total + loss_fn(out, yq)
        if metric is not None:
            score += float(metric(out.detach(), yq))
    n = len(tasks)
    return total / n, score / n


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean())


def linear_cka(a: torch.Tensor, b: torch.Tensor) -> float:
    """Linear CKA (Kornblith et al. 2019) between two representations of the same inputs."""
    a = a - a.mean(0, keepdim=True)
    b = b - b.mean(0, keepdim=True)
    # ||a^T b||_F^2 = <a a^T, b b^T>_F: the n x n Gram form is cheap for wide CNN feature maps (n = a few dozen)
    ka, kb = a @ a.T, b @ b.T
    hsic = (ka * kb).sum()
    den = ka.pow(2).sum().sqrt() * kb.pow(2).sum().sqrt()
    return float(hsic / den) if den > 0 else float("nan")
