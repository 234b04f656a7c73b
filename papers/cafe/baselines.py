"""Baselines of the CAFe paper's comparison, under the same online protocol (``method.TestTimeAdapter``).

- ``source``: the source model, no adaptation (BN running statistics from training).
- ``bn``: test-time BN statistics (Schneider et al. NeurIPS 2020 / Nado et al. 2020): normalise with
  the test batch's statistics, no parameter update.
- ``tent``: Tent (Wang et al. ICLR 2021): BN with test-batch statistics, minimise the mean prediction
  entropy w.r.t. BN affine parameters, Adam lr 1e-3 (their CIFAR setting), one step per batch.
- ``pl``: test-time pseudo-labelling (Lee 2013, as run as a TTA baseline by Tent): cross-entropy on the
  model's own argmax predictions, same parameters/optimiser as Tent.
- ``shot_im``: the information-maximisation loss of SHOT (Liang et al. ICML 2020) with the same
  parameters (= CAFe without the alignment term).
- ``tfa``: test-time feature alignment of TTT++ (Liu et al. NeurIPS 2021) on the same pre-computed
  source moments: ||mu_s - mu_t||^2 + ||Sigma_s - Sigma_t||_F^2 (without TTT++'s self-supervised branch,
  which needs a modified training).

``METHODS`` (bottom) maps every method name a table can use, CAFe and its no-grouping ablation
included (``cafe_symkl``: the symmetric-KL ablation; ``cafe_nogroup``: one group), to a builder ``builder(model, stats, cfg) -> TestTimeAdapter`` around a fresh copy of the
source model; ``run.py`` looks the cell's method up there.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch.nn.functional as F

from .adapt import TestTimeAdapter
from .method import SourceStatistics, batch_moments, cafe_loss, entropy, infomax_loss


def tent_loss(features, logits):
    return entropy(logits).mean()


def pseudo_label_loss(features, logits):
    return F.cross_entropy(logits, logits.argmax(1).detach())


def shot_im_loss(features, logits):
    return infomax_loss(logits)


def tfa_loss_fn(stats: SourceStatistics, weight: float = 1.0):
    def loss(features, logits):
        mu_t, cov_t = batch_moments(features)
        return weight * (((stats.mean - mu_t) ** 2).sum() + ((stats.cov - cov_t) ** 2).sum())
    return loss


def cafe_loss_fn(stats: SourceStatistics, weight: float, eps: float, divergence: str):
    def loss(features, logits):
        return cafe_loss(features, logits, stats, weight, eps, divergence)
    return loss


def _adapter(loss_fn):
    """A builder of the shared online protocol with the test-time optimiser of the config."""
    def build(model, stats: SourceStatistics, cfg) -> TestTimeAdapter:
        return TestTimeAdapter(model, loss_fn(stats, cfg), lr=cfg.lr, steps=cfg.steps, optimizer=cfg.optimizer,
                               momentum=cfg.momentum)
    return build


def _without_grouping(stats: SourceStatistics) -> SourceStatistics:
    """One group with every dimension: the full (degenerate when d >= batch) covariance."""
    return SourceStatistics(stats.mean, stats.cov, [np.arange(len(stats.mean))])


Builder = Callable[..., TestTimeAdapter]
METHODS: dict[str, Builder] = {
    "source": lambda model, stats, cfg: TestTimeAdapter(model, None, adapt_bn_stats=False),
    "bn": lambda model, stats, cfg: TestTimeAdapter(model, None, adapt_bn_stats=True),
    "tent": _adapter(lambda stats, cfg: tent_loss),
    "pl": _adapter(lambda stats, cfg: pseudo_label_loss),
    "shot_im": _adapter(lambda stats, cfg: shot_im_loss),
    "tfa": _adapter(lambda stats, cfg: tfa_loss_fn(stats, cfg.align_weight)),
    "cafe": _adapter(lambda stats, cfg: cafe_loss_fn(stats, cfg.align_weight, cfg.cov_eps, cfg.divergence)),
    "cafe_symkl": _adapter(lambda stats, cfg: cafe_loss_fn(stats, cfg.align_weight, cfg.cov_eps, "sym_kl")),
    "cafe_nogroup": _adapter(lambda stats, cfg: cafe_loss_fn(_without_grouping(stats), cfg.align_weight,
                                                             cfg.cov_eps, cfg.divergence)),
}
