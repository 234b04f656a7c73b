"""RDRO: relative density ratio optimisation (Takahashi et al., 2026), the loss of the official code.

With the log ratio of the policy to the reference on a completion y of a prompt x,

    r(x, y) = log pi_theta(y | x) - log pi_ref(y | x),

the official ``RDROTrainer`` (takahashihiroshi/rdro, a subclass of TRL's KTO trainer) scores

    preferred y:      (1 + alpha) * softplus(r) - r                                     (loss, preferred)
    non-preferred y:  (1 - alpha) * softplus(r)                                         (loss, non-preferred)

and averages the concatenated per-sample losses (TRL's KTO reduction), alpha = the fraction of
preferred data (0.39 on UF-G). Written as class-conditional expectations,

    L(theta) = E_{p+}[softplus(-r)] + E_{p_alpha}[softplus(r)],   p_alpha = alpha p+ + (1 - alpha) p-,

which is logistic-regression density-ratio estimation of p+ against the mixture p_alpha; its
pointwise minimiser is exp(r*) = p+ / (alpha p+ + (1 - alpha) p-) (the *relative* density ratio),
bounded above by 1/alpha (``relative_density_ratio``). When the labelled responses are drawn from
pi_ref itself (p_alpha = pi_ref), the minimiser is pi_theta = p+, the true preferred distribution.

Reduction (ours, documented in the README): ``reduction="sample"`` is the official code (mean
over the concatenated batch, so the two classes are weighted alpha and 1 - alpha);
``reduction="class"`` averages each class separately, the expectation form above whose
minimiser is the relative ratio. The two coincide at alpha = 1/2.
Pure functions of tensors: no I/O.
"""

from __future__ import annotations

import torch
from torch.nn.functional import softplus

REDUCTIONS = ("sample", "class")


def rdro_per_sample(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor,
                    alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample RDRO losses (official code): preferred (1+a) softplus(r) - r, non-preferred (1-a) softplus(r)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    chosen = (1.0 + alpha) * softplus(chosen_logratios) - chosen_logratios
    rejected = (1.0 - alpha) * softplus(rejected_logratios)
    return chosen, rejected


def reduce_losses(chosen: torch.Tensor, rejected: torch.Tensor, reduction: str = "sample",
                  chosen_weight: torch.Tensor | None = None,
                  rejected_weight: torch.Tensor | None = None) -> torch.Tensor:
    """``sample``: mean of the concatenation (TRL KTO, the official code); ``class``: mean per class, summed.
    Optional per-sample weights (counts of a tabular sample) replace repeated rows."""
    cw = torch.ones_like(chosen) if chosen_weight is None else chosen_weight
    rw = torch.ones_like(rejected) if rejected_weight is None else rejected_weight
    if reduction == "sample":
        return ((chosen * cw).sum() + (rejected * rw).sum()) / (cw.sum() + rw.sum())
    if reduction == "class":
        out = chosen.new_zeros(())
        if chosen.numel():
            out = out + (chosen * cw).sum() / cw.sum()
        if rejected.numel():
            out = out + (rejected * rw).sum() / rw.sum()
        return out
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def rdro_loss(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, alpha: float,
              reduction: str = "sample", chosen_weight=None, rejected_weight=None) -> torch.Tensor:
    """The RDRO objective on a batch of preferred / non-preferred log ratios."""
    c, r = rdro_per_sample(chosen_logratios, rejected_logratios, alpha)
    return reduce_losses(c, r, reduction, chosen_weight, rejected_weight)


def relative_density_ratio(p_pos: torch.Tensor, p_neg: torch.Tensor, alpha: float) -> torch.Tensor:
    """r_alpha = p+ / (alpha p+ + (1 - alpha) p-), <= 1/alpha everywhere (0/0 := 0)."""
    mix = alpha * p_pos + (1.0 - alpha) * p_neg
    return torch.where(mix > 0, p_pos / mix.clamp_min(torch.finfo(mix.dtype).tiny), torch.zeros_like(mix))


def rdro_pointwise_minimiser(q: torch.Tensor, alpha: float, reduction: str = "class") -> torch.Tensor:
    """exp(r*) for a response whose preferred-label probability is q, when responses are drawn from
    pi_ref (so p+ = pi_ref q / alpha, p- = pi_ref (1-q) / (1-alpha)): setting the derivative of the
    expected loss to zero gives sigma(r*) in closed form for each reduction."""
    if reduction == "class":      # q/alpha [(1+a) s - 1] + (1-q)/(1-a) (1-a) s = 0
        s = (q / alpha) / ((1 + alpha) * q / alpha + (1 - q))
    elif reduction == "sample":   # q [(1+a) s - 1] + (1-q)(1-a) s = 0
        s = q / ((1 + alpha) * q + (1 - alpha) * (1 - q))
    else:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return s / (1 - s)
