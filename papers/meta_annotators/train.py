"""Meta-training loop and the meta-learned methods (proposed, its ablation, ProtoNet on majority votes).

Every builder returns ``predict(task) -> (query labels (Q,), confusion estimate (J, N, N) or None)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from common.meta.encoders import mlp
from papers.meta_annotators import method as M
from papers.meta_annotators.data import CrowdTask


def stack(tasks: list[CrowdTask], n_way: int, dev=None) -> tuple[torch.Tensor, ...]:
    """(xs (T, M, D), one-hot annotations (T, M, J, N), xq (T, Q, D), yq (T, Q)) of same-shape tasks."""
    xs = torch.as_tensor(np.stack([t.xs for t in tasks]), dtype=torch.float32, device=dev)
    ann = M.one_hot_annotations(torch.as_tensor(np.stack([t.ann for t in tasks]), device=dev), n_way)
    xq = torch.as_tensor(np.stack([t.xq for t in tasks]), dtype=torch.float32, device=dev)
    yq = torch.as_tensor(np.stack([t.yq for t in tasks]), dtype=torch.int64, device=dev)
    return xs, ann.float(), xq, yq


def meta_train(params, loss_fn: Callable[..., torch.Tensor], draw: Callable[[], list[CrowdTask]], n_way: int,
               iters: int, lr: float, log=None, dev=None, clip: float = 5.0) -> list[float]:
    """Adam on ``loss_fn(xs, ann, xq, yq)`` over batches from ``draw()`` (gradient norm clipped at ``clip``);
    returns the losses."""
    params = list(params)
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for it in range(iters):
        loss = loss_fn(*stack(draw(), n_way, dev))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)   # ours: unrolled EM has rare gradient spikes
        opt.step()
        losses.append(loss.item())
        if log is not None and (it + 1) % max(1, iters // 5) == 0:
            log.info("meta-train %d/%d: loss %.4f", it + 1, iters, float(np.mean(losses[-50:])))
    return losses


class AnnotatorEM(torch.nn.Module):
    """Encoder f and the meta-learned Dirichlet concentrations of the proposed method (``method.py``)."""

    def __init__(self, d_in: int, cfg, annotators: bool = True) -> None:
        super().__init__()
        self.encoder = mlp(d_in, cfg.hidden, cfg.latent_dim, n_hidden=2)
        inv = lambda a: float(np.log(np.expm1(a - 1.0)))   # noqa: E731 (inverse of 1 + softplus)
        self.raw_alpha = torch.nn.Parameter(torch.tensor([inv(cfg.alpha_diag), inv(cfg.alpha_off)]))
        self.annotators, self.steps = annotators, cfg.em_steps
        self.a0, self.b0 = cfg.var_shape, cfg.var_scale * cfg.latent_dim

    def alpha(self, n_way: int) -> torch.Tensor:
        a = 1.0 + F.softplus(self.raw_alpha)
        return M.dirichlet_concentration(n_way, a[0], a[1], a.dtype, a.device)

    def adapt(self, xs: torch.Tensor, ann: torch.Tensor) -> M.EMState:
        z = self.encoder(xs)
        if not self.annotators:   # ablation: soft majority votes, no annotator model
            r = M.soft_majority_vote(ann)
            return M.EMState(*M.gaussian_fit(z, r, self.a0, self.b0), None, r)
        return M.em(z, ann, self.steps, self.alpha(ann.shape[-1]), self.a0, self.b0)

    def loss(self, xs, ann, xq, yq) -> torch.Tensor:
        return M.query_loss(self.encoder(xq), yq, self.adapt(xs, ann))


def build_annotator_em(annotators: bool):
    def build(d_in, draw, cfg, seed, log, dev):
        torch.manual_seed(seed)
        model = AnnotatorEM(d_in, cfg, annotators).to(dev)
        meta_train(model.parameters(), model.loss, draw, cfg.n_way, cfg.meta_iters, cfg.lr, log, dev)
        a = 1.0 + F.softplus(model.raw_alpha.detach())
        log.info("meta-learned Dirichlet concentrations: alpha_diag %.3f, alpha_off %.3f", a[0], a[1])
        model.eval()

        @torch.no_grad()
        def predict(t: CrowdTask):
            xs, ann, xq, _ = stack([t], cfg.n_way, dev)
            state = model.adapt(xs, ann)
            pred = M.query_logits(model.encoder(xq), state).argmax(-1)[0].cpu().numpy()
            return pred, None if state.theta is None else state.theta[0].cpu().numpy()
        return predict
    return build


def majority_vote_onehot(ann: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Hard majority vote (T, M, J, N) -> one-hot (T, M, N), ties broken at random."""
    votes = ann.sum(-2)
    noise = torch.rand(votes.shape, generator=gen, device=votes.device) * 1e-3 if gen is not None else 0.0
    return F.one_hot((votes + noise).argmax(-1), ann.shape[-1]).to(ann.dtype)


def prototype_logits(z: torch.Tensor, r: torch.Tensor, zq: torch.Tensor) -> torch.Tensor:
    """ProtoNet logits -||zq - mu_c||^2 with mu_c the mean of the instances labelled c (the mean of all
    instances for a class no instance was labelled with)."""
    nk = r.sum(-2, keepdim=True).transpose(-1, -2)                      # (T, N, 1)
    mu = torch.where(nk > 0, r.transpose(-1, -2) @ z / nk.clamp(min=1), z.mean(-2, keepdim=True))
    return -((zq.unsqueeze(-2) - mu.unsqueeze(-3)) ** 2).sum(-1)


def build_protonet_mv(d_in, draw, cfg, seed, log, dev):
    """ProtoNet (Snell et al. 2017) whose support labels are the majority votes of the annotators."""
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    enc = mlp(d_in, cfg.hidden, cfg.latent_dim, n_hidden=2).to(dev)

    def loss(xs, ann, xq, yq):
        logits = prototype_logits(enc(xs), majority_vote_onehot(ann, gen), enc(xq))
        return F.cross_entropy(logits.reshape(-1, cfg.n_way), yq.reshape(-1))
    meta_train(enc.parameters(), loss, draw, cfg.n_way, cfg.meta_iters, cfg.lr, log, dev)
    enc.eval()

    @torch.no_grad()
    def predict(t: CrowdTask):
        xs, ann, xq, _ = stack([t], cfg.n_way, dev)
        return prototype_logits(enc(xs), majority_vote_onehot(ann, gen), enc(xq)).argmax(-1)[0].cpu().numpy(), None
    return predict
