"""The proposed method of Kumagai, Iwata & Fujiwara (NeurIPS 2021, arXiv 2107.00801).

Given two small datasets S_A ~ p_A and S_B ~ p_B, estimate the alpha-relative density ratio

    r_alpha(x) = p_A(x) / (alpha p_A(x) + (1 - alpha) p_B(x))                      (relative ratio)

1. Dataset encoders (permutation invariant, Deep Sets): z_A = g_A(S_A), z_B = g_B(S_B).
2. Instance embedding conditioned on both datasets: h(x) = f([x, z_A, z_B]) in R^K.
3. Linear model on the embedding, r(x) = w^T h(x), fitted to the supports by minimising the
   RuLSIF squared loss  alpha/2 E_A r^2 + (1-alpha)/2 E_B r^2 - E_A r + lambda/2 ||w||^2,
   whose global optimum is the closed form  w = (alpha H_A + (1-alpha) H_B + lambda I)^-1 hbar_A
   (``common.meta.closed_form.relative_density_ratio_closed_form``).
4. Meta-training: the networks f, g_A, g_B and lambda are trained so that the same squared
   error, measured on *query* instances of p_A and p_B after adapting w to the supports, is
   minimal in expectation over tasks (back-propagation through the closed form).

Deviations / assumptions (only the abstract and the start of Section 1 could be read: steps 2-4 are
the abstract's description, the rest is ours; see README, "What the paper says"):
- the encoders are Deep Sets with mean pooling, one per dataset role; lambda is meta-learned
  (softplus-parametrised); at evaluation the estimate is clipped at 0 (max(0, r)) as in RuLSIF,
  for every method alike;
- support sizes during meta-training are drawn at random in a range so that one trained model
  serves several test support sizes.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from common.meta.closed_form import pearson_divergence, relative_density_ratio_closed_form, rulsif_squared_loss
from common.meta.encoders import DeepSetEncoder, mlp
from common.runtime import paper_logger

log = paper_logger("meta_rdre")


class MetaRDRE(nn.Module):
    """Dataset-conditioned embeddings + closed-form linear relative density ratio.

    ``use_dataset_encoder=False`` gives the ablation without dataset information (h depends
    on x only), everything else unchanged.
    """

    def __init__(self, in_dim: int, hidden: int = 64, embed_dim: int = 32, set_dim: int = 32, n_hidden: int = 2,
                 alpha: float = 0.5, init_lambda: float = 0.1, use_dataset_encoder: bool = True) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.use_dataset_encoder = use_dataset_encoder
        if use_dataset_encoder:
            self.enc_a = DeepSetEncoder(in_dim, hidden, set_dim, n_hidden)
            self.enc_b = DeepSetEncoder(in_dim, hidden, set_dim, n_hidden)
            emb_in = in_dim + 2 * set_dim
        else:
            emb_in = in_dim
        self.embed = mlp(emb_in, hidden, embed_dim, n_hidden)
        # lambda = softplus(raw) > 0
        self.raw_lambda = nn.Parameter(torch.tensor(math.log(math.expm1(init_lambda))))

    @property
    def lam(self) -> Tensor:
        return F.softplus(self.raw_lambda)

    def embeddings(self, x: Tensor, z: Tensor | None) -> Tensor:
        """h(x) for points x (T, M, D) given dataset codes z (T, 2 set_dim)."""
        if z is None:
            return self.embed(x)
        return self.embed(torch.cat([x, z.unsqueeze(-2).expand(*x.shape[:-1], z.shape[-1])], -1))

    def adapt(self, support_a: Tensor, support_b: Tensor, mask_a: Tensor | None = None,
              mask_b: Tensor | None = None, lam_scale: float = 1.0) -> tuple[Tensor | None, Tensor]:
        """Dataset codes and the closed-form weights w (T, K) for a batch of tasks (ridge
        ``lam_scale`` x the meta-learned lambda; 1 in meta-training)."""
        z = None
        if self.use_dataset_encoder:
            z = torch.cat([self.enc_a(support_a, mask_a), self.enc_b(support_b, mask_b)], -1)
        w = relative_density_ratio_closed_form(self.embeddings(support_a, z), self.embeddings(support_b, z),
                                               self.alpha, self.lam * lam_scale, mask_a, mask_b)
        return z, w

    def ratio(self, x: Tensor, z: Tensor | None, w: Tensor) -> Tensor:
        """r(x) = w^T h(x) at points x (T, M, D); (T, M)."""
        return (self.embeddings(x, z) * w.unsqueeze(-2)).sum(-1)

    def meta_loss(self, support_a: Tensor, support_b: Tensor, query_a: Tensor, query_b: Tensor) -> Tensor:
        """Expected test relative-DRE squared error after adaptation (mean over the task batch)."""
        z, w = self.adapt(support_a, support_b)
        return rulsif_squared_loss(self.ratio(query_a, z, w), self.ratio(query_b, z, w), self.alpha).mean()

    @torch.no_grad()
    def estimate(self, support_a: Tensor, support_b: Tensor, points: list[Tensor],
                 lam_scale: float = 1.0) -> list[Tensor]:
        """Clipped ratio estimates max(0, r) at each tensor of points (T, M, D)."""
        z, w = self.adapt(support_a, support_b, lam_scale=lam_scale)
        return [self.ratio(p, z, w).clamp_min(0.0) for p in points]

    @torch.no_grad()
    def divergence(self, support_a: Tensor, support_b: Tensor) -> Tensor:
        """Relative Pearson divergence estimate from the supports (dataset comparison score)."""
        ra, rb = self.estimate(support_a, support_b, [support_a, support_b])
        return pearson_divergence(ra, rb, self.alpha)


def meta_train(params: Iterable[Tensor], loss_of_batch: Callable[[dict[str, Tensor]], Tensor],
               next_batch: Callable[[], dict[str, Tensor]], iters: int, lr: float, name: str = "") -> None:
    """Step 4: minimise the expected query (test) squared error after adaptation by Adam over
    sampled task batches; ``loss_of_batch`` adapts to the supports and scores the queries. The
    same loop pre-trains the meta-learning baselines (fine-tuning, MAML) with their own losses."""
    opt = torch.optim.Adam(list(params), lr=lr)
    t0, running = time.time(), None
    for it in range(iters):
        loss = loss_of_batch(next_batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (it + 1) % max(1, iters // 5) == 0:
            log.info("  [%s] iter %d/%d query loss (EMA) %.4f (%.1fs)", name, it + 1, iters, running,
                     time.time() - t0)
