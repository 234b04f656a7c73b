"""The competitors of RDRO on the same log ratios r = log pi_theta - log pi_ref, and the registry.

* DDRO (Higuchi & Suzuki, 2025) models the *unbounded* ratio p+/p- with pi_theta/pi_ref. Ours:
  its density-ratio fit is written as the same logistic-regression DRE as RDRO with the mixture
  replaced by p- (the alpha -> 0 end of RDRO): preferred softplus(-r), non-preferred softplus(r).
  The per-sample preferred loss then has no minimiser (it falls for ever as r grows), which is
  the instability the paper removes. DDRO's own heuristic stabilisers are not reproduced.
* KTO (Ethayarajh et al., 2024), TRL's ``loss_type="kto"`` formula: preferred 1 - sigmoid(beta (r - z)),
  non-preferred 1 - sigmoid(beta (z - r)), z = max(0, detached estimate of KL(pi_theta || pi_ref)).
  The full profile runs ``trl.KTOTrainer`` itself.
* DPO (Rafailov et al., 2023) on paired data, TRL's ``loss_type="sigmoid"``:
  -log sigmoid(beta (r_w - r_l)). The full profile runs ``trl.DPOTrainer`` itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from papers.rdro import method as M

UNPAIRED = ("rdro", "rdro_class", "ddro", "kto")
PAIRED = ("dpo",)
METHOD_NAMES = UNPAIRED + PAIRED


def ddro_per_sample(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor):
    return F.softplus(-chosen_logratios), F.softplus(rejected_logratios)


def kto_per_sample(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, kl: torch.Tensor,
                   beta: float):
    z = kl.detach().clamp(min=0)
    return 1 - torch.sigmoid(beta * (chosen_logratios - z)), 1 - torch.sigmoid(beta * (z - rejected_logratios))


def dpo_loss(chosen_logratios: torch.Tensor, rejected_logratios: torch.Tensor, beta: float) -> torch.Tensor:
    """Paired: chosen_logratios[i] and rejected_logratios[i] belong to the same prompt."""
    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()


def unpaired_loss(method: str, chosen: torch.Tensor, rejected: torch.Tensor, *, alpha: float, beta: float,
                  kl: torch.Tensor | None = None, chosen_weight=None, rejected_weight=None,
                  reduction: str | None = None) -> torch.Tensor:
    """One registry entry point for the unpaired losses. ``rdro`` = the official reduction (sample
    mean); ``rdro_class`` = RDRO with per-class means (the population form, method.py)."""
    if method == "rdro":
        c, r = M.rdro_per_sample(chosen, rejected, alpha)
        red = reduction or "sample"
    elif method == "rdro_class":
        c, r = M.rdro_per_sample(chosen, rejected, alpha)
        red = reduction or "class"
    elif method == "ddro":
        c, r = ddro_per_sample(chosen, rejected)
        red = reduction or "class"
    elif method == "kto":
        c, r = kto_per_sample(chosen, rejected, kl if kl is not None else chosen.new_zeros(()), beta)
        red = reduction or "sample"
    else:
        raise ValueError(f"unpaired method must be one of {UNPAIRED}, got {method!r}")
    return M.reduce_losses(c, r, red, chosen_weight, rejected_weight)


# The registry run.py and the tests look up: method name -> (loss family, description).
METHODS: dict[str, tuple[str, str]] = {
    "rdro": ("unpaired", "RDRO, the official code: per-sample losses, sample-mean reduction (method.py)"),
    "rdro_class": ("unpaired", "RDRO with per-class means (the population form; method.py)"),
    "ddro": ("unpaired", "DDRO: logistic DRE of the unbounded ratio p+/p-"),
    "kto": ("unpaired", "KTO (TRL's loss_type='kto' formula)"),
    "dpo": ("paired", "DPO (TRL's loss_type='sigmoid' formula)"),
}
