"""MAML (Finn et al. 2017), ANIL (Raghu et al. 2020) and BOIL (Oh et al. 2021), same protocol as
Meta-ticket, and the registry ``METHODS`` of every method a table can name (the paper's own too).

All three baselines meta-learn the initial value of every parameter (outer optimiser AdamW, lr 1e-3
in the official Omniglot/CIFAR-FS configs); they differ only in what the inner loop adapts, exactly
as the official code selects it with ``no_update_keywords``:

* MAML: every parameter.
* ANIL ("almost no inner loop"): only the head (``no_update_keywords: ['features']``).
* BOIL ("body only inner loop"): everything but the head (``no_update_keywords: ['classifier']``).

A builder is ``builder(cfg, model, generator) -> TaskLearner``; ``run.py`` looks it up by
``cfg.method`` (:func:`build_learner`).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from papers.meta_ticket.method import MetaTicket, TaskLearner
from papers.meta_ticket.models import SinusoidMLP, prunable_weight_names

VARIANTS = ("maml", "anil", "boil")


class MAMLFamily(TaskLearner):
    def __init__(self, model: nn.Module, variant: str = "maml") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.model, self.variant = model, variant
        self.meta = {n: nn.Parameter(p.detach().clone()) for n, p in model.named_parameters()}
        head = getattr(model, "head_prefix", "classifier.")
        names = list(self.meta)
        if variant == "maml":
            self.adapt_keys = names
        elif variant == "anil":
            self.adapt_keys = [n for n in names if n.startswith(head)]
        else:
            self.adapt_keys = [n for n in names if not n.startswith(head)]

    def to(self, device: torch.device) -> "MAMLFamily":
        self.model.to(device)
        for p in self.meta.values():
            p.data = p.data.to(device)
        return self

    def meta_param_groups(self):
        return [("init", list(self.meta.values()))]

    def initial(self, train: bool = True):
        def forward(p, x, **kw):
            return functional_call(self.model, p, (x,), kw)

        return (dict(self.meta) if train else {k: v.detach() for k, v in self.meta.items()}), forward


def _maml_family(variant: str):
    def build(cfg, model: nn.Module, generator: torch.Generator) -> MAMLFamily:
        return MAMLFamily(model, variant)

    return build


def _meta_ticket(iterand: bool = False, boil: bool = False):
    """Meta-ticket (method.py) with the official masking of each network; ``iterand``: IteRand
    re-randomisation of pruned weights; ``boil``: the inner loop leaves the head alone (``ticket+boil``)."""

    def build(cfg, model: nn.Module, generator: torch.Generator) -> MetaTicket:
        if isinstance(model, SinusoidMLP):
            # official sinusoid_5shot_mlp_ticket: only hidden2 is masked; hidden1/hidden3/biases meta-learned (aux)
            sparse = ["hidden2.weight"]
            aux = [n for n, _ in model.named_parameters() if n not in sparse]
        else:
            # official ignore_params (MLP: classifier, normalize, .bias; ResNet-12: bn1-3, downsample.1, bias,
            # classifier; WRN-28: bn1, bn2, bias, classifier): every Linear/Conv2d weight outside the head is masked
            sparse = prunable_weight_names(model)
            aux = []
        rate = cfg.rerand_rate if iterand else 0.0
        learner = MetaTicket(model, sparse, aux, cfg.init_sparsity, cfg.rerand_freq, rate, generator)
        if boil:   # official ticket+boil: no_update_keywords ['classifier']
            head = getattr(model, "head_prefix", "classifier.")
            learner.adapt_keys = [k for k in learner.adapt_keys if not k.startswith(head)]
        return learner

    return build


METHODS: dict[str, Callable[..., TaskLearner]] = {
    "maml": _maml_family("maml"),
    "anil": _maml_family("anil"),
    "boil": _maml_family("boil"),
    "meta_ticket": _meta_ticket(),
    "meta_ticket_iterand": _meta_ticket(iterand=True),
    "meta_ticket_boil": _meta_ticket(boil=True),
}


def build_learner(cfg, model: nn.Module, generator: torch.Generator) -> TaskLearner:
    """The learner of ``cfg.method`` over ``model`` (``generator`` draws Meta-ticket's weights and scores)."""
    if cfg.method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {cfg.method!r}")
    return METHODS[cfg.method](cfg, model, generator)
