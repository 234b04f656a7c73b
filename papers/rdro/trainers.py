"""The full profile: the paper's recipe with TRL (pinned in requirements.txt).

``RDROTrainer`` is, as in the official code (takahashihiroshi/rdro, ``trainers.py``), a subclass of
TRL's KTO trainer: KTO's data pipeline, collator, optimiser, schedule and logging, with the loss
replaced by RDRO (method.py) and KTO's KL estimate switched off. The official code overrides
``kto_loss`` of trl 0.26; trl 1.16 computes the KTO loss inline in ``_compute_loss``, so the
override here is ``_compute_loss`` (completion log-probabilities from TRL's fused LM head, the same
way TRL computes them). ``DDROTrainer`` is the same subclass with the DDRO loss. KTO and DPO are TRL's
own ``KTOTrainer`` / ``DPOTrainer``.
"""

from __future__ import annotations

import dataclasses

import torch

from papers.rdro import baselines as B

try:
    from trl import KTOTrainer
except ImportError:  # pragma: no cover - trl is pinned; only the full profile needs it
    KTOTrainer = object


class DensityRatioTrainer(KTOTrainer):
    """KTO trainer with a density-ratio loss on r = log pi_theta(y|x) - log pi_ref(y|x)."""

    loss_name = "rdro"
    _tag_names = ["trl", "rdro"]
    _name = "RDRO"

    def __init__(self, *args, alpha: float = 0.5, reduction: str | None = None, **kwargs):
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self.reduction = reduction
        cfg = kwargs.get("args")
        if cfg is not None:   # KTO's KL term off (the official code sets calculate_KL = False)
            kwargs["args"] = dataclasses.replace(cfg, loss_type="apo_zero_unpaired")
        super().__init__(*args, **kwargs)
        self.calculate_KL = False

    def _completion_logps(self, model, batch) -> torch.Tensor:
        labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels,
                    use_cache=False, fused_lm_head=True)
        return out.log_probs[:, -(batch["input_ids"].size(1) - 1):].sum(-1)

    def _compute_loss(self, model, inputs, return_outputs=False):
        mode = "train" if self.model.training else "eval"
        batch = {k: (v.to(self.accelerator.device) if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
        logps = self._completion_logps(model, batch)
        if self.precompute_ref_logps:
            ref = batch["ref_logps"]
        else:
            with torch.no_grad():
                ref = self._completion_logps(self.ref_model, batch)
        lab = torch.as_tensor(batch["label"], dtype=torch.bool, device=logps.device)
        r = logps - ref
        loss = B.unpaired_loss(self.loss_name, r[lab], r[~lab], alpha=self.alpha, beta=self.beta,
                               reduction=self.reduction)
        rd = r.detach()
        if lab.any():
            self._metrics[mode]["logratio/chosen"].append(rd[lab].mean().item())
        if (~lab).any():
            self._metrics[mode]["logratio/rejected"].append(rd[~lab].mean().item())
        self._metrics[mode]["logratio/max"].append(rd.max().item())
        return (loss, None) if return_outputs else loss


class RDROTrainer(DensityRatioTrainer):
    loss_name = "rdro"


class DDROTrainer(DensityRatioTrainer):
    loss_name = "ddro"
    _tag_names = ["trl", "ddro"]
    _name = "DDRO"
