"""Training of the two independently trained models of a seed (cached) and evaluation passes.

Model ``a`` and model ``b`` of seed ``s`` differ in initialisation and batch order (named seed
streams ``init/a``, ``batch_order/a``, ...); they share the training split of the seed. SGD with
momentum and weight decay, a linear warm-up and a cosine decay to 0 (ours). A trained model is
cached with :mod:`common.cache` under ``runs/lmc_width/_cache/model-<hash>/``, keyed by every
field that changes it (``TRAIN_FIELDS``), so the cells of the three methods share it.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.func import functional_call
from torchvision.transforms import v2

from common.cache import cache_entry
from common.lmc.permutation import Params
from common.runtime import derive_seed, paper_logger
from papers.lmc_width.models import build

SLUG = "lmc_width"
log = paper_logger(SLUG)
TRAIN_FIELDS = ("dataset", "arch", "width", "width_mult", "n_hidden", "bias", "epochs", "batch_size", "lr",
                "momentum", "warmup_epochs", "weight_decay", "augment", "n_val", "threads", "deterministic", "norm")


def make_model(cfg, in_shape) -> nn.Module:
    return build(cfg.arch, cfg.width, cfg.width_mult, cfg.n_hidden, cfg.bias, tuple(in_shape), norm=cfg.norm)


def make_optimizer(cfg, model: nn.Module, steps_per_epoch: int):
    """SGD (momentum, weight decay) with ``warmup_epochs`` of linear warm-up, then cosine decay to 0."""
    opt = torch.optim.SGD(model.parameters(), cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    total, warm = cfg.epochs * steps_per_epoch, int(round(cfg.warmup_epochs * steps_per_epoch))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total - warm))
    if warm < 2:
        return opt, cosine
    linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1)
    return opt, torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warm])


def augment_batch(x: torch.Tensor) -> torch.Tensor:
    """Random crop with 4-pixel zero padding and horizontal flip, drawn per image (torchvision v2)."""
    aug = v2.Compose([v2.RandomCrop(x.shape[-2:], padding=4), v2.RandomHorizontalFlip()])
    return torch.stack([aug(img) for img in x.cpu()]).to(x.device)


def train_model(cfg, which: str, x: torch.Tensor, y: torch.Tensor, device) -> Params:
    """Train model ``which`` ('a' or 'b') of seed ``cfg.seed``."""
    torch.manual_seed(derive_seed(cfg.seed, f"init/{which}"))
    gen = torch.Generator().manual_seed(derive_seed(cfg.seed, f"batch_order/{which}"))
    model = make_model(cfg, x.shape[1:]).to(device)
    opt, sched = make_optimizer(cfg, model, math.ceil(len(x) / cfg.batch_size))
    model.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb = augment_batch(x[idx]) if cfg.augment else x[idx]
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_params(cfg, which: str, x: torch.Tensor, y: torch.Tensor, device) -> Params:
    """Model ``which`` of seed ``cfg.seed``, trained once and cached."""
    def compute():
        t0 = time.time()
        state = train_model(cfg, which, x, y, device)
        log.info("trained model %s (width x%g) in %.1fs", which, cfg.width_mult, time.time() - t0)
        return {k: v.cpu() for k, v in state.items()}

    key = {**{f: getattr(cfg, f) for f in TRAIN_FIELDS}, "seed": cfg.seed, "which": which}
    state = cache_entry(SLUG, "model", key).load_or_compute("model.pt", compute, fmt="torch")
    return {k: v.to(device) for k, v in state.items()}


@torch.no_grad()
def logits(model: nn.Module, params: Params, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    model.eval()
    return torch.cat([functional_call(model, dict(params), (x[i:i + batch_size],))
                      for i in range(0, len(x), batch_size)])
