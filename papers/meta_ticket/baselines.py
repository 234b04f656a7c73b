"""MAML (Finn et al. 2017), ANIL (Raghu et al. 2020) and BOIL (Oh et al. 2021), same protocol as Meta-ticket.

All three meta-learn the initial value of every parameter (outer optimiser AdamW, lr 1e-3 in the
official Omniglot/CIFAR-FS configs); they differ only in what the inner loop adapts, exactly as
the official code selects it with ``no_update_keywords``:

* MAML: every parameter.
* ANIL ("almost no inner loop"): only the head (``no_update_keywords: ['features']``).
* BOIL ("body only inner loop"): everything but the head (``no_update_keywords: ['classifier']``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from papers.meta_ticket.method import TaskLearner

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

    def initial(self):
        def forward(p, x, **kw):
            return functional_call(self.model, p, (x,), kw)

        return dict(self.meta), forward
