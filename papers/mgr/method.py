"""Meta generative regularisation (MGR; Yamaguchi et al., NeurIPS 2023): the paper's two parts.

**Pseudo consistency regularisation (PCR).** For a synthetic image x~ = G(z, y) and two random augmentations
T1, T2 the features of the feature extractor f_theta must agree::

    L_PCR(theta; x~) = || f_theta(T1(x~)) - f_theta(T2(x~)) ||_2^2                       (Eq. PCR)

averaged over a synthetic mini-batch. The head is not involved, so PCR's gradient reaches the feature extractor
only, and synthetic images never enter the cross-entropy. The classifier minimises
``CE(real batch) + lambda * L_PCR(synthetic batch)``.

**Meta pseudo sampling (MPS).** A finder F_phi maps noise eps to generator latents z = F_phi(eps, y). phi is trained
so that one look-ahead SGD step of the classifier on the PCR loss lowers the cross-entropy on a validation split::

    theta'(phi) = theta - eta * grad_theta [lambda * L_PCR(theta; G(F_phi(eps), y))]         (Eq. look-ahead)
    phi <- phi - eta_phi * grad_phi CE(h_theta'(x_val), y_val)                               (Eq. MPS)

The look-ahead is a functional copy of the feature extractor's parameters (``torch.func.functional_call``) with
``create_graph=True``, so the validation loss is differentiated through the classifier's update into the
synthetic images, the generator and the finder. The generator itself is frozen.

Reconstructed choices (the paper's method section could not be read; README "ours"): the squared L2 form of the
consistency on unnormalised features, the look-ahead on the PCR term alone (the CE term of the step does not depend
on phi, so it only shifts theta' by a constant), the look-ahead learning rate = the classifier's current learning
rate, the augmentation (random shift by reflection padding + horizontal flip), and the finder's form
(``models.LatentFinder``).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

Tensor = torch.Tensor


def random_shift_flip(x: Tensor, pad: int = 2, flip: bool = True) -> Tensor:
    """A random translation by up to ``pad`` pixels (reflection padding, per-image offsets) and a random horizontal
    flip; differentiable in ``x`` (indexing only), so MPS can back-propagate through it."""
    if pad == 0 and not flip:
        return x
    b, c, h, w = x.shape
    out = x
    if pad > 0:
        xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        i = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
        j = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
        rows = (i[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = (j[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
        out = xp[torch.arange(b, device=x.device)[:, None, None, None], torch.arange(c, device=x.device)[None, :, None, None],
                 rows, cols]
    if flip:
        mask = (torch.rand(b, device=x.device) < 0.5)[:, None, None, None]
        out = torch.where(mask, out.flip(3), out)
    return out


def pcr_loss(features: Callable[[Tensor], Tensor], x_syn: Tensor,
             augment: Callable[[Tensor], Tensor] = random_shift_flip) -> Tensor:
    """Eq. PCR: mean over the synthetic batch of the squared L2 distance between the features of two independent
    augmentations of each image (one forward pass over both views)."""
    h1, h2 = features(torch.cat([augment(x_syn), augment(x_syn)])).chunk(2)
    return (h1 - h2).pow(2).sum(1).mean()


def sgd_lookahead(params: dict[str, Tensor], loss: Tensor, lr: float) -> dict[str, Tensor]:
    """Eq. look-ahead: theta' = theta - lr * grad loss for every parameter that requires grad, with the graph kept
    (create_graph) so theta' is differentiable in whatever ``loss`` depends on. Unused parameters stay as they are."""
    names = [k for k, p in params.items() if p.requires_grad]
    grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=True, allow_unused=True)
    out = dict(params)
    for k, g in zip(names, grads):
        if g is not None:
            out[k] = params[k] - lr * g
    return out


def sample_synthetic(generator: nn.Module, n: int, num_classes: int, device, finder: nn.Module | None = None
                     ) -> tuple[Tensor, Tensor]:
    """n synthetic images with uniformly drawn conditioning labels; latents from the prior N(0, I) (uniform
    sampling) or through the finder (MGR)."""
    y = torch.randint(0, num_classes, (n,), device=device)
    eps = torch.randn(n, generator.latent_dim, device=device)
    z = finder(eps, y) if finder is not None else eps
    return generator(z, y), y


def mps_meta_loss(model: nn.Module, generator: nn.Module, finder: nn.Module, x_val: Tensor, y_val: Tensor,
                  n_syn: int, lam: float, inner_lr: float,
                  augment: Callable[[Tensor], Tensor] = random_shift_flip) -> Tensor:
    """Eq. MPS: the validation cross-entropy of the classifier after one look-ahead SGD step on lambda * L_PCR of
    finder-sampled synthetic images. ``model`` must have ``features`` and ``head``; the head is unchanged by the step
    (PCR does not touch it). Differentiable in the finder's parameters."""
    x_syn, _ = sample_synthetic(generator, n_syn, finder.num_classes, x_val.device, finder)
    theta = dict(model.features.named_parameters())

    def feats(inp: Tensor, p: dict[str, Tensor] = theta) -> Tensor:
        return functional_call(model.features, p, (inp,))

    theta_prime = sgd_lookahead(theta, lam * pcr_loss(feats, x_syn, augment), inner_lr)
    return F.cross_entropy(model.head(feats(x_val, theta_prime)), y_val)


def mps_finder_step(model: nn.Module, generator: nn.Module, finder: nn.Module, finder_opt: torch.optim.Optimizer,
                    x_val: Tensor, y_val: Tensor, n_syn: int, lam: float, inner_lr: float,
                    augment: Callable[[Tensor], Tensor] = random_shift_flip) -> float:
    """One update of the finder by Eq. MPS; only the finder's gradients are written (the classifier's and the
    generator's ``.grad`` are left untouched). Returns the validation loss after the look-ahead."""
    loss = mps_meta_loss(model, generator, finder, x_val, y_val, n_syn, lam, inner_lr, augment)
    params = [p for p in finder.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params)
    finder_opt.zero_grad(set_to_none=True)
    for p, g in zip(params, grads):
        p.grad = g
    finder_opt.step()
    return float(loss.detach())
