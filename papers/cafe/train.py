"""Source training of the CIFAR-style model: standard supervised training on clean source images
(not part of CAFe; every method adapts the same source model).

SGD with Nesterov momentum and weight decay, a one-cycle cosine schedule with linear warm-up
(``torch.optim.lr_scheduler.OneCycleLR``), per-image random crop (4-pixel zero padding) + horizontal
flip (``torchvision.transforms.v2``). Every constant is a config field (``source_*``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from common.runtime import paper_logger

from .models import MEAN, STD, build_model

log = paper_logger("cafe")


def train_source_model(x: np.ndarray, y: np.ndarray, num_classes: int, cfg, device, seed: int):
    """Train ``build_model(cfg.arch, cfg.depth, cfg.width)`` on uint8 NHWC images ``x`` and labels ``y``;
    ``seed`` fixes the initialisation, the batch order and the augmentation (torch's global generator,
    which torchvision's transforms draw from)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    augment = v2.Compose([v2.RandomCrop(x.shape[1], padding=4, fill=0), v2.RandomHorizontalFlip(p=0.5)])
    model = build_model(cfg.arch, cfg.depth, cfg.width, num_classes).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.source_lr, momentum=cfg.source_momentum, nesterov=True,
                          weight_decay=cfg.source_weight_decay)
    steps = cfg.source_epochs * int(np.ceil(len(y) / cfg.source_batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.source_lr, total_steps=steps,
                                                pct_start=cfg.source_warmup_frac)
    yt = torch.from_numpy(y)
    model.train()
    for ep in range(cfg.source_epochs):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), cfg.source_batch_size):
            idx = perm[i:i + cfg.source_batch_size]
            xb = torch.from_numpy(x[idx.numpy()]).permute(0, 3, 1, 2)          # uint8 NCHW
            if cfg.source_augment:
                xb = torch.stack([augment(im) for im in xb])                     # one crop/flip per image
            xb = (xb.float() / 255.0 - MEAN) / STD                              # = models.to_tensor
            loss = F.cross_entropy(model(xb.to(device)), yt[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        log.info("source epoch %d loss %.3f", ep, loss.item())
    return model.eval()
