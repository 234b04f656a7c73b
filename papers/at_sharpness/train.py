"""Training and measurement loops: logistic regression to its optimum (and every LR measurement), and
PGD adversarial training of a deep network with its sharpness measurements.

Every function takes explicit arguments (tensors, numbers, torch generators) and returns numbers;
``baselines.py`` wires them to a config and ``run.py`` turns them into result rows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from common.runtime import paper_logger
from papers.at_sharpness import method as M

log = paper_logger("at_sharpness")

# --------------------------------------------------------------------------------------
# Logistic regression.


def lr_measurements(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float, xte: torch.Tensor,
                    yte: torch.Tensor, pgd_steps: int, generator: torch.Generator) -> dict[str, float]:
    """Everything measured at an LR optimum: spectrum of the adversarial-loss Hessian (Eq. 2) and its
    decomposition, the clean-loss Hessian, accuracies, and the checks (closed form vs PGD,
    Hessian-vector products vs autograd)."""
    dec = M.hessian_decomposition(theta, x, y, eps)
    out = {"top_eig_train": dec["top"], "trace_train": dec["trace"], "min_eig_train": dec["min"],
           "top_eig_data_term": dec["data_top"], "top_eig_dir_term": dec["dir_scale"],
           "top_share_data_term": dec["data_share"], "top_share_dir_term": dec["dir_share"],
           "mean_s": dec["mean_s"], "w_norm": dec["w_norm"]}
    for k, lam in enumerate(dec["eigs"], 1):
        out[f"eig{k}_train"] = lam
    out["top_eig_clean"] = float(torch.linalg.eigvalsh(M.adversarial_hessian(theta, x, y, 0.0))[-1])
    out["train_adv_loss"] = float(M.adversarial_loss(theta, x, y, eps))
    out["train_clean_loss"] = float(M.adversarial_loss(theta, x, y, 0.0))
    w, b = M.split(theta)
    score = yte * (xte @ w + b)
    out["test_acc_pct"] = float((score > 0).double().mean() * 100)
    out["test_robust_acc_pct"] = float((score - eps * w.norm() > 0).double().mean() * 100)
    # check 1: PGD on the inputs (from delta = 0) reaches the closed-form inner maximum (Eq. 1)
    if eps > 0:
        xa = M.pgd_l2(lambda xx: M.per_example_loss(theta, xx, y), x, eps, pgd_steps)  # zero start
        gap = (M.per_example_loss(theta, xa, y) - F.softplus(M.margins(theta, x, y, eps))).abs().max()
        out["pgd_closed_form_gap"] = float(gap)
    else:
        out["pgd_closed_form_gap"] = 0.0
    # check 2: Eq. 2 times random vectors equals autograd's Hessian-vector product of Eq. 1
    h = M.adversarial_hessian(theta, x, y, eps)
    errs = []
    for _ in range(3):
        v = torch.randn(theta.shape, generator=generator, dtype=theta.dtype)
        _, hv = torch.autograd.functional.hvp(lambda t: M.adversarial_loss(t, x, y, eps), theta, v)
        errs.append(float((hv - h @ v).norm() / (h @ v).norm()))
    out["hvp_rel_err"] = max(errs)
    return out


def random_noise_inputs(x: torch.Tensor, y: torch.Tensor, eps: float, draws: int,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each example repeated ``draws`` times, moved by eps in uniformly random directions."""
    xr = x.repeat(draws, 1)
    d = torch.randn(xr.shape, generator=generator, dtype=x.dtype)
    return xr + eps * d / d.norm(dim=1, keepdim=True), y.repeat(draws)


# --------------------------------------------------------------------------------------
# Deep networks: PGD adversarial training and sharpness.


def _ce(model, reduction="none"):
    return lambda xx, yy: F.cross_entropy(model(xx), yy, reduction=reduction)


def adversarial_examples(model, x, y, eps, steps, generator=None, batch=500):
    model.eval()
    parts = []
    for i in range(0, len(x), batch):
        xb, yb = x[i:i + batch], y[i:i + batch]
        parts.append(M.pgd_l2(lambda xx, yb=yb: F.cross_entropy(model(xx), yb, reduction="none"), xb, eps, steps,
                              clip=(0.0, 1.0), generator=generator))
    return torch.cat(parts)


def train_pgd(model, x, y, eps, epochs, batch_size, lr, weight_decay, pgd_steps, order_gen, pgd_gen) -> list[float]:
    """PGD adversarial training (Madry et al.): each minibatch is replaced by its PGD-L2 adversarial
    examples (random start, ``pgd_steps`` steps of 2.5 eps / steps, images kept in [0, 1]), then one
    SGD step (momentum 0.9) on their cross-entropy; learning rate x0.1 at 50% and 75% of training.
    eps = 0 is standard training. Returns the mean training loss per epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, epochs // 2), max(1, (3 * epochs) // 4)], 0.1)
    losses = []
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order_gen)
        total, count = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size].to(x.device)
            xb, yb = x[idx], y[idx]
            if eps > 0:
                model.eval()
                xb = M.pgd_l2(lambda xx, yb=yb: F.cross_entropy(model(xx), yb, reduction="none"), xb, eps,
                              pgd_steps, clip=(0.0, 1.0), generator=pgd_gen)
            model.train()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + float(loss.detach()) * len(idx), count + len(idx)
        sched.step()
        losses.append(total / count)
        log.info("epoch %d/%d: adversarial training loss %.4f", epoch + 1, epochs, losses[-1])
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} (loss {losses[-1]})")
    return losses


@torch.no_grad()
def accuracy(model, x, y, batch=1000) -> float:
    model.eval()
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(x), batch))
    return 100.0 * hits / len(x)


def deep_sharpness(model, x, y, power_iters, power_rtol, fn_directions, fn_alpha, gen) -> dict[str, float]:
    """Top Hessian eigenvalue (power iteration on HVPs) of the mean cross-entropy on the batch (x, y)
    at the trained weights, with the loss increase along filter-normalised directions."""
    model.eval()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(p):
        return F.cross_entropy(functional_call(model, {**p, **buffers}, (x,)), y)

    lam, iters, change = M.top_hessian_eigenvalue(M.hvp_fn(loss, params), params, power_iters, power_rtol, gen)
    out = {"top_eig": lam, "power_iters": float(iters), "power_rel_change": change, "loss": float(loss(params))}
    if fn_directions > 0:
        out["fn_sharpness"] = M.filter_normalized_sharpness(loss, params, fn_alpha, fn_directions, gen)
    return out


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a class-stratified random subset of size n (all indices when n <= 0 or n >= len)."""
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(keep)
