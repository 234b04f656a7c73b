"""The paper's method: pseudo pre-training (PP) and pseudo semi-supervised learning (P-SSL).

Notation (Yamaguchi et al. 2022, Sec. 3, reconstructed from the abstract): a source classifier
C_s and a class-conditional source generator G_s(z, y) are given (trained on the source data, which
is then never used again); the target task has labelled data D_t = {(x_i, y_i)} with labels
disjoint from the source labels and its own architecture f_t.

- **PP**: draw y ~ Uniform(source classes), z ~ N(0, I), x = G_s(z, onehot(y)); train f_t with a
  source head on (x, y) by cross-entropy (``sample_pp_batch``, ``pseudo_pretrain``). The source
  head is then replaced by a target head and f_t is trained on D_t.
- **P-SSL**: pseudo conditional sampling: for a target sample x_t, c = softmax(C_s(x_t)) (the
  source classifier's output distribution, ``pseudo_conditions``), x_u = G_s(z, c)
  (``sample_pseudo_unlabelled``). The x_u are the unlabelled data of an SSL algorithm, FixMatch
  (Sohn et al. 2020) here:

      L = CE(f_t(weak(x_l)), y_l) + lambda_u * (1/B_u) sum_u 1[max p_u >= tau] CE(f_t(strong(x_u)), argmax p_u),
      p_u = softmax(f_t(weak(x_u))) without gradient                                   (FixMatch, Eq. 4)

  (``fixmatch_loss``, ``pssl_train``). PP + P-SSL starts P-SSL from the PP weights.

Deviations (ours, see README): new pseudo samples are drawn at every step (the paper may draw a
fixed pool); the strong augmentation is a RandAugment-like set for grayscale digits (affine,
contrast/brightness, cutout) rather than RandAugment's 14 operations; SGD with cosine decay as in
FixMatch, for every target training. Pure functions of tensors and modules: no file I/O.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

# ------------------------------------------------------------------ augmentations (FixMatch weak / strong)

def _affine(x: torch.Tensor, gen: torch.Generator, rot_deg: float, shift_px: float, scale: float,
            shear: float) -> torch.Tensor:
    b, h = x.shape[0], x.shape[-1]

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(b, device=x.device, generator=gen)

    a = u(-rot_deg, rot_deg) * math.pi / 180
    s = u(1.0 - scale, 1.0 + scale)
    sh = u(-shear, shear)
    t = torch.stack([u(-shift_px, shift_px), u(-shift_px, shift_px)], 1) * 2.0 / h
    theta = torch.stack([torch.stack([a.cos() / s, -a.sin() / s + sh, t[:, 0]], 1),
                         torch.stack([a.sin() / s, a.cos() / s, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def weak_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to 2 pixels (no flips: digits are not mirror-symmetric)."""
    return _affine(x, gen, 0.0, 2.0, 0.0, 0.0)


def strong_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random affine (rotation 25 deg, shift 4 px, scale 20 %, shear 0.3), contrast and brightness
    jitter, and a cutout square of half the image side (FixMatch uses RandAugment + Cutout)."""
    b, _, h, w = x.shape
    x = _affine(x, gen, 25.0, 4.0, 0.2, 0.3)
    c = 0.5 + torch.rand(b, 1, 1, 1, device=x.device, generator=gen)
    br = 0.2 * (torch.rand(b, 1, 1, 1, device=x.device, generator=gen) - 0.5)
    x = ((x - 0.5) * c + 0.5 + br).clamp(0.0, 1.0)
    side = h // 2
    cy = torch.randint(0, h, (b, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, w, (b, 1, 1), device=x.device, generator=gen)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = ((ys - cy).abs() <= side // 2) & ((xs - cx).abs() <= side // 2)
    return x.masked_fill(hole.unsqueeze(1), 0.5)


def resize_images(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Images (B, C, H, W) to ``shape`` = (C', H', W'): bilinear resize, grey <-> RGB by channel mean / repeat."""
    c, h, w = shape
    if x.shape[-2:] != (h, w):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    if x.shape[1] != c:
        x = x.mean(1, keepdim=True)
        x = x.expand(-1, c, -1, -1) if c > 1 else x
    return x


# ------------------------------------------------------------------ PP: pseudo pre-training

