"""The methods of the comparison, under one protocol, and the registry ``METHODS``.

Every entry is ``fit(cfg, split, source, device) -> (target model, extra metrics)``; every method
trains the target architecture for the same ``steps`` SGD steps on the same labelled target batches
(weak augmentation, FixMatch's optimiser and schedule), and differs only in its initialisation and
in the extra terms of its loss:

- ``scratch``: random initialisation, cross-entropy on the labelled target data.
- ``kd``: knowledge distillation from the source classifier (Hinton et al. 2015). The label spaces
  differ, so (ours) the target network gets a second head over the source classes and matches the
  source classifier's temperature-T softmax on the same augmented target images:
  L = CE(y) + alpha T^2 KL(softmax(C_s(x)/T) || softmax(h_s(x)/T)).
- ``finetune`` (reference, only where source and target architectures match, arch=cnn): the source
  classifier's weights, a new head, the supervised loop at ``finetune_lr_scale`` x the learning rate.
- ``pp``, ``pssl``, ``pp_pssl``: the paper's method and its two ablations (method.py).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from common.runtime import derive_seed
from papers.pp_pssl import method as M
from papers.pp_pssl.train import make_target_net, pp_features, train_supervised


def _gen(cfg, device, stream: str) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(derive_seed(cfg.seed, stream))


def _init(cfg, split, source, device, pretrained: bool) -> nn.Module:
    net = make_target_net(cfg, tuple(split.x_l.shape[1:]), split.n_classes, "target_init").to(device)
    if pretrained:
        net.features.load_state_dict(pp_features(cfg, source, tuple(split.x_l.shape[1:]), device))
    return net


def scratch(cfg, split, source, device):
    net = _init(cfg, split, source, device, pretrained=False)
    train_supervised(net, split.x_l, split.y_l, cfg.steps, cfg.batch, cfg.lr, cfg.weight_decay,
                     _gen(cfg, device, "target_batches"))
    return net, {}


def pp(cfg, split, source, device):
    """Pseudo pre-training, then the supervised loop on the labelled target data."""
    net = _init(cfg, split, source, device, pretrained=True)
    train_supervised(net, split.x_l, split.y_l, cfg.steps, cfg.batch, cfg.lr, cfg.weight_decay,
                     _gen(cfg, device, "target_batches"))
    return net, {}


def _pssl(cfg, split, source, device, pretrained: bool):
    net = _init(cfg, split, source, device, pretrained)
    conds = M.pseudo_conditions(source.classifier, split.x_l, source.input_shape)
    stats = M.pssl_train(net, split.x_l, split.y_l, source.generator, conds, cfg.steps, cfg.batch, cfg.mu, cfg.tau,
                         cfg.lambda_u, cfg.lr, cfg.weight_decay, _gen(cfg, device, "target_batches"))
    return net, {"mask_rate_pct": 100.0 * stats["mask_rate"],
                 "condition_entropy_nats": float(-(conds * conds.clamp_min(1e-12).log()).sum(1).mean())}


def pssl(cfg, split, source, device):
    """P-SSL from a random initialisation."""
    return _pssl(cfg, split, source, device, pretrained=False)


def pp_pssl(cfg, split, source, device):
    """The paper's full method: PP weights, then P-SSL."""
    return _pssl(cfg, split, source, device, pretrained=True)


def kd_loss(student_src_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 KL(softmax(teacher/T) || softmax(student/T)), batch mean (Hinton et al. 2015)."""
    t = temperature
    return F.kl_div(F.log_softmax(student_src_logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                    reduction="batchmean", log_target=True) * t * t


def kd(cfg, split, source, device):
    net = _init(cfg, split, source, device, pretrained=False)
    torch.manual_seed(derive_seed(cfg.seed, "kd_head_init"))
    src_head = nn.Linear(net.feat_dim, source.n_classes).to(device)
    params = list(net.parameters()) + list(src_head.parameters())
    opt, sched = M.sgd_cosine(params, cfg.lr, cfg.weight_decay, cfg.steps)
    gen = _gen(cfg, device, "target_batches")
    source.classifier.eval()
    net.train()
    for _ in range(cfg.steps):
        i = torch.randint(0, len(split.x_l), (min(cfg.batch, len(split.x_l)),), device=device, generator=gen)
        x = M.weak_augment(split.x_l[i], gen)
        with torch.no_grad():
            teacher = source.classifier(M.resize_images(x, source.input_shape))
        feats = net.features(x)
        loss = F.cross_entropy(net.head(feats), split.y_l[i]) + cfg.kd_alpha * kd_loss(src_head(feats), teacher,
                                                                                         cfg.kd_temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net, {}


def finetune(cfg, split, source, device):
    """Reference where the architectures match: start from the source classifier's feature weights."""
    net = _init(cfg, split, source, device, pretrained=False)
    net.features.load_state_dict(source.classifier.features.state_dict())
    train_supervised(net, split.x_l, split.y_l, cfg.steps, cfg.batch, cfg.lr * cfg.finetune_lr_scale, cfg.weight_decay,
                     _gen(cfg, device, "target_batches"))
    return net, {}


METHODS: dict[str, Callable] = {"scratch": scratch, "kd": kd, "pp": pp, "pssl": pssl, "pp_pssl": pp_pssl,
                                "finetune": finetune}
