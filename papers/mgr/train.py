"""Training loops shared by MGR and the baselines: the in-run generator, the classifier, evaluation."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from papers.mgr import method as M
from papers.mgr.baselines import MethodSpec
from papers.mgr.models import ConditionalVAE, LatentFinder


def _batches(n: int, size: int, gen: np.random.Generator):
    """Endless shuffled mini-batch indices (epoch by epoch; a batch never exceeds n)."""
    while True:
        perm = gen.permutation(n)
        for i in range(0, n - min(size, n) + 1, min(size, n)):
            yield perm[i:i + min(size, n)]


def train_cvae(x: torch.Tensor, y: torch.Tensor, num_classes: int, latent: int, hidden: int, steps: int, seed: int,
               batch: int = 64, lr: float = 1e-3) -> ConditionalVAE:
    """The in-run class-conditional generator: a conditional VAE fitted by Adam on the negative ELBO."""
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    vae = ConditionalVAE(tuple(x.shape[1:]), num_classes, latent, hidden).to(x.device)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    it = _batches(len(x), batch, gen)
    for _ in range(steps):
        idx = torch.as_tensor(next(it), device=x.device)
        loss = vae.elbo_loss(x[idx], y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return vae.eval()


def train_classifier(model, spec: MethodSpec, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
                     y_val: torch.Tensor, generator, cfg, seed: int, log=None) -> dict:
    """SGD (momentum 0.9, Nesterov, cosine decay) on CE(augmented real batch) plus the method's synthetic terms
    (``baselines.py``); MGR updates its finder by Eq. MPS every ``cfg.finder_every`` steps. Returns diagnostics."""
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    dev = x.device
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    finder = finder_opt = None
    if spec.finder:
        finder = LatentFinder(generator.latent_dim, generator.num_classes, cfg.finder_hidden).to(dev)
        finder_opt = torch.optim.Adam(finder.parameters(), lr=cfg.finder_lr)
    if generator is not None:
        generator.requires_grad_(False)

    def augment(t: torch.Tensor) -> torch.Tensor:
        return M.random_shift_flip(t, cfg.pad)

    it = _batches(len(x), cfg.batch_size, gen)
    val_it = _batches(len(x_val), cfg.val_batch, gen)
    stats = {"pcr": 0.0, "meta_val_loss": float("nan")}
    model.train()
    for step in range(cfg.steps):
        lr = 0.5 * cfg.lr * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.as_tensor(next(it), device=dev)
        loss = F.cross_entropy(model(augment(x[idx])), y[idx])
        if spec.uses_generator:
            with torch.no_grad():
                x_syn, y_syn = M.sample_synthetic(generator, cfg.syn_batch, generator.num_classes, dev, finder)
            if spec.synthetic_ce:
                loss = loss + cfg.gda_weight * F.cross_entropy(model(augment(x_syn)), y_syn)
            if spec.pcr:
                pcr = M.pcr_loss(model.features, x_syn, augment)
                loss = loss + cfg.pcr_weight * pcr
                stats["pcr"] = float(pcr.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if spec.finder and step % cfg.finder_every == 0:
            vidx = torch.as_tensor(next(val_it), device=dev)
            stats["meta_val_loss"] = M.mps_finder_step(model, generator, finder, finder_opt, x_val[vidx], y_val[vidx],
                                                       cfg.syn_batch, cfg.pcr_weight, lr, augment)
        if log is not None and (step + 1) % max(1, cfg.steps // 4) == 0:
            log.info("step %d/%d: loss %.4f, pcr %.4f, meta val loss %.4f", step + 1, cfg.steps, float(loss.detach()),
                     stats["pcr"], stats["meta_val_loss"])
    model.eval()
    return {**stats, "finder": finder}


@torch.no_grad()
def accuracy(model, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return 100.0 * correct / max(1, len(y))