def sample_pp_batch(generator: nn.Module, n: int, gen: torch.Generator,
                    device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y): y uniform over the generator's classes, x = G(z, onehot(y)); the label of every
    sample is the class it was generated with."""
    y = torch.randint(0, generator.n_classes, (n,), device=device, generator=gen)
    z = torch.randn(n, generator.z_dim, device=device, generator=gen)
    with torch.no_grad():
        x = generator.decode(z, F.one_hot(y, generator.n_classes).float())
    return x, y


def pseudo_pretrain(features: nn.Module, feat_dim: int, generator: nn.Module, steps: int, batch: int, lr: float,
                    weight_decay: float, gen: torch.Generator, input_shape: tuple[int, int, int]) -> nn.Module:
    """Train ``features`` (+ a source head, returned) on generated source samples labelled with their
    conditioning classes. The target head is attached afterwards by the caller."""
    device = next(features.parameters()).device
    head = nn.Linear(feat_dim, generator.n_classes).to(device)
    params = list(features.parameters()) + list(head.parameters())
    opt, sched = sgd_cosine(params, lr, weight_decay, steps)
    features.train()
    for _ in range(steps):
        x, y = sample_pp_batch(generator, batch, gen, device)
        loss = F.cross_entropy(head(features(resize_images(x, input_shape))), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return head


# ------------------------------------------------------------------ P-SSL: pseudo conditional sampling + FixMatch

@torch.no_grad()
def pseudo_conditions(source_classifier: nn.Module, x_target: torch.Tensor,
                      source_input_shape: tuple[int, int, int], batch: int = 1024) -> torch.Tensor:
    """c(x_t) = softmax(C_s(x_t)): the source classifier's output distribution on each target sample."""
    source_classifier.eval()
    out = [F.softmax(source_classifier(resize_images(x_target[i:i + batch], source_input_shape)), dim=1)
           for i in range(0, len(x_target), batch)]
    return torch.cat(out)


@torch.no_grad()
def sample_pseudo_unlabelled(generator: nn.Module, conditions: torch.Tensor, n: int, gen: torch.Generator,
                             target_shape: tuple[int, int, int]) -> torch.Tensor:
    """n pseudo samples x_u = G(z, c_i), i uniform over the target samples' conditions, fresh z each."""
    idx = torch.randint(0, len(conditions), (n,), device=conditions.device, generator=gen)
    z = torch.randn(n, generator.z_dim, device=conditions.device, generator=gen)
    return resize_images(generator.decode(z, conditions[idx]), target_shape)


def fixmatch_loss(logits_l: torch.Tensor, y_l: torch.Tensor, logits_u_weak: torch.Tensor,
                  logits_u_strong: torch.Tensor, tau: float, lambda_u: float) -> tuple[torch.Tensor, dict]:
    """FixMatch's loss (Eq. 4 of Sohn et al. 2020): supervised CE + lambda_u x the mean over the
    unlabelled batch of the masked CE of the strong view against the weak view's hard pseudo-label."""
    sup = F.cross_entropy(logits_l, y_l)
    probs = F.softmax(logits_u_weak.detach(), dim=1)
    conf, pseudo = probs.max(1)
    mask = (conf >= tau).to(logits_u_strong.dtype)
    unsup = (F.cross_entropy(logits_u_strong, pseudo, reduction="none") * mask).mean()
    return sup + lambda_u * unsup, {"sup": sup.item(), "unsup": unsup.item(), "mask_rate": mask.mean().item()}


def pssl_train(model: nn.Module, x_l: torch.Tensor, y_l: torch.Tensor, generator: nn.Module,
               conditions: torch.Tensor, steps: int, batch: int, mu: int, tau: float, lambda_u: float, lr: float,
               weight_decay: float, gen: torch.Generator) -> dict:
    """FixMatch on the labelled target data and fresh pseudo samples (B_u = mu * B each step)."""
    shape = tuple(x_l.shape[1:])
    opt, sched = sgd_cosine(model.parameters(), lr, weight_decay, steps)
    model.train()
    mask_rates = []
    for _ in range(steps):
        i = torch.randint(0, len(x_l), (min(batch, len(x_l)),), device=x_l.device, generator=gen)
        xu = sample_pseudo_unlabelled(generator, conditions, mu * batch, gen, shape)
        xb = torch.cat([weak_augment(x_l[i], gen), weak_augment(xu, gen), strong_augment(xu, gen)])
        logits = model(xb)
        nl = len(i)
        lw, ls = logits[nl:].chunk(2)
        loss, stats = fixmatch_loss(logits[:nl], y_l[i], lw, ls, tau, lambda_u)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        mask_rates.append(stats["mask_rate"])
    return {"mask_rate": sum(mask_rates) / max(len(mask_rates), 1)}


def sgd_cosine(params, lr: float, weight_decay: float, steps: int):
    """SGD (momentum 0.9, Nesterov) with FixMatch's cosine decay lr * cos(7 pi k / (16 K))."""
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: math.cos(7 * math.pi * k / (16 * max(steps, 1))))
    return opt, sched
